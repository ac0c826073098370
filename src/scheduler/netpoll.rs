//! The scheduler services the network poller itself, as Go's does, so a
//! readied goroutine goes straight to a P instead of through a poller
//! thread.
//!
//! 1. An M looking for work polls without blocking before it steals
//!    ([`poll_ready`]), unless another M is blocked in the poller.
//! 2. When the runtime goes idle, the timer sleeper (`clock.rs`) blocks in
//!    the poller instead of on its futex ([`sleep`]), with the next timer
//!    deadline as the timeout, if any goroutine or thread waits on the
//!    network. At most one M per process does so (`OWNER`).
//! 3. Whoever hands that M a P, kicks it or adds an earlier timer also
//!    writes the poller's eventfd (`MShared::kick`/`hand_off`): the M marks
//!    `in_netpoll` before it re-checks its hand-off word, the waker stores
//!    the hand-off before it reads `in_netpoll`, both SeqCst.
//! 4. A new network waiter while the sleeper sleeps on its futex kicks it
//!    ([`waiter_added`]), so it moves into the poller.
//! 5. sysmon polls if nobody has for [`FORCED_POLL`], so network waiters are
//!    not starved by Ps that always have other work.
//! 6. Go mode: the M that wakes in the poller to events takes an idle P
//!    itself, if one is free, before it wakes their waiters, and runs them
//!    (Go's `findRunnable` does the same after its blocking `netpoll`).
//!    Readied from an M without a P, they would go to the global queue and
//!    another M would be woken to run them: a futex wake, a context switch
//!    and an eventfd write more for each request of a lightly loaded
//!    server. (Pinned mode: see `Shared::claim_idle_p`.)
//! 7. Every 61st schedule of a P polls too (`find_runnable`, beside the
//!    global queue's turn; tokio's event interval is the same), so that a
//!    P that always has local work does not leave readied connections to
//!    its next idle moment. TCP reads that follow a short read may skip
//!    their syscall and wait for the poller (`PollFd::read_stream`); one
//!    that skipped although its data was there waited for that poll.
//!
//! Tried and dropped, each measured with alternating A/B runs of the
//! comparison harness on an idle 2-core machine:
//! * Skipping `find_runnable`'s 50 µs spin while goroutines wait on the
//!   network (their work arrives through the poller, which the spin does
//!   not watch): it saved CPU on a loaded machine but cost `tcp_echo`
//!   10-25% and `http_hello` about 5%; the spin catches the next request
//!   of a connection that has just answered.
//! * Parking every TCP read that follows a short read without trying
//!   `recv` first (tokio's rule), twice: one `recv` per HTTP request
//!   instead of two, but `tcp_echo` lost about 20% (4 alternations: 42.6k
//!   vs 53.5k round trips/s), since with blocking clients that the server's
//!   write wakes on its own CPU 78% of those reads find the next message
//!   already queued, and skipping them sent it through a park and the
//!   poller. The skip is now adaptive per socket (`PollFd::read_stream`),
//!   with step 7 beside it: 2 sets of 3 alternations of `compare
//!   http_hello tcp_echo --peers ours-go,ours-pinned` against the build
//!   without either: HTTP +4% requests/s in both modes (the skip alone:
//!   +8-14%), echo -1% and +4% (the skip alone: -3% to -12%).
//! * Clearing `in_netpoll` as soon as the poller's wait returns, so that a
//!   pinned M's hand-off to itself (a woken goroutine homed on its own P)
//!   skips the eventfd write: the writes went from 0.05 per request to
//!   none, but 3 alternations of `http_hello tcp_echo` showed 4-11% less
//!   throughput, not more.
//! * An adaptive bound on `find_runnable`'s 50 µs spin (halved by a spin
//!   that found nothing): with a second server on the same 2 CPUs, 69% of
//!   spins found nothing, but shorter spins only traded the burnt time for
//!   as many more sleeps and wake-ups (CPU per request unchanged over 6
//!   alternations).

use super::m::MShared;
use crate::net::poller::{self, Poller};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Set while an M is blocked in the poller.
static OWNER: AtomicBool = AtomicBool::new(false);
/// Timer sleepers parked on their futex rather than in the poller.
static FUTEX_SLEEPERS: AtomicUsize = AtomicUsize::new(0);
/// When anybody last polled, in nanoseconds since [`epoch`].
static LAST_POLL: AtomicU64 = AtomicU64::new(0);

/// Waiters woken by the poller so far (for stats).
pub(crate) static WOKEN: AtomicU64 = AtomicU64::new(0);

/// How long sysmon lets the poller go unpolled.
pub(crate) const FORCED_POLL: Duration = Duration::from_millis(10);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The poller, if started and somebody waits on it.
fn wanted() -> Option<&'static Poller> {
    let p = Poller::started()?;
    (poller::waiters() > 0).then_some(p)
}

/// Step 1: a non-blocking poll. Returns how many waiters it woke.
pub(crate) fn poll_ready() -> usize {
    if OWNER.load(Ordering::SeqCst) {
        return 0;
    }
    let Some(p) = wanted() else { return 0 };
    LAST_POLL.store(now(), Ordering::Relaxed);
    counted(crate::trace::netpoll(p.poll(Some(Duration::ZERO))))
}

/// Adds a poll's wake-ups to [`WOKEN`].
fn counted(woken: usize) -> usize {
    if woken > 0 {
        WOKEN.fetch_add(woken as u64, Ordering::Relaxed);
    }
    woken
}

/// Step 5, for sysmon.
pub(crate) fn poll_if_stale() {
    if now().saturating_sub(LAST_POLL.load(Ordering::Relaxed)) >= FORCED_POLL.as_nanos() as u64 {
        poll_ready();
    }
}

/// Step 2: how the timer sleeper `m` sleeps for up to `timeout`. If it
/// sleeps in the poller and wakes to events, it runs `claim_p` before it
/// wakes their waiters (step 6).
pub(crate) fn sleep(
    m: &MShared,
    timeout: Option<Duration>,
    futex_park: impl FnOnce(),
    claim_p: impl FnOnce(),
) {
    if let Some(p) = wanted() {
        if OWNER
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            m.in_netpoll.store(true, Ordering::SeqCst);
            if !m.has_handoff() {
                LAST_POLL.store(now(), Ordering::Relaxed);
                counted(crate::trace::netpoll(p.poll_then(timeout, claim_p)));
            }
            m.in_netpoll.store(false, Ordering::SeqCst);
            OWNER.store(false, Ordering::SeqCst);
            return;
        }
    }
    FUTEX_SLEEPERS.fetch_add(1, Ordering::SeqCst);
    futex_park();
    FUTEX_SLEEPERS.fetch_sub(1, Ordering::SeqCst);
}

/// Step 3: wakes `m` out of the poller if it is blocked there.
pub(crate) fn interrupt(m: &MShared) {
    if m.in_netpoll.load(Ordering::SeqCst) {
        if let Some(p) = Poller::started() {
            p.wake();
        }
    }
}

/// Step 4: called when a goroutine or thread starts waiting on the poller.
#[cfg_attr(loom, allow(dead_code))] // its one caller is not modelled
pub(crate) fn waiter_added() {
    if OWNER.load(Ordering::SeqCst) || FUTEX_SLEEPERS.load(Ordering::SeqCst) == 0 {
        return;
    }
    for rt in super::registry::runtimes() {
        let sleeper = rt.sleeper.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(m) = sleeper {
            m.kick();
            return;
        }
    }
}
