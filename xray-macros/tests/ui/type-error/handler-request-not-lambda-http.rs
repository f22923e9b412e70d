// A handler whose last parameter is named `Request` is taken for a lambda_http handler; a type of that name that is
// not `lambda_http::Request` is one error at the parameter, saying what was expected.
use xray_core::traced_handler;

struct Request;

#[traced_handler]
async fn handler(request: Request) -> Result<(), lambda_runtime::Error> {
    let Request = request;
    Ok(())
}

fn main() {
    let _ = handler(Request);
}
