//! SNS: a query-protocol service (form bodies, XML responses with the request id in the body).

use serde_json::json;
use xray_tests::{moto, sdk};

use crate::{HEADER, only, succeeded, traced, unique};

#[tokio::test]
async fn publish_records_the_topic_arn() {
    let moto = moto::shared();
    let plain = aws_sdk_sns::Client::new(&sdk::config(&moto.endpoint));
    let topic = plain.create_topic().name(unique("topic")).send().await.expect("topic");
    let arn = topic.topic_arn().expect("arn").to_owned();
    let sns = xray_core::aws_client!(aws_sdk_sns, &sdk::config(&moto.endpoint));

    let (published, docs) = traced(HEADER, sns.publish().topic_arn(&arn).message("hi & bye").send()).await;

    published.expect("published");
    assert_eq!(only(&docs), succeeded("SNS", "Publish", json!({"topic_arn": arn})));
}

#[tokio::test]
async fn a_missing_topic_is_an_error_with_the_xml_error_code() {
    let moto = moto::shared();
    let sns = xray_core::aws_client!(aws_sdk_sns, &sdk::config(&moto.endpoint));
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("missing"));

    let (published, docs) = traced(HEADER, sns.publish().topic_arn(&arn).message("x").send()).await;

    assert!(published.expect_err("no such topic").into_service_error().is_not_found_exception());
    let doc = only(&docs);
    assert_eq!(doc["error"], true);
    assert_eq!(doc["cause"]["exceptions"][0]["type"], "NotFound");
    assert_eq!(doc["cause"]["exceptions"][0]["remote"], true);
    assert_eq!(doc["aws"]["topic_arn"], arn);
}
