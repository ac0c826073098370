//! Channels: Go's `chan` with crossbeam-channel's shapes.
//!
//! # Sending and receiving
//!
//! A channel is a [`Sender`] and a [`Receiver`]; both clone. A blocked send
//! or receive parks the goroutine (its OS thread runs others meanwhile).
//!
//! ```
//! use goroutines::chan;
//!
//! let sum = goroutines::run(|| {
//!     let (tx, rx) = chan::bounded(16);
//!     for i in 0..4u64 {
//!         let tx = tx.clone();
//!         goroutines::go(move || {
//!             for j in 0..100 {
//!                 tx.send(i * 100 + j).unwrap();
//!             }
//!         });
//!     }
//!     drop(tx); // the loop below ends when every sender is gone
//!     rx.iter().sum::<u64>()
//! });
//! assert_eq!(sum, (0..400).sum());
//! ```
//!
//! # Flavours
//!
//! * [`bounded(n)`](bounded): at most `n` values buffered; a send waits
//!   for room. `bounded(0)` is a rendezvous: each send waits for a receiver
//!   and hands its value straight over, as Go's unbuffered channel.
//! * [`unbounded()`](unbounded): sends never wait.
//! * [`never()`]: a receiver that never delivers (Go's nil channel), useful
//!   to switch off an arm of [`select!`].
//! * [`after(d)`](after) and [`tick(d)`](tick): timer channels (from
//!   [`crate::time`]), for timeouts and periodic work in a select.
//!
//! ```
//! use goroutines::chan;
//!
//! goroutines::run(|| {
//!     let (tx, rx) = chan::bounded(0);
//!     let h = goroutines::go(move || tx.send("hello").unwrap());
//!     assert_eq!(rx.recv(), Ok("hello")); // the send completes only now
//!     h.join().unwrap();
//! });
//! ```
//!
//! # Closing and disconnection
//!
//! [`Sender::close`] is Go's `close`: later sends fail, receivers drain
//! what is buffered and then see the end. Dropping the last sender does the
//! same; dropping the last receiver makes sends fail (and drops what is
//! buffered).
//!
//! ```
//! use goroutines::chan::{self, TryRecvError};
//!
//! let (tx, rx) = chan::bounded(2);
//! tx.send(1).unwrap();
//! tx.send(2).unwrap();
//! assert!(tx.close());
//! assert!(tx.send(3).is_err());
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
//! ```
//!
//! # Select
//!
//! [`select!`] waits on several operations and runs the first that can
//! proceed; among several ready ones it picks uniformly at random, as Go's
//! `select`. [`Select`] does the same for a set built at run time.
//!
//! ```
//! use goroutines::{chan, select};
//! use std::time::Duration;
//!
//! goroutines::run(|| {
//!     let (tx, rx) = chan::unbounded();
//!     goroutines::go(move || tx.send(7).unwrap());
//!     select! {
//!         recv(rx) -> v => assert_eq!(v, Ok(7)),
//!         recv(chan::never::<i32>()) -> _ => unreachable!(),
//!         default(Duration::from_secs(10)) => panic!("timed out"),
//!     }
//! });
//! ```
//!
//! # Threads and goroutines
//!
//! Everything here also works on plain OS threads (blocking the thread), so
//! a channel connects `std::thread`s and goroutines in either direction.
//!
//! ```
//! use goroutines::chan;
//!
//! let (tx, rx) = chan::bounded(0);
//! let h = goroutines::go(move || rx.recv().unwrap() * 2);
//! tx.send(21).unwrap(); // a plain thread waiting for a goroutine
//! assert_eq!(h.join().unwrap(), 42);
//! ```
//!
//! # Layout
//!
//! `zero.rs`, `array.rs` and `list.rs` are the flavours (each names its
//! algorithm); `wait.rs` is the wait protocol they and `crate::sync` share;
//! `select.rs` and `select_macro.rs` are select. Each flavour is a lock
//! around a buffer and wait queues, as Go's `hchan`; as in Go, a blocking
//! operation releases the lock once its goroutine has switched out, and it
//! is never held while a goroutine sleeps.

mod array;
mod counter;
mod error;
mod list;
#[cfg(all(test, loom))]
mod loom_models;
mod select;
mod select_macro;
pub(crate) mod wait;
mod zero;

