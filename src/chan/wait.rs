//! `Wait`: the meeting point of one blocked operation (a send, a receive, a
//! whole `select`, a lock acquisition) and whoever completes it. Channels and
//! `crate::sync` build every wait queue from it, on top of the scheduler's
//! `park`/`Waiter` pair.
//!
//! Vocabulary:
//! * The **owner** is the goroutine (or plain thread) that blocks. It
//!   creates the `Wait`, publishes [`Entry`]s pointing at it (one per queue
//!   it waits in: several for a `select`) and parks.
//! * A **claimant** is whoever ends the wait: a channel peer, `close`, a
//!   timer, an unlocker. Many may race; [`Wait::try_claim`] (one CAS, the
//!   idea of crossbeam-channel's `Context::try_select` and Go's
//!   `g.selectDone`) lets exactly one win. Only the winner touches the
//!   owner's packet, and only the winner wakes the owner.
//!
//! The state word, and the handshake that makes wake-ups exactly-once:
//! 1. The owner publishes entries (under each queue's lock) and calls
//!    [`Wait::park`]. It parks with an `unlock` step (run after the
//!    goroutine switched out) that sets `PARKED`; if `DONE` is already set
//!    the park is cancelled.
//! 2. A claimant CASes the outcome and arm index into the word (only while
//!    the outcome is `WAITING`), takes the owner's `Waiter`, does its work on
//!    the owner's packet, then sets `DONE`. If that `fetch_or` saw `PARKED`,
//!    it wakes the owner; otherwise the owner will see `DONE` in step 1 and
//!    not sleep. Either way there is exactly one resumption, and a
//!    goroutine is never readied before it has switched out (which the
//!    scheduler treats as fatal).
//! 3. The owner, resumed, reads the outcome and removes its remaining
//!    entries from every queue (under each queue's lock) before the `Wait`
//!    and its packets go away.
//!
//! A claimant that saw `PARKED` in its CAS sets `DONE` with a plain store:
//! the owner writes the word no more once it has parked.
//!
//! The channel flavours run steps 1 and 3 of a blocking send or receive
//! through [`wait_in_queue`] (and its `park_send`/`park_recv` wrappers);
//! `crate::sync` and `select` publish their entries themselves. A channel
//! operation with no deadline has one entry in one queue and no timer, so
//! every claimant finds it under that queue's lock: the owner keeps the
//! lock across the switch-out and releases it in `unlock`
//! ([`Wait::park_locked`], Go's `chanparkcommit`). It sets `PARKED` (and
//! `UNDER_LOCK`) before the lock is released, the park is never cancelled,
//! and a claimant, which holds the lock, claims with a plain store instead
//! of the CAS.
//!
//! The owner's `Waiter` holds no reference to its goroutine
//! ([`Waiter::current_passing`]): it parks through `park_passing`, and the
//! claimant wakes it exactly when `PARKED` is set, that is exactly when the
//! park was not cancelled (`scheduler/park.rs`).
//!
//! Where things live: a `Wait` and the packets its entries point to may sit
//! on the owner's stack (a parked goroutine's stack stays mapped and
//! untouched), because nobody dereferences an entry except under its queue's
//! lock (and the owner removes its entries under that lock before
//! returning) or as the claimant before `DONE` (and the owner does not
//! return before `DONE`). A timer is different: it can fire after the owner
//! left, so a `Wait` with a deadline is in an `Arc` the timer shares
//! ([`WaitCell`]).
//!
//! Under `--cfg loom` the scheduler's `park`/`Waiter` are replaced by a
//! model on loom threads ([`parking`]), so the channel algorithms above it
//! are modelled as they are, with plain-thread blocking standing in for
//! goroutine parking (the same protocol from the channel's side: publish,
//! then `unlock`, then sleep until woken; a lock kept across the park is
//! released in `unlock`).

use super::error::{RecvTimeoutError, SendTimeoutError};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::scheduler::g::WaitReason;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ops::{ControlFlow, DerefMut};
use std::ptr::NonNull;
use std::time::Instant;

pub(crate) use parking::{park_passing, Waiter};

