use xray_core::traced;

#[traced(annotate(items = vec![1, 2]))]
fn listed() {}

fn main() {
    listed();
}
