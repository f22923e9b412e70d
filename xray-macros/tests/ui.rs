//! Compile-time behaviour of the macros: every `tests/ui/pass` case compiles; every `tests/ui/fail` case (an
//! argument or a function the macro refuses) and every `tests/ui/type-error` case (a type error in the user's code,
//! found once expanded) fails with exactly the compiler output in its `.stderr` file. After a deliberate change to a
//! message: `TRYBUILD=overwrite cargo test -p xray-rs-macros --test ui`, then review the `.stderr` diff.
//!
//! `tests/ui_off.rs` runs the same `pass` and `fail` cases with the `off` feature.
#![cfg(not(feature = "off"))]
#![allow(missing_docs)]

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.compile_fail("tests/ui/type-error/*.rs");
}
