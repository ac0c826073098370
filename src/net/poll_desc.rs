//! `PollDesc`: what the poller knows about one registered descriptor (Go's
//! `pollDesc`), and the protocol by which a goroutine waits for readiness.
//!
//! Each descriptor has two directions, read and write; each direction has
//! one *slot*, a word in one of three states:
//!
//! ```text
//!   EMPTY   nobody waits, no readiness recorded
//!   READY   the poller saw readiness that nobody has consumed yet
//!   node    a pointer to the WaitNode of the one parked waiter
//! ```
//!
//! Transitions, each one CAS on the slot:
//! 1. A reader whose syscall returned `EAGAIN` parks with an `unlock` (run
//!    after it switched out) that publishes its node: `EMPTY -> node`. If
//!    the slot is `READY` instead, it consumes it (`READY -> EMPTY`) and
//!    cancels the park: readiness arrived between the syscall and the park,
//!    so it retries the syscall. This closes the lost-wake-up window.
//! 2. The poller, on an edge: `EMPTY -> READY`; `READY` stays; `node ->
//!    EMPTY` and it wakes the node's waiter with outcome READY (the waiter
//!    will retry its syscall, which sees everything that caused the edge).
//! 3. A deadline (a [`Timer`], or the timed park of a plain thread) sets
//!    the node's `expired`, then `node -> EMPTY` and wakes with TIMED_OUT.
//!    A [`Context`] being cancelled does exactly the same (a callback
//!    registered with `on_cancel` for the length of the wait), so the
//!    caller tells the two apart by asking the context.
//! 4. Close sets `closing`, then `node -> EMPTY` and wakes with CLOSED.
//!
//! Exactly one party wakes a parked waiter: whoever wins the CAS that takes
//! its node out of the slot. A `unlock` that published its node re-reads
//! `closing` and `expired` afterwards and, if either is set, tries to take
//! the node back itself (then it cancels the park). Both sides of those two
//! races do "write my flag, then read the other's" in SeqCst (Dekker), so
//! at least one of them sees the other: a close or an expired deadline is
//! never missed.
//!
//! No ABA: a deadline or a cancelling `unlock` compares the slot against a
//! node it holds a reference to, so that address cannot be reused while it
//! compares. The poller and close take whatever node is there, which is
//! always the right one to wake.
//!
//! Memory: `PollDesc`s live in the poller's type-stable cache and are never
//! freed, so a stale event or a late timer touching one that has since been
//! reused is memory-safe; at worst it is a spurious wake-up, after which the
//! waiter retries its syscall and parks again. `seq`, carried in the epoll
//! event, filters most stale events.
//!
//! At most one waiter per direction: the direction's [`OpLock`] serialises
//! concurrent readers (or writers) of one socket, as Go's `fdMutex` does.
//!
//! Loom models (`loom_models` below, `RUSTFLAGS="--cfg loom"`) run this
//! protocol with plain-thread waiters: readiness racing a wait, a close
//! racing a wait, and both racing one waiter. Each fails if the publish
//! step stops re-reading `closing` or stops consuming a pending `READY`.

use super::op_lock::OpLock;
use crate::context::Context;
use crate::loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::*};
#[cfg(not(loom))]
use crate::scheduler::g::WaitReason;
#[cfg(not(loom))]
use crate::scheduler::park::{self, Parker, Waiter};
#[cfg(not(loom))]
use crate::time::timer::Timer;
#[cfg(loom)]
use loom_park::{Parker, Waiter};
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32};
use std::sync::Arc;
use std::time::Instant;

const EMPTY: usize = 0;
const READY: usize = 1;

/// Waiters whose node is in a slot right now, in all PollDescs (Go's
/// `netpollWaiters`): while it is non-zero the poller may still wake a
/// goroutine, so a deadlock check must not report "all asleep", and the
/// scheduler polls only while it is. Raised when a node is published,
/// lowered ([`unpublished`]) by whoever takes it out, after the wake-up
/// (SeqCst, so a checker that reads it after seeing every goroutine parked
/// cannot miss a waiter that is still published, and one that reads zero
/// sees the woken goroutine runnable).
pub(crate) static IO_WAITERS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Lowers [`IO_WAITERS`] for a node just taken out of its slot, once its
/// waiter has been woken (or the waiter took it back itself).
fn unpublished() {
    IO_WAITERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}

