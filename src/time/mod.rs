//! Time: `sleep`, `after`, `tick`, `Ticker`, and the timers under every
//! timeout (`timer.rs`, kept per P in `heap.rs`).

pub(crate) mod heap;
mod ticker;
pub(crate) mod timer;

pub use ticker::{after, tick, Ticker};

use crate::scheduler::g::WaitReason;
use crate::scheduler::park::{self, Waiter};
use std::time::{Duration, Instant};

/// Pauses the calling goroutine for at least `d`; its M runs other
/// goroutines meanwhile. On a plain thread, sleeps the thread.
///
/// ```
/// let t = std::time::Instant::now();
/// goroutines::run(|| goroutines::time::sleep(std::time::Duration::from_millis(2)));
/// assert!(t.elapsed() >= std::time::Duration::from_millis(2));
/// ```
pub fn sleep(d: Duration) {
    if !park::in_goroutine() {
        std::thread::sleep(d);
        return;
    }
    if d.is_zero() {
        return;
    }
    let Some(deadline) = Instant::now().checked_add(d) else {
        // Longer than the clock can represent: park for good.
        park::park(WaitReason::Sleep, || true);
        unreachable!("a goroutine sleeping forever was woken");
    };
    let waiter = Waiter::current();
    // The timer starts only once we are parked, so its wake-up cannot come
    // early.
    park::park(WaitReason::Sleep, move || {
        timer::Timer::start(deadline, Box::new(move || waiter.wake()));
        true
    });
}
