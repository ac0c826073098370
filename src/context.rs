//! Go's `context`: cancellation and deadlines that flow down a tree of
//! contexts, plus typed request-scoped values.
//!
//! ```
//! use goroutines::{chan, context, select};
//! use std::time::Duration;
//!
//! let stopped = goroutines::run(|| {
//!     let (ctx, cancel) = context::with_cancel(&context::background());
//!     let (work_tx, work_rx) = chan::unbounded::<u32>();
//!     let worker = goroutines::go(move || {
//!         let mut done = 0;
//!         loop {
//!             select! {
//!                 recv(ctx.done()) -> _ => return (done, ctx.err()),
//!                 recv(work_rx) -> job => if job.is_ok() { done += 1 },
//!             }
//!         }
//!     });
//!     work_tx.send(1).unwrap();
//!     // Give up on the rest: the worker sees `done()` and returns.
//!     cancel.cancel();
//!     worker.join().unwrap()
//! });
//! assert_eq!(stopped.1, Some(context::Error::Canceled));
//!
//! // Deadlines fire through the runtime's timers, from goroutines or threads.
//! let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
//! assert!(ctx.done().recv().is_err()); // disconnected: the context is done
//! assert_eq!(ctx.err(), Some(context::Error::DeadlineExceeded));
//! ```
//!
//! # The tree
//!
//! [`background()`] is the root: never cancelled, no deadline, no values.
//! [`with_cancel`], [`with_deadline`] and [`with_timeout`] make a
//! *cancellable* child; [`with_value`] a child that only adds a value.
//! Cancelling a context (its [`CancelFunc`], or its deadline) cancels every
//! descendant with the same [`Error`], and removes it from its parent.
//!
//! * A cancellable node registers itself with its nearest cancellable
//!   ancestor (its *anchor*), under the anchor's lock, as a weak reference;
//!   if the anchor is already cancelled it is born cancelled instead.
//! * Cancel: leave the anchor; under the node's lock set `err` and take
//!   its children, callbacks, done sender and timer; then, with no lock
//!   held, stop the timer, close the done channel, run the callbacks and
//!   cancel the children (a work list, not recursion). No lock
//!   is ever held while another is taken, a channel is closed, a callback
//!   runs or a node is dropped.
//! * A node that is dropped (every [`Context`] clone and its [`CancelFunc`]
//!   gone, and no descendant left) leaves its anchor and stops its timer, so
//!   an abandoned context costs nothing afterwards, cancelled or not.
//!
//! # Decisions
//!
//! * **Dropping a [`CancelFunc`] does not cancel.** It can be discarded, as
//!   `let (ctx, _) = with_timeout(..)` does when the deadline is the only
//!   reason to end. Go's vet insists on calling cancel because an uncalled
//!   cancel leaks the child in its parent until the parent ends; here a
//!   dropped context removes itself (see above), so there is no leak to
//!   warn about. Call `cancel()` to end the work early, as in Go.
//! * **io errors.** [`Error`] converts into [`io::Error`] (the net
//!   operations that take a context return it that way):
//!   `DeadlineExceeded` has kind `TimedOut`, as Go's error reports
//!   `Timeout() == true`; `Canceled` has kind `Other`. Not `Interrupted`:
//!   std's `read_exact`, `write_all` and `io::copy` retry on `Interrupted`,
//!   so a cancelled read would be retried for ever. Either way the original
//!   is inside: [`Error::from_io`] gets it back.
//! * `done()` of a context that is never cancelled never becomes ready,
//!   as in Go. If the receiver outlives every handle of an uncancelled
//!   context, its channel is leaked rather than closed (closing it would
//!   announce a cancellation that never happened); keeping a done receiver
//!   after dropping its context is the one way to leak here.
//!
//! Callbacks registered by the runtime (a net operation parked on the
//! poller) run on the cancelling thread, which may be a timer firing on an
//! M's scheduler stack: they must not block.

use crate::chan::{self, Receiver, Sender};
use crate::time::timer::Timer;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// A cancellation signal, an optional deadline and typed values, passed down
/// to the goroutines working on one request. Cheap to clone (an `Arc`),
/// `Send + Sync`. See the [module docs](self).
#[derive(Clone, Default)]
pub struct Context {
    /// None: [`background()`].
    node: Option<Arc<Node>>,
}

/// Cancels its context and every descendant (Go's `CancelFunc`). Calling
/// [`cancel`](Self::cancel) again does nothing; dropping it does **not**
/// cancel (see the module docs for why).
#[derive(Clone)]
pub struct CancelFunc {
    node: Arc<Node>,
}

