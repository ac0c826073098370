//! Shared by the `net_*` integration tests (and borrowed by others):
//! runtimes in both scheduling modes, and a deadline guard that turns a
//! hang into a failure.

#![allow(dead_code)]

use goroutines::Runtime;
use std::time::{Duration, Instant};

/// A runtime with `procs` Ps in each mode: pinned (default) and Go mode.
pub fn both_modes(procs: usize) -> Vec<(&'static str, Runtime)> {
    let pinned = Runtime::builder().max_procs(procs).build().unwrap();
    // SAFETY: the test goroutines hold nothing thread-affine across parks.
    let go_mode = unsafe { Runtime::builder().max_procs(procs).migrate_goroutines() }
        .build()
        .unwrap();
    vec![("pinned", pinned), ("go mode", go_mode)]
}

/// Runs `f` on a helper thread and fails the test if it takes longer than
/// `limit` (a hang would otherwise stall the whole test binary).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the worker sends before it returns"),
        },
        Err(_) => panic!("{what}: not done after {:?}", started.elapsed()),
    }
}

/// A fresh directory under the system temp dir for Unix sockets.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("goroutines-net-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
