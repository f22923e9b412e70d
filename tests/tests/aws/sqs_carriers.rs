//! The trace on the message itself (feature `sqs`): what a consumer receives from moto is the header of the call
//! that sent the message, by each carrier, through SQS and through SNS raw delivery (SNS refuses the body carrier).

use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};
use serde_json::{Value, json};
use xray_core::aws::XRayInterceptor;
use xray_core::diag::{self, DiagKind};
use xray_core::sqs::{Carrier, TRACE_ATTRIBUTE, read_sdk, wrap_body};
use xray_tests::{moto, sdk};

use crate::{FACADE, HEADER, ROOT, header_with_parent, new_queue, proxy, traced, unique};

/// A header from upstream without `Lineage` or unknown keys.
const BARE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn instrumented(endpoint: &str) -> aws_sdk_sqs::Client {
    xray_core::aws_client!(aws_sdk_sqs, &sdk::config(endpoint))
}

fn plain(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config(endpoint))
}

/// The one message on the queue, received through an instrumented client outside any trace: it asks for the trace
/// attributes by itself.
async fn receive(url: &str) -> Message {
    let received = instrumented(&moto::shared().endpoint).receive_message().queue_url(url).send().await;
    let messages = received.expect("received").messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.into_iter().next().expect("one message")
}

fn system_attribute<'a>(message: &'a Message, name: &MessageSystemAttributeName) -> Option<&'a str> {
    message.attributes()?.get(name).map(String::as_str)
}

/// The header a call made in subsegment `doc` carries, when the upstream header was [`HEADER`].
fn sampled_with_parent(doc: &Value) -> String {
    header_with_parent(doc, "1")
}

/// The header a call made in subsegment `doc` carries, when the upstream header was [`BARE`].
fn bare_with_parent(doc: &Value) -> String {
    format!("Root={ROOT};Parent={};Sampled=1", doc["id"].as_str().expect("id"))
}

#[tokio::test]
async fn send_message_carries_its_own_subsegment_as_aws_trace_header() {
    let url = new_queue().await;
    let sqs = instrumented(&moto::shared().endpoint);

    for (upstream, expected) in [(HEADER, sampled_with_parent as fn(&Value) -> String), (BARE, bare_with_parent)] {
        let (sent, docs) = traced(upstream, sqs.send_message().queue_url(&url).message_body("hello").send()).await;

        sent.expect("sent");
        assert_eq!(docs.len(), 1, "{docs:#?}");
        let message = receive(&url).await;
        // With Lineage and the unknown key from upstream when it had them, and nothing else.
        let header = system_attribute(&message, &MessageSystemAttributeName::AwsTraceHeader);
        assert_eq!(header, Some(expected(&docs[0]).as_str()));
        plain(&moto::shared().endpoint)
            .delete_message()
            .queue_url(&url)
            .receipt_handle(message.receipt_handle().expect("handle"))
            .send()
            .await
            .expect("deleted");
    }
}

#[tokio::test]
async fn receive_asks_for_the_trace_attributes_on_top_of_those_the_caller_asked_for() {
    let url = new_queue().await;
    let (sent, docs) =
        traced(BARE, instrumented(&moto::shared().endpoint).send_message().queue_url(&url).message_body("x").send())
            .await;
    sent.expect("sent");

    // Without the interceptor, a message has only the attributes asked for.
    let plain = plain(&moto::shared().endpoint);
    let asked =
        plain.receive_message().queue_url(&url).message_system_attribute_names(MessageSystemAttributeName::SenderId);
    let received = asked.visibility_timeout(0).send().await.expect("received");
    let names = |m: &Message| {
        let mut names: Vec<String> = m.attributes().into_iter().flatten().map(|(k, _)| k.as_str().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&received.messages()[0]), ["SenderId"]);

    let sqs = instrumented(&moto::shared().endpoint);
    let asked =
        sqs.receive_message().queue_url(&url).message_system_attribute_names(MessageSystemAttributeName::SenderId);
    let received = asked.send().await.expect("received");
    let message = &received.messages()[0];
    assert_eq!(names(message), ["AWSTraceHeader", "SenderId", "SentTimestamp"]);
    let received = read_sdk(message, Some(&url));
    assert_eq!(received.trace_header.as_deref(), Some(bare_with_parent(&docs[0]).as_str()));
    assert!(received.sent_timestamp_ms.is_some_and(|t| t > 1_700_000_000_000), "{received:?}");
}