/// Why a context is done, with Go's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Its `CancelFunc` (or an ancestor's) was called: "context canceled".
    Canceled,
    /// Its deadline (or an ancestor's) passed: "context deadline exceeded".
    DeadlineExceeded,
}

/// The empty root context: never cancelled, no deadline, no values.
pub fn background() -> Context {
    Context { node: None }
}

/// A child of `parent` that is cancelled when the returned [`CancelFunc`]
/// is called or when `parent` is cancelled, whichever comes first.
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    let node = Node::new_cancellable(parent, parent.deadline());
    (
        Context {
            node: Some(node.clone()),
        },
        CancelFunc { node },
    )
}

/// A child of `parent` that is also cancelled, with
/// [`Error::DeadlineExceeded`], at `deadline`. A deadline later than the
/// parent's changes nothing (the child inherits the parent's); one already
/// past gives a child that is born done.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    if parent.deadline().is_some_and(|d| d <= deadline) {
        return with_cancel(parent);
    }
    let node = Node::new_cancellable(parent, Some(deadline));
    node.arm(deadline);
    (
        Context {
            node: Some(node.clone()),
        },
        CancelFunc { node },
    )
}

/// [`with_deadline`] at `Instant::now() + timeout`.
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => with_deadline(parent, deadline),
        // Beyond what the clock can represent: no deadline at all.
        None => with_cancel(parent),
    }
}

/// A child of `parent` that carries `value`; [`Context::value::<T>()`]
/// finds the nearest one of type `T`. Values are keyed by type, so wrap
/// them in a type of your own to keep them apart from other code's.
///
/// ```
/// use goroutines::context;
/// struct RequestId(u64);
/// let ctx = context::with_value(&context::background(), RequestId(7));
/// let (child, _) = context::with_cancel(&ctx);
/// assert_eq!(child.value::<RequestId>().map(|r| r.0), Some(7));
/// assert!(child.value::<String>().is_none());
/// ```
pub fn with_value<T: Any + Send + Sync>(parent: &Context, value: T) -> Context {
    Context {
        node: Some(Arc::new(Node {
            parent: parent.node.clone(),
            deadline: parent.deadline(),
            kind: Kind::Value(Box::new(value)),
        })),
    }
}

impl Context {
    /// A channel that is closed when this context is done: a receive on it
    /// fails (disconnected) from then on, for every clone. Never ready for
    /// a context that cannot be cancelled. For `select!`:
    /// `recv(ctx.done()) -> _ => ...`.
    pub fn done(&self) -> Receiver<()> {
        match self.canceller() {
            Some(node) => node.done_receiver(),
            None => chan::never(),
        }
    }

    /// `None` while the context is live; why it is done once it is.
    pub fn err(&self) -> Option<Error> {
        self.canceller().and_then(|n| n.cancel_state().err())
    }

    /// Whether the context is done (`err().is_some()`).
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// When the context will be cancelled by a deadline: the earliest of
    /// its own and its ancestors'.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|n| n.deadline)
    }

    /// The value of type `T` set by the nearest [`with_value`] on the way to
    /// the root.
    pub fn value<T: Any>(&self) -> Option<&T> {
        let mut cur = self.node.as_deref();
        while let Some(n) = cur {
            if let Kind::Value(v) = &n.kind {
                if let Some(v) = v.downcast_ref::<T>() {
                    return Some(v);
                }
            }
            cur = n.parent.as_deref();
        }
        None
    }

    /// Children and callbacks registered with this context's nearest
    /// cancellable node right now. For leak tests.
    #[doc(hidden)]
    pub fn registered_children(&self) -> usize {
        self.canceller()
            .map_or(0, |n| n.cancel_state().lock().children.len())
    }

    /// Calls `f` once when this context is cancelled, on the cancelling
    /// thread (at once, on this one, if it already is). Dropping the guard
    /// unregisters `f`. `f` must not block: it may run in a timer callback.
    /// Never calls `f` for a context that cannot be cancelled.
    pub(crate) fn on_cancel(&self, f: impl FnOnce() + Send + 'static) -> Option<OnCancel> {
        let node = self.canceller()?;
        let c = node.cancel_state();
        let mut st = c.lock();
        if c.err().is_some() {
            drop(st);
            f();
            return None;
        }
        let key = st.insert(Child::Callback(Box::new(f)));
        Some(OnCancel {
            node: node.clone(),
            key,
        })
    }

    /// The nearest cancellable node, this one included.
    fn canceller(&self) -> Option<&Arc<Node>> {
        let mut cur = self.node.as_ref();
        while let Some(n) = cur {
            if let Kind::Cancel(_) = n.kind {
                return Some(n);
            }
            cur = n.parent.as_ref();
        }
        None
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

impl CancelFunc {
    /// Cancels the context with [`Error::Canceled`], unless it is done
    /// already: then nothing changes.
    pub fn cancel(&self) {
        self.node.cancel(Error::Canceled);
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("CancelFunc { .. }")
    }
}

/// Unregisters a [`Context::on_cancel`] callback when dropped.
pub(crate) struct OnCancel {
    node: Arc<Node>,
    key: u64,
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        let removed = self.node.cancel_state().lock().children.remove(&self.key);
        drop(removed); // the callback, outside the lock
    }
}

