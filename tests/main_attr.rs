//! `#[goroutines::main]`, end to end. A test binary of its own with no
//! libtest harness (`harness = false` in Cargo.toml), because what is under
//! test is `main` itself: its body must run as a goroutine of a runtime
//! built from the options, and its result must reach the process's exit
//! status. Scenarios about the process (an `Err` from main, a runtime that
//! cannot start, goroutines left running) re-run this binary as a child
//! with `MAIN_ATTR_CHILD` set. The compile errors are tested in
//! macros/tests/ui/.

use std::error::Error;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `Box<dyn Error>` is not `Send`, and main's result travels from its
/// goroutine to the main thread.
type Result<T = ()> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const CHILD: &str = "MAIN_ATTR_CHILD";

#[goroutines::main(max_procs = 3, stack_size = 1_048_576)]
fn main() -> Result {
    if let Ok(scenario) = std::env::var(CHILD) {
        return child(&scenario);
    }
    // Each check with its name, as libtest would print it.
    macro_rules! named {
        ($($check:ident),* $(,)?) => { [$((stringify!($check), $check as fn())),*] };
    }
    let checks = named![
        main_body_runs_as_a_goroutine,
        options_configure_mains_runtime,
        another_function_without_options_runs_on_the_default_runtime,
        unsafe_migrate_goroutines_selects_go_mode,
        an_err_from_main_fails_the_process,
        question_mark_in_main_returns_the_error,
        a_runtime_that_cannot_start_panics_before_the_body,
        returning_from_main_does_not_wait_for_goroutines,
    ];
    for (name, check) in checks {
        check();
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed", checks.len());
    Ok(())
}

/// What `max_procs = 3` gives, unless `GOMAXPROCS` overrides it.
fn expected_procs(configured: usize) -> usize {
    std::env::var("GOMAXPROCS").map_or(configured, |v| v.trim().parse().unwrap())
}

fn main_body_runs_as_a_goroutine() {
    assert!(
        goroutines::goroutine_id().is_some(),
        "main's body should run as a goroutine"
    );
    assert_ne!(std::thread::current().name(), Some("main"));
    // And it parks like one: a rendezvous with a goroutine it spawned.
    let (tx, rx) = goroutines::chan::bounded(0);
    goroutines::go(move || tx.send(goroutines::goroutine_id()).unwrap());
    let other = rx.recv().unwrap();
    assert!(other.is_some() && other != goroutines::goroutine_id());
}

fn options_configure_mains_runtime() {
    assert_eq!(goroutines::max_procs(), expected_procs(3));
    assert_eq!(goroutines::stats().stack_size, 1_048_576);
    assert!(!goroutines::__migrates_goroutines());
    // A goroutine spawned from main lands on main's runtime.
    let procs = goroutines::go(goroutines::max_procs).join().unwrap();
    assert_eq!(procs, expected_procs(3));
}

#[goroutines::main]
fn on_the_default_runtime() -> (Option<u64>, usize) {
    (goroutines::goroutine_id(), goroutines::stats().stack_size)
}

fn another_function_without_options_runs_on_the_default_runtime() {
    let (id, stack_size) = on_the_default_runtime();
    assert!(id.is_some());
    // Not main's runtime, whose stacks are 1 MiB. (Goroutine ids are per
    // runtime, so they cannot tell the runtimes apart.)
    assert_eq!(stack_size, goroutines::DEFAULT_STACK_SIZE);
}

#[goroutines::main(
    max_procs = 2,
    // SAFETY: the goroutines below hold no thread-local borrow, thread-affine
    // lock or `!Send` value across a park point.
    unsafe(migrate_goroutines),
)]
fn in_go_mode() -> (bool, Option<u64>, usize) {
    let id = goroutines::go(goroutines::goroutine_id).join().unwrap();
    (
        goroutines::__migrates_goroutines(),
        id,
        goroutines::max_procs(),
    )
}

fn unsafe_migrate_goroutines_selects_go_mode() {
    let (go_mode, id, procs) = in_go_mode();
    assert!(go_mode);
    assert!(id.is_some());
    assert_eq!(procs, expected_procs(2));
    // The option touched only that function's runtime.
    assert!(!goroutines::__migrates_goroutines());
}

/// Runs this binary as a child in `scenario`, with `env` added, killing it
/// if it has not exited within `limit`.
fn run_child(scenario: &str, env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD, scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the child");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "child {scenario} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The check runs on a goroutine: a sleep that parks it.
        goroutines::time::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn expect_failure(scenario: &str, env: &[(&str, &str)], code: i32, stderr_has: &str) {
    let out = run_child(scenario, env, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{scenario}: stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(stderr_has),
        "{scenario}: stderr lacks {stderr_has:?}:\n{stderr}"
    );
}

fn an_err_from_main_fails_the_process() {
    expect_failure("return-err", &[], 1, "Error: \"the body's error\"");
}

fn question_mark_in_main_returns_the_error() {
    expect_failure("question-mark", &[], 1, "Error: ParseIntError");
}

fn a_runtime_that_cannot_start_panics_before_the_body() {
    expect_failure(
        "unreachable",
        &[("GOMAXPROCS", "abc")],
        101,
        "goroutines: cannot start the runtime of `main`: GOMAXPROCS=\"abc\" is not a positive integer",
    );
}

fn returning_from_main_does_not_wait_for_goroutines() {
    // Two Ps at least, so that the hog and main each have one.
    let out = run_child(
        "leave-a-hog-running",
        &[("GOMAXPROCS", "3")],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr:\n{stderr}");
}

static HOG_STARTED: AtomicBool = AtomicBool::new(false);

fn child(scenario: &str) -> Result {
    match scenario {
        "return-err" => Err("the body's error".into()),
        "question-mark" => {
            let n: u32 = "not a number".parse()?;
            unreachable!("parsed {n}");
        }
        "unreachable" => unreachable!("the body ran although the runtime could not start"),
        "leave-a-hog-running" => {
            // A goroutine that never reaches a scheduling point: dropping
            // its runtime would wait for it forever.
            goroutines::go(|| {
                HOG_STARTED.store(true, Ordering::Release);
                loop {
                    std::hint::spin_loop();
                }
            });
            // The next goroutine spawned takes the `runnext` slot and moves
            // the hog to the local run queue, where another P can steal it.
            goroutines::go(|| {});
            // Spin rather than yield: main is pinned to this OS thread, so
            // if the hog started here main would never run again. Spinning,
            // main leaves the hog unstarted until another P steals it.
            let start = Instant::now();
            while !HOG_STARTED.load(Ordering::Acquire) {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the hog never started"
                );
                std::hint::spin_loop();
            }
            Ok(())
        }
        other => panic!("unknown {CHILD}={other}"),
    }
}
