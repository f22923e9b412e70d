use xray_core::traced_publish;

#[traced_publish(carrier = "header")]
async fn publish() {}

#[traced_publish(carrier = body)]
async fn unquoted() {}

fn main() {}