#[tokio::test]
async fn a_trace_header_the_caller_set_is_left_alone() {
    let url = new_queue().await;
    let theirs = "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=1";
    let value = MessageSystemAttributeValue::builder().data_type("String").string_value(theirs).build().expect("value");
    let send = instrumented(&moto::shared().endpoint)
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, value);

    let (sent, docs) = traced(HEADER, send.send()).await;

    sent.expect("sent");
    assert_eq!(docs.len(), 1, "the call is recorded all the same");
    let message = receive(&url).await;
    assert_eq!(system_attribute(&message, &MessageSystemAttributeName::AwsTraceHeader), Some(theirs));
}

#[tokio::test]
async fn an_unsampled_send_records_nothing_and_its_message_says_sampled_0() {
    let url = new_queue().await;
    let header = format!("Root={ROOT};Parent={FACADE};Sampled=0;Lineage=a87bd80c:1;Foo=bar");

    let (sent, docs) =
        traced(&header, instrumented(&moto::shared().endpoint).send_message().queue_url(&url).message_body("x").send())
            .await;

    sent.expect("sent");
    assert_eq!(docs, Vec::<Value>::new());
    let message = receive(&url).await;
    assert_eq!(system_attribute(&message, &MessageSystemAttributeName::AwsTraceHeader), Some(header.as_str()));
}

#[tokio::test]
async fn a_send_outside_any_trace_context_carries_no_header() {
    let url = new_queue().await;

    instrumented(&moto::shared().endpoint).send_message().queue_url(&url).message_body("x").send().await.expect("sent");

    let message = receive(&url).await;
    assert_eq!(system_attribute(&message, &MessageSystemAttributeName::AwsTraceHeader), None);
    assert_eq!(read_sdk(&message, None).trace_header, None);
}

#[tokio::test]
async fn each_carrier_round_trips_through_moto_and_reads_back_with_the_original_body() {
    let sqs = plain(&moto::shared().endpoint);
    let body = r#"{"order":7,"note":"a \"quoted\" word"}"#;
    for carrier in Carrier::ALL {
        let url = new_queue().await;
        // A per-call interceptor on a client without one, as `#[traced_publish]` attaches it.
        let send = sqs.send_message().queue_url(&url).message_body(body).customize();

        let (sent, docs) = traced(HEADER, send.interceptor(XRayInterceptor::publishing(carrier)).send()).await;

        sent.expect("sent");
        assert_eq!(docs.len(), 1, "{carrier}: {docs:#?}");
        assert_eq!(docs[0]["aws"]["operation"], "SendMessage");
        let message = receive(&url).await;
        let received = read_sdk(&message, Some(&url));
        let expected = sampled_with_parent(&docs[0]);
        assert_eq!(received.trace_header.as_deref(), Some(expected.as_str()), "{carrier}");
        assert_eq!(received.found_in, Some(carrier), "{carrier}");
        assert_eq!(received.body.as_deref(), Some(body), "{carrier}");
        assert_eq!(received.queue, url.rsplit('/').next(), "{carrier}");
        assert_eq!(received.message_id, message.message_id(), "{carrier}");
        // Only the chosen carrier is on the message.
        let on_body = message.body() != Some(body);
        let on_attribute = message.message_attributes().is_some_and(|m| m.contains_key(TRACE_ATTRIBUTE));
        let on_system = system_attribute(&message, &MessageSystemAttributeName::AwsTraceHeader).is_some();
        let expected_places = match carrier {
            Carrier::SystemAttribute => (true, false, false),
            Carrier::MessageAttribute => (false, true, false),
            Carrier::Body => (false, false, true),
        };
        assert_eq!((on_system, on_attribute, on_body), expected_places, "{carrier}");
    }
}