impl Error {
    /// The context error inside `e`, if `e` came from one (see
    /// `From<Error> for io::Error`).
    ///
    /// ```
    /// use goroutines::context::Error;
    /// let e: std::io::Error = Error::DeadlineExceeded.into();
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(Error::from_io(&e), Some(Error::DeadlineExceeded));
    /// ```
    pub fn from_io(e: &io::Error) -> Option<Error> {
        e.get_ref()?.downcast_ref::<Error>().copied()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// `DeadlineExceeded` becomes `TimedOut`; `Canceled` becomes `Other` (not
/// `Interrupted`, which std's I/O helpers retry). The module docs say why.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e {
            Error::Canceled => io::ErrorKind::Other,
            Error::DeadlineExceeded => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, e)
    }
}

// ---- the tree ----

struct Node {
    /// Taken only by `Drop` (see `release`).
    parent: Option<Arc<Node>>,
    /// The earliest deadline of this node and its ancestors.
    deadline: Option<Instant>,
    kind: Kind,
}

enum Kind {
    Cancel(CancelState),
    Value(Box<dyn Any + Send + Sync>),
}

/// `err` values.
const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;

/// `key` before registration and after leaving the anchor.
const NO_KEY: u64 = u64::MAX;

struct CancelState {
    /// LIVE, then CANCELED or DEADLINE_EXCEEDED for good. Written once,
    /// under `state`'s lock (Release); read without it (Acquire, pairing
    /// with that store), so `err()` takes no lock.
    err: AtomicU8,
    /// This node's key among its anchor's children, NO_KEY if it is not
    /// registered (no cancellable ancestor, born cancelled, or already
    /// left). Relaxed: written before the node is shared, swapped out once
    /// by whoever leaves the anchor (`cancel`, or `Drop` after every other
    /// reference is gone, which Arc's count orders).
    key: AtomicU64,
    state: Mutex<State>,
}

/// Protected by `CancelState::state`.
struct State {
    /// Made on the first `done()` call; taken (and closed) by cancel.
    done: Option<(Sender<()>, Receiver<()>)>,
    /// Cancellable descendants anchored here, and callbacks; taken by
    /// cancel. Weak, so a dropped child never lingers here.
    children: HashMap<u64, Child>,
    next_key: u64,
    /// The deadline's timer, if this node set one; taken and stopped by
    /// cancel or drop.
    timer: Option<Timer>,
}

enum Child {
    Context(Weak<Node>),
    Callback(Box<dyn FnOnce() + Send>),
}

impl State {
    fn insert(&mut self, child: Child) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.children.insert(key, child);
        key
    }
}

impl CancelState {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self) -> Option<Error> {
        match self.err.load(Ordering::Acquire) {
            LIVE => None,
            CANCELED => Some(Error::Canceled),
            _ => Some(Error::DeadlineExceeded),
        }
    }
}

