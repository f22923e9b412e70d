//! Compile-time behaviour of the macros: every `tests/ui/pass` case compiles, every `tests/ui/fail` case fails with
//! exactly the compiler output in its `.stderr` file. After a deliberate change to a message:
//! `TRYBUILD=overwrite cargo test -p xray-macros --test ui`, then review the `.stderr` diff.
#![allow(missing_docs)]

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
