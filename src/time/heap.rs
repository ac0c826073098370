//! A P's timers: a 4-ary min-heap on deadline, as in Go's runtime (a wider
//! heap is shallower, so a push or pop touches fewer cache lines).
//!
//! Stopped timers are not searched for and removed; they stay in the heap,
//! marked, and are dropped when they reach the top or when more than a
//! quarter of the heap is stopped ones (then the heap is rebuilt), which is
//! what Go does with `timerDeleted`.
//!
//! Protected by the mutex in [`Timers`]; `next` mirrors the earliest
//! deadline so that Ms can skip the lock when nothing is due.

use super::timer::{TimerInner, STOPPED};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `next` when the heap is empty.
pub(crate) const NONE: u64 = u64::MAX;

pub(crate) struct Timers {
    heap: Mutex<Vec<Entry>>,
    /// Earliest deadline in the heap, in runtime nanoseconds, or NONE.
    next: AtomicU64,
    /// Stopped timers still in the heap: a heuristic for when to purge,
    /// approximate because `Timer::stop` counts after its CAS while a
    /// concurrent `take_due` may already have dropped the timer.
    pub(crate) stopped: AtomicUsize,
}

struct Entry {
    when: u64,
    timer: Arc<TimerInner>,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: Mutex::new(Vec::new()),
            next: AtomicU64::new(NONE),
            stopped: AtomicUsize::new(0),
        }
    }

    /// The earliest deadline (NONE when empty). A snapshot.
    pub(crate) fn next(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a timer; returns the new earliest deadline.
    pub(crate) fn push(&self, when: u64, timer: Arc<TimerInner>) -> u64 {
        let mut h = self.lock();
        let stopped = self.stopped.load(Ordering::Relaxed);
        if stopped > 64 && stopped.saturating_mul(4) > h.len() {
            self.purge(&mut h);
        }
        h.push(Entry { when, timer });
        let last = h.len() - 1;
        sift_up(&mut h, last);
        let next = h[0].when;
        self.next.store(next, Ordering::SeqCst);
        next
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub(crate) fn take_due(&self, now: u64) -> Vec<Arc<TimerInner>> {
        if self.next() > now {
            return Vec::new();
        }
        let mut due = Vec::new();
        let mut h = self.lock();
        while let Some(top) = h.first() {
            if top.when > now {
                break;
            }
            let e = pop(&mut h);
            if e.timer.state() == STOPPED {
                // `stop` counts after its CAS, so it may not have counted
                // this one yet: never go below zero. The count only decides
                // when to purge, so being off by a few is harmless.
                let _ = self
                    .stopped
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        Some(v.saturating_sub(1))
                    });
            } else {
                due.push(e.timer);
            }
        }
        self.next
            .store(h.first().map_or(NONE, |e| e.when), Ordering::SeqCst);
        due
    }

    /// Drops stopped timers and re-heapifies.
    fn purge(&self, h: &mut Vec<Entry>) {
        h.retain(|e| e.timer.state() != STOPPED);
        self.stopped.store(0, Ordering::Relaxed);
        for i in (0..h.len()).rev() {
            sift_down(h, i);
        }
    }

    /// Timers in the heap, stopped ones included.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

fn pop(h: &mut Vec<Entry>) -> Entry {
    let e = h.swap_remove(0);
    if !h.is_empty() {
        sift_down(h, 0);
    }
    e
}

fn sift_up(h: &mut [Entry], mut i: usize) {
    while i > 0 {
        let parent = (i - 1) / 4;
        if h[parent].when <= h[i].when {
            break;
        }
        h.swap(parent, i);
        i = parent;
    }
}

fn sift_down(h: &mut [Entry], mut i: usize) {
    loop {
        let first = 4 * i + 1;
        if first >= h.len() {
            return;
        }
        let last = (first + 4).min(h.len());
        let min = (first..last)
            .min_by_key(|&c| h[c].when)
            .expect("at least one child");
        if h[i].when <= h[min].when {
            return;
        }
        h.swap(i, min);
        i = min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_due_returns_timers_in_deadline_order_and_skips_stopped_ones() {
        let t = Timers::new();
        let whens = [50u64, 10, 40, 30, 20, 60, 5, 45, 15, 25, 35];
        let timers: Vec<_> = whens.iter().map(|&w| (w, TimerInner::for_test())).collect();
        for (w, timer) in &timers {
            t.push(*w, timer.clone());
        }
        assert_eq!(t.next(), 5);
        // Stop the one due at 20.
        assert!(timers[4].1.try_stop());
        t.stopped.fetch_add(1, Ordering::Relaxed);
        let due: Vec<u64> = t
            .take_due(40)
            .iter()
            .map(|d| timers.iter().find(|(_, x)| Arc::ptr_eq(x, d)).unwrap().0)
            .collect();
        assert_eq!(due, vec![5, 10, 15, 25, 30, 35, 40]);
        assert_eq!(t.next(), 45);
        assert_eq!(t.len(), 3);
    }
}
