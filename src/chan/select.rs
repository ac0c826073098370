//! Select: wait on several channel operations, complete exactly one.
//!
//! The protocol (crossbeam-channel's `run_select`, on our [`Wait`]):
//! 1. **Poll** every arm in a fresh uniformly random order, each under its
//!    own channel's lock; the first that can proceed now wins. Random order
//!    is what makes the choice among ready arms uniform, as Go's spec asks.
//! 2. Not blocking (`default`) or past the deadline: give up.
//! 3. **Register** one entry per arm, all pointing at one `Wait`. If a
//!    channel turns out ready while we register (it changed since step 1),
//!    abort: claim our own wait with `Retry`.
//! 4. **Park** until a peer claims one entry (performing that arm's
//!    operation into its packet), `close` claims it with `Disconnected`,
//!    the timer claims it with `TimedOut`, or our own abort.
//! 5. **Unregister** every entry (under each lock), then report the arm, or
//!    go back to 1 on `Retry`.
//!
//! Send arms carry no value while waiting: crossbeam's shape (and the
//! `select!` macro) produce the value only once the arm is chosen, so a
//! chosen send arm holds a [`Reservation`] that `send` then fulfils: a
//! claimed receiver (which waits for the value), a reserved buffer slot, or
//! nothing needed (unbounded). Dropping a reservation unused gives it back.
//! A rendezvous receiver that meets a waiting valueless send arm claims it
//! with `Retry` and queues itself, so the select's next poll reserves it.

use super::error::{RecvError, SelectTimeoutError, SendError, TryRecvError, TrySelectError};
use super::wait::{Claimed, Entry, Outcome, Packet, Wait, WaitCell};
use super::{Receiver, Sender};
use crate::scheduler::g::WaitReason;
use std::cell::Cell;
use std::fmt;
use std::ops::DerefMut;
use std::time::{Duration, Instant};

/// What a chosen send arm holds until its value is supplied.
pub(crate) enum Reservation<T> {
    /// A receiver, claimed and waiting for the value.
    Hand(Claimed<T>),
    /// One slot of an array channel (`reserved` counts it).
    Capacity,
    /// An unbounded channel: any send succeeds unless closed.
    Unbounded,
    /// The channel is closed: the send will fail.
    Disconnected,
}

mod sealed {
    pub trait Sealed {}
}

/// One arm of a select. Public only so that `select!`'s expansion can name
/// it; sealed, and its methods take crate-private types.
#[doc(hidden)]
#[allow(private_interfaces)]
pub trait Arm: sealed::Sealed {
    /// Tries to complete now; true if done (a value, a disconnection or a
    /// reservation is stored in the arm).
    fn poll(&mut self) -> bool;
    /// Queues an entry for `wait`; false if the channel is ready now.
    fn register(&mut self, wait: &Wait, index: usize) -> bool;
    /// Removes this arm's entries for `wait`.
    fn unregister(&mut self, wait: &Wait);
    /// Records how a peer ended the wait on this arm.
    fn selected(&mut self, outcome: Outcome);
    /// The channel's identity and whether this is a send arm.
    fn channel(&self) -> (usize, bool);
    /// A pointer to the arm's result: `Option<Result<T, RecvError>>` for a
    /// receive arm, `Option<Reservation<T>>` for a send arm.
    fn result_ptr(&mut self) -> *mut ();
    /// Forgets a result nobody collected.
    fn reset(&mut self);
}

/// A receive arm: `recv(r) -> v`.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    receiver: &'a Receiver<T>,
    /// Where a sender writes while the arm is registered.
    packet: Packet<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvArm<'a, T> {
    pub fn new(receiver: &'a Receiver<T>) -> RecvArm<'a, T> {
        RecvArm {
            receiver,
            packet: Packet::new(None),
            result: None,
        }
    }

    /// The received value (or the disconnection) of the chosen arm.
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result.take().expect("select arm taken twice")
    }
}

impl<T> sealed::Sealed for RecvArm<'_, T> {}

#[allow(private_interfaces)]
impl<T> Arm for RecvArm<'_, T> {
    fn poll(&mut self) -> bool {
        match self.receiver.try_recv() {
            Ok(v) => self.result = Some(Ok(v)),
            Err(TryRecvError::Disconnected) => self.result = Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }

    fn register(&mut self, wait: &Wait, index: usize) -> bool {
        self.receiver
            .register_recv(Entry::new(wait, index, self.packet.ptr()), wait)
    }

    fn unregister(&mut self, wait: &Wait) {
        self.receiver.unregister(wait);
    }

    fn selected(&mut self, outcome: Outcome) {
        // SAFETY: the wait is DONE and every entry was unregistered.
        let value = unsafe { self.packet.take() };
        self.result = Some(match (outcome, value) {
            (Outcome::Selected, Some(v)) => Ok(v),
            _ => Err(RecvError),
        });
    }

    fn channel(&self) -> (usize, bool) {
        (self.receiver.chan_id(), false)
    }

    fn result_ptr(&mut self) -> *mut () {
        (&raw mut self.result).cast()
    }

    fn reset(&mut self) {
        self.result = None;
    }
}

