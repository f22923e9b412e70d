//! Subsegments for every call of every `aws-sdk-*` client: the Rust counterpart of the official SDKs'
//! `patch_all()`.
//!
//! [`XRayInterceptor`] is an interceptor of the SDK's orchestrator; added to a client's config, each operation that
//! client runs becomes one subsegment (`namespace: "aws"`, named after the service as X-Ray's service map names it:
//! `SQS`, `DynamoDB`, `S3`, ...) however many attempts it takes, and every attempt carries `X-Amzn-Trace-Id` with
//! that subsegment as `Parent`. [`aws_client!`](crate::aws_client) builds an instrumented client of any `aws-sdk-*`
//! crate from an `SdkConfig` in one line:
//!
//! ```no_run
//! # async fn demo() {
//! let sdk_config = aws_types::SdkConfig::builder().build(); // usually `aws_config::load_from_env().await`
//! let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk_config);
//! // which is short for
//! let sqs = aws_sdk_sqs::Client::from_conf(
//!     aws_sdk_sqs::config::Builder::from(&sdk_config).interceptor(xray_core::aws::XRayInterceptor::new()).build(),
//! );
//! # }
//! ```
//!
//! Why an interceptor on each client's config and not a wrapper around the HTTP client on `SdkConfig` (which every
//! client built from it would share): the HTTP client sees single attempts as bare HTTP requests. It cannot tell a
//! retry from the next operation, does not know the operation's name for REST protocols, never sees the input, and
//! has no hook when the operation as a whole ends. `SdkConfig` holds no interceptors, so the one line is per client.
//!
//! What is recorded, following the official SDKs: `aws.operation`, `aws.region`, `aws.request_id`, `aws.retries`,
//! per-service resource fields, `http.response.status` / `content_length`, and the outcome:
//! `error` for 4xx, `throttle` (and `error`) for 429 and throttling error codes, `fault` for 5xx,
//! timeouts and connection failures, with a `cause` naming the service's error code and message.
//!
//! With the `sqs` (and `sns`) feature, the messages an SQS `SendMessage`/`SendMessageBatch` (SNS `Publish`/
//! `PublishBatch`) sends carry the call's trace header as well, and `ReceiveMessage` asks for it: see
//! `xray_core::sqs` for the carriers and `XRayInterceptor::publishing` for choosing one per call.

mod classify;
mod interceptor;
mod resources;

#[cfg(feature = "sqs")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
pub use interceptor::PublishingInterceptor;
pub use interceptor::XRayInterceptor;

/// Builds an instrumented client of any `aws-sdk-*` crate from an `SdkConfig`:
/// `xray_core::aws_client!(aws_sdk_dynamodb, &sdk_config)`.
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
#[macro_export]
macro_rules! aws_client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config).interceptor($crate::aws::XRayInterceptor::new()).build(),
        )
    };
}
