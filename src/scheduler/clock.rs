//! The runtime's clock and how timers get fired.
//!
//! Time inside the runtime is nanoseconds since the runtime started (`u64`,
//! so a deadline fits in an atomic).
//!
//! Who fires timers (see `time/timer.rs` for the timers themselves):
//! 1. The M holding a P fires that P's due timers each time it schedules;
//!    reading the clock only when the P has a timer at all.
//! 2. An M about to give up its P fires every P's due timers.
//! 3. One idle M at a time is the *timer sleeper*: it parks with the earliest
//!    deadline of all Ps as its timeout, wakes, fires what is due, and parks
//!    again. Other idle Ms park without a timeout.
//! 4. A new timer due before the sleeper's deadline kicks the sleeper so it
//!    re-reads the heaps; with no sleeper, `wakep` gets an M that will become
//!    one. The sleeper publishes `sleep_until` and then re-reads every heap,
//!    while `timer_added` pushes and then reads `sleep_until` (SeqCst on both
//!    sides), so a new timer is never missed.

use super::m::MShared;
use super::Shared;
use crate::time::heap::NONE;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

impl Shared {
    /// Runtime nanoseconds at `t` (0 for instants before the runtime).
    pub(crate) fn nanos_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch)
            .as_nanos()
            .min(u64::MAX as u128 - 1) as u64
    }

    pub(crate) fn now(&self) -> u64 {
        self.nanos_at(Instant::now())
    }

    /// Fires P `p`'s due timers (step 1).
    pub(crate) fn run_due_timers(&self, p: u32) {
        let timers = &self.ps[p as usize].timers;
        if timers.next() == NONE {
            return;
        }
        for t in timers.take_due(self.now()) {
            t.fire();
        }
    }

    /// Fires every P's due timers (steps 2 and 3).
    pub(crate) fn run_all_due_timers(&self) {
        if self.earliest_timer() == NONE {
            return;
        }
        let now = self.now();
        for p in self.ps.iter() {
            for t in p.timers.take_due(now) {
                t.fire();
            }
        }
    }

    /// The earliest deadline of all Ps, or NONE.
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.timers.next())
            .min()
            .unwrap_or(NONE)
    }

    /// Step 4.
    pub(crate) fn timer_added(&self, when: u64) {
        if self.retake_running {
            // Sysmon fires a timer a hog sits on (sysmon.rs step 6); it
            // must not be deep asleep past the deadline.
            self.wake_sysmon();
        }
        if when >= self.sleep_until.load(Ordering::SeqCst) {
            return; // the sleeper wakes before it anyway
        }
        let sleeper = self
            .sleeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match sleeper {
            Some(m) => m.kick(),
            None => self.wakep(),
        }
    }

    /// Called by an M leaving the idle state: if timers are pending and no
    /// M sleeps on them, recruit one (an idle P's M will become the sleeper
    /// once it finds no work; with no idle P, every P's holder fires its
    /// own timers as it schedules).
    pub(crate) fn ensure_timer_sleeper(&self) {
        if self.earliest_timer() != NONE && self.sleep_until.load(Ordering::SeqCst) == NONE {
            let no_sleeper = self
                .sleeper
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none();
            if no_sleeper {
                self.wakep();
            }
        }
    }

    /// Step 3: parks idle M `m` until a hand-off, a kick, or the next timer
    /// deadline if it becomes the sleeper. Fires due timers after waking as
    /// the sleeper. `claim_p` runs if it slept in the network poller and
    /// woke to events, before their waiters are woken (`netpoll.rs` step 6).
    pub(crate) fn timer_sleep(
        &self,
        m: &Arc<MShared>,
        park: impl FnOnce(Option<u64>),
        claim_p: impl FnOnce(),
    ) {
        let mut slot = self.sleeper.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            drop(slot);
            return park(None);
        }
        *slot = Some(m.clone());
        drop(slot);
        // Publish an upper bound first, then read the heaps (step 4).
        self.sleep_until.store(0, Ordering::SeqCst);
        let next = self.earliest_timer();
        self.sleep_until.store(next, Ordering::SeqCst);
        let next = next.min(self.earliest_timer());
        let timeout = (next != NONE).then(|| next.saturating_sub(self.now()));
        super::netpoll::sleep(
            m,
            timeout.map(std::time::Duration::from_nanos),
            || park(timeout),
            claim_p,
        );
        self.sleep_until.store(NONE, Ordering::SeqCst);
        *self.sleeper.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.run_all_due_timers();
    }
}
