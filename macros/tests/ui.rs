//! Compile-fail cases: each file in ui/ must fail to build with exactly the
//! error in its .stderr next to it, at the tokens the user wrote wrong.
//! After changing a message, regenerate with `TRYBUILD=overwrite` and read
//! the diff.

#[test]
fn refused_uses_fail_with_errors_at_the_offending_tokens() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
