//! sysmon: time slices, stall reports, schedtrace.

mod common;

use goroutines::Runtime;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A goroutine that never parks but keeps calling into the runtime (here:
/// `go`) is made to yield once it has used its time slice, so a sleeper on
/// the same single P gets to run.
#[test]
fn a_long_running_goroutine_yields_at_its_next_runtime_call() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let woke = Arc::new(AtomicBool::new(false));
    let w = woke.clone();
    let saw_it = rt.run(move || {
        let w2 = w.clone();
        goroutines::go(move || {
            goroutines::time::sleep(Duration::from_millis(1));
            w2.store(true, Ordering::SeqCst);
        });
        let start = Instant::now();
        while !w.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
            drop(goroutines::go(|| ()));
        }
        w.load(Ordering::SeqCst)
    });
    assert!(
        saw_it,
        "the sleeper never ran: the busy goroutine was never preempted"
    );
    assert!(woke.load(Ordering::SeqCst));
}

fn stall_case(name: &str, body: fn()) -> String {
    if common::is_child() {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        rt.run(body);
        return String::new();
    }
    let out = common::run_child(name, &[]);
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    err
}

#[test]
fn a_cpu_hog_is_reported_with_the_fix() {
    let err = stall_case("a_cpu_hog_is_reported_with_the_fix", || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            std::hint::spin_loop();
        }
    });
    if common::is_child() {
        return;
    }
    assert!(err.contains("has held P0"), "{err}");
    assert!(
        err.contains("CPU-bound loop") && err.contains("yield_now"),
        "{err}"
    );
    assert_eq!(
        err.matches("has held P0").count(),
        1,
        "reported once per episode: {err}"
    );
}

#[test]
fn an_unannotated_blocking_call_is_reported_as_blocked_in_the_kernel() {
    let err = stall_case(
        "an_unannotated_blocking_call_is_reported_as_blocked_in_the_kernel",
        || {
            std::thread::sleep(Duration::from_millis(200));
        },
    );
    if common::is_child() {
        return;
    }
    assert!(err.contains("blocked in the kernel"), "{err}");
    assert!(err.contains("goroutines::syscall"), "{err}");
}

#[test]
fn schedtrace_lines_parse_and_add_up() {
    if common::is_child() {
        let rt = Runtime::builder().max_procs(2).build().unwrap();
        rt.run(|| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(120) {
                let hs: Vec<_> = (0..100).map(|i| goroutines::go(move || i)).collect();
                hs.into_iter().for_each(|h| drop(h.join()));
                goroutines::time::sleep(Duration::from_millis(1));
            }
        });
        return;
    }
    let out = common::run_child(
        "schedtrace_lines_parse_and_add_up",
        &[("GOROUTINES_DEBUG", "schedtrace=20,scheddetail=1")],
    );
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let sched: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("SCHED "))
        .collect();
    assert!(sched.len() >= 3, "expected a line every 20 ms: {err}");
    for &i in &sched {
        let line = lines[i];
        let field = |k: &str| -> usize {
            let v = line
                .split(&format!(" {k}="))
                .nth(1)
                .unwrap_or_else(|| panic!("{k} in {line}"));
            v.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(field("gomaxprocs"), 2, "{line}");
        assert!(field("idleprocs") <= 2, "{line}");
        let queues = line.split('[').nth(1).unwrap().split(']').next().unwrap();
        assert_eq!(
            queues.split(' ').count(),
            2,
            "one queue length per P: {line}"
        );
        // The detail lines that follow: one per P, each idle or running.
        let ps: Vec<&str> = lines[i + 1..].iter().take(2).copied().collect();
        let idle = ps.iter().filter(|l| l.contains("status=idle")).count();
        let busy = ps.iter().filter(|l| l.contains("status=running")).count();
        assert_eq!(idle + busy, 2, "idle + busy = gomaxprocs: {ps:?}");
    }
}

#[test]
fn a_malformed_schedtrace_is_named_in_the_error() {
    if common::is_child() {
        let e = Runtime::builder().build().err().expect("rejected");
        assert!(e.to_string().contains("schedtrace=soon"), "{e}");
        return;
    }
    let out = common::run_child(
        "a_malformed_schedtrace_is_named_in_the_error",
        &[("GOROUTINES_DEBUG", "schedtrace=soon")],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// A goroutine spawned just before its spawner stops calling into the
/// runtime sits in that P's `runnext`, where no other P can take it. Sysmon
/// moves it once it sees the P stuck, so it runs on the other P, in both
/// modes.
fn spawned_goroutine_escapes_a_stuck_spawner(rt: Runtime) {
    let ran_after = rt.run(spawn_then_spin);
    assert!(
        ran_after.is_some(),
        "the spawned goroutine never ran while its spawner spun"
    );
}

/// Spawns a goroutine (into this P's `runnext`), then spins without
/// calling into the runtime until it has run (at most 20 s): how long
/// that took, or None if it never ran.
fn spawn_then_spin() -> Option<Duration> {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let spawned = goroutines::go(move || r.store(true, Ordering::SeqCst));
    let start = Instant::now();
    while !ran.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
        std::hint::spin_loop();
    }
    let ran_after = ran.load(Ordering::SeqCst).then(|| start.elapsed());
    spawned.join().unwrap();
    ran_after
}

#[test]
fn a_goroutine_in_a_stuck_ps_runnext_runs_elsewhere_in_pinned_mode() {
    spawned_goroutine_escapes_a_stuck_spawner(Runtime::builder().max_procs(2).build().unwrap());
}

#[test]
fn a_goroutine_in_a_stuck_ps_runnext_runs_elsewhere_in_go_mode() {
    spawned_goroutine_escapes_a_stuck_spawner(common::go_mode(2));
}

/// A P whose thread gets no CPU (here: a `SCHED_IDLE` thread beside a busy
/// normal one, all on one CPU; in a VM, a vCPU the hypervisor took away)
/// is no hog and is not reported, but what waits in its `runnext` still
/// moves to the other P once the P has been stuck for two time slices.
#[test]
fn a_ps_thread_without_a_cpu_is_not_reported_but_its_runnext_runs_elsewhere() {
    const NAME: &str = "a_ps_thread_without_a_cpu_is_not_reported_but_its_runnext_runs_elsewhere";
    if common::is_child() {
        // SAFETY: zeroed cpu_set_t values are valid empty sets; the calls
        // act on this process (0) with valid sets of the right size.
        unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            assert_eq!(libc::sched_getaffinity(0, size, &mut allowed), 0);
            let first = (0..libc::CPU_SETSIZE as usize)
                .find(|&cpu| libc::CPU_ISSET(cpu, &allowed))
                .expect("a CPU to run on");
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(first, &mut one);
            assert_eq!(libc::sched_setaffinity(0, size, &one), 0);
        }
        // Threads made from here on inherit the one CPU.
        let stop = Arc::new(AtomicBool::new(false));
        let busy = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let rt = Runtime::builder().max_procs(2).build().unwrap();
        let ran_after = rt.run(|| {
            // SAFETY: sched_setscheduler on the calling thread (0) with a
            // valid param; SCHED_IDLE takes priority 0.
            unsafe {
                let param = libc::sched_param { sched_priority: 0 };
                assert_eq!(libc::sched_setscheduler(0, libc::SCHED_IDLE, &param), 0);
            }
            spawn_then_spin()
        });
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();
        assert!(
            ran_after.is_some(),
            "the spawned goroutine never ran while its spawner's thread got no CPU"
        );
        return;
    }
    let out = common::run_child(NAME, &[]);
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("has held"),
        "a starved thread was reported: {err}"
    );
}
