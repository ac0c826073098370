//! Model tests: random sequences of non-blocking channel and select
//! operations, checked step by step against a plain reference model (a
//! `VecDeque` with a capacity and a closed flag). Covers every flavour,
//! close, and the readiness rules `try_select` must respect.

use goroutines::chan::{self, Receiver, Select, Sender, TryRecvError, TrySendError};
use proptest::prelude::*;
use std::collections::VecDeque;

/// The reference: what Go's spec says a channel holds.
#[derive(Debug, Default)]
struct Model {
    /// None: unbounded.
    cap: Option<usize>,
    buf: VecDeque<u32>,
    closed: bool,
}

impl Model {
    fn can_send(&self) -> bool {
        self.closed || self.cap.is_none_or(|c| self.buf.len() < c)
    }

    fn can_recv(&self) -> bool {
        self.closed || !self.buf.is_empty()
    }
}

#[derive(Clone, Debug)]
enum Op {
    TrySend(usize, u32),
    TryRecv(usize),
    Close(usize),
    Len(usize),
    /// try_select over receive arms on these channels.
    SelectRecv(Vec<usize>),
    /// try_select over send arms on these channels, sending the value.
    SelectSend(Vec<usize>, u32),
}

const CHANS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let ch = 0..CHANS;
    let set = proptest::collection::vec(0..CHANS, 1..4);
    prop_oneof![
        4 => (ch.clone(), any::<u32>()).prop_map(|(c, v)| Op::TrySend(c, v)),
        4 => ch.clone().prop_map(Op::TryRecv),
        1 => ch.clone().prop_map(Op::Close),
        1 => ch.prop_map(Op::Len),
        2 => set.clone().prop_map(Op::SelectRecv),
        2 => (set, any::<u32>()).prop_map(|(s, v)| Op::SelectSend(s, v)),
    ]
}

fn make(cap: Option<usize>) -> (Sender<u32>, Receiver<u32>) {
    match cap {
        Some(c) => chan::bounded(c),
        None => chan::unbounded(),
    }
}

fn run(caps: Vec<Option<usize>>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let chans: Vec<_> = caps.iter().map(|&c| make(c)).collect();
    let mut models: Vec<Model> = caps
        .iter()
        .map(|&cap| Model {
            cap,
            ..Model::default()
        })
        .collect();
    for op in ops {
        match op {
            Op::TrySend(c, v) => {
                let m = &mut models[c];
                let got = chans[c].0.try_send(v);
                if m.closed {
                    prop_assert_eq!(got, Err(TrySendError::Disconnected(v)));
                } else if m.can_send() {
                    prop_assert_eq!(got, Ok(()));
                    m.buf.push_back(v);
                } else {
                    prop_assert_eq!(got, Err(TrySendError::Full(v)));
                }
            }
            Op::TryRecv(c) => {
                let m = &mut models[c];
                let got = chans[c].1.try_recv();
                match m.buf.pop_front() {
                    Some(v) => prop_assert_eq!(got, Ok(v)),
                    None if m.closed => prop_assert_eq!(got, Err(TryRecvError::Disconnected)),
                    None => prop_assert_eq!(got, Err(TryRecvError::Empty)),
                }
            }
            Op::Close(c) => {
                prop_assert_eq!(chans[c].0.close(), !models[c].closed);
                models[c].closed = true;
            }
            Op::Len(c) => {
                prop_assert_eq!(chans[c].1.len(), models[c].buf.len());
                prop_assert_eq!(chans[c].0.is_closed(), models[c].closed);
            }
            Op::SelectRecv(set) => {
                let mut sel = Select::new();
                for &c in &set {
                    sel.recv(&chans[c].1);
                }
                let any_ready = set.iter().any(|&c| models[c].can_recv());
                let chosen = sel.try_select();
                match chosen {
                    Err(_) => prop_assert!(!any_ready, "try_select missed a ready arm"),
                    Ok(oper) => {
                        let c = set[oper.index()];
                        let m = &mut models[c];
                        prop_assert!(m.can_recv(), "chose an arm that was not ready");
                        let got = oper.recv(&chans[c].1);
                        prop_assert_eq!(got.ok(), m.buf.pop_front());
                    }
                }
            }
            Op::SelectSend(set, v) => {
                let mut sel = Select::new();
                for &c in &set {
                    sel.send(&chans[c].0);
                }
                let any_ready = set.iter().any(|&c| models[c].can_send());
                let chosen = sel.try_select();
                match chosen {
                    Err(_) => prop_assert!(!any_ready, "try_select missed a ready arm"),
                    Ok(oper) => {
                        let c = set[oper.index()];
                        let m = &mut models[c];
                        prop_assert!(m.can_send(), "chose an arm that was not ready");
                        let got = oper.send(&chans[c].0, v);
                        if m.closed {
                            prop_assert!(got.is_err());
                        } else {
                            prop_assert!(got.is_ok());
                            m.buf.push_back(v);
                        }
                    }
                }
            }
        }
    }
    // What is left comes out in order, then the end (once closed).
    for (c, m) in models.iter_mut().enumerate() {
        chans[c].0.close();
        let rest: Vec<u32> = chans[c].1.try_iter().collect();
        prop_assert_eq!(rest, m.buf.drain(..).collect::<Vec<_>>());
        prop_assert_eq!(chans[c].1.try_recv(), Err(TryRecvError::Disconnected));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_match_the_reference_model(
        caps in proptest::collection::vec(prop_oneof![Just(None), (0usize..4).prop_map(Some)], CHANS),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        run(caps, ops)?;
    }
}
