//! Per-service resource fields, like the official SDKs' parameter whitelists: which queue, table, bucket, topic,
//! function, stream or event bus a call went to.
//!
//! They are read from the serialized request, which every `aws-sdk-*` crate produces the same way for a given
//! protocol, so no SDK crate is a dependency here: JSON bodies (SQS, DynamoDB, Kinesis, EventBridge), form bodies
//! (SNS), and the request path or host (Lambda, S3); SQS `ReceiveMessage` also counts the messages in its response.
//! Services without an entry record no resource fields.
//!
//! With the `sqs` feature, the inputs the interceptor already downcasts to put the trace header on (`SendMessage`,
//! `SendMessageBatch`, `ReceiveMessage`) give the same fields from their typed members instead ([`from_input`]):
//! the request those calls serialize is the larger for the header, and parsing it back cost as much as the header.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aws_smithy_runtime_api::client::interceptors::context::Input;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

/// The resource fields of a request to `service` (the SDK's service name, e.g. `SQS`).
pub(super) fn from_request(service: &str, request: &HttpRequest) -> Map<String, Value> {
    let mut fields = Map::new();
    let body = || request.body().bytes().unwrap_or_default();
    match service {
        "SQS" | "DynamoDB" | "Kinesis" | "EventBridge" => {
            if let Ok(json) = serde_json::from_slice::<JsonFields<'_>>(body()) {
                json.collect(service, &mut fields);
            }
        }
        "SNS" => {
            if let Some(arn) = form_field(body(), "TopicArn") {
                fields.insert("topic_arn".into(), arn.into());
            }
        }
        "Lambda" => {
            if let Some(name) = path_after(request.uri(), "/functions/") {
                fields.insert("function_name".into(), name.into());
            }
        }
        "S3" => s3_fields(request.uri(), &mut fields),
        _ => {}
    }
    fields
}

/// The resource fields of an operation whose input type is known here, the same [`from_request`] finds in its
/// serialized request; `None` for every other input, whose request is then read.
pub(super) fn from_input(input: &Input) -> Option<Map<String, Value>> {
    #[cfg(feature = "sqs")]
    {
        use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
        use aws_sdk_sqs::operation::send_message::SendMessageInput;
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;

        let (queue_url, entries) = if let Some(send) = input.downcast_ref::<SendMessageInput>() {
            (send.queue_url.as_deref(), None)
        } else if let Some(batch) = input.downcast_ref::<SendMessageBatchInput>() {
            (batch.queue_url.as_deref(), Some(batch.entries.as_ref().map(Vec::len)))
        } else if let Some(receive) = input.downcast_ref::<ReceiveMessageInput>() {
            (receive.queue_url.as_deref(), None)
        } else {
            return None;
        };
        let mut fields = Map::new();
        if let Some(url) = queue_url {
            fields.insert("queue_url".into(), url.into());
        }
        // The batch's `Entries`, serialized when set, are what `from_request` counts.
        if let Some(Some(count)) = entries {
            fields.insert("message_count".into(), count.into());
        }
        Some(fields)
    }
    #[cfg(not(feature = "sqs"))]
    {
        let _ = input;
        None
    }
}

/// The resource fields only a response tells: how many messages an SQS `ReceiveMessage` returned.
pub(super) fn from_response(service: &str, operation: &str, response: &HttpResponse) -> Map<String, Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Received {
        messages: Option<Vec<IgnoredAny>>,
    }
    let mut fields = Map::new();
    if (service, operation) == ("SQS", "ReceiveMessage")
        && response.status().is_success()
        && let Some(Ok(received)) = response.body().bytes().map(serde_json::from_slice::<Received>)
    {
        fields.insert("message_count".into(), received.messages.map_or(0, |m| m.len()).into());
    }
    fields
}

/// The members of JSON-protocol inputs that name resources; everything else is skipped without being copied.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct JsonFields<'a> {
    #[serde(borrow)]
    queue_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    queue_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    table_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stream_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_bus_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entries: Option<Vec<Entry<'a>>>,
    #[serde(borrow)]
    request_items: Option<BTreeMap<Cow<'a, str>, IgnoredAny>>,
    #[serde(borrow)]
    transact_items: Option<Vec<BTreeMap<Cow<'a, str>, TableRef<'a>>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Entry<'a> {
    #[serde(borrow)]
    event_bus_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TableRef<'a> {
    #[serde(borrow)]
    table_name: Option<Cow<'a, str>>,
}