/// Between "write my flag" and "read the other's" on each side of the two
/// Dekker races (module docs). The accesses themselves are SeqCst, which
/// already orders them; loom models SeqCst accesses only as AcqRel, and
/// its SeqCst fence stands in for that order in the models. A no-op
/// otherwise.
#[inline]
fn dekker_fence() {
    #[cfg(loom)]
    crate::loom::sync::atomic::fence(SeqCst);
}

/// `Half::skip_score` at or above which a read after a short read skips
/// its syscall; the score's ceiling; every how many such reads one tries
/// the syscall anyway, at first and at most (the gap doubles with each
/// probe that finds nothing and drops back to the first at one that finds
/// data). A score moving +1 per `EAGAIN` and -4 per read that found data
/// climbs only while more than 4 in 5 of those syscalls fail.
///
/// Under `wrk` a probe every 8th read cost 0.11 `recv` per request, all
/// of them `EAGAIN`; probing every 64th costs 0.016. A peer that starts
/// answering at once is noticed within 64 + 8 + 8 reads (three probes that
/// find data bring the score under `SKIP_AT`); until then its reads wait
/// for the poller, a few microseconds each, as they did before it sped up.
const SKIP_AT: u8 = 8;
const SKIP_SCORE_MAX: u8 = 16;
const PROBE_FIRST_GAP: u8 = 8;
const PROBE_MAX_GAP: u8 = 64;

/// Outcomes of a wait, written by whoever ended it.
const WAITING: u8 = 0;
const OUT_READY: u8 = 1;
const OUT_TIMED_OUT: u8 = 2;
const OUT_CLOSED: u8 = 3;

/// How a wait for readiness ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Readiness was seen (or may have been): retry the syscall.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// The descriptor is being closed.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// One direction of a descriptor.
pub(crate) struct Half {
    /// EMPTY, READY or a `*const WaitNode` from `Arc::into_raw` (the slot
    /// owns that reference). Every access is SeqCst: see the module docs.
    slot: AtomicUsize,
    /// Serialises operations in this direction.
    pub(crate) op: OpLock,
    /// Read direction of a stream socket only: the last read was short
    /// (fewer bytes than asked for, but some), so it emptied the receive
    /// queue, and the slot was cleared of older readiness before it ran.
    /// The next read may then wait for the next edge without first trying
    /// the syscall (which would return `EAGAIN`). Written and read under
    /// `op`, so Relaxed. See `PollFd::read_stream`.
    pub(crate) drained: AtomicBool,
    /// Read direction: how often, lately, the syscall of a read that
    /// followed a short read found the queue still empty, `EAGAIN` raising
    /// it by one and data lowering it by four (0 to [`SKIP_SCORE_MAX`]).
    /// Such a read skips its syscall only while this is at least
    /// [`SKIP_AT`] (see `skip_read`). Under the op lock, so Relaxed.
    skip_score: AtomicU8,
    /// Counts reads after short reads, so that every `probe_gap`th tries
    /// its syscall and keeps `skip_score` current. Under the op lock.
    skip_tick: AtomicU8,
    /// [`PROBE_FIRST_GAP`] to [`PROBE_MAX_GAP`], a power of two (so a
    /// multiple of it comes round as `skip_tick` wraps). Under the op lock.
    probe_gap: AtomicU8,
}

/// Go's pollDesc. Lives forever in the poller's cache.
pub(crate) struct PollDesc {
    pub(crate) read: Half,
    pub(crate) write: Half,
    /// Set by `close`, cleared when the cache hands the desc out again.
    closing: AtomicBool,
    /// Bumped each time the desc is freed; its low 16 bits tag epoll
    /// events, so an event for a previous owner is dropped.
    pub(crate) seq: AtomicU32,
    /// The registered descriptor, for debugging (-1 when free).
    pub(crate) fd: AtomicI32,
    /// Set by the poller on an event with `EPOLLRDHUP`, `EPOLLHUP`,
    /// `EPOLLERR` or `EPOLLPRI`, before it records or wakes the readiness:
    /// the peer shut down, the socket failed, or urgent data arrived. A
    /// short read may then stop *before* what is left (at the end of
    /// stream, an error, the urgent mark), and no later edge will announce
    /// it, so reads are never skipped on this desc again (until it is
    /// reused). SeqCst, paired with the slot: whoever consumes the
    /// readiness this event set also sees the flag.
    pub(crate) read_final: AtomicBool,
}

