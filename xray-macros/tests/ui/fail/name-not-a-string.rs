use xray_core::traced;

#[traced(name = 5)]
fn numbered() {}

#[traced(name = load)]
fn path_name() {}

#[traced(namespace = "sql")]
fn bad_namespace() {}

fn main() {
    numbered();
    path_name();
    bad_namespace();
}
