use xray_core::traced;

#[traced(err = false, capture = "error")]
fn charge() -> Result<(), String> {
    Ok(())
}

fn main() {}
