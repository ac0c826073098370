//! `RwLock<T>`: Go's `sync.RWMutex` (`sync/rwmutex.go`) holding its data.
//! Many readers or one writer; a waiting writer blocks new readers, so
//! writers do not starve.
//!
//! * `reader_count`: readers holding or waiting for the lock, minus
//!   `MAX_READERS` while a writer holds or waits for it (so a negative
//!   count tells arriving readers to queue on `reader_sem`).
//! * `reader_wait`: readers the waiting writer still waits for (the ones
//!   that held the lock when it announced itself); the last of them
//!   releases `writer_sem`.
//! * `writer`: serialises writers.

use super::mutex::{Mutex, MutexGuard};
use super::sema::Sema;
use crate::scheduler::g::WaitReason;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI32, Ordering};

const MAX_READERS: i32 = 1 << 30;

/// A reader-writer lock that parks goroutines while they wait. Does not
/// poison (see the [module docs](crate::sync)).
///
/// ```
/// use goroutines::sync::RwLock;
///
/// let lock = RwLock::new(vec![1, 2]);
/// {
///     let a = lock.read();
///     let b = lock.read(); // many readers at once
///     assert_eq!(a.len() + b.len(), 4);
/// }
/// lock.write().push(3);
/// assert_eq!(*lock.read(), [1, 2, 3]);
/// ```
pub struct RwLock<T: ?Sized> {
    writer: Mutex<()>,
    writer_sem: Sema,
    reader_sem: Sema,
    reader_count: AtomicI32,
    reader_wait: AtomicI32,
    /// Shared by readers, exclusive to a writer, per the counts above.
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out &T to readers (needs T: Sync) and &mut T to
// one writer (needs T: Send), as std's RwLock.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access; released on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _data: PhantomData<&'a T>,
}

/// Exclusive access; released on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Unlocked after `Drop::drop` has let the readers in.
    _writer: MutexGuard<'a, ()>,
    _data: PhantomData<&'a mut T>,
}

impl<T> RwLock<T> {
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            writer: Mutex::new(()),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared access, waiting while a writer holds or waits for the lock.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        // AcqRel: Acquire pairs with the last writer's Release in unlock.
        if self.reader_count.fetch_add(1, Ordering::AcqRel) + 1 < 0 {
            // A writer is pending: wait for it to let us in.
            self.reader_sem.acquire(false, WaitReason::RwLock);
        }
        RwLockReadGuard {
            lock: self,
            _data: PhantomData,
        }
    }

    /// Shared access if no writer holds or waits for the lock.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut c = self.reader_count.load(Ordering::Relaxed);
        loop {
            if c < 0 {
                return None;
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(RwLockReadGuard {
                        lock: self,
                        _data: PhantomData,
                    })
                }
                Err(actual) => c = actual,
            }
        }
    }

    /// Exclusive access, waiting for the readers inside to leave.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let writer = self.writer.lock();
        // Announce the writer; r readers are inside.
        let r = self.reader_count.fetch_sub(MAX_READERS, Ordering::AcqRel);
        if r != 0 && self.reader_wait.fetch_add(r, Ordering::AcqRel) + r != 0 {
            self.writer_sem.acquire(false, WaitReason::RwLock);
        }
        RwLockWriteGuard {
            lock: self,
            _writer: writer,
            _data: PhantomData,
        }
    }

    /// Exclusive access if nobody holds the lock.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let writer = self.writer.try_lock()?;
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None; // `writer` unlocks on return
        }
        Some(RwLockWriteGuard {
            lock: self,
            _writer: writer,
            _data: PhantomData,
        })
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::Release) - 1;
        if r < 0 {
            if r + 1 == 0 || r + 1 == -MAX_READERS {
                crate::fatal(format_args!("sync: RUnlock of unlocked RWMutex"));
            }
            // A writer waits: the last reader it waits for lets it in.
            if self.reader_wait.fetch_sub(1, Ordering::AcqRel) - 1 == 0 {
                self.writer_sem.release();
            }
        }
    }

    fn write_unlock(&self) {
        // Release pairs with readers' Acquire.
        let r = self.reader_count.fetch_add(MAX_READERS, Ordering::Release) + MAX_READERS;
        if r >= MAX_READERS {
            crate::fatal(format_args!("sync: Unlock of unlocked RWMutex"));
        }
        // Let in the readers that queued while we held the lock.
        for _ in 0..r {
            self.reader_sem.release();
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard proves no writer holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and the guard is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        // The writer mutex (`_writer`) is dropped after this body: readers
        // go first, then the next writer, as in Go.
        self.lock.write_unlock();
    }
}
