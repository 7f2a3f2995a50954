//! The macros' compile-time behaviour: every case in `pass/` must compile (warning-free, they
//! deny warnings), every case in `fail/` must fail with the `.stderr` beside it. Cases are
//! named after the mistake they make. Refresh snapshots with `TRYBUILD=overwrite` when the
//! compiler's wording changes, and read them: the span must point at the user's token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*/*.rs");
}