impl JsonFields<'_> {
    fn collect(self, service: &str, out: &mut Map<String, Value>) {
        let mut put = |key: &str, value: Option<Cow<'_, str>>| {
            if let Some(value) = value {
                out.insert(key.into(), Value::String(value.into_owned()));
            }
        };
        put("queue_url", self.queue_url);
        put("queue_name", self.queue_name);
        put("table_name", self.table_name);
        put("stream_name", self.stream_name);
        put("event_bus_name", self.event_bus_name.clone());
        match (service, self.entries) {
            ("SQS", Some(entries)) => {
                out.insert("message_count".into(), entries.len().into());
            }
            ("EventBridge", Some(entries)) if self.event_bus_name.is_none() => {
                // PutEvents names the bus per entry; no name means the account's default bus.
                let mut buses: Vec<String> = Vec::new();
                for entry in &entries {
                    let bus = entry.event_bus_name.as_deref().unwrap_or("default");
                    if !buses.iter().any(|b| b == bus) {
                        buses.push(bus.to_owned());
                    }
                }
                if buses.len() == 1 {
                    out.insert("event_bus_name".into(), buses.swap_remove(0).into());
                } else if !buses.is_empty() {
                    out.insert("event_bus_names".into(), buses.into());
                }
                out.insert("event_count".into(), entries.len().into());
            }
            _ => {}
        }
        let mut tables: Vec<String> = self.request_items.into_iter().flatten().map(|(k, _)| k.into_owned()).collect();
        for item in self.transact_items.into_iter().flatten() {
            for table in item.into_values().filter_map(|t| t.table_name) {
                if !tables.iter().any(|t| *t == table) {
                    tables.push(table.into_owned());
                }
            }
        }
        if !tables.is_empty() {
            out.insert("table_names".into(), tables.into());
        }
    }
}

/// The decoded value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(&value.replace('+', " ")))
    })
}

/// The decoded path segment after `marker`, e.g. the function name in `/2015-03-31/functions/{name}/invocations`.
fn path_after(uri: &str, marker: &str) -> Option<String> {
    let path = path_of(uri);
    let start = path.find(marker)? + marker.len();
    let segment = path[start..].split('/').next().filter(|s| !s.is_empty())?;
    Some(percent_decode(segment))
}

/// The path of a URI, without scheme, authority and query.
fn path_of(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let rest = if uri.contains("://") { rest.find('/').map_or("/", |i| &rest[i..]) } else { rest };
    rest.split(['?', '#']).next().unwrap_or("/")
}

