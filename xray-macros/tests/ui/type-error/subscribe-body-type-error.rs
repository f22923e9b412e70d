// A type error inside a subscribed body is reported at the user's line, not at the attribute.
use aws_lambda_events::sqs::SqsMessage;
use xray_core::traced_subscribe;

#[traced_subscribe]
async fn handle(message: SqsMessage) -> Result<usize, String> {
    if message.body.is_none() {
        return Err(0);
    }
    Ok(message.body)
}

#[traced_subscribe]
fn handle_sync(message: &SqsMessage) -> usize {
    message.body
}

fn main() {}
