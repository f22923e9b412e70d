//! The imports ARCHITECTURE.md's layers allow, checked on the sources: a module below `record` never names it, the
//! queue model never names `sqs/`, and the SQS and SNS producers share their pieces without importing each other.

use std::path::Path;

fn source(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The lines of code (not `//` comments) of `path` outside its `#[cfg(test)]` module that name `module`.
fn naming(path: &str, module: &str) -> Vec<String> {
    let text = source(path);
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code = code.lines().filter(|line| !line.trim_start().starts_with("//"));
    code.filter(|line| line.contains(module)).map(str::to_owned).collect()
}

// Regression (issue 18, point 14): `subsegment/call.rs` imported `record::Recorder`, one layer up.
#[test]
fn the_subsegment_layer_never_names_the_recording_layer() {
    for file in ["subsegment/mod.rs", "subsegment/call.rs", "subsegment/guard.rs", "subsegment/future.rs"] {
        assert_eq!(naming(file, "record::"), Vec::<String>::new(), "{file}");
        assert_eq!(naming(file, "Recorder"), Vec::<String>::new(), "{file}");
    }
}

// Regression (issue 18, point 14): `sqs/produce.rs` called into `sqs/sns.rs`, which imported from it back.
#[test]
fn the_sqs_and_sns_producers_do_not_import_each_other() {
    assert_eq!(naming("sqs/produce.rs", "sns"), Vec::<String>::new());
    assert_eq!(naming("sqs/sns.rs", "produce"), Vec::<String>::new());
}

// Regression (issue 18, point 14): two received-message types held the same fields and one was copied into the other.
#[test]
fn a_received_message_has_one_type() {
    assert_eq!(naming("sqs/read.rs", "pub struct Received"), Vec::<String>::new());
    assert_eq!(naming("sqs/process.rs", "queue::Received {"), Vec::<String>::new());
}

// Regression (issue 18 review, item 8): ARCHITECTURE.md says `queue` never imports `sqs/` and that this file checks
// it, but nothing did.
#[test]
fn the_queue_model_never_names_the_sqs_module() {
    assert_eq!(naming("queue.rs", "sqs"), Vec::<String>::new());
}
