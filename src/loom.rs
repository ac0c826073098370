//! The one place atomics and cells come from.
//!
//! Normally this is `std`; under `RUSTFLAGS="--cfg loom"` it is `loom`, so the
//! models in `scheduler::queue` and friends explore every interleaving of the
//! real code rather than of a copy. Code that is never modelled (the context
//! switch, the stack arena) uses `std` directly.

#[cfg(not(loom))]
pub(crate) mod sync {
    #[allow(unused_imports)]
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}

#[cfg(not(loom))]
pub(crate) mod hint {
    pub(crate) use std::hint::spin_loop;
}

#[cfg(loom)]
pub(crate) mod hint {
    pub(crate) use loom::hint::spin_loop;
}

#[cfg(loom)]
pub(crate) mod sync {
    #[allow(unused_imports)]
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}
