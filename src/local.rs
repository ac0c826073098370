//! `goroutine_local!`: storage that belongs to one goroutine, the sound
//! replacement for `thread_local!` in goroutine code.
//!
//! A thread-local is shared by every goroutine that runs on the thread, and
//! in Go mode a goroutine can resume on another thread between two uses of
//! it. A goroutine-local goes with the goroutine: each goroutine sees its
//! own value, initialised on first use, in both scheduling modes, across any
//! number of parks. Code on a plain OS thread gets a per-thread value, so
//! the same code works inside and outside goroutines.
//!
//! ```
//! use std::cell::Cell;
//! goroutines::goroutine_local! {
//!     static CALLS: Cell<u32> = Cell::new(0);
//! }
//! let counts = goroutines::run(|| {
//!     let hs: Vec<_> = (0..3u32)
//!         .map(|i| goroutines::go(move || {
//!             for _ in 0..=i {
//!                 CALLS.with(|c| c.set(c.get() + 1));
//!                 goroutines::yield_now();
//!             }
//!             CALLS.with(|c| c.get())
//!         }))
//!         .collect();
//!     hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
//! });
//! assert_eq!(counts, vec![1, 2, 3]);
//! ```
//!
//! Storage: a small list of boxed values per goroutine (in its G, touched
//! only by the goroutine itself) or per thread. Values are boxed, so a
//! reference handed to `with` stays put while other locals are added. They
//! are dropped when the goroutine returns, before its joiner wakes.

use std::any::Any;
use std::cell::UnsafeCell;

/// (key address, value) pairs.
type List = Vec<(usize, Box<dyn Any>)>;

/// One goroutine's (or thread's) locals. Boxed on first use: one word in
/// every G, most of which never use a local.
#[derive(Default)]
pub(crate) struct Locals {
    values: Option<Box<List>>,
}

impl Locals {
    /// Drops every value; destructors that touch locals again create fresh
    /// values, which are dropped in the next round (at most a few rounds).
    pub(crate) fn clear(&mut self) {
        for _ in 0..8 {
            match self.values.take() {
                Some(values) if !values.is_empty() => drop(values),
                _ => return,
            }
        }
    }
}

/// A key declared with [`goroutine_local!`](crate::goroutine_local).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Calls `f` with the current goroutine's value (or the current
    /// thread's, outside goroutines), initialising it on first use.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const LocalKey<T> as usize;
        let value: *const T = with_locals(|locals| {
            // SAFETY: `locals` is the caller's own list (see with_locals),
            // and no reference into the list itself outlives this closure.
            let list = unsafe { &mut *locals }
                .values
                .get_or_insert_with(Box::default);
            if let Some((_, v)) = list.iter().find(|(k, _)| *k == key) {
                return v.downcast_ref::<T>().expect("one type per key") as *const T;
            }
            let boxed: Box<dyn Any> = Box::new((self.init)());
            let ptr = boxed.downcast_ref::<T>().expect("just made") as *const T;
            list.push((key, boxed));
            ptr
        });
        // SAFETY: the value is boxed and only dropped when its goroutine (or
        // thread) ends, which cannot happen while it runs `f`; adding other
        // locals moves the boxes' owners, not the boxes.
        f(unsafe { &*value })
    }
}

thread_local! {
    static THREAD_LOCALS: UnsafeCell<Locals> = UnsafeCell::new(Locals::default());
}

/// Runs `f` with the caller's locals list: the running goroutine's, else
/// the thread's. Not inlined, so the thread-local's address is never reused
/// across a park (SAFETY.md).
#[inline(never)]
fn with_locals<R>(f: impl FnOnce(*mut Locals) -> R) -> R {
    if let Some(locals) = crate::scheduler::m::current_locals() {
        return f(locals);
    }
    THREAD_LOCALS.with(|l| f(l.get()))
}

/// Declares goroutine-local statics: like `thread_local!`, but each
/// goroutine gets its own value. See the [module docs](crate::local).
#[macro_export]
macro_rules! goroutine_local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new(|| $init);
        $crate::goroutine_local!($($rest)*);
    };
    () => {};
}