/// A send arm: `send(s, value) -> res`.
#[doc(hidden)]
pub struct SendArm<'a, T> {
    sender: &'a Sender<T>,
    reservation: Option<Reservation<T>>,
}

impl<'a, T> SendArm<'a, T> {
    pub fn new(sender: &'a Sender<T>) -> SendArm<'a, T> {
        SendArm {
            sender,
            reservation: None,
        }
    }

    /// Sends through the chosen arm's reservation.
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        let r = self.reservation.take().expect("select arm taken twice");
        self.sender.send_reserved(r, value)
    }
}

impl<T> Drop for SendArm<'_, T> {
    fn drop(&mut self) {
        if let Some(r) = self.reservation.take() {
            self.sender.release_reserved(r);
        }
    }
}

impl<T> sealed::Sealed for SendArm<'_, T> {}

#[allow(private_interfaces)]
impl<T> Arm for SendArm<'_, T> {
    fn poll(&mut self) -> bool {
        self.reservation = self.sender.try_reserve();
        self.reservation.is_some()
    }

    fn register(&mut self, wait: &Wait, index: usize) -> bool {
        self.sender
            .register_send(Entry::new(wait, index, std::ptr::null_mut()), wait)
    }

    fn unregister(&mut self, wait: &Wait) {
        self.sender.unregister(wait);
    }

    fn selected(&mut self, outcome: Outcome) {
        self.reservation = Some(self.sender.reservation_after(outcome));
    }

    fn channel(&self) -> (usize, bool) {
        (self.sender.chan_id(), true)
    }

    fn result_ptr(&mut self) -> *mut () {
        (&raw mut self.reservation).cast()
    }

    fn reset(&mut self) {
        if let Some(r) = self.reservation.take() {
            self.sender.release_reserved(r);
        }
    }
}

/// How long a select may wait.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Block {
    /// Not at all (`default`).
    No,
    Forever,
    Until(Instant),
}

/// `Block` for a timeout from now (forever if the deadline overflows).
#[doc(hidden)]
pub fn block_for(timeout: Duration) -> Block {
    match Instant::now().checked_add(timeout) {
        Some(d) => Block::Until(d),
        None => Block::Forever,
    }
}

/// Runs the protocol in the module docs over `arms`. Returns the chosen
/// arm, or `None` if nothing was ready in time.
#[doc(hidden)]
pub fn run_arms<'x, A>(arms: &mut [A], block: Block) -> Option<usize>
where
    A: DerefMut<Target = dyn Arm + 'x>,
{
    super::preempt_point();
    let n = arms.len();
    let mut small = [0usize; 32];
    let mut large = Vec::new();
    let order: &mut [usize] = if n <= small.len() {
        &mut small[..n]
    } else {
        large.resize(n, 0);
        &mut large
    };
    let deadline = match block {
        Block::Until(d) => Some(d),
        _ => None,
    };
    loop {
        shuffle(order);
        for &i in order.iter() {
            if arms[i].poll() {
                return Some(i);
            }
        }
        match block {
            // A second pass, as crossbeam's: an arm that became ready while
            // we polled the others (say, a value arrived on one just as
            // another was emptied) is found; without it a select over
            // channels that are never all empty at once could fall through
            // to `default`. (Go polls under all locks at once.)
            Block::No => {
                return order.iter().copied().find(|&i| arms[i].poll());
            }
            Block::Until(d) if Instant::now() >= d => return None,
            _ => {}
        }
        let cell = WaitCell::new(deadline);
        let wait = cell.get();
        let mut registered = 0;
        for &i in order.iter() {
            if !arms[i].register(wait, i) {
                drop(wait.try_claim(0, Outcome::Retry));
                break;
            }
            registered += 1;
        }
        let (outcome, index) = cell.park(WaitReason::Select, deadline);
        for &i in &order[..registered] {
            arms[i].unregister(wait);
        }
        match outcome {
            Outcome::Selected | Outcome::Disconnected => {
                arms[index].selected(outcome);
                return Some(index);
            }
            Outcome::TimedOut => return None,
            Outcome::Retry | Outcome::Waiting => continue,
        }
    }
}

/// Fisher-Yates over 0..n. (Under loom the order stays fixed, so that
/// executions replay.)
fn shuffle(order: &mut [usize]) {
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i;
    }
    if cfg!(loom) {
        return;
    }
    for i in (1..order.len()).rev() {
        let j = random_below(i + 1);
        order.swap(i, j);
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
    });
}

