//! One-shot timers with a callback, the base of `sleep`, `after`, `tick`,
//! `Ticker` and every timeout.
//!
//! * A timer lives in the heap of the P that started it ([`super::heap`]);
//!   one started from a plain thread goes to P 0's heap of the default
//!   runtime.
//! * The M holding a P fires that P's due timers each time it schedules;
//!   an M looking for work fires every P's; and one idle M, the *timer
//!   sleeper*, parks with the earliest deadline of all Ps as its timeout
//!   (`Shared::timer_sleep`), so timers fire on an idle runtime without any
//!   polling.
//! * Callbacks run on an M's scheduler stack, never in a goroutine: they must
//!   not block. They usually wake a parked goroutine or send on a buffered
//!   channel.
//!
//! States: PENDING -> FIRED (by the M that pops it) or PENDING -> STOPPED
//! (by `stop`). The CAS decides a race between the two: exactly one wins.

use crate::scheduler::{m, Shared};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) const PENDING: u8 = 0;
pub(crate) const FIRED: u8 = 1;
pub(crate) const STOPPED: u8 = 2;

type Callback = Box<dyn FnOnce() + Send>;

pub(crate) struct TimerInner {
    state: AtomicU8,
    /// Taken by whichever side wins the state CAS.
    fire: Mutex<Option<Callback>>,
    /// The P whose heap holds this timer.
    p: u32,
    /// The runtime, kept alive while the timer is pending.
    shared: Option<Arc<Shared>>,
}

impl TimerInner {
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// PENDING -> STOPPED; true if this call won.
    pub(crate) fn try_stop(&self) -> bool {
        self.state
            .compare_exchange(PENDING, STOPPED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// PENDING -> FIRED and runs the callback, unless stopped first.
    pub(crate) fn fire(&self) {
        if self
            .state
            .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        crate::trace::timer_fire();
        if let Some(shared) = &self.shared {
            shared
                .timer_fires
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let f = self.fire.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(f) = f {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                crate::fatal(format_args!("a timer callback panicked"));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test() -> Arc<TimerInner> {
        Arc::new(TimerInner {
            state: AtomicU8::new(PENDING),
            fire: Mutex::new(None),
            p: 0,
            shared: None,
        })
    }
}

/// A started timer. Dropping it does not stop it.
pub(crate) struct Timer {
    inner: Arc<TimerInner>,
}

impl Timer {
    /// Calls `fire` once `deadline` has passed, on a runtime thread.
    pub(crate) fn start(deadline: Instant, fire: Callback) -> Timer {
        crate::runtime::with_current(|shared| {
            let p = m::with_p(shared, |p| p.id).unwrap_or(0);
            let inner = Arc::new(TimerInner {
                state: AtomicU8::new(PENDING),
                fire: Mutex::new(Some(fire)),
                p,
                shared: Some(shared.arc()),
            });
            let when = shared.nanos_at(deadline);
            shared.ps[p as usize].timers.push(when, inner.clone());
            shared.timer_added(when);
            Timer { inner }
        })
    }

    /// Prevents the callback from running. True if it had not run and now
    /// never will; false if it already ran (or is running) or was stopped.
    pub(crate) fn stop(&self) -> bool {
        if !self.inner.try_stop() {
            return false;
        }
        drop(
            self.inner
                .fire
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if let Some(shared) = &self.inner.shared {
            shared.ps[self.inner.p as usize]
                .timers
                .stopped
                .fetch_add(1, Ordering::Relaxed);
        }
        true
    }
}