/// The owner has committed to sleeping: a claimant must wake it.
const PARKED: usize = 1;
/// The claimant is finished with the owner's memory.
const DONE: usize = 2;
const OUTCOME_SHIFT: u32 = 2;
const OUTCOME_MASK: usize = 0b111 << OUTCOME_SHIFT;
/// Set with PARKED, before publication, by [`Wait::park_locked`]: the wait
/// has one entry, in one queue, and no timer, so every claim happens under
/// that queue's lock and needs no CAS.
const UNDER_LOCK: usize = 1 << 5;
const INDEX_SHIFT: u32 = 6;

/// How a wait ended: written once, by the claimant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nobody has claimed the wait yet.
    Waiting = 0,
    /// The operation of the claimed arm happened (a value was handed over,
    /// capacity was reserved, a lock was handed off).
    Selected = 1,
    /// The channel of the claimed arm was closed or disconnected.
    Disconnected = 2,
    /// The deadline passed.
    TimedOut = 3,
    /// Nothing happened; run the operation again (a peer that could not
    /// complete with this arm, or the owner aborting its own registration).
    Retry = 4,
}

impl Outcome {
    fn from_bits(word: usize) -> Outcome {
        match (word & OUTCOME_MASK) >> OUTCOME_SHIFT {
            0 => Outcome::Waiting,
            1 => Outcome::Selected,
            2 => Outcome::Disconnected,
            3 => Outcome::TimedOut,
            _ => Outcome::Retry,
        }
    }
}

/// One blocked operation's meeting point. See the module docs.
pub(crate) struct Wait {
    /// `index << INDEX_SHIFT | UNDER_LOCK | outcome << OUTCOME_SHIFT | DONE
    /// | PARKED`. The outcome and index are written once, by the claim CAS;
    /// PARKED and UNDER_LOCK only by the owner; DONE only by the claimant.
    state: AtomicUsize,
    /// Whom to wake. Written by the owner before the wait is published
    /// (the queue lock or the timer start publishes it); taken only by the
    /// claimant, as it completes its claim; dropped by the owner if
    /// unclaimed.
    waiter: UnsafeCell<Option<Waiter>>,
}

// SAFETY: `state` is atomic; `waiter` is accessed by one party at a time as
// the module docs lay out (owner before publication, then the claimant, then
// the owner again after DONE), and a Waiter is Send.
unsafe impl Send for Wait {}
// SAFETY: as above.
unsafe impl Sync for Wait {}

impl Wait {
    /// A wait for the current goroutine or thread.
    #[inline]
    pub(crate) fn new() -> Wait {
        Wait {
            state: AtomicUsize::new(0),
            waiter: UnsafeCell::new(Some(Waiter::current_passing())),
        }
    }