#[doc(inline)]
pub use crate::select;
/// Timer channels, defined in [`crate::time`]: `after(d)` delivers one
/// `Instant` after `d`, `tick(d)` one every `d`.
pub use crate::time::{after, tick};
pub use error::{
    RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySelectError, TrySendError,
};
pub use select::{Select, SelectedOperation};

#[doc(hidden)]
pub mod __private {
    //! Used by `select!`'s expansion; not part of the API.
    pub use super::select::{block_for, run_arms, Arm, Block, RecvArm, SendArm};
}

use counter::Side;
use select::Reservation;
use std::fmt;
use std::time::{Duration, Instant};
use wait::{Entry, Outcome, Wait, WaitCell};

/// A channel holding at most `cap` values; `bounded(0)` is a rendezvous.
///
/// ```
/// let (tx, rx) = goroutines::chan::bounded(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).unwrap_err().is_full());
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if cap == 0 {
        let (s, r) = Side::pair(zero::Channel::new());
        (
            Sender {
                flavor: SenderFlavor::Zero(s),
            },
            Receiver {
                flavor: ReceiverFlavor::Zero(r),
            },
        )
    } else {
        let (s, r) = Side::pair(array::Channel::new(cap));
        (
            Sender {
                flavor: SenderFlavor::Array(s),
            },
            Receiver {
                flavor: ReceiverFlavor::Array(r),
            },
        )
    }
}

/// A channel with no limit: sends never wait.
///
/// ```
/// let (tx, rx) = goroutines::chan::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let (s, r) = Side::pair(list::Channel::new());
    (
        Sender {
            flavor: SenderFlavor::List(s),
        },
        Receiver {
            flavor: ReceiverFlavor::List(r),
        },
    )
}

/// A receiver that never delivers and never disconnects (Go's nil
/// channel): `recv` blocks for good, and a `select!` arm on it is never
/// ready.
///
/// ```
/// use std::time::Duration;
/// let r = goroutines::chan::never::<()>();
/// assert!(r.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: ReceiverFlavor::Never,
    }
}

/// The sending half of a channel. Clone it for more senders.
pub struct Sender<T> {
    flavor: SenderFlavor<T>,
}

enum SenderFlavor<T> {
    Array(Side<array::Channel<T>>),
    List(Side<list::Channel<T>>),
    Zero(Side<zero::Channel<T>>),
}

/// The receiving half of a channel. Clone it for more receivers; each value
/// goes to exactly one of them.
pub struct Receiver<T> {
    flavor: ReceiverFlavor<T>,
}

enum ReceiverFlavor<T> {
    Array(Side<array::Channel<T>>),
    List(Side<list::Channel<T>>),
    Zero(Side<zero::Channel<T>>),
    Never,
}

