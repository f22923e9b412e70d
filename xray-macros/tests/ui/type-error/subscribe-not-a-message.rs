// A parameter named as the message whose type is not an SQS message is reported at the parameter.
use xray_core::traced_subscribe;

struct Message {
    body: String,
}

#[traced_subscribe(message = body)]
async fn named(body: String) -> usize {
    body.len()
}

// Found by its name, `Message`, but the user's own type.
#[traced_subscribe]
fn own_type(message: &Message) -> usize {
    message.body.len()
}

#[traced_subscribe(queue = 7)]
fn queue_not_a_string(message: aws_sdk_sqs::types::Message) -> bool {
    message.body.is_some()
}

fn main() {}
