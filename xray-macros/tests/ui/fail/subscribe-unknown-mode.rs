use aws_lambda_events::sqs::SqsMessage;
use xray_core::traced_subscribe;

#[traced_subscribe(mode = "merge")]
async fn handle(message: SqsMessage) {
    let _ = message;
}

#[traced_subscribe(carrier = "body")]
async fn carrier_is_the_producers(message: SqsMessage) {
    let _ = message;
}

fn main() {}