/// S3 names the bucket in the host (`bucket.s3.region.amazonaws.com`) or, path-style, in the first path segment;
/// the key is the rest of the path.
fn s3_fields(uri: &str, out: &mut Map<String, Value>) {
    let host = uri.split_once("://").map_or("", |(_, rest)| rest.split(['/', ':']).next().unwrap_or(""));
    let path = path_of(uri).trim_start_matches('/');
    // The endpoint starts at the last label that is `s3` or `s3-...` (`s3.us-east-1`, `s3-accelerate`, legacy
    // `s3-us-west-2`); a bucket name may hold `.s3` itself (`logs.s3.archive.s3.us-east-1.amazonaws.com`).
    let labels: Vec<&str> = host.split('.').collect();
    let endpoint = labels.iter().rposition(|label| *label == "s3" || label.starts_with("s3-"));
    let joined;
    let virtual_bucket = match endpoint {
        Some(at) if at > 0 => {
            joined = labels[..at].join(".");
            Some(joined.as_str())
        }
        _ => None,
    };
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket.to_owned()), path),
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            (Some(percent_decode(bucket)).filter(|b| !b.is_empty()), key)
        }
    };
    if let Some(bucket) = bucket {
        out.insert("bucket_name".into(), bucket.into());
    }
    if !key.is_empty() {
        out.insert("key".into(), percent_decode(key).into());
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn request(uri: &str, body: &'static str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_uri(uri).expect("uri");
        request
    }

    fn fields(service: &str, uri: &str, body: &'static str) -> Value {
        Value::Object(from_request(service, &request(uri, body)))
    }

    #[test]
    fn sqs_batches_count_their_messages() {
        let body =
            r#"{"QueueUrl":"http://q/1/jobs","Entries":[{"Id":"a","MessageBody":"x"},{"Id":"b","MessageBody":"y"}]}"#;
        assert_eq!(
            fields("SQS", "http://sqs/", body),
            serde_json::json!({"queue_url": "http://q/1/jobs", "message_count": 2})
        );
    }

    #[cfg(feature = "sqs")]
    #[test]
    fn sqs_inputs_the_interceptor_knows_give_the_fields_their_requests_give() {
        use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
        use aws_sdk_sqs::operation::send_message::SendMessageInput;
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

        let typed = |input: Input| from_input(&input).map(Value::Object);
        let url = "http://q/1/jobs";
        let send = SendMessageInput::builder().queue_url(url).message_body("x").build().expect("input");
        let body = r#"{"QueueUrl":"http://q/1/jobs","MessageBody":"x"}"#;
        assert_eq!(typed(Input::erase(send)), Some(fields("SQS", "http://sqs/", body)));
        let entry = |id: &str| SendMessageBatchRequestEntry::builder().id(id).message_body("x").build().expect("entry");
        let batch = SendMessageBatchInput::builder().queue_url(url).entries(entry("a")).entries(entry("b")).build();
        let body =
            r#"{"QueueUrl":"http://q/1/jobs","Entries":[{"Id":"a","MessageBody":"x"},{"Id":"b","MessageBody":"x"}]}"#;
        assert_eq!(typed(Input::erase(batch.expect("input"))), Some(fields("SQS", "http://sqs/", body)));
        let receive = ReceiveMessageInput::builder().queue_url(url).max_number_of_messages(2).build();
        let body = r#"{"QueueUrl":"http://q/1/jobs","MaxNumberOfMessages":2}"#;
        assert_eq!(typed(Input::erase(receive.expect("input"))), Some(fields("SQS", "http://sqs/", body)));
        // No queue URL (the SDK refuses the call before it is sent): no field, as from a body without one.
        let bare = ReceiveMessageInput::builder().build().expect("input");
        assert_eq!(typed(Input::erase(bare)), Some(fields("SQS", "http://sqs/", "{}")));
        // Anything else is read from its request.
        assert_eq!(typed(Input::erase(())), None);
    }

    #[test]
    fn dynamodb_batch_and_transact_operations_list_their_tables() {
        let batch = r#"{"RequestItems":{"orders":{"Keys":[]},"users":{"Keys":[]}}}"#;
        assert_eq!(fields("DynamoDB", "http://d/", batch), serde_json::json!({"table_names": ["orders", "users"]}));
        let transact = r#"{"TransactItems":[{"Put":{"TableName":"a","Item":{}}},{"Update":{"TableName":"b"}},
            {"ConditionCheck":{"TableName":"a"}}]}"#;
        assert_eq!(fields("DynamoDB", "http://d/", transact), serde_json::json!({"table_names": ["a", "b"]}));
        assert_eq!(fields("DynamoDB", "http://d/", r#"{"TableName":"t"}"#), serde_json::json!({"table_name": "t"}));
    }

    #[test]
    fn kinesis_eventbridge_sns_lambda_and_s3_name_their_resource() {
        assert_eq!(fields("Kinesis", "http://k/", r#"{"StreamName":"s","Data":"AA=="}"#)["stream_name"], "s");
        let put_events = r#"{"Entries":[{"EventBusName":"orders"},{"EventBusName":"orders"}]}"#;
        assert_eq!(
            fields("EventBridge", "http://e/", put_events),
            serde_json::json!({"event_bus_name": "orders", "event_count": 2})
        );
        assert_eq!(
            fields("EventBridge", "http://e/", r#"{"Entries":[{}]}"#),
            serde_json::json!({"event_bus_name": "default", "event_count": 1})
        );
        let publish = "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aalerts&Message=hi+there";
        assert_eq!(fields("SNS", "http://sns/", publish)["topic_arn"], "arn:aws:sns:us-east-1:1:alerts");
        let invoke = "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my%3Afn/invocations?x=1";
        assert_eq!(fields("Lambda", invoke, "{}"), serde_json::json!({"function_name": "my:fn"}));
        assert_eq!(
            fields("S3", "https://photos.s3.us-east-1.amazonaws.com/2024/cat%20one.jpg?x-id=GetObject", ""),
            serde_json::json!({"bucket_name": "photos", "key": "2024/cat one.jpg"})
        );
        assert_eq!(
            fields("S3", "http://127.0.0.1:5000/photos/cat.jpg", ""),
            serde_json::json!({"bucket_name": "photos", "key": "cat.jpg"})
        );
        // Regression (issue 10, point 15): a bucket whose name holds `.s3` was cut at its first `.s3`.
        assert_eq!(
            fields("S3", "https://logs.s3.archive.s3.us-east-1.amazonaws.com/a/b.txt", ""),
            serde_json::json!({"bucket_name": "logs.s3.archive", "key": "a/b.txt"})
        );
        assert_eq!(
            fields("S3", "https://s3-logs.s3-accelerate.amazonaws.com/k", ""),
            serde_json::json!({"bucket_name": "s3-logs", "key": "k"})
        );
        assert_eq!(
            fields("S3", "https://s3.us-east-1.amazonaws.com/photos/cat.jpg", ""),
            serde_json::json!({"bucket_name": "photos", "key": "cat.jpg"})
        );
    }

    #[test]
    fn sqs_receive_counts_the_messages_it_got() {
        let response = |body: &'static str| {
            HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(200).expect("200"),
                SdkBody::from(body),
            )
        };
        let two = response(r#"{"Messages":[{"MessageId":"a","Body":"x"},{"MessageId":"b","Body":"y"}]}"#);
        assert_eq!(
            Value::Object(from_response("SQS", "ReceiveMessage", &two)),
            serde_json::json!({"message_count": 2})
        );
        let none = response("{}");
        assert_eq!(
            Value::Object(from_response("SQS", "ReceiveMessage", &none)),
            serde_json::json!({"message_count": 0})
        );
        assert!(from_response("SQS", "SendMessage", &two).is_empty());
    }

    #[test]
    fn unknown_services_and_unreadable_bodies_record_nothing() {
        assert_eq!(fields("STS", "http://sts/", "Action=GetCallerIdentity"), serde_json::json!({}));
        assert_eq!(fields("SQS", "http://sqs/", "not json"), serde_json::json!({}));
    }
}
