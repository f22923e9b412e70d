use xray_core::traced;

#[traced(name = "GET /orders/{id}")]
fn braces() {}

#[traced(name = "")]
fn empty() {}

#[traced(name = "line\nbreak")]
fn line_break() {}

fn main() {
    braces();
    empty();
    line_break();
}
