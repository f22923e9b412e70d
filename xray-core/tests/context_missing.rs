//! `AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR` makes a missing context visible as a value. Its own test binary, because
//! the setting is read once per process.

use xray_core::config::{self, Config, ContextMissing};
use xray_core::diag::{DiagKind, count};
use xray_core::{Trace, put_annotation, try_current};

#[test]
fn runtime_error_returns_an_error_and_still_never_panics() {
    let config = Config::from_lookup(|k| (k == "AWS_XRAY_CONTEXT_MISSING").then(|| "RUNTIME_ERROR".to_owned()));
    assert_eq!(config.context_missing, ContextMissing::RuntimeError);
    assert!(config::init(config), "nothing read the settings before this test");

    let before = count(DiagKind::ContextMissing);
    let err = try_current().expect_err("no context");
    assert_eq!(err.to_string(), "no X-Ray trace context is active");
    put_annotation("still", "fine");
    assert!(count(DiagKind::ContextMissing) >= before + 2, "both calls were reported");

    let trace = Trace::lambda(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"));
    let _ctx = trace.context().enter();
    assert!(try_current().is_ok(), "an unsampled context is a context");
}
