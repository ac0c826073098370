//! Bad configuration is a clear error naming the value, never a panic deep
//! inside. Environment cases run in a child process.

mod common;

use goroutines::Runtime;
use std::io::ErrorKind;

fn build_error(b: goroutines::Builder) -> String {
    match b.build() {
        Ok(_) => panic!("the builder accepted a bad configuration"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            e.to_string()
        }
    }
}

#[test]
fn zero_procs_is_rejected_by_the_builder() {
    if std::env::var_os("GOMAXPROCS").is_some() {
        return; // the environment would take precedence
    }
    let e = build_error(Runtime::builder().max_procs(0));
    assert!(e.contains("max_procs=0"), "{e}");
    let e = build_error(Runtime::builder().max_procs(1_000_000));
    assert!(
        e.contains("max_procs=1000000") && e.contains("at most 1024"),
        "{e}"
    );
}

#[test]
fn stack_sizes_below_a_page_or_absurdly_large_are_rejected() {
    let e = build_error(Runtime::builder().stack_size(0));
    assert!(e.contains("stack size 0 bytes is below one page"), "{e}");
    let e = build_error(Runtime::builder().stack_size(100));
    assert!(e.contains("stack size 100 bytes"), "{e}");
    let e = build_error(Runtime::builder().stack_size(usize::MAX));
    assert!(
        e.contains(&format!("stack size {} bytes exceeds", usize::MAX)),
        "{e}"
    );
}

#[test]
fn stack_size_rounds_up_to_whole_pages() {
    let rt = Runtime::builder()
        .max_procs(1)
        .stack_size(5000)
        .build()
        .unwrap();
    assert_eq!(rt.run(|| 1 + 1), 2);
}

fn env_case(name: &str, key: &str, value: &str, expect: &str) {
    if common::is_child() {
        let e = build_error(Runtime::builder());
        assert!(e.contains(expect), "{e}");
        return;
    }
    let out = common::run_child(name, &[(key, value)]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn gomaxprocs_that_is_not_a_number_is_named_in_the_error() {
    env_case(
        "gomaxprocs_that_is_not_a_number_is_named_in_the_error",
        "GOMAXPROCS",
        "abc",
        "GOMAXPROCS=\"abc\" is not a positive integer",
    );
}

#[test]
fn gomaxprocs_zero_is_named_in_the_error() {
    env_case(
        "gomaxprocs_zero_is_named_in_the_error",
        "GOMAXPROCS",
        "0",
        "GOMAXPROCS=0",
    );
}

#[test]
fn unknown_goroutines_debug_keys_are_named_in_the_error() {
    env_case(
        "unknown_goroutines_debug_keys_are_named_in_the_error",
        "GOROUTINES_DEBUG",
        "shedtrace=10",
        "unknown key `shedtrace`",
    );
}

#[test]
fn gomaxprocs_takes_precedence_over_the_builder() {
    if common::is_child() {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        assert_eq!(rt.max_procs(), 3);
        return;
    }
    let out = common::run_child(
        "gomaxprocs_takes_precedence_over_the_builder",
        &[("GOMAXPROCS", "3")],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn the_default_runtime_reports_a_bad_gomaxprocs_clearly() {
    if common::is_child() {
        goroutines::go(|| ()).join().unwrap();
        return;
    }
    let out = common::run_child(
        "the_default_runtime_reports_a_bad_gomaxprocs_clearly",
        &[("GOMAXPROCS", "-4")],
    );
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "cannot start the default runtime: GOMAXPROCS=\"-4\" is not a positive integer"
        ),
        "{err}"
    );
}