fn err_code(e: Error) -> u8 {
    match e {
        Error::Canceled => CANCELED,
        Error::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}

impl Node {
    fn cancel_state(&self) -> &CancelState {
        match &self.kind {
            Kind::Cancel(c) => c,
            Kind::Value(_) => unreachable!("only cancellable nodes are cancelled"),
        }
    }

    /// The nearest cancellable strict ancestor.
    fn anchor(&self) -> Option<&Arc<Node>> {
        let mut cur = self.parent.as_ref();
        while let Some(n) = cur {
            if let Kind::Cancel(_) = n.kind {
                return Some(n);
            }
            cur = n.parent.as_ref();
        }
        None
    }

    /// A cancellable child of `parent`, registered with its anchor (or born
    /// cancelled if the anchor is done).
    fn new_cancellable(parent: &Context, deadline: Option<Instant>) -> Arc<Node> {
        let node = Arc::new(Node {
            parent: parent.node.clone(),
            deadline,
            kind: Kind::Cancel(CancelState {
                err: AtomicU8::new(LIVE),
                key: AtomicU64::new(NO_KEY),
                state: Mutex::new(State {
                    done: None,
                    children: HashMap::new(),
                    next_key: 0,
                    timer: None,
                }),
            }),
        });
        if let Some(anchor) = node.anchor() {
            let a = anchor.cancel_state();
            let mut st = a.lock();
            match a.err() {
                // Nobody else can see the new node yet: no lock needed.
                Some(e) => node
                    .cancel_state()
                    .err
                    .store(err_code(e), Ordering::Release),
                None => {
                    let key = st.insert(Child::Context(Arc::downgrade(&node)));
                    node.cancel_state().key.store(key, Ordering::Relaxed);
                }
            }
        }
        node
    }

    /// Starts the deadline's timer (or cancels now if it has passed). The
    /// timer holds the node weakly: dropping every handle stops it.
    fn arm(self: &Arc<Node>, deadline: Instant) {
        if self.cancel_state().err().is_some() {
            return; // born cancelled
        }
        if Instant::now() >= deadline {
            self.cancel(Error::DeadlineExceeded);
            return;
        }
        let weak = Arc::downgrade(self);
        let timer = Timer::start(
            deadline,
            Box::new(move || {
                if let Some(node) = weak.upgrade() {
                    node.cancel(Error::DeadlineExceeded);
                }
            }),
        );
        let c = self.cancel_state();
        let mut st = c.lock();
        if c.err().is_some() {
            // Cancelled (or born so) while the timer started: nothing left
            // for it to do.
            drop(st);
            timer.stop();
        } else {
            st.timer = Some(timer);
        }
    }

    fn done_receiver(&self) -> Receiver<()> {
        let c = self.cancel_state();
        let mut st = c.lock();
        if c.err().is_none() {
            return st.done.get_or_insert_with(|| chan::bounded(0)).1.clone();
        }
        drop(st);
        // Done before anyone asked: a channel closed from the start (its
        // sender drops here).
        chan::bounded(0).1
    }

    /// Leaves the anchor, then cancels this node and its subtree with
    /// `err`. Does nothing to a node that is done already. Leaving first
    /// (Go leaves last) means whoever sees `done()` closed also sees the
    /// parent without this child.
    fn cancel(self: &Arc<Node>, err: Error) {
        self.leave_anchor();
        let mut work = vec![self.clone()];
        while let Some(node) = work.pop() {
            let c = node.cancel_state();
            let (done, children, timer) = {
                let mut st = c.lock();
                if c.err().is_some() {
                    continue;
                }
                c.err.store(err_code(err), Ordering::Release);
                (
                    st.done.take(),
                    std::mem::take(&mut st.children),
                    st.timer.take(),
                )
            };
            if let Some(t) = timer {
                t.stop();
            }
            if let Some((tx, _rx)) = done {
                tx.close();
            }
            for (_, child) in children {
                match child {
                    Child::Context(weak) => work.extend(weak.upgrade()),
                    Child::Callback(f) => f(),
                }
            }
            // `node` (maybe the last reference to a child) drops here, with
            // no lock held: its Drop may lock its anchor.
        }
    }

    /// Removes this node from its anchor's children, once.
    fn leave_anchor(&self) {
        let key = self.cancel_state().key.swap(NO_KEY, Ordering::Relaxed);
        if key == NO_KEY {
            return;
        }
        if let Some(anchor) = self.anchor() {
            let removed = anchor.cancel_state().lock().children.remove(&key);
            drop(removed);
        }
    }

    /// What `Drop` does for one node: leave the anchor, stop the timer,
    /// settle the done channel; then hand back the parent reference so the
    /// caller can release a chain of nodes without recursing.
    fn release(&mut self) -> Option<Arc<Node>> {
        if let Kind::Cancel(_) = self.kind {
            self.leave_anchor();
        }
        if let Kind::Cancel(c) = &mut self.kind {
            let live = c.err().is_none();
            let st = c.state.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(timer) = st.timer.take() {
                timer.stop();
            }
            if let Some((tx, rx)) = st.done.take() {
                drop(rx);
                // A receiver outlives the context: closing would announce a
                // cancellation that never happened (module docs).
                if live && !tx.is_closed() {
                    std::mem::forget(tx);
                }
            }
        }
        self.parent.take()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A long chain of contexts would otherwise drop recursively, one
        // stack frame per ancestor.
        let mut next = self.release();
        while let Some(parent) = next {
            next = match Arc::try_unwrap(parent) {
                Ok(mut node) => node.release(),
                Err(_) => None,
            };
        }
    }
}
