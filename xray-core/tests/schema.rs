//! Every kind of document the runtime writes is valid against the official segment document schema.

mod common;

use common::{FACADE, HEADER, ROOT, documents, is_valid, named, valid};
use serde_json::json;
use xray_core::sampling::SamplingRequest;
use xray_core::testing::MemorySink;
use xray_core::{
    Aws, Exception, Http, HttpRequest, HttpResponse, Namespace, Sql, Trace, current, in_subsegment, subsegment,
};

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    // Guards the other tests: a validator that accepts anything would prove nothing.
    let good = json!({"name": "a", "id": "53995c3f42cd8ad8", "start_time": 1.0, "trace_id": ROOT, "end_time": 2.0});
    assert!(is_valid(&good));
    for bad in [
        json!({"name": "a", "id": "53995c3f42cd8ad8", "start_time": 1.0}),
        json!({"name": "a<b>", "id": "53995c3f42cd8ad8", "start_time": 1.0, "trace_id": ROOT}),
        json!({"name": "a", "id": "53995c3f42cd8a", "start_time": 1.0, "trace_id": ROOT}),
        json!({"name": "a", "id": "53995c3f42cd8ad8", "start_time": 1.0, "trace_id": ROOT, "annotations": {"bad-key": 1}}),
    ] {
        assert!(!is_valid(&bad), "{bad}");
    }
}

#[tokio::test]
async fn lambda_subsegments_with_every_block_are_valid() {
    let sink = MemorySink::new();
    sink.scope(async {
        let trace = Trace::lambda(Some(HEADER));
        trace
            .context()
            .scope(in_subsegment("## handler", async {
                current().put_annotation("ColdStart", true);
                current().put_annotation("order_id", 42u64);
                current().put_annotation("ratio", 0.5);
                current().put_annotation("customer", "c-1");
                current().put_metadata("request", json!({"id": 1, "items": ["a", "b"]}));
                current().put_metadata_in("orders", "count", 3);
                in_subsegment("DynamoDB", async {
                    let r = current();
                    r.set_namespace(Namespace::Aws);
                    r.set_aws(Aws {
                        operation: Some("PutItem".into()),
                        region: Some("eu-west-1".into()),
                        request_id: Some("R1".into()),
                        retries: Some(1),
                        resources: [("table_name".to_owned(), json!("orders"))].into_iter().collect(),
                        ..Aws::default()
                    });
                    r.set_http(Http {
                        request: None,
                        response: Some(HttpResponse { status: Some(400), content_length: Some(120) }),
                    });
                    r.mark_error();
                    r.mark_throttle();
                    r.record_error(&std::io::Error::other("ProvisionedThroughputExceeded"));
                })
                .await;
                in_subsegment("api.example.com", async {
                    let r = current();
                    r.set_namespace(Namespace::Remote);
                    r.set_http(Http {
                        request: Some(HttpRequest {
                            method: Some("GET".into()),
                            url: Some(format!("https://api.example.com/{}", "x".repeat(400))),
                            traced: Some(false),
                            ..HttpRequest::default()
                        }),
                        response: Some(HttpResponse { status: Some(503), content_length: None }),
                    });
                    r.mark_fault();
                    r.add_exception(Exception::new("HttpError", "service unavailable"));
                })
                .await;
                in_subsegment("query", async {
                    current().set_sql(Sql {
                        url: Some("postgresql://db:5432/orders".into()),
                        sanitized_query: Some("SELECT * FROM orders WHERE id = $1".into()),
                        database_type: Some("PostgreSQL".into()),
                        preparation: Some("statement".into()),
                        ..Sql::default()
                    });
                })
                .await;
            }))
            .await;
    })
    .await;
    let docs = documents(&sink);
    assert_eq!(docs.len(), 4);
    let handler = named(&docs, "## handler");
    assert_eq!(handler["trace_id"], ROOT);
    assert_eq!(handler["parent_id"], FACADE);
    assert_eq!(handler["type"], "subsegment");
    assert_eq!(handler["annotations"], json!({"ColdStart": true, "order_id": 42, "ratio": 0.5, "customer": "c-1"}));
    assert_eq!(
        handler["metadata"],
        json!({"default": {"request": {"id": 1, "items": ["a", "b"]}}, "orders": {"count": 3}})
    );
    let dynamo = named(&docs, "DynamoDB");
    assert_eq!(dynamo["parent_id"], handler["id"]);
    assert_eq!(dynamo["namespace"], "aws");
    assert_eq!(dynamo["aws"]["table_name"], "orders");
    assert_eq!(
        (dynamo["error"].clone(), dynamo["throttle"].clone(), dynamo["fault"].clone()),
        (json!(true), json!(true), json!(true))
    );
    assert_eq!(dynamo["cause"]["exceptions"][0]["message"], "ProvisionedThroughputExceeded");
    assert_eq!(dynamo["cause"]["exceptions"][0]["type"], "std::io::error::Error");
    let remote = named(&docs, "api.example.com");
    assert_eq!(
        remote["http"]["request"]["url"].as_str().map(str::len),
        Some(250),
        "long URLs are cut to the schema's 250"
    );
    assert_eq!(named(&docs, "query")["sql"]["database_type"], "PostgreSQL");
}

#[test]
fn segments_outside_lambda_are_valid_with_embedded_subsegments() {
    let sink = MemorySink::new();
    sink.run(|| {
        let trace = Trace::segment(
            "orders-api",
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            &SamplingRequest::default(),
        );
        let _ctx = trace.context().enter();
        let segment = current();
        segment.set_origin("AWS::EC2::Instance");
        segment.set_user("alice");
        segment.set_service_version("1.2.3");
        segment.set_http(Http {
            request: Some(HttpRequest {
                method: Some("POST".into()),
                url: Some("https://api.example.com/orders".into()),
                client_ip: Some("10.0.0.1".into()),
                x_forwarded_for: Some(true),
                user_agent: Some("curl/8".into()),
                traced: None,
            }),
            response: Some(HttpResponse { status: Some(200), content_length: Some(2) }),
        });
        {
            let _outer = subsegment("validate");
            let _inner = subsegment("schema check");
        }
        let _open = std::mem::ManuallyDrop::new(subsegment("still running"));
        trace.end();
    });
    let docs = documents(&sink);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let segment = valid(&docs[0]);
    assert_eq!(segment["name"], "orders-api");
    assert!(segment.get("type").is_none() && segment.get("parent_id").is_none());
    assert_eq!(segment["origin"], "AWS::EC2::Instance");
    assert_eq!(segment["service"]["version"], "1.2.3");
    assert_eq!(segment["subsegments"][0]["name"], "validate");
    assert_eq!(segment["subsegments"][0]["subsegments"][0]["name"], "schema check");
    assert_eq!(segment["subsegments"][1]["in_progress"], true);
}