    /// Claims the wait for arm `index` with `outcome`, unless someone else
    /// claimed it first. The returned [`Claim`] must be completed (dropping
    /// it completes it) once the claimant is done with the owner's packets.
    pub(crate) fn try_claim(&self, index: usize, outcome: Outcome) -> Option<Claim> {
        debug_assert!(outcome != Outcome::Waiting);
        let mut cur = self.state.load(Ordering::Relaxed);
        if cur & UNDER_LOCK != 0 {
            // Whoever found the wait holds the lock of its only queue (the
            // lock's Acquire ordered the owner's writes before us), and so
            // is the only one who can claim it.
            if cur & OUTCOME_MASK != 0 {
                return None;
            }
            let new = cur | (outcome as usize) << OUTCOME_SHIFT | index << INDEX_SHIFT;
            self.state.store(new, Ordering::Relaxed);
            return Some(Claim {
                wait: NonNull::from(self),
                parked: true,
            });
        }
        loop {
            if cur & OUTCOME_MASK != 0 {
                return None;
            }
            let new = cur | (outcome as usize) << OUTCOME_SHIFT | index << INDEX_SHIFT;
            // Acquire: the owner's writes (the waiter slot, a sender's
            // value) are already ordered before us by whatever let us find
            // this wait (the queue lock, the timer start); Acquire keeps
            // that true for callers that found it some other way.
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(Claim {
                        wait: NonNull::from(self),
                        parked: cur & PARKED != 0,
                    })
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Whether nobody has claimed this wait yet (a hint: it may change as
    /// soon as it is read, unless the caller is the only possible claimant).
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Relaxed) & OUTCOME_MASK == 0
    }

    /// Blocks the owner until a claimant has set DONE. Returns the outcome
    /// and the claimed arm index.
    pub(crate) fn park(&self, reason: WaitReason) -> (Outcome, usize) {
        let state: *const AtomicUsize = &self.state;
        park_passing(reason, move || {
            // AcqRel: Release publishes nothing of ours but keeps the word's
            // order total; Acquire pairs with the claimant's DONE store so a
            // cancelled park sees the claimant's writes.
            // SAFETY: the Wait outlives this closure: the owner cannot
            // return from `park` before it ran. After the fetch_or we touch
            // nothing of the owner's (it may be resumed at once).
            let prev = unsafe { (*state).fetch_or(PARKED, Ordering::AcqRel) };
            prev & DONE == 0
        });
        // Acquire pairs with the claimant's DONE (Release): its writes to
        // our packets happen before we read them.
        let word = self.state.load(Ordering::Acquire);
        debug_assert!(word & DONE != 0, "woken before the claimant finished");
        (Outcome::from_bits(word), word >> INDEX_SHIFT)
    }

    /// [`Wait::park`] for a wait that claimants can find only under the
    /// lock that `held` (a guard, with whatever else is to be released with
    /// it) keeps: one queue entry, no timer. The lock is released only once
    /// the owner has switched out, so the owner is committed to sleeping
    /// before anyone can claim: PARKED goes in at once and the park is never
    /// cancelled (Go's `gopark` with `chanparkcommit`).
    #[inline]
    pub(crate) fn park_locked<L>(&self, reason: WaitReason, held: L) -> (Outcome, usize) {
        // Relaxed: nobody reads the word before `held` is released, which
        // publishes it (the lock's Release, the claimant's Acquire).
        debug_assert_eq!(self.state.load(Ordering::Relaxed), 0);
        self.state.store(PARKED | UNDER_LOCK, Ordering::Relaxed);
        park_passing(reason, move || {
            drop(held);
            true
        });
        // Acquire pairs with the claimant's DONE (Release).
        let word = self.state.load(Ordering::Acquire);
        debug_assert!(word & DONE != 0, "woken before the claimant finished");
        (Outcome::from_bits(word), word >> INDEX_SHIFT)
    }

    /// The timer path: claims with `TimedOut` and completes at once.
    pub(crate) fn time_out(&self) {
        drop(self.try_claim(0, Outcome::TimedOut));
    }
}

/// A won claim on a [`Wait`]: the right (and duty) to end it.
///
/// Holds a raw pointer because the owner's memory lives exactly until
/// [`Claim::complete`]: the owner cannot return before DONE.
///
/// Small on purpose (two words, returned in registers): the owner's
/// `Waiter` stays in its slot until completion takes it.
pub(crate) struct Claim {
    wait: NonNull<Wait>,
    /// PARKED was set when we claimed: the owner writes the word no more,
    /// so completing needs no read-modify-write.
    parked: bool,
}

// SAFETY: a Claim is a unique right to the owner's Wait until completion;
// the Wait is Sync and the Waiter Send.
unsafe impl Send for Claim {}

impl Claim {
    /// Changes the outcome before completion (a reservation given back).
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        // SAFETY: the Wait is alive until we complete (module docs).
        let state = unsafe { &self.wait.as_ref().state };
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            let new = cur & !OUTCOME_MASK | (outcome as usize) << OUTCOME_SHIFT;
            match state.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Ends the wait: after this the owner's memory may be gone.
    pub(crate) fn complete(self) {
        drop(self);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // SAFETY: the owner does not free the Wait before seeing DONE, which
        // the store or fetch_or below sets; nothing touches it after. The
        // claim gives us the waiter slot until then.
        let (state, waiter) = unsafe {
            let wait = self.wait.as_ref();
            (&wait.state, (*wait.waiter.get()).take())
        };
        let parked = if self.parked {
            // Only we write the word now (other claimants' CASes fail
            // without writing). Release pairs with the owner's Acquire after
            // waking: our writes to its packets are visible to it.
            let word = state.load(Ordering::Relaxed);
            state.store(word | DONE, Ordering::Release);
            true
        } else {
            // Release as above, or pairs with the owner's Acquire in its
            // cancelled park; Acquire pairs with its PARKED.
            state.fetch_or(DONE, Ordering::AcqRel) & PARKED != 0
        };
        if parked {
            waiter.expect("a claimed wait has a waiter").wake();
        }
    }
}

/// A `Wait` placed for the life of one blocking call: on the stack, or in
/// an `Arc` shared with a timer when there is a deadline.
pub(crate) enum WaitCell {
    Local(Wait),
    Shared(Arc<Wait>),
}

impl WaitCell {
    #[inline]
    pub(crate) fn new(deadline: Option<Instant>) -> WaitCell {
        match deadline {
            None => WaitCell::Local(Wait::new()),
            Some(_) => WaitCell::Shared(Arc::new(Wait::new())),
        }
    }