/// A parked waiter, shared by the slot, the waiter itself and its timer.
struct WaitNode {
    /// Taken by the one party that removes the node from the slot, or
    /// dropped with the node if it never was published. See `take_waiter`.
    waiter: UnsafeCell<Option<Waiter>>,
    /// WAITING until the wait ends; written (Release) before the wake-up,
    /// read (Acquire) by the woken waiter.
    outcome: AtomicU8,
    /// Set (SeqCst) by the deadline before it tries to take the node.
    expired: AtomicBool,
}

// SAFETY: `waiter` is only touched through `take_waiter`, by the party that
// took the node out of its slot (one CAS winner), or when the last
// reference drops; every other field is atomic. Waiter is Send.
unsafe impl Sync for WaitNode {}

impl WaitNode {
    /// # Safety
    /// The caller removed this node from its slot (won the CAS), so no one
    /// else calls this for it.
    unsafe fn take_waiter(&self) -> Option<Waiter> {
        // SAFETY: exclusive per the contract above.
        unsafe { (*self.waiter.get()).take() }
    }
}

impl Half {
    fn new() -> Half {
        Half {
            slot: AtomicUsize::new(EMPTY),
            op: OpLock::new(),
            drained: AtomicBool::new(false),
            skip_score: AtomicU8::new(0),
            skip_tick: AtomicU8::new(0),
            probe_gap: AtomicU8::new(PROBE_FIRST_GAP),
        }
    }

    /// For a read that follows a short read, with the op lock held:
    /// whether to wait for the next edge without trying the syscall first.
    /// Only while such syscalls have mostly found nothing lately (a peer
    /// that answers at once, as a blocking client woken on this CPU does,
    /// has its next message queued before the read), and never on every
    /// `probe_gap`th, whose syscall keeps the record current.
    pub(crate) fn skip_read(&self) -> bool {
        let tick = self.skip_tick.load(Relaxed).wrapping_add(1);
        self.skip_tick.store(tick, Relaxed);
        self.skip_score.load(Relaxed) >= SKIP_AT
            && !tick.is_multiple_of(self.probe_gap.load(Relaxed))
    }

    /// Records what the syscall of a read that followed a short read found:
    /// the queue still empty (`EAGAIN`), or data. Op lock held. While the
    /// score is at [`SKIP_AT`] or above, only probes get here, and they set
    /// the gap to the next one.
    pub(crate) fn record_after_short_read(&self, empty: bool) {
        let score = self.skip_score.load(Relaxed);
        if score >= SKIP_AT {
            let gap = self.probe_gap.load(Relaxed);
            let gap = if empty {
                (gap * 2).min(PROBE_MAX_GAP)
            } else {
                PROBE_FIRST_GAP
            };
            self.probe_gap.store(gap, Relaxed);
        }
        let score = if empty {
            (score + 1).min(SKIP_SCORE_MAX)
        } else {
            score.saturating_sub(4)
        };
        self.skip_score.store(score, Relaxed);
    }

    /// Forgets readiness recorded so far. The caller holds the op lock and
    /// is about to run its syscall, which sees everything that caused it;
    /// from here on, the slot records only edges the syscall may not have
    /// seen. (No node can be in the slot: only the op lock's holder waits.)
    pub(crate) fn clear_ready(&self) {
        if self.slot.load(SeqCst) == READY {
            let _ = self.slot.compare_exchange(READY, EMPTY, SeqCst, SeqCst);
        }
    }

