//! The run-time off switch. Its own test binary, because the switch is process-wide: a test that started a trace
//! while the switch was off would record nothing (issue 10: it raced the hundred-invocation test in `context.rs`).

mod common;

use common::{FACADE, HEADER, ROOT};
use xray_core::Trace;
use xray_core::testing::MemorySink;

#[test]
fn the_off_switch_stops_recording() {
    let sink = MemorySink::new();
    xray_core::config::set_enabled(false);
    let trace = sink.run(|| Trace::lambda(Some(HEADER)));
    xray_core::config::set_enabled(true);
    assert!(!trace.is_recording());
    assert_eq!(trace.header_for(None).to_string(), format!("Root={ROOT};Parent={FACADE};Sampled=1;Lineage=a87bd80c:1"));
}
