//! UI tests for `#[job]`: `ui/pass` must compile and run, `ui/fail` must fail to compile
//! with the errors in its `.stderr` files.
//!
//! Regenerate the `.stderr` files after a toolchain or message change with
//! `TRYBUILD=overwrite cargo test -p jobs-tests --test macro_ui`, then read them.

#[test]
fn macro_ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
