use lambda_runtime::Error;
use xray_core::traced_handler;

#[traced_handler]
async fn handler(event: String) -> Result<String, Error> {
    Ok(event)
}

#[traced_handler]
async fn no_arguments() -> Result<(), Error> {
    Ok(())
}

fn main() {}
