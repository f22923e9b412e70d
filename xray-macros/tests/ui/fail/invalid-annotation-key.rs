use xray_core::traced;

#[traced(annotate("order-id" = 1))]
fn dashed() {}

#[traced(annotate(é = 1))]
fn not_ascii() {}

fn main() {
    dashed();
    not_ascii();
}
