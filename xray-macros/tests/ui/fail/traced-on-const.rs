use xray_core::traced;

#[traced]
const LIMIT: u32 = 10;

#[traced]
const fn limit() -> u32 {
    LIMIT
}

fn main() {
    let _ = limit();
}
