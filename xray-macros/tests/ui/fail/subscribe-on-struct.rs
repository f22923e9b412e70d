use xray_core::traced_subscribe;

#[traced_subscribe]
struct Order {
    id: u64,
}

fn main() {
    let _ = Order { id: 1 }.id;
}
