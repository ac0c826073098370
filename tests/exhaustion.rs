//! Resource exhaustion and teardown: each limit gives a clear error that
//! names it, never undefined behaviour or a hang, and the runtime keeps
//! working for everyone else.
//!
//! Every case runs in a child process (this test binary re-run on one test),
//! so that resource limits, dropped privileges, leaks and aborts stay there;
//! the parent kills a child that outlives [`CHILD_TIMEOUT`].

mod common;

use common::payload_text;
use goroutines::chan;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Far beyond what any case needs, even in a debug build on a busy machine:
/// reaching it means the child hung.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// What a child left behind.
struct Child {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Child {
    fn output(&self) -> String {
        format!(
            "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn assert_passed(&self) {
        assert!(self.status.success(), "{}", self.output());
        assert!(
            self.stdout.contains("CHILD DONE"),
            "the child did not run its case\n{}",
            self.output()
        );
    }
}

/// Runs test `name` of this binary alone in a child process with `envs`,
/// killing it if it has not exited within [`CHILD_TIMEOUT`].
fn run_child(name: &str, envs: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(common::CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the child");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} hung: killed after {CHILD_TIMEOUT:?}\n--- stderr\n{}",
                err.join().unwrap_or_default()
            );
        }
        // Polling the exit status; the deadline above is the only limit.
        std::thread::sleep(Duration::from_millis(20));
    };
    Child {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Says the child reached the end of its case.
fn child_done() {
    println!("CHILD DONE");
}

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn set_soft_limit(resource: libc::__rlimit_resource_t, soft: libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit pointer.
    unsafe {
        assert_eq!(libc::getrlimit(resource, &mut lim), 0);
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(
            libc::setrlimit(resource, &lim),
            0,
            "{}",
            std::io::Error::last_os_error()
        );
    }
}

/// The vm.max_map_count the mprotect-budget case pretends the kernel has:
/// the fallback leaves 2,048 mappings for the rest of the process, and a
/// test binary uses a few hundred, so a few hundred stacks fit.
const PRETEND_MAX_MAP_COUNT: &str = "4000";

/// One goroutine parked until its own release channel says go.
struct Parked {
    handle: goroutines::JoinHandle<()>,
    release: chan::Sender<()>,
}

/// Spawns a goroutine that parks until released. `Ok` once it runs; `Err`
/// with its join error if it could not start.
fn spawn_parked() -> Result<Parked, String> {
    let (up_tx, up_rx) = chan::bounded::<()>(1);
    let (release, release_rx) = chan::bounded::<()>(1);
    let handle = goroutines::go(move || {
        up_tx.send(()).unwrap();
        let _ = release_rx.recv();
    });
    // A goroutine that cannot start drops its closure, and with it `up_tx`.
    match up_rx.recv() {
        Ok(()) => Ok(Parked { handle, release }),
        Err(_) => Err(payload_text(handle.join().unwrap_err())),
    }
}

#[test]
fn exhausting_the_map_count_budget_fails_the_goroutine_and_the_runtime_recovers() {
    const NAME: &str =
        "exhausting_the_map_count_budget_fails_the_goroutine_and_the_runtime_recovers";
    if !common::is_child() {
        let child = run_child(
            NAME,
            &[(
                "GOROUTINES_DEBUG",
                &format!("guard=mprotect,maxmapcount={PRETEND_MAX_MAP_COUNT}"),
            )],
        );
        child.assert_passed();
        // Reported on stderr once, however many goroutines it refused.
        let reports = child.stderr.matches("could not start").count();
        assert_eq!(reports, 1, "{}", child.output());
        return;
    }
    let rt = goroutines::Runtime::builder()
        .max_procs(1)
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    assert_eq!(rt.stats().guard, "mprotect");
    rt.run(|| {
        let mut parked = Vec::new();
        let refused = loop {
            match spawn_parked() {
                Ok(p) => parked.push(p),
                Err(e) => break e,
            }
            assert!(parked.len() < 100_000, "the budget was never reached");
        };
        println!("{} goroutines parked, then: {refused}", parked.len());
        assert!(parked.len() >= 100, "only {} stacks fit", parked.len());
        assert!(refused.contains("could not start: cannot guard another goroutine stack"));
        assert!(
            refused.contains(&format!("vm.max_map_count ({PRETEND_MAX_MAP_COUNT})")),
            "{refused}"
        );
        assert!(refused.contains("sysctl -w vm.max_map_count="), "{refused}");

        // The parked goroutines are unharmed: ten of them finish...
        for p in parked.drain(..10) {
            p.release.send(()).unwrap();
            p.handle.join().unwrap();
        }
        // ...and their stacks serve exactly ten newcomers,
        for _ in 0..10 {
            parked.push(spawn_parked().expect("a freed stack is reused"));
        }
        // while an eleventh is refused again, with the same error.
        let again = spawn_parked().err().expect("no stack is left");
        assert!(again.contains("vm.max_map_count"), "{again}");

        for p in parked {
            p.release.send(()).unwrap();
            p.handle.join().unwrap();
        }
    });
    // Everything finished: the runtime serves new work.
    assert_eq!(rt.run(|| goroutines::go(|| 6 * 7).join().unwrap()), 42);
    child_done();
}

#[test]
fn an_address_space_limit_names_itself_and_shrinks_the_reservation() {
    const NAME: &str = "an_address_space_limit_names_itself_and_shrinks_the_reservation";
    if !common::is_child() {
        run_child(NAME, &[]).assert_passed();
        return;
    }
    // What the runtime maps once, outside the stack arena, must be mapped
    // before the limit is measured, so that only the arena's first
    // reservation meets it: this thread's goroutine memory (a 4 MiB chunk,
    // warmed on a throwaway runtime) and the M's thread and signal stacks
    // (mapped by the time the M has gone idle).
    {
        let warm = goroutines::Runtime::builder().max_procs(1).build().unwrap();
        assert_eq!(warm.go(|| 1).join().unwrap(), 1);
    }
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rt.stats().idle_procs != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the M never went idle"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let vm_now = status_kib("VmSize:") as u64 * 1024;

    // Room for less than the smallest chunk (as many 260 KiB slots as fit
    // in 16 MiB: 15 MiB): no stack at all.
    set_soft_limit(libc::RLIMIT_AS, vm_now + (8 << 20));
    let err = payload_text(rt.go(|| 7).join().unwrap_err());
    println!("under a tight ulimit -v: {err}");
    assert!(
        err.contains(
            "could not start: cannot reserve 15 MiB of address space for goroutine stacks"
        ),
        "{err}"
    );
    assert!(err.contains("os error 12"), "{err}");
    assert!(err.contains("ulimit -v"), "{err}");

    // Room for a smaller chunk than the usual 1 GiB: the arena halves its
    // request until it fits.
    set_soft_limit(libc::RLIMIT_AS, vm_now + (200 << 20));
    assert_eq!(rt.go(|| 7).join().unwrap(), 7);
    let reserved = rt.stats().stack_reserved_bytes;
    assert!(
        reserved < 128 << 20 && reserved > 64 << 20,
        "reserved {reserved} bytes"
    );

    set_soft_limit(libc::RLIMIT_AS, libc::RLIM_INFINITY);
    let sum: u64 = rt.run(|| {
        let hs: Vec<_> = (0..1000u64).map(|i| goroutines::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sum, 499_500);
    child_done();
}

/// Makes every later thread creation fail with EAGAIN. RLIMIT_NPROC does not
/// bind root, so a root child first becomes `nobody` (for good: this process
/// only ends the case).
fn forbid_new_threads() {
    // SAFETY: getuid/setuid have no memory-safety preconditions; glibc
    // applies setuid to every thread of the process.
    unsafe {
        if libc::getuid() == 0 {
            assert_eq!(
                libc::setuid(65534),
                0,
                "{}",
                std::io::Error::last_os_error()
            );
        }
    }
    set_soft_limit(libc::RLIMIT_NPROC, 0);
    assert!(
        std::thread::Builder::new().spawn(|| ()).is_err(),
        "the thread limit does not bind"
    );
}

#[test]
fn a_thread_limit_gives_clear_errors_and_the_runtime_keeps_going() {
    const NAME: &str = "a_thread_limit_gives_clear_errors_and_the_runtime_keeps_going";
    if !common::is_child() {
        let child = run_child(NAME, &[]);
        child.assert_passed();
        assert!(
            child.stderr.contains(
                "goroutines: cannot start another M (the OS refused a new thread: \
                 Resource temporarily unavailable"
            ),
            "{}",
            child.output()
        );
        return;
    }
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    forbid_new_threads();

    // A new runtime cannot start: the error says why.
    let err = goroutines::Runtime::builder()
        .build()
        .err()
        .unwrap()
        .to_string();
    println!("building a runtime: {err}");
    assert!(
        err.contains("cannot start the runtime's sysmon thread"),
        "{err}"
    );
    assert!(err.contains("os error 11"), "{err}");
    assert!(err.contains("ulimit -u"), "{err}");

    // The runtime that exists runs everything on the M it has; the second
    // P's M is refused with a warning.
    let sum: u64 = rt.run(|| {
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                goroutines::go(move || {
                    goroutines::yield_now();
                    i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sum, 19_900);

    // A blocking call with no thread to run it on still completes.
    assert_eq!(rt.run(|| goroutines::syscall(|| 5)), 5);
    child_done();
}

#[test]
fn spawning_while_the_runtime_is_dropped_neither_hangs_nor_loses_track() {
    const NAME: &str = "spawning_while_the_runtime_is_dropped_neither_hangs_nor_loses_track";
    if !common::is_child() {
        run_child(NAME, &[]).assert_passed();
        return;
    }
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    let (handles_tx, handles_rx) = std::sync::mpsc::channel();
    let (busy_tx, busy_rx) = std::sync::mpsc::sync_channel(1);
    // Spawns for as long as it is allowed to run, never parking.
    let spawner = rt.go(move || {
        for n in 0u64.. {
            if handles_tx.send(goroutines::go(move || n)).is_err() {
                break;
            }
            if n == 1000 {
                busy_tx.send(()).unwrap();
            }
        }
    });
    busy_rx.recv().unwrap();
    drop(rt); // must return: the spawner stops at its next spawn

    let err = payload_text(spawner.join().unwrap_err());
    assert!(err.contains("its runtime was shut down first"), "{err}");
    // Every goroutine spawned either ran or says it never will.
    let (mut ran, mut stranded) = (0, 0);
    while let Ok(h) = handles_rx.try_recv() {
        match h.join() {
            Ok(_) => ran += 1,
            Err(e) => {
                let e = payload_text(e);
                assert!(e.contains("its runtime was shut down first"), "{e}");
                stranded += 1;
            }
        }
    }
    println!("{ran} ran, {stranded} stranded");
    assert!(ran + stranded > 1000);
    child_done();
}

#[test]
fn dropping_a_runtime_from_its_own_goroutine_returns() {
    const NAME: &str = "dropping_a_runtime_from_its_own_goroutine_returns";
    if !common::is_child() {
        run_child(NAME, &[]).assert_passed();
        return;
    }
    let rt = std::sync::Arc::new(goroutines::Runtime::builder().max_procs(2).build().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let inside = rt.clone();
    let h = rt.go(move || {
        go_rx.recv().unwrap(); // blocks this M until main let go of its own
        drop(inside); // the last reference: the runtime is dropped here
        tx.send("dropped").unwrap();
        // Spawning into the dropped runtime: queued, never run.
        goroutines::go(|| 1).join().is_err()
    });
    drop(rt);
    go_tx.send(()).unwrap();
    assert_eq!(rx.recv().unwrap(), "dropped");
    // The goroutine that dropped it finishes its current slice; whether it
    // gets to return is not promised, but joining it must not hang.
    match h.join() {
        Ok(stranded) => assert!(stranded),
        Err(e) => assert!(payload_text(e).contains("shut down first")),
    }
    child_done();
}

/// Counts drops of values captured by goroutines.
static DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct CountsDrops;

impl Drop for CountsDrops {
    fn drop(&mut self) {
        DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn dropping_runtimes_whose_goroutines_finished_gives_their_memory_back() {
    const NAME: &str = "dropping_runtimes_whose_goroutines_finished_gives_their_memory_back";
    if !common::is_child() {
        run_child(NAME, &[]).assert_passed();
        return;
    }
    let mut first = (0, 0);
    for round in 0..20 {
        let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
        let sum: u64 = rt.run(|| {
            let hs: Vec<_> = (0..10_000u64)
                .map(|i| {
                    goroutines::go(move || {
                        goroutines::yield_now();
                        i
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(sum, 49_995_000);
        assert!(rt.stats().stack_reserved_bytes > 1 << 29);
        drop(rt);
        let now = (status_kib("VmSize:"), status_kib("VmRSS:"));
        println!("round {round}: VmSize {} KiB, VmRSS {} KiB", now.0, now.1);
        if round == 0 {
            first = now;
        }
        if round == 19 {
            // Each runtime reserved 1 GiB of stacks: 19 GiB more if leaked.
            assert!(
                now.0 < first.0 + (1 << 20),
                "VmSize grew from {first:?} to {now:?}"
            );
            assert!(
                now.1 < first.1 + (64 << 10),
                "VmRSS grew from {first:?} to {now:?}"
            );
        }
    }
    child_done();
}

#[test]
fn dropping_a_runtime_with_parked_goroutines_leaks_them_soundly() {
    const NAME: &str = "dropping_a_runtime_with_parked_goroutines_leaks_them_soundly";
    if !common::is_child() {
        run_child(NAME, &[]).assert_passed();
        return;
    }
    const PARKED: usize = 10_000;
    const ROUNDS: usize = 3;
    let rss_before = status_kib("VmRSS:");
    let mut stranded_senders = Vec::new();
    for _ in 0..ROUNDS {
        let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
        let (tx, rx) = chan::bounded::<()>(0);
        let (up_tx, up_rx) = chan::bounded::<()>(PARKED);
        let handles: Vec<_> = (0..PARKED)
            .map(|_| {
                let (rx, up_tx, guard) = (rx.clone(), up_tx.clone(), CountsDrops);
                rt.go(move || {
                    let _guard = guard;
                    up_tx.send(()).unwrap();
                    let _ = rx.recv(); // never sent to
                })
            })
            .collect();
        for _ in 0..PARKED {
            up_rx.recv().unwrap();
        }
        drop(rt);
        // Never run, never dropped: their frames are leaked whole.
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 0);
        for h in handles {
            let e = payload_text(h.join().unwrap_err());
            assert!(e.contains("its runtime was shut down first"), "{e}");
        }
        // The sender outlives the runtime; see below.
        stranded_senders.push(tx);
    }
    // Dropping the sender disconnects the channel and wakes every leaked
    // receiver: this is why their stacks and runtime must stay mapped. It
    // must not crash, and their destructors still do not run.
    drop(stranded_senders);
    assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 0);

    // What stays is the few pages each parked goroutine touched and its G,
    // not its whole 256 KiB stack.
    let per_goroutine = (status_kib("VmRSS:") - rss_before) * 1024 / (PARKED * ROUNDS);
    println!("{per_goroutine} bytes of RSS per leaked goroutine");
    assert!(per_goroutine < 32 * 1024, "{per_goroutine} bytes each");
    child_done();
}

#[test]
fn a_panic_in_a_destructor_while_unwinding_aborts_naming_the_goroutine() {
    const NAME: &str = "a_panic_in_a_destructor_while_unwinding_aborts_naming_the_goroutine";
    if !common::is_child() {
        let child = run_child(NAME, &[]);
        assert_eq!(
            child.status.signal(),
            Some(libc::SIGABRT),
            "{}",
            child.output()
        );
        let err = &child.stderr;
        assert!(
            err.contains("goroutine ")
                && err.contains(" panicked at")
                && err.contains("first panic"),
            "{}",
            child.output()
        );
        assert!(
            err.contains("second panic, in a destructor"),
            "{}",
            child.output()
        );
        assert!(
            err.contains("panic in a destructor during cleanup"),
            "{}",
            child.output()
        );
        assert!(!child.stdout.contains("CHILD DONE"), "{}", child.output());
        return;
    }
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("second panic, in a destructor");
        }
    }
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let _ = rt
        .go(|| {
            let _d = PanicsOnDrop;
            panic!("first panic");
        })
        .join();
    child_done();
}
