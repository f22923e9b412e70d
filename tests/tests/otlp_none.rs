//! `OTEL_TRACES_EXPORTER=none`: nothing is recorded, in any wire format, and the trace header still travels: the
//! SQS message a sampled invocation sends carries its `AWSTraceHeader`.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use xray_core::config::{Config, TracesExporter};
use xray_core::lambda::Invocation;
use xray_core::testing::MemorySink;
use xray_tests::{moto, sdk};

#[tokio::test]
async fn none_records_nothing_and_still_propagates_the_header_on_sqs_messages() {
    assert!(xray_core::config::init(Config { traces_exporter: TracesExporter::None, ..Config::from_env() }));
    let config = sdk::config(&moto::shared().endpoint);
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &config);
    let queue = format!("otlp-none-{}", std::process::id());
    let url = sqs.create_queue().queue_name(&queue).send().await.expect("queue").queue_url.expect("url");
    let sink = MemorySink::new();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
    let result = sink
        .scope(async {
            let invocation = Invocation::new(Some(header));
            assert!(!invocation.is_recording());
            invocation
                .run(async {
                    sqs.send_message().queue_url(&url).message_body("{}").send().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>(7)
                })
                .await
        })
        .await;
    assert_eq!(result, Ok(7));
    assert!(sink.raw().is_empty(), "no segment documents");
    assert!(sink.span_requests().is_empty(), "no spans");
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("received");
    let message = &received.messages.unwrap_or_default()[0];
    let carried = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader))
        .expect("AWSTraceHeader on the message");
    assert!(carried.contains("Root=1-5759e988-bd862e3fe1be46a994272793"), "{carried}");
    assert!(carried.contains("Sampled=1"), "the upstream decision goes on: {carried}");
    assert!(carried.contains("Lineage=a87bd80c:1"), "{carried}");
}
