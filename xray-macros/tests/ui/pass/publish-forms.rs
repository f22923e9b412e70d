// Every form `#[traced_publish]` takes, on SQS and SNS calls, lint-clean in the user's crate.
#![deny(warnings)]

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use xray_core::traced_publish;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[traced_publish]
async fn system_attribute(sqs: &aws_sdk_sqs::Client, body: &str) -> Result<(), Error> {
    sqs.send_message().queue_url("q").message_body(body).send().await?;
    Ok(())
}

#[traced_publish(carrier = "message_attribute", name = "publish orders", annotate(count = entries.len()))]
async fn batch(sqs: &aws_sdk_sqs::Client, entries: Vec<SendMessageBatchRequestEntry>) -> Result<usize, Error> {
    let sent = sqs.send_message_batch().queue_url("q").set_entries(Some(entries)).send().await?;
    Ok(sent.successful.len())
}

#[traced_publish(carrier = "body")]
async fn sns(sns: &aws_sdk_sns::Client) -> Result<(), Error> {
    sns.publish().topic_arn("t").message("m").send().await?;
    sns.publish_batch().topic_arn("t").send().await?;
    // Already customized: the interceptor is added to the customization.
    sns.publish().topic_arn("t").message("m").customize().mutate_request(|_| {}).send().await?;
    Ok(())
}

#[traced_publish(carrier = "system_attribute", capture_args, skip(sqs), err = false)]
async fn concurrently(sqs: &aws_sdk_sqs::Client, bodies: &[&str]) -> usize {
    let sends = bodies.iter().map(|body| sqs.send_message().queue_url("q").message_body(*body).send());
    let (sent, _) = tokio::join!(futures::future::join_all(sends), async { sqs.send_message().send().await });
    sent.iter().filter(|r| r.is_ok()).count()
}

// Sync functions too: the sends are futures handed to the caller.
#[traced_publish]
fn later(sqs: &aws_sdk_sqs::Client) -> impl std::future::Future<Output = bool> + '_ {
    async move { sqs.send_message().queue_url("q").send().await.is_ok() }
}

// A body without a publishing call is a plain `#[traced]` subsegment.
#[traced_publish]
fn nothing_to_rewrite(n: u32) -> u32 {
    n + 1
}

#[rustfmt::skip]
mod one_line {
    use xray_core::traced_publish;

    #[traced_publish] pub async fn send(sqs: &aws_sdk_sqs::Client) -> bool { sqs.send_message().send().await.is_ok() }
}

fn main() {
    // Built, not run: the clients would need a configuration.
    let _ = (system_attribute, batch, sns, concurrently, later, nothing_to_rewrite, one_line::send);
}
