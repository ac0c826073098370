//! Stack overflow in a goroutine: a clear message, then abort. Each case runs
//! in a child process, since the child dies.

mod common;

use std::os::unix::process::ExitStatusExt;

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth as u8; 512]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[7] as u64
}

fn overflow_in_a_goroutine(stack: usize) {
    let rt = goroutines::Runtime::builder()
        .max_procs(1)
        .stack_size(stack)
        .build()
        .unwrap();
    rt.run(|| goroutines::go(|| recurse(0)).join().ok());
}

fn assert_overflow_reported(out: &std::process::Output, size: &str) {
    let err = common::stderr(out);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{err}");
    let re = format!("has overflowed its stack ({size}); raise it with Builder::stack_size");
    assert!(err.contains("goroutine ") && err.contains(&re), "{err}");
}

#[test]
fn stack_overflow_prints_the_goroutine_and_aborts() {
    if common::is_child() {
        overflow_in_a_goroutine(goroutines::DEFAULT_STACK_SIZE);
        return;
    }
    let out = common::run_child("stack_overflow_prints_the_goroutine_and_aborts", &[]);
    assert_overflow_reported(&out, "256 KiB");
}

#[test]
fn stack_overflow_is_caught_with_mprotect_guards_too() {
    if common::is_child() {
        overflow_in_a_goroutine(64 * 1024);
        return;
    }
    let out = common::run_child(
        "stack_overflow_is_caught_with_mprotect_guards_too",
        &[("GOROUTINES_DEBUG", "guard=mprotect")],
    );
    assert_overflow_reported(&out, "64 KiB");
}

#[test]
fn a_fault_outside_any_guard_page_is_not_called_an_overflow() {
    if common::is_child() {
        let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
        rt.run(|| {
            // SAFETY: not safe at all: this deliberately faults, to check
            // that the handler passes the fault on.
            unsafe { std::ptr::read_volatile(16 as *const u64) }
        });
        return;
    }
    let out = common::run_child(
        "a_fault_outside_any_guard_page_is_not_called_an_overflow",
        &[],
    );
    let err = common::stderr(&out);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{err}");
    assert!(!err.contains("overflowed"), "{err}");
}
