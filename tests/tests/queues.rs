//! End to end through a real queue (moto): a `#[traced_publish]` function sends through a real `aws-sdk-sqs` client
//! without the X-Ray interceptor, the message is received back, and a `#[traced_subscribe]` function writes to
//! DynamoDB through an instrumented client. The documents of both ends form one tree in the producer's trace:
//! publish -> SendMessage -> (the consumer's segment) -> queue wait, DynamoDB PutItem. Once as a poller
//! (`ReceiveMessage`), once as a Lambda function invoked by an event source mapping (the SQS event JSON).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::ScalarAttributeType;
use aws_sdk_dynamodb::types::{AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use futures::future::join_all;
use lambda_runtime::{Context as LambdaContext, Error, LambdaEvent};
use serde_json::{Value, json};
use xray_core::sqs::{Carrier, batch_response};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced_handler, traced_publish, traced_subscribe};
use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED};
use xray_tests::{event_source, moto, schema, sdk};

/// The consumer's own invocation (a scheduled poller, or the Lambda function the event source mapping invokes): a
/// trace of its own, unrelated to the producer's.
const CONSUMER: &str = "Root=1-6560e000-cccccccccccccccccccccccc;Parent=cccccccccccccccc;Sampled=1";
const CONSUMER_ROOT: &str = "1-6560e000-cccccccccccccccccccccccc";

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A plain SQS client: no X-Ray interceptor.
fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config(&moto::shared().endpoint))
}

async fn new_queue() -> (String, String) {
    let name = unique("orders");
    let created = sqs().create_queue().queue_name(&name).send().await.expect("queue created");
    (name, created.queue_url().expect("queue url").to_owned())
}

async fn new_table() -> String {
    let plain = aws_sdk_dynamodb::Client::new(&sdk::config(&moto::shared().endpoint));
    let name = unique("orders");
    let key = AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S);
    plain
        .create_table()
        .table_name(&name)
        .attribute_definitions(key.build().expect("attribute"))
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().expect("key"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("table created");
    name
}

type SendError = aws_sdk_sqs::error::SdkError<aws_sdk_sqs::operation::send_message::SendMessageError>;

#[traced_publish]
async fn publish_order(sqs: &aws_sdk_sqs::Client, queue_url: &str, order: &str) -> Result<(), SendError> {
    sqs.send_message().queue_url(queue_url).message_body(order).send().await?;
    Ok(())
}

#[traced_publish(carrier = "message_attribute", name = "publish_order")]
async fn publish_order_as_attribute(sqs: &aws_sdk_sqs::Client, queue_url: &str, order: &str) -> Result<(), SendError> {
    sqs.send_message().queue_url(queue_url).message_body(order).send().await?;
    Ok(())
}

#[traced_publish(carrier = "body", name = "publish_order")]
async fn publish_order_in_body(sqs: &aws_sdk_sqs::Client, queue_url: &str, order: &str) -> Result<(), SendError> {
    sqs.send_message().queue_url(queue_url).message_body(order).send().await?;
    Ok(())
}

async fn publish(carrier: Carrier, queue_url: &str, order: &str) -> Result<(), SendError> {
    match carrier {
        Carrier::SystemAttribute => publish_order(&sqs(), queue_url, order).await,
        Carrier::MessageAttribute => publish_order_as_attribute(&sqs(), queue_url, order).await,
        Carrier::Body => publish_order_in_body(&sqs(), queue_url, order).await,
    }
}

/// Stores the order the message holds.
async fn put(ddb: &aws_sdk_dynamodb::Client, table: &str, id: &str, body: Option<&str>) -> Result<(), Error> {
    let order = body.filter(|b| !b.contains("poison")).ok_or("the order cannot be read")?;
    let item = HashMap::from([
        ("id".to_owned(), AttributeValue::S(id.to_owned())),
        ("order".to_owned(), AttributeValue::S(order.to_owned())),
    ]);
    ddb.put_item().table_name(table).set_item(Some(item)).send().await?;
    Ok(())
}

#[traced_subscribe(queue = queue_url)]
async fn store_order(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    queue_url: &str,
    message: &Message,
) -> Result<String, Error> {
    put(ddb, table, message.message_id().unwrap_or_default(), message.body()).await?;
    Ok(message.body().unwrap_or_default().to_owned())
}