    pub(crate) fn get(&self) -> &Wait {
        match self {
            WaitCell::Local(w) => w,
            WaitCell::Shared(w) => w,
        }
    }

    /// Parks until claimed, starting a timer for `deadline` first. Returns
    /// the outcome and the claimed index.
    pub(crate) fn park(&self, reason: WaitReason, deadline: Option<Instant>) -> (Outcome, usize) {
        let timer = match (self, deadline) {
            (WaitCell::Shared(w), Some(d)) => Some(start_timer(d, w.clone())),
            _ => None,
        };
        let result = self.get().park(reason);
        if let Some(t) = timer {
            t.stop();
        }
        result
    }
}

impl WaitCell {
    /// Parks until claimed, for a wait that claimants find only under the
    /// lock `held` keeps, and a timer for `deadline`: with no deadline the
    /// lock is released after the switch-out ([`Wait::park_locked`]);
    /// with one (the timer may claim at any time) it is released first.
    #[inline]
    pub(crate) fn park_releasing<L>(
        &self,
        reason: WaitReason,
        deadline: Option<Instant>,
        held: L,
    ) -> (Outcome, usize) {
        match self {
            WaitCell::Local(w) if deadline.is_none() => w.park_locked(reason, held),
            _ => {
                drop(held);
                self.park(reason, deadline)
            }
        }
    }
}

#[cfg(not(loom))]
fn start_timer(deadline: Instant, wait: Arc<Wait>) -> crate::time::timer::Timer {
    crate::time::timer::Timer::start(deadline, Box::new(move || wait.time_out()))
}

/// Under loom a deadline is modelled as having passed already: the timer
/// "fires" before the owner parks.
#[cfg(loom)]
fn start_timer(_deadline: Instant, wait: Arc<Wait>) -> FiredTimer {
    wait.time_out();
    FiredTimer
}

#[cfg(loom)]
struct FiredTimer;

#[cfg(loom)]
impl FiredTimer {
    fn stop(&self) -> bool {
        false
    }
}

/// How a channel send that may not wait went: the bounded and rendezvous
/// flavours share `try_send` and the first half of `send` through it.
pub(crate) enum SendNow<G, T> {
    Sent,
    /// Closed: the value comes back.
    Closed(T),
    /// No room (no receiver): the value comes back with the channel's lock
    /// still held (`G`), so that a blocking send queues before anyone else
    /// can make room.
    Full(G, T),
}

/// Steps 1 and 3 of the module docs for one blocking channel operation:
/// publishes an entry whose packet holds `value` through `enqueue` (which
/// runs while the caller still holds the queue's lock, pushes the entry and
/// returns the lock's guard, with anything to be released after it), parks
/// releasing that ([`WaitCell::park_releasing`]), and after a timeout
/// removes the entry with `remove` (which takes the lock again). Returns
/// the outcome and what is left in the packet.
///
/// Every other outcome (selected, disconnected, retry) comes from a
/// claimant, which popped our entry before it claimed (`claim_first`); only
/// the timer, which never touches the queue, leaves it queued, and the
/// packet must not be read while a claimant could still find it. Not
/// removing otherwise also keeps a close of a long queue linear: each of
/// its woken waiters would scan the rest of the queue (`retain`) while the
/// close still works through it in batches.
#[inline]
pub(crate) fn wait_in_queue<T, L>(
    value: Option<T>,
    reason: WaitReason,
    deadline: Option<Instant>,
    enqueue: impl FnOnce(Entry<T>) -> L,
    remove: impl FnOnce(&Wait),
) -> (Outcome, Option<T>) {
    let cell = WaitCell::new(deadline);
    let packet = Packet::new(value);
    let held = enqueue(Entry::new(cell.get(), 0, packet.ptr()));
    let (outcome, _) = cell.park_releasing(reason, deadline, held);
    if outcome == Outcome::TimedOut {
        remove(cell.get());
    }
    // SAFETY: the wait is DONE and our entry is out of the queue (popped by
    // the claimant, or, after a timeout, removed just above), so no
    // claimant uses the packet.
    (outcome, unsafe { packet.take() })
}

/// A blocking send's wait (see [`wait_in_queue`]): `Break` with the send's
/// result, or `Continue` with the value to try again with (a `Retry`).
#[inline]
pub(crate) fn park_send<T, L>(
    value: T,
    deadline: Option<Instant>,
    enqueue: impl FnOnce(Entry<T>) -> L,
    remove: impl FnOnce(&Wait),
) -> ControlFlow<Result<(), SendTimeoutError<T>>, T> {
    let woken = wait_in_queue(Some(value), WaitReason::ChanSend, deadline, enqueue, remove);
    match woken {
        (Outcome::Selected, None) => ControlFlow::Break(Ok(())),
        (Outcome::Disconnected, Some(v)) => {
            ControlFlow::Break(Err(SendTimeoutError::Disconnected(v)))
        }
        (Outcome::TimedOut, Some(v)) => ControlFlow::Break(Err(SendTimeoutError::Timeout(v))),
        (_, Some(v)) => ControlFlow::Continue(v),
        (_, None) => unreachable!("a receiver took the value without selecting the send"),
    }
}

/// A blocking receive's wait (see [`wait_in_queue`]): `Break` with the
/// receive's result, or `Continue` to try again (a `Retry`).
#[inline]
pub(crate) fn park_recv<T, L>(
    deadline: Option<Instant>,
    enqueue: impl FnOnce(Entry<T>) -> L,
    remove: impl FnOnce(&Wait),
) -> ControlFlow<Result<T, RecvTimeoutError>> {
    match wait_in_queue(None, WaitReason::ChanReceive, deadline, enqueue, remove) {
        (Outcome::Selected, Some(v)) => ControlFlow::Break(Ok(v)),
        (Outcome::Disconnected, _) => ControlFlow::Break(Err(RecvTimeoutError::Disconnected)),
        (Outcome::TimedOut, _) => ControlFlow::Break(Err(RecvTimeoutError::Timeout)),
        _ => ControlFlow::Continue(()),
    }
}

/// Whether `deadline` has passed.
#[inline]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// One owner's place in a wait queue.
///
/// `packet` points into the owner's memory: for a receiver, where a sender
/// writes the value; for a sender, the value to take (`None` inside means a
/// `select` send arm whose value is supplied only once it is chosen); null
/// when the queue carries no values (locks). It is valid under the same
/// rules as `wait` (module docs).
pub(crate) struct Entry<T> {
    pub(crate) wait: *const Wait,
    pub(crate) index: usize,
    pub(crate) packet: *mut Option<T>,
}

// SAFETY: an Entry is only dereferenced under its queue's lock or by the
// claimant (module docs); the value moved through `packet` is Send.
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    pub(crate) fn new(wait: &Wait, index: usize, packet: *mut Option<T>) -> Entry<T> {
        Entry {
            wait,
            index,
            packet,
        }
    }

