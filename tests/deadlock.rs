//! Goroutine dumps, on demand and on SIGQUIT (in a child process, which
//! the dump ends with status 2). The deadlock report has its own test
//! binary, `tests/deadlock_report.rs`.

mod common;

use goroutines::chan;
use goroutines::Runtime;
use std::time::Duration;

#[test]
fn sigquit_dumps_a_goroutine_parked_in_chan_receive_with_its_spawn_site() {
    if common::is_child() {
        // A background job of a non-interactive shell inherits SIGQUIT
        // ignored, and the runtime leaves an ignored SIGQUIT alone (the
        // next test): start from the default, as a terminal's process does.
        raise_sigquit_beside_a_parked_receiver(libc::SIG_DFL, Duration::from_secs(10));
        unreachable!("SIGQUIT ends the process");
    }
    let out = common::run_child(
        "sigquit_dumps_a_goroutine_parked_in_chan_receive_with_its_spawn_site",
        &[],
    );
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("SIGQUIT: quit"), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("[chan receive"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("spawned at tests/deadlock.rs:"), "{line}");
}

#[test]
fn an_ignored_sigquit_stays_ignored() {
    if common::is_child() {
        // Long enough for sysmon to have acted on a handler's flag.
        raise_sigquit_beside_a_parked_receiver(libc::SIG_IGN, Duration::from_millis(200));
        eprintln!("still here");
        std::process::exit(0);
    }
    let out = common::run_child("an_ignored_sigquit_stays_ignored", &[]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("still here"), "{err}");
    assert!(!err.contains("SIGQUIT"), "{err}");
}

/// With SIGQUIT's disposition set to `disposition` first, runs a runtime
/// in which a goroutine parks in a channel receive, SIGQUIT is raised, and
/// the main goroutine then sleeps for `then`.
fn raise_sigquit_beside_a_parked_receiver(disposition: libc::sighandler_t, then: Duration) {
    set_sigquit(disposition);
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(move || {
        let (tx, rx) = chan::bounded::<u32>(0);
        goroutines::go(move || rx.recv());
        goroutines::time::sleep(Duration::from_millis(50));
        // SAFETY: raising a signal at ourselves.
        unsafe { libc::raise(libc::SIGQUIT) };
        goroutines::time::sleep(then);
        drop(tx);
    });
}

/// Sets SIGQUIT's disposition to `SIG_DFL` or `SIG_IGN`.
fn set_sigquit(disposition: libc::sighandler_t) {
    // SAFETY: a valid sigaction struct with a standard disposition.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = disposition;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Polls `probe` every 10 ms until `done` holds (at most 30 s), from a
/// goroutine, so the goroutines under test get to run and park meanwhile.
fn wait_for<T: std::fmt::Debug>(probe: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = std::time::Instant::now();
    loop {
        goroutines::time::sleep(Duration::from_millis(10));
        let v = probe();
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting: {v:?}"
        );
    }
}

#[test]
fn dump_lists_parked_goroutines_with_reasons() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let text = rt.run(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let h = goroutines::go(move || rx.recv());
        let s = goroutines::go(|| goroutines::time::sleep(Duration::from_millis(500)));
        // Wait (bounded) until both have parked: a loaded machine may run
        // our own timer first.
        let d = wait_for(goroutines::dump, |d| {
            d.goroutines.iter().filter(|g| g.state != "running").count() >= 2
        });
        let text = d.to_string();
        assert!(
            d.goroutines
                .iter()
                .any(|g| g.id == h.id() && g.state == "chan receive"),
            "{text}"
        );
        assert!(
            d.goroutines
                .iter()
                .any(|g| g.id == s.id() && g.state == "sleep"),
            "{text}"
        );
        drop(tx);
        let _ = h.join();
        s.join().unwrap();
        text
    });
    assert!(text.contains("spawned at tests/deadlock.rs:"), "{text}");
}

#[test]
fn stats_count_parked_goroutines_by_reason_and_timer_fires() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                goroutines::go(move || rx.recv())
            })
            .collect();
        let sleepers: Vec<_> = (0..2)
            .map(|_| goroutines::go(|| goroutines::time::sleep(Duration::from_millis(300))))
            .collect();
        let s = wait_for(goroutines::stats, |s| s.parked >= 5);
        let count = |name| {
            s.parked_by_reason
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c)
        };
        assert_eq!(count("chan receive"), Some(3), "{:?}", s.parked_by_reason);
        assert_eq!(count("sleep"), Some(2), "{:?}", s.parked_by_reason);
        assert!(s.timer_fires >= 1, "our own sleep fired: {s:?}");
        assert!(s.handoffs >= 1, "{s:?}");
        drop(tx);
        for r in receivers {
            let _ = r.join();
        }
        for h in sleepers {
            h.join().unwrap();
        }
    });
}

#[inline(never)]
fn wait_here_for_a_value(rx: chan::Receiver<u32>) -> Result<u32, chan::RecvError> {
    rx.recv()
}

#[test]
fn parkstacks_shows_where_a_goroutine_parked() {
    if common::is_child() {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        rt.run(|| {
            let (tx, rx) = chan::bounded::<u32>(0);
            let h = goroutines::go(move || wait_here_for_a_value(rx));
            // Capturing a backtrace at each park is slow (the first one
            // loads debug info), so wait until the goroutine has parked.
            let start = std::time::Instant::now();
            let mut dump = goroutines::dump();
            while !dump
                .goroutines
                .iter()
                .any(|g| g.id == h.id() && g.state == "chan receive")
            {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "never parked: {dump}"
                );
                goroutines::time::sleep(Duration::from_millis(10));
                dump = goroutines::dump();
            }
            eprintln!("{dump}");
            drop(tx);
            let _ = h.join();
        });
        return;
    }
    let out = common::run_child(
        "parkstacks_shows_where_a_goroutine_parked",
        &[
            ("GOROUTINES_DEBUG", "parkstacks=1"),
            ("RUST_BACKTRACE", "0"),
        ],
    );
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    let after = err
        .split("[chan receive")
        .nth(1)
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        after.contains("wait_here_for_a_value"),
        "no park stack under the goroutine: {err}"
    );
}
