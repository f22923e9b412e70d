use xray_core::traced_subscribe;

#[traced_subscribe]
async fn handle(body: String) -> usize {
    body.len()
}

#[traced_subscribe(message = msg)]
fn named_wrongly(message: aws_lambda_events::sqs::SqsMessage) {
    let _ = message;
}

fn main() {}
