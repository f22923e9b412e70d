// A value that is not an annotation value (string, number or bool) is reported at the value's expression.
use xray_core::traced;

#[traced(annotate(items = ids.clone()))]
fn listed(ids: Vec<u32>) -> usize {
    ids.len()
}

fn main() {
    let _ = listed(vec![1, 2]);
}
