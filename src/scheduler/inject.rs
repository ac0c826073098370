//! The global run queue: goroutines spawned from plain threads, overflow
//! from full P rings, yielded goroutines in Go mode, and syscall returns that
//! found no P. Every P looks here every 61st schedule (so nothing starves)
//! and whenever its own queues are empty.
//!
//! Only stealable goroutines (see `mode.rs`) are ever queued here.
//!
//! A mutex is fine: Ps come here in batches, and `len` lets them skip the
//! lock when it is empty.

use super::g::GRef;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::scheduler::lock::Lock;
use std::collections::VecDeque;

pub(crate) struct Inject {
    /// Protected by itself; `len` mirrors its length for lock-free peeks.
    queue: Lock<VecDeque<GRef>>,
    len: AtomicUsize,
}

impl Inject {
    pub(crate) fn new() -> Inject {
        Inject {
            queue: Lock::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Queued goroutines (a snapshot). SeqCst: the spinning protocol
    /// (`idle.rs`) pairs it with the submitter's check of idle Ps.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&self, g: GRef) {
        let mut q = self.queue.lock();
        q.push_back(g);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    pub(crate) fn push_batch(&self, batch: Vec<GRef>) {
        let mut q = self.queue.lock();
        q.extend(batch);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    /// Takes up to `max` goroutines: the first to run now, the rest for the
    /// caller's own queue.
    pub(crate) fn pop_batch(&self, max: usize) -> Option<(GRef, Vec<GRef>)> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.queue.lock();
        let first = q.pop_front()?;
        let n = max.saturating_sub(1).min(q.len());
        let rest: Vec<GRef> = q.drain(..n).collect();
        self.len.store(q.len(), Ordering::SeqCst);
        Some((first, rest))
    }

    pub(crate) fn pop(&self) -> Option<GRef> {
        self.pop_batch(1).map(|(g, _)| g)
    }
}

impl Drop for Inject {
    fn drop(&mut self) {
        // Leak goroutines still queued at teardown (see Runtime's drop).
        let q = self.queue.get_mut();
        for g in q.drain(..) {
            std::mem::forget(g);
        }
    }
}
