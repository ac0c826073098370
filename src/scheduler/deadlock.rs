//! "fatal error: all goroutines are asleep - deadlock!"
//!
//! Go can tell when nothing can ever wake a goroutine again, because all
//! code runs in goroutines. Here plain OS threads can hold channel ends too,
//! so the check is deliberately conservative: it reports only when, in every
//! runtime of the process at once,
//! 1. every P is idle and some goroutine exists (so all are parked),
//! 2. no timer is pending and no `syscall` is in flight,
//! 3. nothing waits on the network (a peer could wake it; the poller counts
//!    its waiters, goroutines and threads alike),
//! 4. every OS thread that is not the runtime's own is blocked in one of
//!    this crate's primitives ([`THREADS_PARKED`]), so no other code runs,
//!    and
//! 5. all of that held at two sysmon looks at least [`CONFIRM`] apart, with
//!    no context switch and no thread park or wake in between.
//!
//! A program whose main thread waits in `goroutines::run` for a goroutine
//! that waits forever is the case this catches; one with a std thread still
//! running (or asleep in the kernel) is never reported.
//!
//! Counting threads: a plain thread adds itself to `THREADS_PARKED` before
//! its park's unlock runs and its waker takes it off before unparking it,
//! so "counted" always means "not yet woken".

use super::Shared;
use crate::time::heap::NONE;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Plain threads blocked in `park` and not yet woken.
pub(crate) static THREADS_PARKED: AtomicUsize = AtomicUsize::new(0);
/// Bumped by every thread park and wake, so a confirmation can tell that
/// nothing happened between two looks.
pub(crate) static THREAD_EVENTS: AtomicU64 = AtomicU64::new(0);

/// How far apart the two looks must be.
const CONFIRM: Duration = Duration::from_millis(20);

/// What sysmon remembers between looks.
#[derive(Default)]
pub(crate) struct Suspect {
    since: Option<(Instant, u64, u64)>,
}

/// Called by sysmon each cycle. Exits the process with status 2 on a
/// confirmed deadlock.
pub(crate) fn check(shared: &Shared, suspect: &mut Suspect) {
    // Cheap look at our own runtime first.
    if shared.idle.npidle.load(Ordering::SeqCst) != shared.ps.len()
        || shared.running_without_p.load(Ordering::SeqCst) != 0
        || shared.num_goroutines() == 0
        || shared.earliest_timer() != NONE
    {
        suspect.since = None;
        return;
    }
    let runtimes = super::registry::runtimes();
    if !runtimes.iter().all(|rt| quiet(rt)) || crate::syscall::in_flight() != 0 {
        suspect.since = None;
        return;
    }
    if foreign_threads() != Some(THREADS_PARKED.load(Ordering::SeqCst)) {
        suspect.since = None;
        return;
    }
    let switches: u64 = runtimes.iter().map(|rt| rt.switches()).sum();
    let events = THREAD_EVENTS.load(Ordering::SeqCst);
    match suspect.since {
        Some((at, s, e)) if s == switches && e == events => {
            if at.elapsed() >= CONFIRM {
                report(&runtimes);
            }
        }
        _ => suspect.since = Some((Instant::now(), switches, events)),
    }
}

/// Conditions 1-3 for one runtime.
fn quiet(rt: &Shared) -> bool {
    if rt.idle.npidle.load(Ordering::SeqCst) != rt.ps.len()
        || rt.running_without_p.load(Ordering::SeqCst) != 0
        || rt.earliest_timer() != NONE
    {
        return false;
    }
    crate::net::poller::waiters() == 0
}

/// OS threads of this process that are not the runtime's own (named
/// `goroutines-*`), or None if /proc cannot tell.
fn foreign_threads() -> Option<usize> {
    let mut n = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let comm = std::fs::read_to_string(task.ok()?.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("goroutines-") {
            n += 1;
        }
    }
    Some(n)
}

fn report(runtimes: &[std::sync::Arc<Shared>]) -> ! {
    let mut out = String::from("fatal error: all goroutines are asleep - deadlock!\n");
    for rt in runtimes {
        out.push('\n');
        out.push_str(&crate::dump::Dump::of(rt).to_string());
    }
    eprint!("{out}");
    std::process::exit(2);
}
