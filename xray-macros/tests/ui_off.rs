//! Regression (issue 10): with the `off` feature, `skip` names and the handler's shape went unchecked, so code could
//! compile with `off` and fail without it. The same `tests/ui/pass` and `tests/ui/fail` cases as `tests/ui.rs`, with
//! the same expected output, built with `off`:
//!
//! `cargo test -p xray-rs-macros --features off --test ui_off`
//!
//! (trybuild builds each case with the features of the crate under test.) The `tests/ui/type-error` cases are left
//! out: with `off` there is no expansion to find them.
#![cfg(feature = "off")]
#![allow(missing_docs)]

#[test]
fn ui_off() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
