//! An SQS client whose requests never leave the process: each request is captured (its trace header and JSON body)
//! and answered `200` with a fixed message id, so a test sees exactly what a send put on the wire.

use std::sync::{Arc, Mutex, PoisonError};

use aws_credential_types::Credentials;
use aws_sdk_sqs::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

/// One request as it went out.
#[derive(Debug, Clone)]
pub struct Request {
    /// `X-Amzn-Trace-Id`.
    pub trace_header: Option<String>,
    /// The operation, from `X-Amz-Target` (`AmazonSQS.SendMessage`).
    pub target: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// The captured requests; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Wire {
    /// The requests sent so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// An SQS client (without the X-Ray interceptor) whose requests go here.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(self.clone())
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }
}

impl HttpConnector for Wire {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let header = |name: &str| request.headers().get(name).map(str::to_owned);
        let body = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let captured = Request { trace_header: header("x-amzn-trace-id"), target: header("x-amz-target"), body };
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(captured);
        let status = StatusCode::try_from(200).expect("200 is a status");
        let answer = r#"{"MessageId":"00000000-0000-0000-0000-000000000001","Successful":[],"Failed":[]}"#;
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(answer))))
    }
}

impl HttpClient for Wire {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
