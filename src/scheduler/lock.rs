//! The runtime's own lock, for state that Ms touch for a few dozen
//! nanoseconds at a time: a channel's buffer and wait queues, a P's inbox,
//! the global run queue.
//!
//! `std::sync::Mutex` spins about a hundred `pause`s before it sleeps in
//! the kernel, and once anyone has slept every unlock pays a `futex` wake.
//! That is a fraction of a microsecond on a CPU whose `pause` is short, less
//! than a channel operation holds its lock when it spans its goroutine's
//! switch to g0 (`chan/wait.rs`). Two Ms trading a channel then take turns
//! sleeping in the kernel: with 4 producers and 4 consumers on one buffered
//! channel over 2 Ps, futex calls were a third of the time. Go's runtime
//! lock (lock_futex.go) spins longer for the same reason.
//!
//! This lock is the classic three-state futex mutex (0 free, 1 held, 2 held
//! with sleepers possible), spinning with a growing backoff for up to
//! [`SPIN_FOR`] before it sleeps. A waiter that sleeps always leaves the
//! word at 2 before sleeping, and an unlock that takes 2 away wakes one, so
//! a spinner that grabs the lock from 0 to 1 past sleepers cannot strand
//! them: the next sleeper to wake puts the 2 back.
//!
//! No poisoning: the callers recovered from poison with `into_inner`
//! anyway, and a panic under the lock unlocks it as the guard drops.
//!
//! Under loom the algorithm is modelled on its own (`loom_models` below,
//! with the futex modelled in `futex_model`). The code that uses the lock
//! runs its models on loom's mutex instead (`loom_mutex`): loom gives each
//! thread one unpark token shared by every blocking primitive, so a
//! modelled futex would take the token a channel model's `park` waits for,
//! where the real futex word and a thread's parker are separate.

#[cfg(not(loom))]
pub(crate) use imp::{Lock, LockGuard};
#[cfg(loom)]
pub(crate) use loom_mutex::{Lock, LockGuard};

// Under loom, only the lock's own models use it.
#[cfg_attr(loom, allow(dead_code))]
mod imp {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};

    use crate::loom::sync::atomic::{AtomicU32, Ordering};

    const FREE: u32 = 0;
    const HELD: u32 = 1;
    /// Held, and a waiter may be asleep: the unlock must wake one.
    const CONTENDED: u32 = 2;

    /// How long a waiter spins before it sleeps in the kernel. Long enough to
    /// cover a holder that switches goroutines under the lock (a few hundred
    /// ns), short enough that a holder preempted by the OS costs little.
    #[cfg(not(loom))]
    const SPIN_FOR: std::time::Duration = std::time::Duration::from_micros(4);

    pub(crate) struct Lock<T: ?Sized> {
        state: AtomicU32,
        #[cfg(loom)]
        futex: super::futex_model::Futex,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out `&mut T` to one thread at a time, so it is
    // `Sync` when `T` may move between threads, as `std::sync::Mutex` is.
    unsafe impl<T: ?Sized + Send> Send for Lock<T> {}
    // SAFETY: as above.
    unsafe impl<T: ?Sized + Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        #[cfg(not(loom))]
        pub(crate) const fn new(value: T) -> Lock<T> {
            Lock {
                state: AtomicU32::new(FREE),
                value: UnsafeCell::new(value),
            }
        }

        #[cfg(loom)]
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock {
                state: AtomicU32::new(FREE),
                futex: super::futex_model::Futex::new(),
                value: UnsafeCell::new(value),
            }
        }
    }

    impl<T: ?Sized> Lock<T> {
        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // Acquire pairs with the Release of the unlock before us.
            if self
                .state
                .compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            LockGuard { lock: self }
        }

        /// The exclusive reference, without locking: `&mut self` proves
        /// nobody else holds it.
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.value.get_mut()
        }

        #[cold]
        fn lock_contended(&self) {
            if self.spin() {
                return;
            }
            // Sleep. Swapping in CONTENDED (rather than HELD) after a wake
            // keeps the mark for the sleepers still behind us.
            while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
                self.futex_wait();
            }
        }

        /// Tries for the lock for up to [`SPIN_FOR`], backing off; true if it
        /// got it. Takes it from FREE to HELD even past sleepers:
        /// the sleeper the last unlock woke puts CONTENDED back.
        #[cfg(not(loom))]
        fn spin(&self) -> bool {
            let mut started = None;
            let mut backoff = 1u32;
            loop {
                if self.state.load(Ordering::Relaxed) == FREE
                    && self
                        .state
                        .compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    return true;
                }
                for _ in 0..backoff {
                    std::hint::spin_loop();
                }
                if backoff < 64 {
                    backoff *= 2;
                    continue;
                }
                // The clock is read only once the backoff is at its ceiling:
                // short waits never pay for it.
                let started = *started.get_or_insert_with(std::time::Instant::now);
                if started.elapsed() >= SPIN_FOR {
                    return false;
                }
            }
        }

        /// One attempt: enough for the models to cover a spinner overtaking
        /// sleepers, without multiplying the executions.
        #[cfg(loom)]
        fn spin(&self) -> bool {
            self.state
                .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }

        #[inline]
        fn unlock(&self) {
            // Release publishes the critical section to the next holder.
            if self.state.swap(FREE, Ordering::Release) == CONTENDED {
                self.futex_wake();
            }
        }

        #[cfg(not(loom))]
        fn futex_wait(&self) {
            crate::scheduler::park::futex_wait(&self.state, CONTENDED, None);
        }

        #[cfg(not(loom))]
        fn futex_wake(&self) {
            crate::scheduler::park::futex_wake(&self.state);
        }

        #[cfg(loom)]
        fn futex_wait(&self) {
            self.futex
                .wait(|| self.state.load(Ordering::Relaxed) == CONTENDED);
        }

        #[cfg(loom)]
        fn futex_wake(&self) {
            self.futex.wake();
        }
    }

    pub(crate) struct LockGuard<'a, T: ?Sized> {
        lock: &'a Lock<T>,
    }

    // SAFETY: a guard only gives `&T`/`&mut T`; sharing it across threads
    // shares `&T`, which needs `T: Sync`, as for std's guard.
    unsafe impl<T: ?Sized + Sync> Sync for LockGuard<'_, T> {}

    impl<T: ?Sized> Deref for LockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard's existence means this thread holds the lock.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in deref, and `&mut self` makes this the only use.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T: ?Sized> Drop for LockGuard<'_, T> {
        fn drop(&mut self) {
            self.lock.unlock();
        }
    }
}

