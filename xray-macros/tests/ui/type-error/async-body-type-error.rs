// A type error inside a traced body is reported at the user's line, not at the attribute.
use xray_core::traced;

#[traced]
async fn tail(n: u32) -> u32 {
    tokio::task::yield_now().await;
    format!("{n}")
}

#[traced]
async fn early_return(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err(0);
    }
    Ok(n)
}

#[traced]
fn sync_tail(n: u32) -> String {
    n
}

fn main() {}