    fn wait(&self) -> &Wait {
        // SAFETY: entries in a queue point at live Waits: owners remove
        // their entries under the queue lock before the Wait goes away.
        unsafe { &*self.wait }
    }

    /// Whether this is a send entry with no value yet (a `select` arm).
    pub(crate) fn is_valueless(&self) -> bool {
        // SAFETY: the packet is live while the entry is queued; we hold the
        // queue lock or the claim.
        self.packet.is_null() || unsafe { (*self.packet).is_none() }
    }
}

/// An entry whose wait this side has claimed: the owner is committed to
/// it and its packet is ours until the claim completes (on drop).
pub(crate) struct Claimed<T> {
    entry: Entry<T>,
    claim: Claim,
}

impl<T> Claimed<T> {
    /// Writes `value` into a receiver's packet and completes.
    pub(crate) fn deliver(mut self, value: T) {
        self.put(value);
        self.claim.complete();
    }

    /// Writes `value` into a receiver's packet (completion comes on drop).
    pub(crate) fn put(&mut self, value: T) {
        // SAFETY: the claim gives us the owner's packet until completion;
        // receivers always publish a packet.
        unsafe { *self.entry.packet = Some(value) };
    }

    /// Takes a sender's value (None for a valueless select arm).
    pub(crate) fn take_value(&mut self) -> Option<T> {
        if self.entry.packet.is_null() {
            return None;
        }
        // SAFETY: as in put.
        unsafe { (*self.entry.packet).take() }
    }

