//! `Sema`: a counting semaphore that parks goroutines (Go's
//! `runtime_Semacquire`/`Semrelease`), the queue under `Mutex` and
//! `RwLock`.
//!
//! Every release with a waiter queued hands its permit straight to the
//! first waiter (claims its [`Wait`](crate::chan::wait::Wait) and wakes it),
//! so a permit is never stolen between the release and the waiter running;
//! otherwise the permit is banked. `acquire(lifo = true)` queues at the
//! front: Go's mutex re-queues a waiter that lost a race there, so it is
//! next.
//!
//! Not loom-modelled (std types, so `Mutex::new` can be `const`); its waits
//! are the channel wait protocol, which is.

use crate::chan::wait::{Entry, Outcome, WaitCell, WaitQueue};
use crate::scheduler::g::WaitReason;
use std::sync::Mutex;

struct Inner {
    /// Banked permits; non-zero only while `waiters` is empty.
    permits: usize,
    waiters: WaitQueue<()>,
}

pub(crate) struct Sema {
    /// Held only to update the count and the queue, never while parked.
    inner: Mutex<Inner>,
}

impl Sema {
    pub(crate) const fn new() -> Sema {
        Sema {
            inner: Mutex::new(Inner {
                permits: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a permit, parking until one is handed over.
    pub(crate) fn acquire(&self, lifo: bool, reason: WaitReason) {
        let mut inner = self.lock();
        if inner.permits > 0 {
            inner.permits -= 1;
            return;
        }
        let cell = WaitCell::new(None);
        let entry = Entry::new(cell.get(), 0, std::ptr::null_mut());
        if lifo {
            inner.waiters.push_front(entry);
        } else {
            inner.waiters.push_back(entry);
        }
        drop(inner);
        let (outcome, _) = cell.park(reason, None);
        debug_assert_eq!(outcome, Outcome::Selected);
    }

    /// Gives a permit: to the first waiter if there is one.
    pub(crate) fn release(&self) {
        let mut inner = self.lock();
        match inner.waiters.claim_first(|_| Outcome::Selected) {
            Some(waiter) => {
                drop(inner);
                waiter.complete();
            }
            None => inner.permits += 1,
        }
    }
}
