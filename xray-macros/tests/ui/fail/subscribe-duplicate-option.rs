use aws_lambda_events::sqs::SqsMessage;
use xray_core::traced_subscribe;

#[traced_subscribe(mode = "link", queue = "orders", mode = "continue")]
async fn handle(message: SqsMessage) {
    let _ = message;
}

fn main() {}