    /// Completes, telling the owner to run its operation again.
    pub(crate) fn retry(mut self) {
        self.claim.set_outcome(Outcome::Retry);
        self.claim.complete();
    }

    /// Completes with the outcome claimed.
    pub(crate) fn complete(self) {
        self.claim.complete();
    }
}

/// Claims to complete once a queue's lock is released (so that owners are
/// woken outside the lock). Holds one without allocating; dropping an empty
/// list (the common case) costs one test.
pub(crate) struct ClaimList<T> {
    first: Option<Claimed<T>>,
    /// Used only once `first` is taken, so empty and unallocated while
    /// `first` is None.
    rest: std::mem::ManuallyDrop<Vec<Claimed<T>>>,
}

impl<T> ClaimList<T> {
    pub(crate) const fn new() -> ClaimList<T> {
        ClaimList {
            first: None,
            rest: std::mem::ManuallyDrop::new(Vec::new()),
        }
    }

    pub(crate) fn push(&mut self, c: Claimed<T>) {
        if self.first.is_none() {
            self.first = Some(c);
        } else {
            self.rest.push(c);
        }
    }

    #[cold]
    fn complete_all(&mut self) {
        drop(self.first.take());
        // SAFETY: `rest` is dropped here only, once.
        drop(unsafe { std::mem::ManuallyDrop::take(&mut self.rest) });
    }
}

impl<T> Drop for ClaimList<T> {
    #[inline]
    fn drop(&mut self) {
        if self.first.is_some() {
            self.complete_all();
        }
    }
}

/// Waiters a close claims per hold of the channel's lock.
const CLOSE_BATCH: usize = 1024;

/// The waking half of Go's `close`, for a channel whose `closed` flag the
/// caller has just set under `inner`, its lock: `claim` claims waiters with
/// `Disconnected` into the list it is given, while the budget lasts, and
/// says whether any are left; they are woken once the lock is released,
/// [`CLOSE_BATCH`] at a time, relocking with `relock` for the next batch.
///
/// Why batches: closing a channel that a million goroutines wait on held
/// its lock for the whole claiming and grew one claim list of a million
/// entries (about 50 MB of fresh pages) before waking anyone. Nothing can
/// join the queues once `closed` is set, and a queued waiter stays alive
/// until it leaves its queue, which takes the lock, so claiming later
/// batches after a release is as safe as claiming them at once. A select
/// waiter that another channel claims in between simply completes there:
/// both of its arms were ready, and either may win.
pub(crate) fn disconnect_in_batches<T, G>(
    mut inner: G,
    relock: impl Fn() -> G,
    mut claim: impl FnMut(&mut G, &mut ClaimList<T>, &mut usize) -> bool,
) {
    loop {
        let mut claims = ClaimList::new();
        let mut budget = CLOSE_BATCH;
        let more = claim(&mut inner, &mut claims, &mut budget);
        drop(inner);
        drop(claims);
        if !more {
            return;
        }
        inner = relock();
    }
}

/// A channel's two wait queues, borrowed from its locked state.
pub(crate) type SendersAndReceivers<'a, T> = (&'a mut WaitQueue<T>, &'a mut WaitQueue<T>);

/// [`disconnect_in_batches`] for a channel whose senders and receivers
/// both wait (rendezvous and bounded): `queues` picks them out of the
/// locked state; each batch claims senders first, then receivers, from one
/// budget.
pub(crate) fn disconnect_both_in_batches<T, G: DerefMut>(
    inner: G,
    relock: impl Fn() -> G,
    queues: fn(&mut G::Target) -> SendersAndReceivers<'_, T>,
) {
    disconnect_in_batches(inner, relock, |inner, claims, budget| {
        let (senders, receivers) = queues(inner);
        // `|`, not `||`: the receivers' call reports what is left even
        // when the senders used the budget up.
        senders.disconnect_some(claims, budget) | receivers.disconnect_some(claims, budget)
    });
}

