// Every form `#[traced_subscribe]` takes, with options, lint-clean in the user's crate.
#![deny(warnings)]

use aws_lambda_events::sqs::{SqsEvent, SqsMessage, SqsMessageObj};
use aws_sdk_sqs::types::Message;
use xray_core::traced_subscribe;

type Order = aws_lambda_events::sqs::SqsMessage;

#[traced_subscribe]
async fn event_by_value(message: SqsMessage) -> Result<usize, String> {
    message.body.map(|b| b.len()).ok_or_else(|| "empty".to_owned())
}

#[traced_subscribe(mode = "link")]
async fn event_by_reference(message: &SqsMessage) -> usize {
    message.body.as_deref().map_or(0, str::len)
}

#[traced_subscribe(queue = "https://sqs.us-east-1.amazonaws.com/123456789012/orders")]
async fn sdk_by_value(mut message: Message) -> Option<String> {
    message.body.take()
}

#[traced_subscribe(mode = "continue", queue = queue, name = "poll order", err = false)]
async fn sdk_by_reference(queue: &str, message: &aws_sdk_sqs::types::Message) -> Result<(), std::io::Error> {
    let _ = (queue, message);
    Ok(())
}

#[traced_subscribe]
fn sync_event(message: SqsMessage) -> bool {
    message.body.is_some()
}

#[traced_subscribe(queue = String::from("orders"))]
fn sync_sdk_by_reference(message: &Message) {
    let _ = message;
}

// Typed records of an `SqsEventObj<T>`.
#[traced_subscribe(mode = "continue_or_link")]
async fn typed_by_reference(record: &aws_lambda_events::sqs::SqsMessageObj<u32>) -> u32 {
    record.body
}

#[traced_subscribe]
fn typed_by_value(record: SqsMessageObj<Vec<String>>) -> usize {
    record.body.len()
}

// An alias, named.
#[traced_subscribe(message = order, crate = ::xray_core)]
async fn alias(order: Order, attempt: u32) -> u32 {
    attempt + u32::from(order.body.is_some())
}

// One-line bodies, as a crate that does not use rustfmt writes them.
#[rustfmt::skip]
mod one_line {
    use aws_lambda_events::sqs::SqsMessage;
    use xray_core::traced_subscribe;

    #[traced_subscribe] pub async fn body(message: SqsMessage) -> Option<String> { message.body }
    #[traced_subscribe] pub fn empty(_message: &SqsMessage) {}
}

struct Worker {
    queue: String,
}

impl Worker {
    #[traced_subscribe(queue = self.queue)]
    async fn handle(&self, message: Message) -> usize {
        self.queue.len() + message.body.map_or(0, |b| b.len())
    }

    #[traced_subscribe(mode = "link")]
    fn handle_sync(&mut self, message: &SqsMessage) {
        self.queue.push_str(message.body.as_deref().unwrap_or_default());
    }
}

fn main() {
    let event = SqsEvent::default();
    let message = SqsMessage::default();
    let sdk = Message::builder().build();
    let _ = event_by_value(message.clone());
    let _ = event_by_reference(&message);
    let _ = sdk_by_value(sdk.clone());
    let _ = sdk_by_reference("orders", &sdk);
    let _ = sync_event(message.clone());
    sync_sdk_by_reference(&sdk);
    let _ = alias(message.clone(), 1);
    let _ = one_line::body(message.clone());
    one_line::empty(&message);
    let mut worker = Worker { queue: "orders".to_owned() };
    worker.handle_sync(&message);
    let _ = worker.handle(sdk);
    let _ = event.records.len();
}
