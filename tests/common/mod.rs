//! Shared by the integration tests: re-running one test of the current test
//! binary in a child process, for behaviour that needs its own process
//! (environment variables, aborts, resource limits).

#![allow(dead_code)]

use goroutines::Runtime;
use std::process::{Command, Output};

/// Set in the child so the test knows which side it is on.
pub const CHILD_ENV: &str = "GOROUTINES_TEST_CHILD";

/// Whether this process is the child run of a test.
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs test `name` of this binary alone in a child process with `envs`.
pub fn run_child(name: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run child test")
}

/// The child's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The Linux thread id of the caller.
pub fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// A runtime in Go mode with `procs` Ps.
pub fn go_mode(procs: usize) -> Runtime {
    // SAFETY: the tests using it hold nothing thread-affine across parks.
    unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(procs)
        .build()
        .unwrap()
}

/// A pinned runtime and a Go-mode runtime, 2 Ps each.
pub fn runtimes() -> Vec<Runtime> {
    vec![Runtime::builder().max_procs(2).build().unwrap(), go_mode(2)]
}

/// A panic or join error's payload as text.
pub fn payload_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => match p.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "<not a string>".to_string(),
        },
    }
}