#[tokio::test]
async fn a_per_call_carrier_on_an_instrumented_client_wins_and_the_call_is_recorded_once() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let sqs = instrumented(&proxy.endpoint);
    let send = sqs.send_message().queue_url(&url).message_body("hi").customize();

    let (sent, docs) = traced(HEADER, send.interceptor(XRayInterceptor::publishing(Carrier::Body)).send()).await;

    sent.expect("sent");
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let expected = header_with_parent(&docs[0], "1");
    assert_eq!(proxy.trace_headers(), vec![vec![expected.clone()]]);
    let wire: Value = serde_json::from_str(&proxy.bodies()[0]).expect("json body");
    assert_eq!(wire["MessageBody"], wrap_body(&expected, "hi"));
    assert_eq!(wire.get("MessageSystemAttributes"), None, "{wire}");
}

#[tokio::test]
async fn a_per_call_carrier_wins_over_a_publishing_client_and_an_unsampled_call_carries_sampled_0() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let config = sdk::config(&proxy.endpoint);
    let client_wide = XRayInterceptor::publishing(Carrier::MessageAttribute);
    let sqs =
        aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&config).interceptor(client_wide).build());
    let header = format!("Root={ROOT};Parent={FACADE};Sampled=0;Lineage=a87bd80c:1");
    let send = sqs.send_message().queue_url(&url).message_body("hi").customize();

    let (sent, docs) = traced(&header, send.interceptor(XRayInterceptor::publishing(Carrier::Body)).send()).await;

    sent.expect("sent");
    assert_eq!(docs, Vec::<Value>::new());
    assert_eq!(proxy.trace_headers(), vec![vec![header.clone()]]);
    let wire: Value = serde_json::from_str(&proxy.bodies()[0]).expect("json body");
    assert_eq!(wire["MessageBody"], wrap_body(&header, "hi"));
    assert_eq!(wire.get("MessageAttributes"), None, "{wire}");
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("attribute")
}

#[tokio::test]
async fn ten_message_attributes_leave_no_room_for_the_carrier_and_the_send_goes_ahead_with_a_diagnostic() {
    let url = new_queue().await;
    let mut send = plain(&moto::shared().endpoint).send_message().queue_url(&url).message_body("x");
    for i in 0..10 {
        send = send.message_attributes(format!("a{i}"), string_attribute("v"));
    }
    let before = diag::count(DiagKind::Carrier);

    let interceptor = XRayInterceptor::publishing(Carrier::MessageAttribute);
    let (sent, docs) = traced(HEADER, send.customize().interceptor(interceptor).send()).await;

    sent.expect("sent with its own 10 attributes");
    assert_eq!(docs.len(), 1);
    assert!(diag::count(DiagKind::Carrier) > before);
    assert!(
        diag::recent().iter().any(|(kind, text)| *kind == DiagKind::Carrier && text.contains("10 message attributes"))
    );
    let sqs = instrumented(&moto::shared().endpoint);
    let received = sqs.receive_message().queue_url(&url).message_attribute_names("All").send().await;
    let message = received.expect("received").messages.unwrap_or_default().pop().expect("the message");
    let mut names: Vec<&String> = message.message_attributes().into_iter().flatten().map(|(k, _)| k).collect();
    names.sort();
    assert_eq!(names, ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"]);
}

#[tokio::test]
async fn every_send_message_batch_entry_carries_the_attribute_on_the_wire() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let theirs = "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=1";
    let value = MessageSystemAttributeValue::builder().data_type("String").string_value(theirs).build().expect("value");
    let entry = |id: &str| SendMessageBatchRequestEntry::builder().id(id).message_body("x");
    let entries = vec![
        entry("a").build().expect("entry"),
        entry("b").build().expect("entry"),
        entry("c")
            .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, value)
            .build()
            .expect("entry"),
    ];

    let (sent, docs) = traced(
        HEADER,
        instrumented(&proxy.endpoint).send_message_batch().queue_url(&url).set_entries(Some(entries)).send(),
    )
    .await;

    assert_eq!(sent.expect("sent").successful().len(), 3);
    // moto accepts `MessageSystemAttributes` on SendMessageBatch entries but never stores them (its
    // send_message_batch does not pass them on), so received messages cannot show them: the request is the proof.
    let wire: Value = serde_json::from_str(&proxy.bodies()[0]).expect("json body");
    let carried: Vec<&Value> = wire["Entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["MessageSystemAttributes"]["AWSTraceHeader"])
        .collect();
    let ours = json!({"DataType": "String", "StringValue": header_with_parent(&docs[0], "1")});
    assert_eq!(carried, [&ours, &ours, &json!({"DataType": "String", "StringValue": theirs})]);
}

