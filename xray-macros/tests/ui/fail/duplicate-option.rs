use xray_core::traced;

#[traced(name = "a", err, name = "b")]
fn load() {}

#[traced(annotate(k = 1, k = 2))]
fn annotated() {}

fn main() {
    load();
    annotated();
}
