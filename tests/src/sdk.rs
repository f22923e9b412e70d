//! SDK configs for tests: region, static credentials, a plain-HTTP client and an explicit endpoint, built in code
//! so nothing depends on (or changes) the process environment and no request leaves the machine.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// A config for clients talking to `endpoint` (moto, or a proxy in front of it), retrying up to 3 attempts
/// with a 1 ms base backoff so retry tests stay fast.
pub fn config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "static")))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
        .build()
}

/// Receives from `queue_url` asking for the `AWSTraceHeader` system attribute, as a consumer must.
pub async fn receive_traced(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("received")
        .messages
        .unwrap_or_default()
}