    /// Step 1 of the protocol: publish `node`, unless readiness is pending
    /// or the wait must end at once. True if the caller must now wait for a
    /// wake-up; false if it must not wait (the outcome is set).
    fn publish(&self, pd: &PollDesc, node: &Arc<WaitNode>) -> bool {
        let ptr = Arc::into_raw(node.clone()) as usize;
        loop {
            // Counted before it is published, so a checker never sees a
            // published node uncounted.
            IO_WAITERS.fetch_add(1, SeqCst);
            let Err(cur) = self.slot.compare_exchange(EMPTY, ptr, SeqCst, SeqCst) else {
                // Make sure some M will poll for it (scheduler/netpoll.rs).
                #[cfg(not(loom))]
                crate::scheduler::netpoll::waiter_added();
                break;
            };
            IO_WAITERS.fetch_sub(1, SeqCst);
            match cur {
                READY => {
                    if self
                        .slot
                        .compare_exchange(READY, EMPTY, SeqCst, SeqCst)
                        .is_ok()
                    {
                        // SAFETY: `ptr` came from into_raw above and was not
                        // published.
                        drop(unsafe { Arc::from_raw(ptr as *const WaitNode) });
                        node.outcome.store(OUT_READY, Release);
                        return false;
                    }
                }
                EMPTY => {}
                _ => crate::fatal(format_args!(
                    "goroutines::net: two waiters in one direction of fd {}",
                    pd.fd.load(Relaxed)
                )),
            }
        }
        // Published. Re-check what a closer or a deadline set before it
        // looked at the slot (pairs with the SeqCst stores in close/expire).
        dekker_fence();
        let closing = pd.closing.load(SeqCst);
        if (closing || node.expired.load(SeqCst)) && self.take(node) {
            let out = if closing { OUT_CLOSED } else { OUT_TIMED_OUT };
            node.outcome.store(out, Release);
            return false;
        }
        true
    }

    /// Takes `node` back out of the slot; true if this call removed it (and
    /// so owns the wake-up, which the caller does or cancels).
    fn take(&self, node: &Arc<WaitNode>) -> bool {
        let ptr = Arc::as_ptr(node) as usize;
        if self
            .slot
            .compare_exchange(ptr, EMPTY, SeqCst, SeqCst)
            .is_err()
        {
            return false;
        }
        // SAFETY: we removed it, so we own the slot's reference and its
        // waiter. Nobody is woken: the caller is the waiter itself (a
        // cancelled park or a thread's own timeout).
        unsafe {
            let owned = Arc::from_raw(ptr as *const WaitNode);
            drop(owned.take_waiter());
        }
        unpublished();
        true
    }

    /// Takes whatever node is in the slot and wakes it with `outcome`; if
    /// the slot is empty and `outcome` is READY, records the readiness.
    /// Returns whether a waiter was woken.
    fn wake(&self, outcome: u8) -> bool {
        loop {
            let cur = self.slot.load(SeqCst);
            match cur {
                READY => return false,
                EMPTY if outcome != OUT_READY => return false,
                EMPTY => {
                    if self
                        .slot
                        .compare_exchange(EMPTY, READY, SeqCst, SeqCst)
                        .is_ok()
                    {
                        return false;
                    }
                }
                ptr => {
                    if self
                        .slot
                        .compare_exchange(ptr, EMPTY, SeqCst, SeqCst)
                        .is_ok()
                    {
                        // SAFETY: we removed the node, so we own the slot's
                        // reference and are the one party that wakes it.
                        let node = unsafe { Arc::from_raw(ptr as *const WaitNode) };
                        node.outcome.store(outcome, Release);
                        // SAFETY: as above.
                        if let Some(w) = unsafe { node.take_waiter() } {
                            w.wake();
                        }
                        unpublished();
                        return true;
                    }
                }
            }
        }
    }

    /// The deadline's side: mark expired, then take the node and wake it.
    fn expire(&self, node: &Arc<WaitNode>) {
        node.expired.store(true, SeqCst);
        dekker_fence();
        let ptr = Arc::as_ptr(node) as usize;
        if self
            .slot
            .compare_exchange(ptr, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            // SAFETY: we removed it: the slot's reference and the wake-up
            // are ours.
            let owned = unsafe { Arc::from_raw(ptr as *const WaitNode) };
            owned.outcome.store(OUT_TIMED_OUT, Release);
            // SAFETY: as above.
            if let Some(w) = unsafe { owned.take_waiter() } {
                w.wake();
            }
            unpublished();
        }
    }
}

