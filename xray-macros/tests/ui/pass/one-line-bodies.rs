// Regression (issue 10): a one-line body made the user's crate warn `unused_braces`. Written as a crate that does
// not use rustfmt would write them, under `#![deny(warnings)]`.
#![deny(warnings)]

use lambda_runtime::{Context, Error, LambdaEvent};
use xray_core::{traced, traced_handler};

#[traced] fn literal() -> u32 { 1 }
#[traced] fn expression(n: u32) -> u32 { n + 1 }
#[traced] fn statement() { literal(); }
#[traced] fn unit_call() { statement() }
#[traced] fn opaque() -> impl std::fmt::Display { 1 }
#[traced(capture_ret, annotate(n = n))] fn with_options(n: u32) -> u32 { n }
#[traced] async fn literal_async() -> u32 { 1 }
#[traced] async fn unit_call_async() { statement() }
#[traced] async fn opaque_async() -> impl std::fmt::Display { 1 }
#[traced_handler] async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> { Ok(event.payload) }

fn main() {
    let _ = (literal(), expression(1), opaque(), with_options(1));
    unit_call();
    statement();
    let _ = (literal_async(), unit_call_async(), opaque_async());
    let _ = handler(LambdaEvent::new(1, Context::default()));
}