/// Every entity of the documents (segments, their nested subsegments, subsegments sent on their own) of `trace`,
/// by id: `(name, parent id)`. Asserts they form one tree whose root hangs under `root_parent`.
fn tree(docs: &[Value], trace: &str, root_parent: &str) -> BTreeMap<String, (String, String)> {
    fn walk(doc: &Value, parent: Option<&str>, out: &mut BTreeMap<String, (String, String)>) {
        let id = doc["id"].as_str().expect("id").to_owned();
        let parent = parent.or_else(|| doc["parent_id"].as_str()).expect("parent").to_owned();
        let name = doc["name"].as_str().expect("name").to_owned();
        for child in doc["subsegments"].as_array().into_iter().flatten() {
            walk(child, Some(&id), out);
        }
        // A subsegment sent in progress and then complete is one entity.
        out.insert(id, (name, parent));
    }
    let mut entities = BTreeMap::new();
    for doc in docs.iter().filter(|d| d["trace_id"] == trace) {
        walk(doc, None, &mut entities);
    }
    for (id, (name, parent)) in &entities {
        assert!(parent == root_parent || entities.contains_key(parent), "{name} ({id}) hangs off {parent}: {docs:#?}");
    }
    entities
}

/// The id of the one entity named `name`.
fn id_of(tree: &BTreeMap<String, (String, String)>, name: &str) -> String {
    let ids: Vec<&String> = tree.iter().filter(|(_, (n, _))| n == name).map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 1, "{name} in {tree:#?}");
    ids[0].clone()
}

/// Asserts the producer's trace reads publish -> SendMessage -> the consumer's segment -> wait and PutItem.
fn assert_one_tree(docs: &[Value], publisher: &str, consumer: &str, queue: &str) {
    let tree = tree(docs, ROOT, FACADE);
    let send = id_of(&tree, "SQS");
    let processing = id_of(&tree, consumer);
    let expected = BTreeMap::from([
        (id_of(&tree, publisher), (publisher.to_owned(), FACADE.to_owned())),
        (send.clone(), ("SQS".to_owned(), id_of(&tree, publisher))),
        (processing.clone(), (consumer.to_owned(), send)),
        (id_of(&tree, &format!("{queue} wait")), (format!("{queue} wait"), processing.clone())),
        (id_of(&tree, "DynamoDB"), ("DynamoDB".to_owned(), processing)),
    ]);
    assert_eq!(tree, expected);
    let put =
        docs.iter().flat_map(|d| d["subsegments"].as_array().into_iter().flatten()).find(|s| s["name"] == "DynamoDB");
    assert_eq!(put.expect("PutItem")["aws"]["operation"], "PutItem");
}

#[tokio::test]
async fn poller_path_publish_wait_processing_and_dynamodb_form_one_tree_in_the_producers_trace() {
    let table = new_table().await;
    let ddb = xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&moto::shared().endpoint));
    for carrier in Carrier::ALL {
        let (queue, url) = new_queue().await;
        let sink = MemorySink::new();
        let order = r#"{"order":7,"note":"a \"quoted\" word"}"#;

        // Producer: a Lambda invocation publishing through a client without the X-Ray interceptor.
        let published = sink.scope(Trace::lambda(Some(SAMPLED)).context().scope(publish(carrier, &url, order))).await;
        published.expect("published");

        // Consumer: a scheduled poller, in its own (unrelated) invocation, asks for the trace attributes.
        let received = sqs()
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("AWSTraceHeader")
            .send()
            .await
            .expect("received");
        let messages = received.messages.unwrap_or_default();
        assert_eq!(messages.len(), 1, "{carrier}");
        let stored = sink
            .scope(Trace::lambda(Some(CONSUMER)).context().scope(store_order(&ddb, &table, &url, &messages[0])))
            .await;

        // The function saw the order as it was published.
        assert_eq!(stored.expect("stored"), order, "{carrier}");
        let docs = schema::documents(&sink);
        assert_one_tree(&docs, "publish_order", "store_order", &queue);
        assert!(docs.iter().all(|d| d["trace_id"] != CONSUMER_ROOT), "continue mode: nothing in the poller's trace");
        assert_waterfall(&docs, &queue);
    }
}

