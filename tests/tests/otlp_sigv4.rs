//! SigV4 on OTLP/HTTP (feature `otlp-sigv4`): a request to a loopback collector, signed for region `us-east-1` and
//! service `xray` with credentials from the standard chain (here the environment), carries the signature botocore's
//! `SigV4Auth` computes for the same request.

use std::sync::Arc;
use std::time::Duration;

use xray_core::config::{Config, OtlpSettings, TracesExporter};
use xray_core::emit::{self, OtlpHttpEmitter};
use xray_core::lambda::Invocation;
use xray_tests::otlp::{Collector, Reply, decoder};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "session-token-example";

#[tokio::test]
async fn the_signature_is_the_one_botocore_computes_for_the_same_request() {
    // SAFETY: set before anything in this process reads the environment; the only test of this binary.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_SESSION_TOKEN", TOKEN);
        std::env::remove_var("AWS_PROFILE");
    }
    assert!(xray_core::config::init(Config { traces_exporter: TracesExporter::Otlp, ..Config::from_env() }));
    let collector = Collector::start(Reply::Ok);
    let settings = OtlpSettings {
        endpoint: Some(collector.traces_url()),
        headers: vec![("x-team".into(), "payments".into())],
        gzip: true,
        timeout: Duration::from_secs(10),
        sigv4_region: Some("us-east-1".into()),
        ..OtlpSettings::default()
    };
    let emitter = Arc::new(OtlpHttpEmitter::new(settings));
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let result =
        emit::scoped(emitter.clone(), async { Invocation::new(Some(header)).run(async { Ok::<_, String>(7) }).await })
            .await;
    assert_eq!(result, Ok(7));
    let received = collector.received();
    assert_eq!(received.len(), 1, "stats: {:?}", emitter.stats());
    let request = &received[0];
    assert_eq!(request.header("x-amz-security-token"), Some(TOKEN));
    let checked = decoder().sigv4(request, &collector.traces_url(), "us-east-1", (ACCESS_KEY, SECRET_KEY, Some(TOKEN)));
    assert!(checked.get("error").is_none(), "{checked}");
    assert_eq!(checked["received"], checked["signature"], "botocore signs differently: {checked:#}");
    let credential = checked["credential"].as_str().expect("a credential");
    assert!(credential.starts_with("AKIDEXAMPLE/") && credential.ends_with("/us-east-1/xray/aws4_request"));
    let signed: Vec<&str> =
        checked["signed_headers"].as_array().expect("names").iter().filter_map(|v| v.as_str()).collect();
    for name in ["host", "content-type", "content-encoding", "x-amz-date", "x-team"] {
        assert!(signed.contains(&name), "`{name}` is not signed: {signed:?}");
    }
    // The body botocore hashed is the one that arrived (gzipped), and it is still OTLP.
    assert_eq!(request.decoded()["spans"].as_array().map(Vec::len), Some(1));
}
