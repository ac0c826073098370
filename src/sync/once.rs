//! `Once`: Go's `sync.Once`: an atomic fast path, and this module's
//! [`Mutex`] (which parks) for the slow path.

use super::mutex::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs a function once, however many goroutines ask; the others park
/// until it has returned.
///
/// As in Go (and unlike std's), a call that panics still counts: later
/// calls do nothing.
///
/// ```
/// use goroutines::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    /// Set (Release) once `f` has returned or unwound.
    done: AtomicBool,
    /// Serialises the slow path.
    m: Mutex<()>,
}

/// Marks the Once done when dropped: after `f` returns or unwinds.
struct SetDone<'a>(&'a AtomicBool);

impl Drop for SetDone<'_> {
    fn drop(&mut self) {
        // Release pairs with call_once's Acquire load: f's effects are
        // visible to every later caller.
        self.0.store(true, Ordering::Release);
    }
}

impl Once {
    pub const fn new() -> Once {
        Once {
            done: AtomicBool::new(false),
            m: Mutex::new(()),
        }
    }

    /// Runs `f` if no call has run yet; otherwise waits until that call
    /// has finished.
    pub fn call_once(&self, f: impl FnOnce()) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let _lock = self.m.lock();
        if !self.done.load(Ordering::Relaxed) {
            let _set = SetDone(&self.done);
            f();
        }
    }

    /// Whether a call has finished.
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}
