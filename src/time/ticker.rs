//! Channels that deliver time: `after`, `tick` and `Ticker`, on `Timer`.
//!
//! Each delivers `Instant::now()` at firing into a channel of capacity one,
//! with `try_send` from the timer callback (callbacks must not block): a
//! receiver that falls behind misses ticks rather than queueing them, as in
//! Go. A ticker re-arms itself from its previous deadline, so ticks do not
//! drift, and stops re-arming once every receiver is gone (unlike Go's
//! `time.Tick`, which leaks).

use super::timer::Timer;
use crate::chan::{bounded, Receiver, Sender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A channel that receives the time once, after `d`.
///
/// ```
/// use std::time::Duration;
/// goroutines::run(|| {
///     let t = goroutines::time::after(Duration::from_millis(5));
///     t.recv().unwrap();
/// });
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = bounded(1);
    let deadline = Instant::now().checked_add(d);
    if let Some(deadline) = deadline {
        Timer::start(
            deadline,
            Box::new(move || {
                let _ = tx.try_send(Instant::now());
            }),
        );
    } else {
        // Never fires: keep the sender alive so the receiver never sees a
        // disconnection.
        std::mem::forget(tx);
    }
    rx
}

/// A channel that receives the time every `period`, until the receiver is
/// dropped.
///
/// # Panics
/// If `period` is zero (Go panics the same way).
pub fn tick(period: Duration) -> Receiver<Instant> {
    start(period).0
}

/// Delivers the time on a channel every `period`; dropping it stops it.
///
/// ```
/// use std::time::Duration;
/// goroutines::run(|| {
///     let t = goroutines::time::Ticker::new(Duration::from_millis(1));
///     for _ in 0..3 {
///         t.receiver().recv().unwrap();
///     }
///     t.stop();
/// });
/// ```
pub struct Ticker {
    rx: Receiver<Instant>,
    state: Arc<TickerState>,
}

struct TickerState {
    /// The pending timer; None once stopped. Held while re-arming, so a
    /// `stop` cannot slip between the check and the new timer.
    armed: Mutex<Option<Timer>>,
}

impl Ticker {
    /// # Panics
    /// If `period` is zero.
    pub fn new(period: Duration) -> Ticker {
        let (rx, state) = start(period);
        Ticker { rx, state }
    }

    /// The channel the ticks arrive on.
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticks. A tick already delivered can still be received;
    /// after that the receiver reports disconnection instead of blocking
    /// forever (Go's stopped ticker would block).
    pub fn stop(&self) {
        if let Some(timer) = self
            .state
            .armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            timer.stop();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start(period: Duration) -> (Receiver<Instant>, Arc<TickerState>) {
    assert!(
        !period.is_zero(),
        "goroutines::time: non-positive interval for Ticker"
    );
    let (tx, rx) = bounded(1);
    let state = Arc::new(TickerState {
        armed: Mutex::new(None),
    });
    let mut armed = state.armed.lock().unwrap_or_else(|e| e.into_inner());
    *armed = Some(arm(&state, tx, Instant::now() + period, period));
    drop(armed);
    (rx, state)
}

/// Starts the timer for the tick due at `deadline`; the caller stores it in
/// `state.armed` under the lock.
fn arm(
    state: &Arc<TickerState>,
    tx: Sender<Instant>,
    deadline: Instant,
    period: Duration,
) -> Timer {
    let st = state.clone();
    Timer::start(
        deadline,
        Box::new(move || {
            if let Err(TrySendError::Disconnected(_)) = tx.try_send(Instant::now()) {
                return; // nobody listens any more
            }
            let mut armed = st.armed.lock().unwrap_or_else(|e| e.into_inner());
            if armed.is_some() {
                *armed = Some(arm(&st, tx, deadline + period, period));
            }
        }),
    )
}