/// `xray-local show` of the producer's trace draws publish -> send -> wait -> processing -> DynamoDB as one tree,
/// under the one parent it cannot have: Lambda's function segment, which Lambda itself sends.
fn assert_waterfall(docs: &[Value], queue: &str) {
    let tree = xray_local::assemble::Tree::build(ROOT, docs);
    let rows: Vec<(usize, &str)> = tree.nodes.iter().map(|n| (n.depth, n.entity.name.as_str())).collect();
    let wait = format!("{queue} wait");
    assert_eq!(
        rows,
        [(0, "publish_order"), (1, "SQS"), (2, "store_order"), (3, wait.as_str()), (3, "DynamoDB")],
        "{}",
        xray_local::render::waterfall(&tree, xray_local::render::Color::Never)
    );
    assert_eq!(tree.missing_parents, [FACADE]);
}

#[traced_subscribe]
async fn process_record(ddb: &aws_sdk_dynamodb::Client, table: &str, message: &SqsMessage) -> Result<(), Error> {
    put(ddb, table, message.message_id.as_deref().unwrap_or_default(), message.body.as_deref()).await
}

/// The Lambda function an SQS event source mapping invokes, reporting partial batch failures.
struct Consumer {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Consumer {
    #[traced_handler]
    async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let results = join_all(event.payload.records.iter().map(|message| async move {
            (message.message_id.clone(), process_record(&self.ddb, &self.table, message).await)
        }))
        .await;
        Ok(batch_response(results))
    }
}

#[tokio::test]
async fn lambda_path_each_record_of_the_event_continues_its_producers_trace_and_failures_go_back_in_the_response() {
    let table = new_table().await;
    let (queue, url) = new_queue().await;
    let sink = MemorySink::new();
    let producer = sqs();
    for order in ["order 1", "order 2 poison", "order 3"] {
        let publish = Trace::lambda(Some(SAMPLED)).context().scope(publish_order(&producer, &url, order));
        sink.scope(publish).await.expect("published");
    }
    let received = sqs()
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("received");
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 3);
    let record = event_source::record(&messages[0], &queue);
    let attributes = &record["attributes"];
    for name in ["AWSTraceHeader", "SentTimestamp", "ApproximateReceiveCount", "SenderId"] {
        assert!(attributes[name].is_string(), "{name} in {attributes}");
    }
    let event = event_source::event(&messages, &queue);
    assert_eq!(event.records.len(), 3);
    let mut context = LambdaContext::default();
    context.xray_trace_id = Some(CONSUMER.to_owned());

    let consumer =
        Consumer { ddb: xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&moto::shared().endpoint)), table };
    let response = sink.scope(consumer.handle(LambdaEvent::new(event, context))).await.expect("handled");

    let poisoned = messages.iter().find(|m| m.body().is_some_and(|b| b.contains("poison"))).expect("poisoned");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, [poisoned.message_id().expect("id")]);
    let docs = schema::documents(&sink);
    // The consumer's invocation: its handler subsegment only.
    let own: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == CONSUMER_ROOT).collect();
    assert!(own.iter().all(|d| d["name"] == "## handle"), "{own:#?}");
    // The producer's trace: three publishes, each with its send call and, under it, its message's processing.
    let tree = tree(&docs, ROOT, FACADE);
    let sends: Vec<&String> = tree.iter().filter(|(_, (n, _))| n == "SQS").map(|(id, _)| id).collect();
    let processing: Vec<&Value> = docs.iter().filter(|d| d["name"] == "process_record").collect();
    assert_eq!((sends.len(), processing.len()), (3, 3));
    for segment in processing {
        assert!(sends.contains(&&segment["parent_id"].as_str().expect("parent").to_owned()), "{segment:#}");
        let children: Vec<&str> = segment["subsegments"]
            .as_array()
            .expect("subsegments")
            .iter()
            .map(|s| s["name"].as_str().expect("name"))
            .collect();
        let id = segment["annotations"]["message_id"].as_str().expect("message id");
        if Some(id) == poisoned.message_id() {
            assert_eq!((children, &segment["fault"]), (vec![format!("{queue} wait").as_str()], &json!(true)));
        } else {
            assert_eq!(children, [format!("{queue} wait").as_str(), "DynamoDB"]);
            assert!(segment.get("fault").is_none());
        }
    }
}
