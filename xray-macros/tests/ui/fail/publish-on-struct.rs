use xray_core::traced_publish;

#[traced_publish]
struct Order {
    id: u64,
}

fn main() {
    let _ = Order { id: 1 }.id;
}