/// An owner's value slot, pointed to by its entries. In an `UnsafeCell`
/// because a claimant writes it through a raw pointer while the owner holds
/// it; the owner reads it only after DONE (or after removing its entries).
pub(crate) struct Packet<T>(UnsafeCell<Option<T>>);

impl<T> Packet<T> {
    pub(crate) fn new(value: Option<T>) -> Packet<T> {
        Packet(UnsafeCell::new(value))
    }

    pub(crate) fn ptr(&self) -> *mut Option<T> {
        self.0.get()
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// No claimant may be using the packet: the wait is DONE, or its entries
    /// were removed under their queues' locks.
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: per the caller's contract we are the only user.
        unsafe { (*self.0.get()).take() }
    }
}

/// A FIFO of entries, kept under its owner's lock (a channel's `Inner`, a
/// semaphore). Entries whose wait was claimed elsewhere (another arm of the
/// same select, a timer) may linger until their owner removes them or a
/// claimant skips over them.
pub(crate) struct WaitQueue<T> {
    entries: VecDeque<Entry<T>>,
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> WaitQueue<T> {
        WaitQueue {
            entries: VecDeque::new(),
        }
    }

    pub(crate) fn push_back(&mut self, entry: Entry<T>) {
        self.entries.push_back(entry);
    }

    pub(crate) fn push_front(&mut self, entry: Entry<T>) {
        self.entries.push_front(entry);
    }

    /// Pops entries from the front until one can be claimed with the
    /// outcome `pick` gives it; stale entries are dropped on the way.
    pub(crate) fn claim_first(
        &mut self,
        mut pick: impl FnMut(&Entry<T>) -> Outcome,
    ) -> Option<Claimed<T>> {
        while let Some(entry) = self.entries.pop_front() {
            let outcome = pick(&entry);
            if let Some(claim) = entry.wait().try_claim(entry.index, outcome) {
                return Some(Claimed { entry, claim });
            }
        }
        None
    }

    /// Claims entries with `Disconnected` into `out` (to be completed once
    /// the queue's lock is released) while `*budget` lasts, counting each
    /// claim off it. Returns whether entries remain.
    pub(crate) fn disconnect_some(&mut self, out: &mut ClaimList<T>, budget: &mut usize) -> bool {
        while *budget > 0 {
            let Some(c) = self.claim_first(|_| Outcome::Disconnected) else {
                return false;
            };
            out.push(c);
            *budget -= 1;
        }
        !self.entries.is_empty()
    }

    /// Claims every entry with `outcome`, into `out`.
    pub(crate) fn claim_all(&mut self, outcome: Outcome, out: &mut ClaimList<T>) {
        while let Some(c) = self.claim_first(|_| outcome) {
            out.push(c);
        }
    }

    /// Whether an entry of a wait other than `me` is unclaimed.
    pub(crate) fn has_live_other(&self, me: *const Wait) -> bool {
        self.entries
            .iter()
            .any(|e| !std::ptr::eq(e.wait, me) && e.wait().is_waiting())
    }

    /// Removes the entries of `wait` (its owner is leaving).
    pub(crate) fn remove(&mut self, wait: *const Wait) {
        self.entries.retain(|e| !std::ptr::eq(e.wait, wait));
    }
}

/// The park/ready pair as the channel and sync code sees it.
#[cfg(not(loom))]
mod parking {
    pub(crate) use crate::scheduler::park::{park_passing, Waiter};
}

/// A loom model of the park/ready pair with the plain-thread semantics:
/// `unlock` runs, then the thread blocks until unparked. loom's park keeps
/// one unpark token, as the real futex `Parker` keeps one permit, and the
/// wait protocol sends exactly one wake per park that was not cancelled.
#[cfg(loom)]
mod parking {
    use crate::scheduler::g::WaitReason;

    pub(crate) struct Waiter {
        thread: loom::thread::Thread,
    }

    impl Waiter {
        pub(crate) fn current_passing() -> Waiter {
            Waiter {
                thread: loom::thread::current(),
            }
        }

        pub(crate) fn wake(self) {
            self.thread.unpark();
        }
    }

    pub(crate) fn park_passing(_reason: WaitReason, unlock: impl FnOnce() -> bool) {
        if unlock() {
            loom::thread::park();
        }
    }
}
