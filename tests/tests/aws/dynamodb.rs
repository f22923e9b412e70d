//! DynamoDB: table names for single, batch and transactional operations, and throttling.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, PutRequest, ScalarAttributeType,
    TransactWriteItem, WriteRequest,
};
use serde_json::json;
use xray_tests::proxy::Failure;
use xray_tests::{moto, sdk};

use crate::{FACADE, HEADER, ROOT, only, proxy, succeeded, traced, unique};

async fn table(endpoint: &str) -> String {
    let plain = aws_sdk_dynamodb::Client::new(&sdk::config(endpoint));
    let name = unique("t");
    plain
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("table created");
    name
}

fn item(pk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [("pk".to_owned(), AttributeValue::S(pk.to_owned()))].into()
}

#[tokio::test]
async fn put_item_records_the_table_name() {
    let moto = moto::shared();
    let name = table(&moto.endpoint).await;
    let ddb = xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&moto.endpoint));

    let (put, docs) = traced(HEADER, ddb.put_item().table_name(&name).set_item(Some(item("a"))).send()).await;

    put.expect("put");
    assert_eq!(only(&docs), succeeded("DynamoDB", "PutItem", json!({"table_name": name})));
}

#[tokio::test]
async fn batch_and_transact_writes_record_every_table() {
    let moto = moto::shared();
    let (first, second) = (table(&moto.endpoint).await, table(&moto.endpoint).await);
    let ddb = xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&moto.endpoint));
    let write = |pk: &str| {
        WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(item(pk))).build().expect("put"))
            .build()
    };
    let put = |table: &str, pk: &str| {
        TransactWriteItem::builder()
            .put(Put::builder().table_name(table).set_item(Some(item(pk))).build().expect("put"))
            .build()
    };

    let (results, docs) = traced(HEADER, async {
        let batch = ddb
            .batch_write_item()
            .request_items(&first, vec![write("b")])
            .request_items(&second, vec![write("c")])
            .send()
            .await;
        let transact =
            ddb.transact_write_items().transact_items(put(&second, "d")).transact_items(put(&first, "e")).send().await;
        (batch, transact)
    })
    .await;

    results.0.expect("batch");
    results.1.expect("transact");
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let mut batch_tables: Vec<String> = serde_json::from_value(docs[0]["aws"]["table_names"].clone()).expect("names");
    batch_tables.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(batch_tables, expected);
    assert_eq!(docs[0]["aws"]["operation"], "BatchWriteItem");
    assert_eq!(docs[1]["aws"]["operation"], "TransactWriteItems");
    assert_eq!(docs[1]["aws"]["table_names"], json!([second, first]));
}

#[tokio::test]
async fn throttling_on_every_attempt_is_a_throttle_with_the_code_as_cause() {
    let moto = moto::shared();
    let (proxy, name) = (proxy().await, table(&moto.endpoint).await);
    let ddb = xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&proxy.endpoint));
    let throttled = Failure::json(
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "Rate of requests exceeds the allowed throughput.",
    );
    proxy.fail_next([throttled.clone(), throttled.clone(), throttled]);

    let (got, docs) = traced(HEADER, ddb.get_item().table_name(&name).set_key(Some(item("a"))).send()).await;

    assert!(got.expect_err("throttled").into_service_error().is_provisioned_throughput_exceeded_exception());
    let doc = only(&docs);
    assert_eq!(
        doc,
        json!({
            "name": "DynamoDB", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "start_time": "<t>", "end_time": "<t>", "namespace": "aws", "error": true, "throttle": true,
            "aws": {"operation": "GetItem", "region": "us-east-1", "request_id": "<request-id>", "retries": 2,
                    "table_name": name},
            "http": {"response": {"status": 400, "content_length": "<n>"}},
            "cause": {"exceptions": [{"id": "<id>", "type": "ProvisionedThroughputExceededException",
                "message": "Rate of requests exceeds the allowed throughput.", "remote": true}]},
        })
    );
}

#[tokio::test]
async fn a_throttled_first_attempt_then_success_records_only_the_retry() {
    let moto = moto::shared();
    let (proxy, name) = (proxy().await, table(&moto.endpoint).await);
    let ddb = xray_core::aws_client!(aws_sdk_dynamodb, &sdk::config(&proxy.endpoint));
    proxy.fail_next([Failure::json(400, "ThrottlingException", "slow down")]);

    let (got, docs) = traced(HEADER, ddb.get_item().table_name(&name).set_key(Some(item("a"))).send()).await;

    got.expect("second attempt succeeds");
    let doc = only(&docs);
    assert_eq!(doc["aws"]["retries"], 1);
    assert_eq!((doc.get("throttle"), doc.get("error"), doc.get("cause")), (None, None, None), "{doc:#}");
}