/// The kernel's futex, for the lock's own models: `wait` sleeps only if
/// `still` holds when checked under the mutex that `wake` takes too, so a
/// wake cannot slip between the check and the sleep, as in the kernel.
#[cfg(loom)]
#[allow(dead_code)]
mod futex_model {
    use loom::sync::{Condvar, Mutex};

    pub(super) struct Futex {
        sleepers: Mutex<()>,
        woken: Condvar,
    }

    impl Futex {
        pub(super) fn new() -> Futex {
            Futex {
                sleepers: Mutex::new(()),
                woken: Condvar::new(),
            }
        }

        pub(super) fn wait(&self, still: impl Fn() -> bool) {
            let guard = self.sleepers.lock().unwrap();
            if still() {
                drop(self.woken.wait(guard).unwrap());
            }
        }

        pub(super) fn wake(&self) {
            let _guard = self.sleepers.lock().unwrap();
            self.woken.notify_one();
        }
    }
}

/// What the lock's users get under loom: loom's mutex behind the same API.
#[cfg(loom)]
mod loom_mutex {
    use std::ops::{Deref, DerefMut};

    pub(crate) struct Lock<T>(loom::sync::Mutex<T>);

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            LockGuard(self.0.lock().unwrap_or_else(|e| e.into_inner()))
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }

    pub(crate) struct LockGuard<'a, T>(loom::sync::MutexGuard<'a, T>);

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::imp::Lock;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// Three threads take the lock twice each: loom's cell reports any two
    /// in the critical section at once (or without the holder's writes
    /// visible), and a waiter left asleep shows as a deadlock. Three, so
    /// that a spinner can overtake a sleeper while another sleeps.
    #[test]
    fn loom_lock_excludes_and_wakes_every_sleeper() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let lock = Arc::new(Lock::new(UnsafeCell::new(0u32)));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let lock = lock.clone();
                    thread::spawn(move || {
                        for _ in 0..2 {
                            let g = lock.lock();
                            // SAFETY: loom checks this access; the lock
                            // is what should make it exclusive.
                            g.with_mut(|v| unsafe { *v += 1 });
                        }
                    })
                })
                .collect();
            for _ in 0..2 {
                let g = lock.lock();
                // SAFETY: as above.
                g.with_mut(|v| unsafe { *v += 1 });
            }
            for t in threads {
                t.join().unwrap();
            }
            // SAFETY: every thread has been joined.
            let total = lock.lock().with(|v| unsafe { *v });
            assert_eq!(total, 6);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Lock;
    use std::sync::Arc;
    use std::time::Duration;

    /// Many threads, each adding under the lock with a non-atomic
    /// read-modify-write: any lost update means two held it at once.
    #[test]
    fn no_update_is_lost_when_threads_outnumber_cpus() {
        const THREADS: usize = 8;
        const ROUNDS: u64 = 20_000;
        let lock = Arc::new(Lock::new((0u64, 0u64)));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let mut g = lock.lock();
                        let (a, b) = *g;
                        // Two fields written apart: a torn pair shows too.
                        g.0 = a + 1;
                        if i % 1024 == 0 {
                            std::thread::yield_now();
                        }
                        g.1 = b + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let total = THREADS as u64 * ROUNDS;
        assert_eq!(*lock.lock(), (total, total));
    }

    /// Waiters that gave up spinning sleep in the kernel; every one of
    /// them must be woken when the holder lets go.
    #[test]
    fn sleepers_behind_a_long_holder_all_get_the_lock() {
        let lock = Arc::new(Lock::new(Vec::new()));
        let held = lock.lock();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let lock = lock.clone();
                std::thread::spawn(move || lock.lock().push(i))
            })
            .collect();
        // Far past the spin: the waiters are asleep in futex_wait.
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
        let mut got = lock.lock().clone();
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3]);
    }
}
