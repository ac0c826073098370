//! P: a processor, the licence to run goroutines. There are exactly
//! `max_procs` of them.
//!
//! A P's queues, from first looked at to last:
//! * `runnext`: the goroutine the running one just readied; it runs next on
//!   this P, inheriting the time slice (what makes channel ping-pong cheap).
//!   Other Ps never steal it; only sysmon takes it, from a P stuck running
//!   one goroutine (an atomic slot, as in Go).
//! * `pinned`: runnable goroutines whose home is this P (pinned mode). Never
//!   stolen.
//! * `inbox`: goroutines homed here but readied by another thread; drained
//!   into `pinned` by the P's holder.
//! * `runq`: the stealable ring (`queue.rs`).
//!
//! Ownership: `local` belongs to the M that holds the P (Ps change hands only
//! through the idle lists, whose mutex orders the hand-over); everything else
//! is shared and synchronised on its own.

use super::g::{GRef, G, NO_HOME};
use super::queue::{Overflow, Queue};
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use crate::scheduler::lock::Lock;
use crate::stack;
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::AtomicI32;

/// Laid out by who writes what, so that two Ms do not fight over a cache
/// line they do not share data on: first what the holder writes on every
/// spawn, switch and runtime call; then the run queue, which thieves CAS;
/// then what other threads write (the inbox, the idle flag, sysmon's
/// counter); then the timers and the registry, each under its own lock.
/// The padded fields make the whole P line-aligned, so neighbouring Ps in
/// `Shared::ps` share no line either. (Without this, the spawner's counter
/// bumps and `runnext` swaps shared a line with the ring head its thief
/// CASes, and spawn+join of 1M goroutines ran at about half speed.)
#[repr(C)]
pub(crate) struct P {
    // ---- written by the holder, read now and then by others
    pub(crate) id: u32,
    /// Set by the holder while it runs goroutine code, cleared while it is
    /// inside the runtime (plain stores; see `hold.rs` for why sysmon may
    /// trust them).
    pub(crate) user_code: AtomicBool,
    /// Set by sysmon when the running goroutine has used up its time slice;
    /// cleared at the next scheduling point.
    pub(crate) preempt: AtomicBool,
    /// Linux thread id of the M holding this P (for sysmon's look at the
    /// thread's kernel state).
    pub(crate) holder_tid: AtomicI32,
    /// The goroutine to run next (`GRef::into_raw`, or null). Only the
    /// holder puts one in; the holder takes it by swap, sysmon by CAS
    /// (`steal_runnext`), so exactly one of them owns what was there. As in
    /// Go, whose `runnext` is a CAS-updated slot for the same reason.
    runnext: AtomicPtr<G>,
    /// `runnext` plus `pinned` lengths, mirrored by the holder after each
    /// change (Relaxed) so stats can count them without touching `local`.
    local_len: AtomicUsize,
    /// Written only by the holder, through `bump`; read by stats.
    pub(crate) spawned: AtomicU64,
    pub(crate) exited: AtomicU64,
    pub(crate) switches: AtomicU64,
    pub(crate) steals: AtomicU64,
    /// Id of the goroutine running on this P, 0 when none. Written by the
    /// holder (Relaxed); read by sysmon and stats.
    pub(crate) curg: AtomicU64,
    /// Who holds the P, for Go mode's retakes: an epoch and a state
    /// (`hold.rs`): HELD, IN_SYSCALL (the holder is in an inline `syscall`
    /// and sysmon may take the P), RETAKING (sysmon is deciding whether to
    /// take it from a running goroutine). A new epoch means a new holder.
    pub(crate) sys: AtomicU64,
    local: UnsafeCell<Local>,
    // ---- the stealable ring: the holder pushes, anyone CASes its head
    pub(crate) runq: CachePadded<Queue>,
    // ---- written by other threads
    /// Protected by itself; `inbox_len` mirrors its length (SeqCst, see
    /// `idle.rs` for the pairing with `idle`).
    inbox: CachePadded<Lock<Vec<GRef>>>,
    inbox_len: AtomicUsize,
    /// Set, under the idle lock, while the P sits on the idle list.
    pub(crate) idle: AtomicBool,
    /// Written only by sysmon (see `bump_retakes`).
    pub(crate) retakes: AtomicU64,
    /// Timers started on this P; shared, under their own lock.
    pub(crate) timers: CachePadded<crate::time::heap::Timers>,
    /// Goroutines that parked here at least once (`registry.rs`).
    pub(crate) registry: CachePadded<super::registry::Registry>,
}

// SAFETY: `local` is only touched by the P's holder (see module docs); all
// other fields are Sync.
unsafe impl Sync for P {}

/// State only the P's holder touches.
pub(crate) struct Local {
    pub(crate) pinned: VecDeque<GRef>,
    pub(crate) stacks: stack::Cache,
    pub(crate) schedtick: u32,
    /// Goroutine ids handed out in batches, so spawning does not contend on
    /// one counter.
    pub(crate) goid_next: u64,
    pub(crate) goid_end: u64,
}

