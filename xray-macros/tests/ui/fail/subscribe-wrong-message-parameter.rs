use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::Message;
use xray_core::traced_subscribe;

// The message is read, and its body may be restored: not through a `&mut` the caller would see changed.
#[traced_subscribe]
async fn by_mut_ref(message: &mut SqsMessage) {
    message.body = None;
}

#[traced_subscribe]
async fn two(first: SqsMessage, second: &Message) {
    let _ = (first, second);
}

#[traced_subscribe(message = order)]
fn tuple(order: (SqsMessage, u32)) {
    let _ = order;
}

#[traced_subscribe]
fn destructured(SqsMessage { body, .. }: SqsMessage) {
    let _ = body;
}

fn main() {}
