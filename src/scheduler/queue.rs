//! A P's run queue of stealable goroutines: a fixed ring with one producer
//! (the M holding the P) and many consumers (the owner and stealers).
//!
//! Protocol:
//! 1. Only the owner writes `tail` and the slot at `tail`; it publishes a
//!    slot with a Release store of `tail`.
//! 2. Anyone takes from the front by reading slots from `head` and then
//!    claiming them with a CAS on `head`. A failed CAS means somebody else
//!    took them first; what was read is discarded and the attempt retried.
//! 3. The owner only overwrites a slot whose index is below `head`, and
//!    `head` only grows, so a reader whose CAS succeeds read slots that were
//!    not overwritten. Slots are atomics, so the reads a failed CAS discards
//!    are not data races either.
//! 4. When the ring is full the owner moves half of it, plus the new
//!    goroutine, to the global queue in one batch (Go's runqputslow).
//!
//! Items are `GRef`s turned into raw pointers: a slot in `[head, tail)` owns
//! one reference.

use super::g::{GRef, G};
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// Ring size: 256 as in Go; 4 under loom so models reach the edges.
#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;

pub(crate) struct Queue {
    head: AtomicU32,
    tail: AtomicU32,
    slots: Box<[AtomicPtr<G>]>,
}

/// What an owner push could not keep: half the ring plus the pushed
/// goroutine, for the global queue.
pub(crate) type Overflow = Vec<GRef>;

impl Queue {
    pub(crate) fn new() -> Queue {
        Queue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }

    fn slot(&self, i: u32) -> &AtomicPtr<G> {
        &self.slots[i as usize % CAPACITY]
    }