impl PollDesc {
    pub(crate) fn new() -> PollDesc {
        PollDesc {
            read: Half::new(),
            write: Half::new(),
            closing: AtomicBool::new(false),
            seq: AtomicU32::new(0),
            fd: AtomicI32::new(-1),
            read_final: AtomicBool::new(false),
        }
    }

    pub(crate) fn half(&self, dir: Dir) -> &Half {
        match dir {
            Dir::Read => &self.read,
            Dir::Write => &self.write,
        }
    }

    /// Called by the cache before the desc is registered for `fd`, so no
    /// event for `fd` can be seen before this. A stale event may still set
    /// READY afterwards: that costs one spurious retry, nothing more.
    pub(crate) fn reset(&self, fd: i32) {
        self.read.slot.store(EMPTY, SeqCst);
        self.write.slot.store(EMPTY, SeqCst);
        self.read.drained.store(false, Relaxed);
        self.read.skip_score.store(0, Relaxed);
        self.read.probe_gap.store(PROBE_FIRST_GAP, Relaxed);
        self.read_final.store(false, SeqCst);
        self.closing.store(false, SeqCst);
        self.fd.store(fd, Relaxed);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(SeqCst)
    }

    /// Readiness from the poller. Returns how many waiters it woke.
    pub(crate) fn notify(&self, readable: bool, writable: bool) -> usize {
        let mut n = 0;
        if readable && self.read.wake(OUT_READY) {
            n += 1;
        }
        if writable && self.write.wake(OUT_READY) {
            n += 1;
        }
        n
    }

    /// Marks the desc closing and wakes both directions' waiters with
    /// `Wait::Closed`. Later waits end at once with `Closed`.
    pub(crate) fn close(&self) {
        self.closing.store(true, SeqCst);
        dekker_fence();
        self.read.wake(OUT_CLOSED);
        self.write.wake(OUT_CLOSED);
    }

    /// Parks the caller until `dir` may be ready, `deadline` passes, or the
    /// desc is closed. The caller holds `dir`'s op lock and has just seen
    /// `EAGAIN`. From a goroutine this parks it (its M runs others); from a
    /// plain thread it blocks the thread. (The sockets all call
    /// [`wait_context`](Self::wait_context); this is its short form.)
    #[cfg(test)]
    pub(crate) fn wait(&'static self, dir: Dir, deadline: Option<Instant>) -> Wait {
        self.wait_context(dir, deadline, None)
    }

    /// As [`wait`](Self::wait), and also ends with `TimedOut` once `ctx`
    /// is done (at once if it already is).
    pub(crate) fn wait_context(
        &'static self,
        dir: Dir,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
    ) -> Wait {
        if self.is_closing() {
            return Wait::Closed;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) || ctx.is_some_and(|c| c.is_done()) {
            return Wait::TimedOut;
        }
        let waiter = Waiter::current();
        match waiter {
            Waiter::Thread(ref parker) => {
                let parker = parker.clone();
                self.wait_thread(dir, deadline, ctx, waiter, &parker)
            }
            #[cfg(not(loom))]
            Waiter::Goroutine(_) => self.wait_goroutine(dir, deadline, ctx, waiter),
        }
    }

    /// Registers `node`'s expiry with `ctx`, as a deadline timer would:
    /// before the node is published, so a cancellation that comes first
    /// sets `expired` and the publish step sees it. The guard unregisters.
    fn expire_on_cancel(
        &'static self,
        dir: Dir,
        node: &Arc<WaitNode>,
        ctx: Option<&Context>,
    ) -> Option<crate::context::OnCancel> {
        let node = node.clone();
        ctx?.on_cancel(move || self.half(dir).expire(&node))
    }

