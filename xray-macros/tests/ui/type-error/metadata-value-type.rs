// A metadata value that does not implement `serde::Serialize` is reported at the value's expression.
use std::time::Instant;

use xray_core::traced;

#[traced(metadata(started = Instant::now()))]
fn timed() {}

fn main() {
    timed();
}