    /// Number of queued goroutines (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `g`. When full, returns half the queue plus `g` for the
    /// global queue.
    ///
    /// # Safety
    /// Only the owner (the M holding this queue's P) may push or pop.
    pub(crate) unsafe fn push(&self, g: GRef) -> Result<(), Overflow> {
        let mut g = g;
        loop {
            // Acquire pairs with consumers' CAS on head: slots below head are
            // no longer read and may be overwritten.
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Relaxed);
            if tail.wrapping_sub(head) < CAPACITY as u32 {
                self.slot(tail)
                    .store(g.into_raw() as *mut G, Ordering::Relaxed);
                // Release publishes the slot to consumers.
                self.tail.store(tail.wrapping_add(1), Ordering::Release);
                return Ok(());
            }
            match self.take_half_for_overflow(head, g) {
                Ok(batch) => return Err(batch),
                Err(back) => g = back, // a consumer moved head; retry
            }
        }
    }

    /// Claims the older half of a full ring.
    fn take_half_for_overflow(&self, head: u32, g: GRef) -> Result<Overflow, GRef> {
        let n = CAPACITY as u32 / 2;
        let mut batch = Vec::with_capacity(n as usize + 1);
        for i in 0..n {
            batch.push(self.slot(head.wrapping_add(i)).load(Ordering::Relaxed));
        }
        if self
            .head
            .compare_exchange(
                head,
                head.wrapping_add(n),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(g);
        }
        // SAFETY: the CAS transferred the claimed slots' references to us.
        let mut batch: Vec<GRef> = batch
            .into_iter()
            .map(|p| unsafe { GRef::from_raw(p) })
            .collect();
        batch.push(g);
        Ok(batch)
    }

    /// Takes the oldest goroutine.
    ///
    /// # Safety
    /// Only the owner may call this.
    pub(crate) unsafe fn pop(&self) -> Option<GRef> {
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Relaxed);
            if head == tail {
                return None;
            }
            let p = self.slot(head).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                #[cfg(not(loom))]
                if head.wrapping_add(1) != tail {
                    G::prefetch(self.slot(head.wrapping_add(1)).load(Ordering::Relaxed));
                }
                // SAFETY: the CAS gave us the slot's reference.
                return Some(unsafe { GRef::from_raw(p) });
            }
        }
    }

    /// Steals half of `self` (rounded up) into `dst`, returning one of the
    /// stolen goroutines to run at once.
    ///
    /// # Safety
    /// The caller must own `dst` (hold its P), and `dst` must be empty.
    pub(crate) unsafe fn steal_into(&self, dst: &Queue) -> Option<GRef> {
        let mut buf: [*mut G; CAPACITY / 2] = [std::ptr::null_mut(); CAPACITY / 2];
        let n = loop {
            let head = self.head.load(Ordering::Acquire);
            // Acquire pairs with the owner's Release of tail: slots below
            // tail are written.
            let tail = self.tail.load(Ordering::Acquire);
            let len = tail.wrapping_sub(head);
            if len == 0 {
                return None;
            }
            if len > CAPACITY as u32 {
                continue; // read head and tail at different times; retry
            }
            let n = (len - len / 2).min(CAPACITY as u32 / 2);
            for (i, b) in buf.iter_mut().enumerate().take(n as usize) {
                *b = self
                    .slot(head.wrapping_add(i as u32))
                    .load(Ordering::Relaxed);
            }
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break n as usize;
            }
        };
        // The last stolen one runs now; the rest go to our own ring, which
        // is empty and ours, so it has room and no other writer.
        let dst_tail = dst.tail.load(Ordering::Relaxed);
        for (i, p) in buf[..n - 1].iter().enumerate() {
            dst.slot(dst_tail.wrapping_add(i as u32))
                .store(*p, Ordering::Relaxed);
        }
        if n > 1 {
            dst.tail
                .store(dst_tail.wrapping_add(n as u32 - 1), Ordering::Release);
        }
        // SAFETY: the CAS gave us the references of all n slots.
        Some(unsafe { GRef::from_raw(buf[n - 1]) })
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Goroutines still queued when a runtime is torn down are leaked on
        // purpose (see Runtime's drop): forget the references, free nothing.
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::loom::sync::Arc;

    fn g(id: u64) -> GRef {
        super::super::g::new_task(|| (), id, std::ptr::null(), std::panic::Location::caller()).0
    }

    /// Owner pushes past capacity while a thief steals: every goroutine comes
    /// out exactly once, through pop, steal or overflow.
    #[test]
    fn push_pop_steal_overflow_lose_nothing() {
        loom::model(|| {
            let q = Arc::new(Queue::new());
            let thief_q = Arc::new(Queue::new());
            let (q2, t2) = (q.clone(), thief_q.clone());
            let thief = loom::thread::spawn(move || {
                let mut seen = Vec::new();
                // SAFETY: this thread owns thief_q.
                if let Some(g) = unsafe { q2.steal_into(&t2) } {
                    seen.push(g.id);
                    while let Some(g) = unsafe { t2.pop() } {
                        seen.push(g.id);
                    }
                }
                seen
            });
            let mut seen = Vec::new();
            for id in 0..(CAPACITY as u64 + 2) {
                // SAFETY: this thread owns q.
                if let Err(batch) = unsafe { q.push(g(id)) } {
                    seen.extend(batch.iter().map(|g| g.id));
                }
            }
            // SAFETY: as above.
            while let Some(g) = unsafe { q.pop() } {
                seen.push(g.id);
            }
            seen.extend(thief.join().unwrap());
            seen.sort();
            assert_eq!(seen, (0..CAPACITY as u64 + 2).collect::<Vec<_>>());
        });
    }

    /// Two thieves and the owner race for a short queue.
    #[test]
    fn concurrent_steals_take_each_once() {
        loom::model(|| {
            let q = Arc::new(Queue::new());
            for id in 0..3 {
                // SAFETY: the model's main thread owns q.
                unsafe { q.push(g(id)) }.ok().unwrap();
            }
            let spawn_thief = |q: Arc<Queue>| {
                loom::thread::spawn(move || {
                    let mine = Queue::new();
                    let mut seen = Vec::new();
                    // SAFETY: this thread owns `mine`.
                    if let Some(g) = unsafe { q.steal_into(&mine) } {
                        seen.push(g.id);
                        while let Some(g) = unsafe { mine.pop() } {
                            seen.push(g.id);
                        }
                    }
                    seen
                })
            };
            let t1 = spawn_thief(q.clone());
            let mut seen = Vec::new();
            // SAFETY: owner.
            if let Some(g) = unsafe { q.pop() } {
                seen.push(g.id);
            }
            seen.extend(t1.join().unwrap());
            // SAFETY: owner.
            while let Some(g) = unsafe { q.pop() } {
                seen.push(g.id);
            }
            seen.sort();
            assert_eq!(seen, vec![0, 1, 2]);
        });
    }
}