    #[cfg(not(loom))]
    fn wait_goroutine(
        &'static self,
        dir: Dir,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
        waiter: Waiter,
    ) -> Wait {
        let node = new_node(waiter);
        // The timer starts before the park: if it fires before the node is
        // published, `expired` tells the publishing unlock to cancel.
        let timer = deadline.map(|d| {
            let node = node.clone();
            Timer::start(d, Box::new(move || self.half(dir).expire(&node)))
        });
        let on_cancel = self.expire_on_cancel(dir, &node, ctx);
        let for_unlock = node.clone();
        // The closure owns everything it touches (`self` is 'static): once
        // the node is published this goroutine may already be running
        // elsewhere, and its stack frame is no longer ours to read.
        park::park(WaitReason::IoWait, move || {
            self.half(dir).publish(self, &for_unlock)
        });
        if let Some(t) = timer {
            t.stop();
        }
        drop(on_cancel);
        outcome(&node)
    }

    fn wait_thread(
        &'static self,
        dir: Dir,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
        waiter: Waiter,
        parker: &Parker,
    ) -> Wait {
        let node = new_node(waiter);
        let half = self.half(dir);
        // Unregistered when this returns, on every path.
        let _on_cancel = self.expire_on_cancel(dir, &node, ctx);
        if !half.publish(self, &node) {
            return outcome(&node);
        }
        // Published: exactly one unpark is now owed to us, unless we take
        // the node back ourselves. Consume it, so that no stale permit is
        // left for this thread's next park elsewhere.
        match deadline {
            None => parker.park(),
            Some(d) => loop {
                let left = d.saturating_duration_since(Instant::now());
                if !left.is_zero() && parker.park_timeout(left) {
                    break;
                }
                if Instant::now() >= d {
                    node.expired.store(true, SeqCst);
                    dekker_fence();
                    if half.take(&node) {
                        return Wait::TimedOut;
                    }
                    parker.park();
                    break;
                }
            },
        }
        outcome(&node)
    }
}

fn new_node(waiter: Waiter) -> Arc<WaitNode> {
    Arc::new(WaitNode {
        waiter: UnsafeCell::new(Some(waiter)),
        outcome: AtomicU8::new(WAITING),
        expired: AtomicBool::new(false),
    })
}

fn outcome(node: &WaitNode) -> Wait {
    match node.outcome.load(Acquire) {
        OUT_READY => Wait::Ready,
        OUT_TIMED_OUT => Wait::TimedOut,
        OUT_CLOSED => Wait::Closed,
        other => crate::fatal(format_args!(
            "goroutines::net: a wait for readiness ended without an outcome ({other})"
        )),
    }
}

/// The error of an operation on a descriptor that is being closed (Go's
/// `net.ErrClosed`).
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "use of closed network connection",
    )
}

/// Under loom, waiters are loom threads: the models below run the real
/// slot protocol (publish, wake, take, close) with loom's atomics, and a
/// wake-up it loses leaves a model thread parked, which loom reports.
#[cfg(loom)]
mod loom_park {
    use std::sync::Arc;

    /// loom's own thread token: a published wait is owed exactly one
    /// wake-up, and a model thread parks nowhere else.
    pub(crate) struct Parker {
        thread: loom::thread::Thread,
    }

    impl Parker {
        pub(crate) fn park(&self) {
            loom::thread::park();
        }

        /// The models wait without deadlines.
        pub(crate) fn park_timeout(&self, _: std::time::Duration) -> bool {
            unreachable!("the loom models wait without deadlines")
        }
    }

    pub(crate) enum Waiter {
        Thread(Arc<Parker>),
    }

    impl Waiter {
        pub(crate) fn current() -> Waiter {
            Waiter::Thread(Arc::new(Parker {
                thread: loom::thread::current(),
            }))
        }