/// A uniform number below `n` (xorshift64*, per thread). Never inlined: a
/// goroutine may change threads between calls in Go mode, and a
/// thread-local address must not be kept across a park (SAFETY.md).
#[inline(never)]
fn random_below(n: usize) -> usize {
    let x = RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    });
    // Lemire's multiply-shift: unbiased enough for n far below 2^64.
    (((x >> 32) * n as u64) >> 32) as usize
}

/// A select over a set of operations built at run time (crossbeam's
/// `Select`). Add arms with [`recv`](Select::recv) and
/// [`send`](Select::send); each returns the arm's index. A select can run
/// many times.
///
/// ```
/// use goroutines::chan::{self, Select};
///
/// let receivers: Vec<_> = (0..4).map(|_| chan::bounded::<usize>(1)).collect();
/// receivers[2].0.send(2).unwrap();
/// let mut sel = Select::new();
/// for (_, r) in &receivers {
///     sel.recv(r);
/// }
/// let oper = sel.select();
/// let i = oper.index();
/// assert_eq!(oper.recv(&receivers[i].1), Ok(2));
/// ```
pub struct Select<'a> {
    arms: Vec<Box<dyn Arm + 'a>>,
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .finish()
    }
}

impl<'a> Select<'a> {
    pub fn new() -> Select<'a> {
        Select { arms: Vec::new() }
    }

    /// Adds a receive arm; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.arms.push(Box::new(RecvArm::new(r)));
        self.arms.len() - 1
    }

    /// Adds a send arm; returns its index. The value is given to
    /// [`SelectedOperation::send`] once this arm is chosen.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.arms.push(Box::new(SendArm::new(s)));
        self.arms.len() - 1
    }

    fn run(&mut self, block: Block) -> Option<SelectedOperation<'_, 'a>> {
        for arm in &mut self.arms {
            arm.reset();
        }
        let index = run_arms(&mut self.arms, block)?;
        Some(SelectedOperation {
            select: self,
            index,
            completed: false,
        })
    }

    /// Chooses a ready operation without waiting.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_, 'a>, TrySelectError> {
        self.run(Block::No).ok_or(TrySelectError)
    }

    /// Waits until an operation can proceed and chooses it (uniformly among
    /// the ready ones). With no arms (or only `never()` arms) this waits
    /// for good, as Go's empty `select {}`.
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        self.run(Block::Forever)
            .expect("a select without deadline returns an arm")
    }

    /// As [`select`](Select::select), waiting at most `timeout`.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.select_deadline(d),
            None => Ok(self.select()),
        }
    }

    /// As [`select`](Select::select), waiting until `deadline` at most.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        self.run(Block::Until(deadline)).ok_or(SelectTimeoutError)
    }
}

/// The operation a [`Select`] chose. Complete it with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send)
/// on the same channel handle; dropping it uncompleted panics (a received
/// value would be lost), after giving back any reservation.
#[must_use = "a selected operation must be completed with recv or send"]
pub struct SelectedOperation<'s, 'a> {
    select: &'s mut Select<'a>,
    index: usize,
    completed: bool,
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl SelectedOperation<'_, '_> {
    /// The index of the chosen arm (as returned when it was added).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a chosen receive arm.
    ///
    /// # Panics
    /// If `r` is not the receiver of the chosen arm.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        let arm = &mut self.select.arms[self.index];
        let (id, is_send) = arm.channel();
        assert!(
            !is_send && id != 0 && id == r.chan_id(),
            "SelectedOperation::recv: passed a receiver that was not selected"
        );
        let ptr = arm.result_ptr().cast::<Option<Result<T, RecvError>>>();
        // SAFETY: the arm is a RecvArm of this very channel (same live
        // allocation), so its result has type Option<Result<T, RecvError>>.
        let result = unsafe { (*ptr).take() };
        self.completed = true;
        result.expect("a chosen receive arm holds its result")
    }

    /// Completes a chosen send arm with `value`.
    ///
    /// # Panics
    /// If `s` is not the sender of the chosen arm.
    pub fn send<T>(mut self, s: &Sender<T>, value: T) -> Result<(), SendError<T>> {
        let arm = &mut self.select.arms[self.index];
        let (id, is_send) = arm.channel();
        assert!(
            is_send && id == s.chan_id(),
            "SelectedOperation::send: passed a sender that was not selected"
        );
        let ptr = arm.result_ptr().cast::<Option<Reservation<T>>>();
        // SAFETY: the arm is a SendArm of this very channel, so its result
        // has type Option<Reservation<T>>.
        let reservation = unsafe { (*ptr).take() };
        self.completed = true;
        s.send_reserved(
            reservation.expect("a chosen send arm holds its reservation"),
            value,
        )
    }
}

impl Drop for SelectedOperation<'_, '_> {
    fn drop(&mut self) {
        if !self.completed {
            self.select.arms[self.index].reset();
            if !std::thread::panicking() {
                panic!("dropped a SelectedOperation without completing it");
            }
        }
    }
}