/// How many goroutine ids a P takes from the shared counter at once.
pub(crate) const GOID_BATCH: u64 = 16;

impl P {
    pub(crate) fn new(id: u32) -> P {
        P {
            id,
            runnext: AtomicPtr::new(std::ptr::null_mut()),
            runq: CachePadded::new(Queue::new()),
            inbox: CachePadded::new(Lock::new(Vec::new())),
            inbox_len: AtomicUsize::new(0),
            local_len: AtomicUsize::new(0),
            idle: AtomicBool::new(false),
            spawned: AtomicU64::new(0),
            exited: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            retakes: AtomicU64::new(0),
            curg: AtomicU64::new(0),
            holder_tid: AtomicI32::new(0),
            preempt: AtomicBool::new(false),
            sys: AtomicU64::new(0),
            user_code: AtomicBool::new(false),
            timers: CachePadded::new(crate::time::heap::Timers::new()),
            registry: CachePadded::new(super::registry::Registry::new()),
            local: UnsafeCell::new(Local {
                pinned: VecDeque::new(),
                stacks: stack::Cache::default(),
                schedtick: 0,
                goid_next: 0,
                goid_end: 0,
            }),
        }
    }

    /// The holder's state.
    ///
    /// # Safety
    /// The caller's M must hold this P, and no other reference returned by
    /// this method may be live.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn local(&self) -> &mut Local {
        // SAFETY: per the caller's contract.
        unsafe { &mut *self.local.get() }
    }

    /// Adds one to one of this P's counters. Only the P's holder writes
    /// them, so a plain load and store do (no locked read-modify-write on
    /// the hot path); readers may see a slightly old value.
    pub(crate) fn bump(&self, counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Counts a retake; sysmon is the only writer.
    pub(crate) fn bump_retakes(&self) {
        self.bump(&self.retakes);
    }

    /// Queues a runnable goroutine on this P. With `next`, it goes to
    /// `runnext` and whatever was there moves back to the queues. Returns the
    /// overflow for the global queue, if the ring was full, and whether a
    /// stealable goroutine was added (so idle Ps should be woken).
    ///
    /// # Safety
    /// The caller's M must hold this P.
    unsafe fn put_inner(&self, g: GRef, next: bool) -> (Option<Overflow>, bool) {
        let g = if next {
            // AcqRel: Release publishes the new goroutine to a stealer's
            // CAS; Acquire takes over the old one.
            let old = self.runnext.swap(g.into_raw() as *mut G, Ordering::AcqRel);
            if old.is_null() {
                return (None, false);
            }
            // SAFETY: the slot held this reference; the swap moved it to us.
            unsafe { GRef::from_raw(old) }
        } else {
            g
        };
        if g.home.load(Ordering::Relaxed) == NO_HOME {
            // SAFETY: we hold the P, so we are the ring's owner.
            (unsafe { self.runq.push(g) }.err(), true)
        } else {
            // SAFETY: as above.
            unsafe { self.local() }.pinned.push_back(g);
            (None, false)
        }
    }

    /// The holder takes `runnext`.
    pub(crate) fn take_runnext(&self) -> Option<GRef> {
        // Acquire: the goroutine's state, published by whoever put it.
        let g = self.runnext.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null slot held a reference from `into_raw`, which
        // the swap moved to us.
        (!g.is_null()).then(|| unsafe { GRef::from_raw(g) })
    }

    /// Anyone but the holder takes `runnext` (sysmon, for a P stuck
    /// running one goroutine). Never dereferences what it read before the
    /// CAS succeeds, so a slot emptied and refilled meanwhile is harmless:
    /// it takes whatever is there.
    pub(crate) fn steal_runnext(&self) -> Option<GRef> {
        let g = self.runnext.load(Ordering::Relaxed);
        if g.is_null() {
            return None;
        }
        // AcqRel: Acquire pairs with the holder's Release in put.
        self.runnext
            .compare_exchange(g, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            // SAFETY: as in take_runnext.
            .map(|g| unsafe { GRef::from_raw(g) })
    }

    /// Takes the next goroutine to run from this P's own queues.
    ///
    /// # Safety
    /// The caller's M must hold this P.
    unsafe fn pop_inner(&self) -> Option<GRef> {
        // SAFETY: we hold the P; each borrow below is the only one live.
        let local = unsafe { self.local() };
        if let Some(g) = self.take_runnext() {
            return Some(g);
        }
        if self.inbox_len.load(Ordering::SeqCst) != 0 {
            let mut inbox = self.inbox.lock();
            local.pinned.extend(inbox.drain(..));
            self.inbox_len.store(0, Ordering::SeqCst);
        }
        // Alternate between pinned and stealable goroutines so neither kind
        // starves the other.
        if local.schedtick % 2 == 0 {
            if let Some(g) = local.pinned.pop_front() {
                return Some(g);
            }
            // SAFETY: we own the ring.
            unsafe { self.runq.pop() }
        } else {
            // SAFETY: we own the ring.
            if let Some(g) = unsafe { self.runq.pop() } {
                return Some(g);
            }
            local.pinned.pop_front()
        }
    }

    /// Whether this P's own queues hold a goroutine.
    ///
    /// # Safety
    /// The caller's M must hold this P.
    pub(crate) unsafe fn has_local_work(&self) -> bool {
        // SAFETY: per the caller's contract.
        let local = unsafe { self.local() };
        !self.runnext.load(Ordering::Relaxed).is_null()
            || !local.pinned.is_empty()
            || !self.runq.is_empty()
            || self.has_inbox()
    }

    /// Queues a runnable goroutine on this P; see `put_inner`.
    ///
    /// # Safety
    /// The caller's M must hold this P.
    #[inline]
    pub(crate) unsafe fn put(&self, g: GRef, next: bool) -> (Option<Overflow>, bool) {
        // The common case of `ready` (a channel partner), inline so that its
        // caller sees the constant result. Only the holder fills the slot (a
        // stealer only empties it), so an empty slot stays empty until this
        // store. Release publishes the goroutine to a stealer's CAS.
        if next && self.runnext.load(Ordering::Relaxed).is_null() {
            self.runnext
                .store(g.into_raw() as *mut G, Ordering::Release);
            // SAFETY: per the caller's contract.
            unsafe { self.publish_local_len() };
            return (None, false);
        }
        // SAFETY: per the caller's contract.
        let r = unsafe { self.put_inner(g, next) };
        // SAFETY: as above.
        unsafe { self.publish_local_len() };
        r
    }

    /// Takes the next goroutine to run; see `pop_inner`.
    ///
    /// # Safety
    /// The caller's M must hold this P.
    pub(crate) unsafe fn pop(&self) -> Option<GRef> {
        // SAFETY: per the caller's contract.
        let r = unsafe { self.pop_inner() };
        // SAFETY: as above.
        unsafe { self.publish_local_len() };
        r
    }

    /// Mirrors the length of `runnext` and `pinned` into `local_len`.
    ///
    /// # Safety
    /// The caller's M must hold this P.
    pub(crate) unsafe fn publish_local_len(&self) {
        // SAFETY: per the caller's contract.
        let local = unsafe { self.local() };
        let n = !self.runnext.load(Ordering::Relaxed).is_null() as usize + local.pinned.len();
        self.local_len.store(n, Ordering::Relaxed);
    }

    /// Queues a goroutine homed on this P from another thread.
    pub(crate) fn push_remote(&self, g: GRef) {
        let mut inbox = self.inbox.lock();
        inbox.push(g);
        self.inbox_len.store(inbox.len(), Ordering::SeqCst);
    }

    /// Whether goroutines homed here wait in the inbox.
    pub(crate) fn has_inbox(&self) -> bool {
        self.inbox_len.load(Ordering::SeqCst) != 0
    }

    /// Runnable goroutines on this P (a snapshot; `local` is not read).
    pub(crate) fn queued(&self) -> usize {
        self.runq.len()
            + self.inbox_len.load(Ordering::Relaxed)
            + self.local_len.load(Ordering::Relaxed)
    }
}

impl Drop for P {
    fn drop(&mut self) {
        // Goroutines still queued at teardown are leaked (see Runtime's drop).
        let local = self.local.get_mut();
        // The slot's reference is leaked with it (not turned back into a
        // GRef), like the queues'.
        self.runnext.store(std::ptr::null_mut(), Ordering::Relaxed);
        for g in local.pinned.drain(..) {
            std::mem::forget(g);
        }
        let inbox = self.inbox.get_mut();
        for g in inbox.drain(..) {
            std::mem::forget(g);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::loom::sync::Arc;

    fn g(id: u64) -> GRef {
        super::super::g::new_task(|| (), id, std::ptr::null(), std::panic::Location::caller()).0
    }

    /// The holder puts two goroutines through `runnext` (the first into the
    /// empty slot by a plain store, the second displacing it into the ring
    /// by a swap) and drains its queues while
    /// sysmon steals `runnext`: each goroutine comes out exactly once, and
    /// every reference is released (loom checks the frees).
    #[test]
    fn loom_runnext_take_and_steal_hand_out_each_goroutine_once() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let p = Arc::new(P::new(0));
            let thief = p.clone();
            let sysmon = loom::thread::spawn(move || thief.steal_runnext().map(|g| g.id));
            let mut seen = Vec::new();
            // SAFETY: this thread is the P's holder.
            unsafe {
                assert!(p.put(g(1), true).0.is_none());
                assert!(p.put(g(2), true).0.is_none());
                while let Some(g) = p.pop() {
                    seen.push(g.id);
                }
            }
            if let Some(id) = sysmon.join().unwrap() {
                seen.push(id);
            }
            seen.sort_unstable();
            assert_eq!(seen, [1, 2]);
        });
    }
}
