//! One Lambda invocation: a handler making three calls, plain and with `#[traced_handler]` + three `#[traced]`.

use lambda_runtime::{Context, Error, LambdaEvent};

use crate::work;

/// The event of one invocation, with `header` as its Context's `xray_trace_id`.
pub fn event(header: Option<&str>) -> LambdaEvent<u64> {
    let mut context = Context::default();
    context.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(7, context)
}

#[inline(never)]
async fn load(x: u64) -> Result<u64, Error> {
    Ok(work(x))
}

#[inline(never)]
async fn price(x: u64) -> Result<u64, Error> {
    Ok(work(x + 1))
}

#[inline(never)]
fn render(x: u64) -> u64 {
    work(x + 2)
}

/// The handler untraced.
#[inline(never)]
pub async fn plain_handler(event: LambdaEvent<u64>) -> Result<u64, Error> {
    let order = load(event.payload).await?;
    let total = price(order).await?;
    Ok(render(total))
}

#[xray_core::traced]
#[inline(never)]
async fn traced_load(x: u64) -> Result<u64, Error> {
    Ok(work(x))
}

#[xray_core::traced]
#[inline(never)]
async fn traced_price(x: u64) -> Result<u64, Error> {
    Ok(work(x + 1))
}

#[xray_core::traced]
#[inline(never)]
fn traced_render(x: u64) -> u64 {
    work(x + 2)
}

/// The same handler traced: `## traced_handler` (annotated `ColdStart` and `Service`, sent in progress when it
/// begins) and three subsegments, every document sent before it returns.
#[xray_core::traced_handler]
#[inline(never)]
pub async fn traced_handler(event: LambdaEvent<u64>) -> Result<u64, Error> {
    let order = traced_load(event.payload).await?;
    let total = traced_price(order).await?;
    Ok(traced_render(total))
}
