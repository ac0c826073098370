//! The deadlock report. A test binary of its own, with no libtest harness
//! (`harness = false` in Cargo.toml): libtest runs each test on a thread of
//! its own while its main thread waits in std code, and the deadlock check
//! rightly never reports while a thread it cannot see into might still wake
//! a goroutine. Each scenario runs in a child process on the main thread.

use goroutines::chan;
use goroutines::Runtime;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn deadlock() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let (_tx, rx) = chan::bounded::<u32>(0);
        let waiter = goroutines::go(move || rx.recv());
        // Both goroutines now wait forever: nobody will ever send.
        let _ = waiter.join();
    });
    unreachable!("the deadlock report exits the process");
}

fn std_thread_sends_later() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let (tx, rx) = chan::bounded::<u32>(0);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(7).unwrap();
    });
    assert_eq!(rt.run(move || rx.recv().unwrap()), 7);
    sender.join().unwrap();
}

/// Go mode: a hog whose P sysmon took keeps spinning without one while
/// every P is idle and the other goroutines are parked with no timer
/// pending. The hog will send, so this is no deadlock.
fn hog_without_a_p_sends_later() {
    // SAFETY: nothing thread-affine is held across a park.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(1)
        .build()
        .unwrap();
    let got = rt.run(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let woke = Arc::new(AtomicBool::new(false));
        let sleeper = goroutines::go({
            let woke = woke.clone();
            move || {
                goroutines::time::sleep(Duration::from_millis(1));
                woke.store(true, Ordering::Release);
                rx.recv().unwrap()
            }
        });
        goroutines::go(move || {
            // Spins, never calling the runtime, until sysmon has given the
            // only P to the sleeper, then for 300 ms more.
            let start = Instant::now();
            while !woke.load(Ordering::Acquire) {
                assert!(start.elapsed() < Duration::from_secs(20), "never retaken");
                std::hint::spin_loop();
            }
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(300) {
                std::hint::spin_loop();
            }
            tx.send(42).unwrap();
        });
        sleeper.join().unwrap()
    });
    assert_eq!(got, 42);
}

/// A goroutine waits in `accept` (parked on the poller) until another
/// connects and they exchange a byte; everything closes; then two
/// goroutines deadlock on a channel. The earlier network wait must not
/// keep the check from reporting.
fn deadlock_after_network_use() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        use std::io::{Read, Write};
        let listener = goroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = goroutines::go(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut byte = [0u8; 1];
            conn.read_exact(&mut byte).unwrap();
            conn.write_all(&byte).unwrap();
        });
        // Give the acceptor time to park on the poller first.
        goroutines::time::sleep(Duration::from_millis(20));
        let mut client = goroutines::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"x").unwrap();
        let mut echo = [0u8; 1];
        client.read_exact(&mut echo).unwrap();
        server.join().unwrap();
        drop(client);
        let (_tx, rx) = chan::bounded::<u32>(0);
        let waiter = goroutines::go(move || rx.recv());
        let _ = waiter.join();
    });
    unreachable!("the deadlock report exits the process");
}

/// Runs `scenario` in a child process; kills it after 60 s (a deadlock
/// that is never reported would otherwise hang the suite).
fn child(scenario: &str) -> std::process::Output {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the child");
    let start = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap the child");
            panic!(
                "scenario {scenario} still running after 60 s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .expect("collect the child's output")
}

/// Runs `scenario`, which must end in the deadlock report: status 2, the
/// fatal error, and a goroutine parked in a channel receive. Returns the
/// report.
fn deadlock_report_of(scenario: &str) -> String {
    let out = child(scenario);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("fatal error: all goroutines are asleep - deadlock!"),
        "{err}"
    );
    assert!(err.contains("[chan receive"), "{err}");
    err
}

fn a_deliberate_deadlock_prints_the_fatal_error_and_a_dump_and_exits_2() {
    let err = deadlock_report_of("deadlock");
    assert!(err.contains("[join"), "{err}");
    assert!(
        err.contains("spawned at tests/deadlock_report.rs:"),
        "{err}"
    );
}

fn a_deadlock_after_network_waits_is_still_reported() {
    deadlock_report_of("deadlock_after_network_use");
}

fn a_std_thread_that_will_send_is_not_a_deadlock() {
    let out = child("std_thread_sends_later");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn a_hog_running_without_a_p_is_not_a_deadlock() {
    let out = child("hog_without_a_p_sends_later");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("deadlock") => return deadlock(),
        Some("std_thread_sends_later") => return std_thread_sends_later(),
        Some("deadlock_after_network_use") => return deadlock_after_network_use(),
        Some("hog_without_a_p_sends_later") => return hog_without_a_p_sends_later(),
        _ => {}
    }
    let tests: [(&str, fn()); 4] = [
        (
            "a_deliberate_deadlock_prints_the_fatal_error_and_a_dump_and_exits_2",
            a_deliberate_deadlock_prints_the_fatal_error_and_a_dump_and_exits_2,
        ),
        (
            "a_deadlock_after_network_waits_is_still_reported",
            a_deadlock_after_network_waits_is_still_reported,
        ),
        (
            "a_std_thread_that_will_send_is_not_a_deadlock",
            a_std_thread_that_will_send_is_not_a_deadlock,
        ),
        (
            "a_hog_running_without_a_p_is_not_a_deadlock",
            a_hog_running_without_a_p_is_not_a_deadlock,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!("{} passed, {failed} failed", tests.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
