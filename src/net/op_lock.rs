//! `OpLock`: serialises the operations in one direction of one socket (two
//! goroutines reading the same `&TcpStream`, or receiving on one shared
//! `UdpSocket`), as Go's `fdMutex` does, so that a direction's poller slot
//! never has more than one waiter. Contended lockers park (goroutines) or
//! block (threads); the uncontended path is one CAS to lock and one swap to
//! unlock.
//!
//! States of `state`:
//! * `UNLOCKED`
//! * `LOCKED`: held, nobody queued.
//! * `CONTENDED`: held, and the queue may be non-empty: unlock must look.
//!
//! No lost wake-up: a locker queues itself only under the queue mutex and
//! only after it saw the lock held *and* marked it CONTENDED (so that
//! unlock will look at the queue); unlock resets the state before it takes
//! the queue mutex. So either the locker sees UNLOCKED under the mutex and
//! retries, or unlock finds it in the queue.

use crate::scheduler::g::WaitReason;
use crate::scheduler::park::{self, Waiter};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering::*};
use std::sync::Mutex;

const UNLOCKED: u8 = 0;
const LOCKED: u8 = 1;
const CONTENDED: u8 = 2;

pub(crate) struct OpLock {
    /// UNLOCKED, LOCKED or CONTENDED. Acquire on lock pairs with the Release
    /// of unlock: what the previous holder did is visible to the next.
    state: AtomicU8,
    /// Parked lockers, oldest first. Protected by its mutex; see the module
    /// docs for when a locker may push itself.
    queue: Mutex<VecDeque<Waiter>>,
}

/// Holds an [`OpLock`]; unlocks on drop.
pub(crate) struct OpGuard<'a> {
    lock: &'a OpLock,
}

impl OpLock {
    pub(crate) const fn new() -> OpLock {
        OpLock {
            state: AtomicU8::new(UNLOCKED),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn lock(&'static self) -> OpGuard<'static> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        OpGuard { lock: self }
    }

    fn lock_slow(&'static self) {
        loop {
            // Taking it this way leaves it CONTENDED, which costs at most a
            // needless look at the queue when we unlock.
            if self.state.swap(CONTENDED, Acquire) == UNLOCKED {
                return;
            }
            let waiter = Waiter::current();
            // Runs after the goroutine switched out; owns all it touches
            // (`self` is 'static).
            park::park(WaitReason::IoWait, move || {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    match self.state.load(Relaxed) {
                        UNLOCKED => return false,
                        LOCKED => {
                            if self
                                .state
                                .compare_exchange(LOCKED, CONTENDED, Relaxed, Relaxed)
                                .is_ok()
                            {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                queue.push_back(waiter);
                true
            });
        }
    }

    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Release) == CONTENDED {
            let next = self
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            if let Some(w) = next {
                w.wake();
            }
        }
    }
}

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}