/// A topic delivering to a new queue with raw message delivery, so SNS message attributes arrive as SQS ones.
async fn topic_with_raw_queue() -> (String, String) {
    let endpoint = &moto::shared().endpoint;
    let sns = aws_sdk_sns::Client::new(&sdk::config(endpoint));
    let topic = sns.create_topic().name(unique("topic")).send().await.expect("topic");
    let topic = topic.topic_arn().expect("arn").to_owned();
    let url = new_queue().await;
    let attributes = plain(endpoint)
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn");
    let queue_arn = attributes.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn));
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn.expect("queue arn"))
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribed");
    (topic, url)
}

#[tokio::test]
async fn sns_publish_carries_the_header_to_a_raw_delivery_queue_by_each_carrier() {
    let sns = aws_sdk_sns::Client::new(&sdk::config(&moto::shared().endpoint));
    for carrier in Carrier::ALL {
        let (topic, url) = topic_with_raw_queue().await;
        let publish = sns.publish().topic_arn(&topic).message("order 7").customize();

        let (published, docs) = traced(HEADER, publish.interceptor(XRayInterceptor::publishing(carrier)).send()).await;

        published.expect("published");
        assert_eq!(docs.len(), 1, "{carrier}: {docs:#?}");
        assert_eq!(docs[0]["aws"]["operation"], "Publish");
        let message = receive(&url).await;
        let received = read_sdk(&message, Some(&url));
        assert_eq!(received.body.as_deref(), Some("order 7"), "{carrier}");
        if carrier == Carrier::Body {
            // Refused on SNS: a subscriber without raw delivery would see the envelope. Sent as written.
            assert_eq!(received.trace_header, None);
            continue;
        }
        let expected = header_with_parent(&docs[0], "1");
        assert_eq!(received.trace_header.as_deref(), Some(expected.as_str()), "{carrier}");
        // SNS has no message system attributes: the system attribute carrier falls back to the message attribute.
        assert_eq!(received.found_in, Some(Carrier::MessageAttribute), "{carrier}");
    }
}

// Regression (issue 18, point 3): a poller whose plain client did not ask `ReceiveMessage` for `AWSTraceHeader`
// processed every message in its own trace without a word, recording what producers had chosen not to record.
#[tokio::test]
async fn a_message_received_without_asking_for_the_trace_header_gets_one_diagnostic_saying_how_to_fix_it() {
    let url = new_queue().await;
    let sqs = instrumented(&moto::shared().endpoint);
    for _ in 0..3 {
        let (sent, _) = traced(HEADER, sqs.send_message().queue_url(&url).message_body("x").send()).await;
        sent.expect("sent");
    }
    let received = plain(&moto::shared().endpoint).receive_message().queue_url(&url).max_number_of_messages(10);
    let messages = received.send().await.expect("received").messages.unwrap_or_default();
    assert!(!messages.is_empty());
    for message in &messages {
        assert_eq!(read_sdk(message, Some(&url)).trace_header, None);
    }
    // Said once per process (`sqs::read`'s unit test checks that it is said only once): by this test, the only
    // one of this binary receiving with a plain client, or by another before it. Recent diagnostics are shared by
    // every test of the binary, so this asks only that it is among them, and not twice.
    let said: Vec<String> = diag::recent()
        .into_iter()
        .filter(|(kind, text)| *kind == DiagKind::Carrier && text.contains("did not ask for system attributes"))
        .map(|(_, text)| text)
        .collect();
    assert!(said.len() <= 1, "{said:#?}");
    let text = said.first().expect("the diagnostic is among the recent ones");
    assert!(text.contains("aws_client!") && text.contains("Sampled=0") && text.contains("envelope"), "{text}");
}