/// Every channel operation may yield once the goroutine has run past its
/// time slice (DESIGN.md), even when it completes without waiting.
#[inline]
pub(crate) fn preempt_point() {
    crate::scheduler::m::preempt_point();
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// A handle's buffer, for the queries senders and receivers answer alike.
/// A rendezvous channel and `never()` have none: capacity 0, always full.
enum Buffer<'a, T> {
    Array(&'a array::Channel<T>),
    List(&'a list::Channel<T>),
    None,
}

impl<T> Buffer<'_, T> {
    fn len(&self) -> usize {
        match self {
            Buffer::Array(c) => c.len(),
            Buffer::List(c) => c.len(),
            Buffer::None => 0,
        }
    }

    fn capacity(&self) -> Option<usize> {
        match self {
            Buffer::Array(c) => Some(c.capacity()),
            Buffer::List(_) => None,
            Buffer::None => Some(0),
        }
    }

    fn is_full(&self) -> bool {
        self.capacity().is_some_and(|c| self.len() >= c)
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room (or, on a rendezvous channel, for a
    /// receiver). Fails, giving the value back, once the channel is closed
    /// or has no receivers.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        preempt_point();
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().send(value, None),
            SenderFlavor::List(s) => return s.chan().send(value),
            SenderFlavor::Zero(s) => s.chan().send(value, None),
        }
        .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        preempt_point();
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().try_send(value),
            SenderFlavor::List(s) => s.chan().send(value).map_err(TrySendError::from),
            SenderFlavor::Zero(s) => s.chan().try_send(value),
        }
    }

    /// Sends, waiting at most `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match deadline_after(timeout) {
            Some(d) => self.send_deadline(value, d),
            None => self.send(value).map_err(SendTimeoutError::from),
        }
    }

    /// Sends, waiting until `deadline` at most.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        preempt_point();
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().send(value, Some(deadline)),
            SenderFlavor::List(s) => s.chan().send(value).map_err(SendTimeoutError::from),
            SenderFlavor::Zero(s) => s.chan().send(value, Some(deadline)),
        }
    }

    /// Go's `close`: later sends fail; receivers get what is buffered, then
    /// `Disconnected`. Senders and receivers waiting now are woken (senders
    /// get their value back). Returns false if the channel was already
    /// closed (Go panics there; a second close is harmless here).
    pub fn close(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().close(),
            SenderFlavor::List(s) => s.chan().close(),
            SenderFlavor::Zero(s) => s.chan().close(),
        }
    }

    /// Whether sends now fail: the channel was closed or lost its receivers.
    pub fn is_closed(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().is_closed(),
            SenderFlavor::List(s) => s.chan().is_closed(),
            SenderFlavor::Zero(s) => s.chan().is_closed(),
        }
    }

    fn buffer(&self) -> Buffer<'_, T> {
        match &self.flavor {
            SenderFlavor::Array(s) => Buffer::Array(s.chan()),
            SenderFlavor::List(s) => Buffer::List(s.chan()),
            SenderFlavor::Zero(_) => Buffer::None,
        }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.buffer().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.buffer().is_full()
    }

    /// The buffer size; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.buffer().capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.chan_id() == other.chan_id()
    }

    pub(crate) fn chan_id(&self) -> usize {
        match &self.flavor {
            SenderFlavor::Array(s) => s.id(),
            SenderFlavor::List(s) => s.id(),
            SenderFlavor::Zero(s) => s.id(),
        }
    }

    // --- select support ---

    pub(crate) fn try_reserve(&self) -> Option<Reservation<T>> {
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().try_reserve(),
            SenderFlavor::List(s) => Some(if s.chan().is_closed() {
                Reservation::Disconnected
            } else {
                Reservation::Unbounded
            }),
            SenderFlavor::Zero(s) => s.chan().try_reserve(),
        }
    }

    pub(crate) fn register_send(&self, entry: Entry<T>, me: &Wait) -> bool {
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().register_send(entry, me),
            // A list is always ready: poll already took it.
            SenderFlavor::List(_) => false,
            SenderFlavor::Zero(s) => s.chan().register_send(entry, me),
        }
    }

    pub(crate) fn unregister(&self, me: &Wait) {
        match &self.flavor {
            SenderFlavor::Array(s) => s.chan().unregister(me),
            SenderFlavor::List(_) => {}
            SenderFlavor::Zero(s) => s.chan().unregister(me),
        }
    }

    /// What a parked select send arm holds once a peer claimed it.
    pub(crate) fn reservation_after(&self, outcome: Outcome) -> Reservation<T> {
        match (outcome, &self.flavor) {
            (Outcome::Selected, SenderFlavor::Array(_)) => Reservation::Capacity,
            (Outcome::Selected, SenderFlavor::List(_)) => Reservation::Unbounded,
            _ => Reservation::Disconnected,
        }
    }

    pub(crate) fn send_reserved(&self, r: Reservation<T>, value: T) -> Result<(), SendError<T>> {
        match r {
            Reservation::Hand(receiver) => {
                receiver.deliver(value);
                Ok(())
            }
            Reservation::Capacity => match &self.flavor {
                SenderFlavor::Array(s) => s.chan().send_reserved(value),
                _ => unreachable!("capacity is reserved only on array channels"),
            },
            Reservation::Unbounded => self.send(value),
            Reservation::Disconnected => Err(SendError(value)),
        }
    }

    pub(crate) fn release_reserved(&self, r: Reservation<T>) {
        match r {
            Reservation::Hand(receiver) => receiver.retry(),
            Reservation::Capacity => match &self.flavor {
                SenderFlavor::Array(s) => s.chan().release_reserved(),
                _ => unreachable!("capacity is reserved only on array channels"),
            },
            Reservation::Unbounded | Reservation::Disconnected => {}
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        let flavor = match &self.flavor {
            SenderFlavor::Array(s) => SenderFlavor::Array(s.acquire_sender()),
            SenderFlavor::List(s) => SenderFlavor::List(s.acquire_sender()),
            SenderFlavor::Zero(s) => SenderFlavor::Zero(s.acquire_sender()),
        };
        Sender { flavor }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        match &self.flavor {
            SenderFlavor::Array(s) => s.release_sender(|c| {
                c.close();
            }),
            SenderFlavor::List(s) => s.release_sender(|c| {
                c.close();
            }),
            SenderFlavor::Zero(s) => s.release_sender(|c| {
                c.close();
            }),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting for one. Fails once the channel is closed
    /// (or has no senders) and empty.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_inner(None).map_err(|_| RecvError)
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        preempt_point();
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.chan().try_recv(),
            ReceiverFlavor::List(r) => r.chan().try_recv(),
            ReceiverFlavor::Zero(r) => r.chan().try_recv(),
            ReceiverFlavor::Never => Err(TryRecvError::Empty),
        }
    }

    /// Receives, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_inner(deadline_after(timeout))
    }

    /// Receives, waiting until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_inner(Some(deadline))
    }

    fn recv_inner(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        preempt_point();
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.chan().recv(deadline),
            ReceiverFlavor::List(r) => r.chan().recv(deadline),
            ReceiverFlavor::Zero(r) => r.chan().recv(deadline),
            ReceiverFlavor::Never => {
                // Nothing can claim this wait but its timer.
                let cell = WaitCell::new(deadline);
                cell.park(crate::scheduler::g::WaitReason::ChanReceive, deadline);
                Err(RecvTimeoutError::Timeout)
            }
        }
    }

    /// Iterates over received values, waiting for each, until the channel
    /// is closed and empty.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// Iterates over the values available now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    fn buffer(&self) -> Buffer<'_, T> {
        match &self.flavor {
            ReceiverFlavor::Array(r) => Buffer::Array(r.chan()),
            ReceiverFlavor::List(r) => Buffer::List(r.chan()),
            ReceiverFlavor::Zero(_) | ReceiverFlavor::Never => Buffer::None,
        }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.buffer().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.buffer().is_full()
    }

    /// The buffer size; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.buffer().capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (ReceiverFlavor::Never, ReceiverFlavor::Never) => true,
            _ => self.chan_id() == other.chan_id(),
        }
    }

    /// The channel's identity; 0 for `never()`.
    pub(crate) fn chan_id(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.id(),
            ReceiverFlavor::List(r) => r.id(),
            ReceiverFlavor::Zero(r) => r.id(),
            ReceiverFlavor::Never => 0,
        }
    }

    // --- select support ---

    pub(crate) fn register_recv(&self, entry: Entry<T>, me: &Wait) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.chan().register_recv(entry, me),
            ReceiverFlavor::List(r) => r.chan().register_recv(entry, me),
            ReceiverFlavor::Zero(r) => r.chan().register_recv(entry, me),
            ReceiverFlavor::Never => true,
        }
    }

    pub(crate) fn unregister(&self, me: &Wait) {
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.chan().unregister(me),
            ReceiverFlavor::List(r) => r.chan().unregister(me),
            ReceiverFlavor::Zero(r) => r.chan().unregister(me),
            ReceiverFlavor::Never => {}
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        let flavor = match &self.flavor {
            ReceiverFlavor::Array(r) => ReceiverFlavor::Array(r.acquire_receiver()),
            ReceiverFlavor::List(r) => ReceiverFlavor::List(r.acquire_receiver()),
            ReceiverFlavor::Zero(r) => ReceiverFlavor::Zero(r.acquire_receiver()),
            ReceiverFlavor::Never => ReceiverFlavor::Never,
        };
        Receiver { flavor }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        match &self.flavor {
            ReceiverFlavor::Array(r) => r.release_receiver(|c| c.disconnect_receivers()),
            ReceiverFlavor::List(r) => r.release_receiver(|c| c.disconnect_receivers()),
            ReceiverFlavor::Zero(r) => r.release_receiver(|c| {
                c.close();
            }),
            ReceiverFlavor::Never => {}
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// Blocking iterator over a receiver's values: see [`Receiver::iter`].
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

/// Non-blocking iterator over a receiver's values: see
/// [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// Owning blocking iterator over a receiver's values.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}
