//! The shared allocation behind every channel: the flavour's state plus
//! counts of live `Sender`s and `Receiver`s (crossbeam-channel's
//! `counter.rs` idea). The last `Sender` dropped closes the channel; the
//! last `Receiver` dropped disconnects it (later sends fail, buffered values
//! are dropped).

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;

pub(crate) struct Counter<C> {
    /// Live `Sender` handles. Only the handles change it.
    senders: AtomicUsize,
    /// Live `Receiver` handles.
    receivers: AtomicUsize,
    pub(crate) chan: C,
}

/// One side's counted reference.
pub(crate) struct Side<C>(Arc<Counter<C>>);

impl<C> Side<C> {
    /// A new channel with one sender and one receiver.
    pub(crate) fn pair(chan: C) -> (Side<C>, Side<C>) {
        let c = Arc::new(Counter {
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            chan,
        });
        (Side(c.clone()), Side(c))
    }

    pub(crate) fn chan(&self) -> &C {
        &self.0.chan
    }

    /// The allocation's address: the channel's identity.
    pub(crate) fn id(&self) -> usize {
        &*self.0 as *const Counter<C> as usize
    }

    pub(crate) fn acquire_sender(&self) -> Side<C> {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Side(self.0.clone())
    }

    pub(crate) fn acquire_receiver(&self) -> Side<C> {
        self.0.receivers.fetch_add(1, Ordering::Relaxed);
        Side(self.0.clone())
    }

    /// Drops a sender's count; `last` runs if it was the last one.
    pub(crate) fn release_sender(&self, last: impl FnOnce(&C)) {
        // AcqRel: every other sender's work happens before the last one
        // disconnects.
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            last(&self.0.chan);
        }
    }

    /// Drops a receiver's count; `last` runs if it was the last one.
    pub(crate) fn release_receiver(&self, last: impl FnOnce(&C)) {
        if self.0.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            last(&self.0.chan);
        }
    }
}