        pub(crate) fn wake(self) {
            let Waiter::Thread(parker) = self;
            parker.thread.unpark();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod skip_tests {
    use super::*;

    /// Which of the next `n` reads after short reads would skip their
    /// syscall, each probe recording `probes_find_data`.
    fn run(half: &Half, n: usize, probes_find_data: bool) -> Vec<bool> {
        (0..n)
            .map(|_| {
                let skip = half.skip_read();
                if !skip {
                    half.record_after_short_read(!probes_find_data);
                }
                skip
            })
            .collect()
    }

    fn probes(skips: &[bool]) -> Vec<usize> {
        (0..skips.len()).filter(|&i| !skips[i]).collect()
    }

    #[test]
    fn probes_back_off_while_they_find_nothing_and_come_back_when_one_finds_data() {
        let half = Half::new();
        // Every read tries its syscall until eight in a row found nothing.
        let skips = run(&half, 8, false);
        assert_eq!(probes(&skips), (0..8).collect::<Vec<_>>());
        // Then probes, each finding nothing, at gaps of 8, 16, 32, 64, 64.
        let skips = run(&half, 256, false);
        let at: Vec<usize> = probes(&skips).iter().map(|i| i + 9).collect();
        assert_eq!(at, [16, 32, 64, 128, 192, 256]);
        // A peer that answers at once now: the next probe finds data and
        // brings the gap back to 8; the score (8 + 6 = 14) drops by 4 per
        // such probe, under 8 at the second, and then every read tries.
        let skips = run(&half, 100, true);
        let at: Vec<usize> = probes(&skips).iter().map(|i| i + 265).collect();
        assert_eq!(&at[..2], [320, 328]);
        assert!(at[2..].iter().zip(329..).all(|(a, b)| *a == b), "{at:?}");
        assert_eq!(at.len(), 2 + (364 - 328));
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;

    fn desc() -> &'static PollDesc {
        Box::leak(Box::new(PollDesc::new()))
    }

    /// A reader that tries its "syscall" (taking what a modelled receive
    /// queue holds) and waits on the desc when it is empty, as `PollFd::io`
    /// does, against a writer that queues a byte and then reports the edge,
    /// as the poller does, twice: the reader gets both bytes. Readiness
    /// reported between the reader's empty try and its publish must make
    /// the publish cancel the wait (else the reader stays parked and loom
    /// reports the deadlock).
    #[test]
    fn loom_readiness_racing_the_wait_is_never_lost() {
        loom::model(|| {
            let pd = desc();
            let queue = crate::loom::sync::Arc::new(AtomicUsize::new(0));
            let q = queue.clone();
            let writer = loom::thread::spawn(move || {
                for _ in 0..2 {
                    q.fetch_add(1, SeqCst);
                    pd.notify(true, false);
                }
            });
            let mut got = 0;
            while got < 2 {
                let n = queue.swap(0, SeqCst);
                if n == 0 {
                    assert_eq!(pd.wait(Dir::Read, None), Wait::Ready);
                }
                got += n;
            }
            writer.join().unwrap();
        });
    }

    /// A close racing a reader that is about to wait for data that never
    /// comes: the wait ends with `Closed`, whichever of the two publishes
    /// first (the closing flag and the published node are each re-read by
    /// the other side).
    #[test]
    fn loom_close_racing_the_wait_ends_it() {
        loom::model(|| {
            let pd = desc();
            let closer = loom::thread::spawn(move || pd.close());
            assert_eq!(pd.wait(Dir::Read, None), Wait::Closed);
            closer.join().unwrap();
        });
    }

    /// Readiness and a close both racing one waiting reader: it is woken
    /// once, with either outcome, and a later wait sees the close.
    #[test]
    fn loom_readiness_and_close_racing_wake_the_reader_once() {
        loom::model(|| {
            let pd = desc();
            let notifier = loom::thread::spawn(move || {
                pd.notify(true, false);
            });
            let closer = loom::thread::spawn(move || pd.close());
            let first = pd.wait(Dir::Read, None);
            assert!(matches!(first, Wait::Ready | Wait::Closed), "{first:?}");
            notifier.join().unwrap();
            closer.join().unwrap();
            assert_eq!(pd.wait(Dir::Read, None), Wait::Closed);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Runtime;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    fn desc() -> &'static PollDesc {
        let pd: &'static PollDesc = Box::leak(Box::new(PollDesc::new()));
        pd.reset(-1);
        pd
    }

    fn runtimes() -> Vec<Runtime> {
        let pinned = Runtime::builder().max_procs(2).build().unwrap();
        // SAFETY: these goroutines hold nothing thread-affine across parks.
        let go = unsafe { Runtime::builder().max_procs(2).migrate_goroutines() }
            .build()
            .unwrap();
        vec![pinned, go]
    }

    /// A close while a goroutine is parked on the desc wakes it with
    /// `Closed`; later waits end at once.
    #[test]
    fn close_wakes_a_parked_waiter_with_closed() {
        for rt in runtimes() {
            rt.run(|| {
                let pd = desc();
                let parked = crate::go(move || {
                    let _op = pd.read.op.lock();
                    pd.wait(Dir::Read, None)
                });
                crate::time::sleep(Duration::from_millis(20));
                pd.close();
                assert_eq!(parked.join().unwrap(), Wait::Closed);
                assert_eq!(pd.wait(Dir::Write, None), Wait::Closed);
            });
        }
    }

    /// The same from a plain thread.
    #[test]
    fn close_wakes_a_blocked_thread_with_closed() {
        let pd = desc();
        let t = std::thread::spawn(move || pd.wait(Dir::Write, None));
        std::thread::sleep(Duration::from_millis(20));
        pd.close();
        assert_eq!(t.join().unwrap(), Wait::Closed);
    }

    /// Readiness recorded before anyone waits is consumed by the next wait,
    /// which does not park; the one after that does.
    #[test]
    fn readiness_before_the_park_is_not_lost() {
        let pd = desc();
        assert_eq!(pd.notify(true, false), 0);
        assert_eq!(pd.wait(Dir::Read, None), Wait::Ready);
        let deadline = Instant::now() + Duration::from_millis(10);
        assert_eq!(pd.wait(Dir::Read, Some(deadline)), Wait::TimedOut);
        assert!(Instant::now() >= deadline);
    }

    /// Deadlines and readiness racing on the same waits: every wait ends
    /// (Ready or TimedOut), none hangs, and no waiter is woken twice (that
    /// would be a fatal "readying goroutine which is not parked").
    #[test]
    fn deadlines_racing_readiness_wake_each_waiter_once() {
        for rt in runtimes() {
            let pds: Vec<&'static PollDesc> = (0..4).map(|_| desc()).collect();
            let stop = Arc::new(AtomicBool::new(false));
            let notifier = {
                let (pds, stop) = (pds.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Relaxed) {
                        for pd in &pds {
                            pd.notify(true, i.is_multiple_of(3));
                        }
                        i += 1;
                        if i.is_multiple_of(8) {
                            std::thread::sleep(Duration::from_micros(20));
                        }
                    }
                })
            };
            let waits = |pd: &'static PollDesc, dir: Dir| {
                let mut outcomes = [0usize; 2];
                for i in 0..1000u64 {
                    let _op = pd.half(dir).op.lock();
                    let d = Instant::now() + Duration::from_micros(i % 40);
                    match pd.wait(dir, Some(d)) {
                        Wait::Ready => outcomes[0] += 1,
                        Wait::TimedOut => outcomes[1] += 1,
                        Wait::Closed => unreachable!("nobody closes"),
                    }
                }
                outcomes
            };
            let total = rt.run(move || {
                let hs: Vec<_> = pds
                    .iter()
                    .flat_map(|&pd| {
                        [
                            crate::go(move || waits(pd, Dir::Read)),
                            crate::go(move || waits(pd, Dir::Write)),
                        ]
                    })
                    .collect();
                // A plain thread waiting on its own desc at the same time.
                let pd = desc();
                let t = std::thread::spawn(move || waits(pd, Dir::Read));
                let mut n = hs
                    .into_iter()
                    .map(|h| h.join().unwrap().iter().sum::<usize>())
                    .sum::<usize>();
                n += t.join().unwrap().iter().sum::<usize>();
                n
            });
            stop.store(true, Relaxed);
            notifier.join().unwrap();
            assert_eq!(total, 9 * 1000);
            // Other tests may be waiting right now, so only an underflow (a
            // waiter uncounted twice) is certain to be a bug here.
            assert!(IO_WAITERS.load(SeqCst) < 1 << 20, "IO_WAITERS underflowed");
        }
    }
}
