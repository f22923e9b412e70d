use xray_core::{traced, traced_handler};

#[traced(nmae = "load")]
fn load() {}

#[traced_handler(capture_args)]
async fn handler(event: lambda_runtime::LambdaEvent<()>) -> Result<(), lambda_runtime::Error> {
    Ok(event.payload)
}

fn main() {
    load();
}
