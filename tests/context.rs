//! `goroutines::context`: cancellation reaching goroutines parked in
//! `select!`, the cancellation tree, deadlines, registration bookkeeping
//! (no child left behind), plain threads, and net operations cancelled
//! while parked on the poller. No fixed sleeps: waits for a goroutine to
//! park poll its state with a bounded deadline, and every timing assertion
//! is a lower bound (timers never fire early) or a generous upper bound.

mod net_common;

use goroutines::chan::{self, TryRecvError};
use goroutines::context::{self, Context, Error};
use goroutines::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use goroutines::{select, JoinHandle};
use net_common::{both_modes, temp_dir, within};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// Generous: the machine is small and shared.
const LIMIT: Duration = Duration::from_secs(60);

/// Waits (bounded) until `h`'s goroutine is parked with `state` ("select",
/// "IO wait", ...), as its Debug output shows. Sleeps with the runtime's
/// `sleep`, so the goroutine waited for can run on this P meanwhile.
fn wait_until_parked<T: Send + 'static>(h: &JoinHandle<T>, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !format!("{h:?}").contains(state) {
        assert!(Instant::now() < deadline, "never parked in {state}: {h:?}");
        goroutines::time::sleep(Duration::from_millis(1));
    }
}

/// A goroutine parked in `select!` on `ctx.done()` and a channel that
/// never delivers; returns the context's error once done() fired.
fn park_on_done(ctx: &Context) -> JoinHandle<Option<Error>> {
    let ctx = ctx.clone();
    let (_keep, work) = chan::bounded::<u32>(0);
    goroutines::go(move || {
        let _keep = _keep;
        select! {
            recv(ctx.done()) -> v => {
                assert!(v.is_err(), "done() delivers nothing, it is closed");
                ctx.err()
            }
            recv(work) -> _ => unreachable!("nobody sends work"),
        }
    })
}

#[test]
fn cancel_wakes_a_goroutine_parked_in_select_on_done() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let (ctx, cancel) = context::with_cancel(&context::background());
                let h = park_on_done(&ctx);
                wait_until_parked(&h, "select");
                assert_eq!(ctx.err(), None);
                cancel.cancel();
                assert_eq!(h.join().unwrap(), Some(Error::Canceled));
                assert!(ctx.is_done());
            })
        });
    }
}

/// root -> {a, b}; a -> {a1, value -> a2}; b -> {b1}. Cancelling `a`
/// wakes exactly a, a1 and a2; root, b and b1 stay parked and live.
#[test]
fn cancelling_a_middle_node_wakes_exactly_its_subtree() {
    struct Tag;
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let bg = context::background();
                let (root, cancel_root) = context::with_cancel(&bg);
                let (a, cancel_a) = context::with_cancel(&root);
                let (b, _cancel_b) = context::with_cancel(&root);
                let (a1, _cancel_a1) = context::with_cancel(&a);
                let tagged = context::with_value(&a, Tag);
                let (a2, _cancel_a2) = context::with_timeout(&tagged, Duration::from_secs(3600));
                let (b1, _cancel_b1) = context::with_cancel(&b);
                assert!(a2.value::<Tag>().is_some());
                assert_eq!(root.registered_children(), 2);
                assert_eq!(
                    a.registered_children(),
                    2,
                    "a2 anchors at a, past the value"
                );

                let subtree: Vec<_> = [&a, &a1, &a2].into_iter().map(park_on_done).collect();
                let others: Vec<_> = [&root, &b, &b1].into_iter().map(park_on_done).collect();
                for h in subtree.iter().chain(&others) {
                    wait_until_parked(h, "select");
                }

                cancel_a.cancel();
                for h in subtree {
                    assert_eq!(h.join().unwrap(), Some(Error::Canceled));
                }
                for (ctx, h) in [&root, &b, &b1].into_iter().zip(&others) {
                    assert_eq!(ctx.err(), None);
                    // A wrongly closed done() would have readied it during
                    // cancel(), which has returned: it would not be parked.
                    assert!(format!("{h:?}").contains("select"), "woken: {h:?}");
                }
                assert_eq!(root.registered_children(), 1, "a left root; b stays");

                cancel_root.cancel();
                for h in others {
                    assert_eq!(h.join().unwrap(), Some(Error::Canceled));
                }
                assert_eq!(b1.err(), Some(Error::Canceled));
                assert_eq!(root.registered_children(), 0);
            })
        });
    }
}

#[test]
fn with_timeout_fires_with_deadline_exceeded() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let timeout = Duration::from_millis(20);
                let start = Instant::now();
                let (ctx, _cancel) = context::with_timeout(&context::background(), timeout);
                let deadline = ctx.deadline().expect("a deadline");
                assert!(deadline >= start + timeout);
                let h = park_on_done(&ctx);
                assert_eq!(h.join().unwrap(), Some(Error::DeadlineExceeded));
                assert!(Instant::now() >= deadline, "fired early");
                assert!(start.elapsed() < Duration::from_secs(20));
            })
        });
    }
}

#[test]
fn a_deadline_already_past_gives_a_context_born_done() {
    let (ctx, _) = context::with_deadline(&context::background(), Instant::now());
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
    assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn a_child_inherits_an_earlier_parent_deadline() {
    within(LIMIT, "a child inherits an earlier parent deadline", || {
        goroutines::run(|| {
            let bg = context::background();
            let (parent, _) = context::with_timeout(&bg, Duration::from_millis(30));
            let parent_deadline = parent.deadline().unwrap();

            let (later, _) =
                context::with_deadline(&parent, parent_deadline + Duration::from_secs(3600));
            assert_eq!(later.deadline(), Some(parent_deadline));
            let (plain, _) = context::with_cancel(&parent);
            assert_eq!(plain.deadline(), Some(parent_deadline));
            let valued = context::with_value(&plain, 5u8);
            assert_eq!(valued.deadline(), Some(parent_deadline));

            let earlier = parent_deadline - Duration::from_millis(10);
            let (sooner, _) = context::with_deadline(&parent, earlier);
            assert_eq!(sooner.deadline(), Some(earlier));

            // The later child ends with the parent's deadline, and its error.
            assert!(later.done().recv().is_err());
            assert!(Instant::now() >= parent_deadline);
            assert_eq!(later.err(), Some(Error::DeadlineExceeded));
            assert_eq!(valued.err(), Some(Error::DeadlineExceeded));
            assert_eq!(sooner.err(), Some(Error::DeadlineExceeded));
            assert_eq!(parent.registered_children(), 0);
        })
    });
}

#[test]
fn cancel_is_idempotent_and_the_first_error_stays() {
    within(LIMIT, "idempotent cancel", || {
        let bg = context::background();
        let (ctx, cancel) = context::with_cancel(&bg);
        let again = cancel.clone();
        cancel.cancel();
        cancel.cancel();
        again.cancel();
        assert_eq!(ctx.err(), Some(Error::Canceled));

        let (timed, cancel_timed) = context::with_timeout(&bg, Duration::from_millis(1));
        assert!(timed.done().recv().is_err());
        cancel_timed.cancel();
        assert_eq!(timed.err(), Some(Error::DeadlineExceeded));
    });
}

#[test]
fn dropping_the_cancel_func_does_not_cancel() {
    let (parent, cancel_parent) = context::with_cancel(&context::background());
    let (child, cancel_child) = context::with_cancel(&parent);
    drop(cancel_child);
    assert_eq!(child.err(), None);
    assert_eq!(
        child.done().recv_timeout(Duration::from_millis(5)),
        Err(chan::RecvTimeoutError::Timeout)
    );
    // Still cancelled through its parent.
    cancel_parent.cancel();
    assert_eq!(child.err(), Some(Error::Canceled));
}

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled() {
    let bg = context::background();
    let (parent, cancel) = context::with_cancel(&bg);
    cancel.cancel();
    let (child, _) = context::with_cancel(&parent);
    assert_eq!(child.err(), Some(Error::Canceled));
    assert_eq!(child.done().try_recv(), Err(TryRecvError::Disconnected));
    let (timed, _) = context::with_timeout(&parent, Duration::from_secs(3600));
    assert_eq!(timed.err(), Some(Error::Canceled), "the parent's error");
    assert_eq!(parent.registered_children(), 0);

    let (expired, _) = context::with_deadline(&bg, Instant::now());
    let (child, _) = context::with_cancel(&expired);
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));
}

#[test]
fn cancelling_a_parent_gives_every_descendant_its_error() {
    within(
        LIMIT,
        "cancelling a parent gives every descendant its error",
        || {
            goroutines::run(|| {
                let (parent, _) =
                    context::with_timeout(&context::background(), Duration::from_millis(5));
                let (child, _) = context::with_cancel(&parent);
                let (grandchild, _) = context::with_cancel(&context::with_value(&child, "v"));
                let h = park_on_done(&grandchild);
                assert_eq!(h.join().unwrap(), Some(Error::DeadlineExceeded));
                assert_eq!(child.err(), Some(Error::DeadlineExceeded));
            })
        },
    );
}

/// 10,000 short-lived children under one long-lived parent, ended every
/// way a child ends: cancelled, timed out, or just dropped. None stays
/// registered with the parent.
#[test]
fn short_lived_children_do_not_accumulate_in_their_parent() {
    within(
        LIMIT,
        "short lived children do not accumulate in their parent",
        || {
            goroutines::run(|| {
                let (parent, _cancel) = context::with_cancel(&context::background());
                for i in 0..10_000 {
                    match i % 3 {
                        0 => {
                            let (child, cancel) = context::with_cancel(&parent);
                            let (_grandchild, _) = context::with_cancel(&child);
                            assert_eq!(parent.registered_children(), 1);
                            cancel.cancel();
                            assert_eq!(parent.registered_children(), 0);
                        }
                        1 => {
                            // Dropped uncancelled, its done() used: leaves anyway.
                            let (child, _) =
                                context::with_timeout(&parent, Duration::from_secs(3600));
                            select! {
                                recv(child.done()) -> _ => unreachable!("not cancelled"),
                                default => {}
                            }
                        }
                        _ => drop(context::with_cancel(&parent)),
                    }
                    assert_eq!(parent.registered_children(), 0, "child {i} stayed");
                }
                // Children that time out on their own leave too.
                let timed: Vec<_> = (0..100)
                    .map(|_| context::with_timeout(&parent, Duration::from_millis(1)))
                    .collect();
                // Some may have fired already on a slow machine; every one
                // not done yet must still be registered.
                let registered = parent.registered_children();
                let done = timed.iter().filter(|(ctx, _)| ctx.is_done()).count();
                assert!(
                    registered >= 100 - done,
                    "{registered} registered, {done} done"
                );
                for (ctx, _) in &timed {
                    assert!(ctx.done().recv().is_err());
                }
                assert_eq!(parent.registered_children(), 0);
                assert_eq!(parent.err(), None);
            })
        },
    );
}

/// Goroutines keep creating (and dropping) children while the parent is
/// cancelled: every child ends up cancelled, born so or reached by the
/// cancel, and none stays registered.
#[test]
fn children_created_while_their_parent_is_cancelled_are_never_missed() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                for round in 0..100usize {
                    let (parent, cancel) = context::with_cancel(&context::background());
                    let makers: Vec<_> = (0..4usize)
                        .map(|k| {
                            let parent = parent.clone();
                            goroutines::go(move || {
                                let mut kept = Vec::new();
                                for i in 0..50usize {
                                    let (child, cancel_child) = context::with_cancel(&parent);
                                    if (i + k) % 2 == 0 {
                                        let (grandchild, _) = context::with_cancel(&child);
                                        kept.push((child, grandchild, cancel_child));
                                    }
                                    if i % 10 == k {
                                        goroutines::yield_now();
                                    }
                                }
                                kept
                            })
                        })
                        .collect();
                    for _ in 0..round % 5 {
                        goroutines::yield_now();
                    }
                    cancel.cancel();
                    for m in makers {
                        for (child, grandchild, _) in m.join().unwrap() {
                            assert_eq!(child.err(), Some(Error::Canceled));
                            assert_eq!(grandchild.err(), Some(Error::Canceled));
                        }
                    }
                    assert_eq!(parent.registered_children(), 0);
                }
            })
        });
    }
}

#[test]
fn a_long_chain_of_contexts_drops_and_cancels_without_recursing() {
    let depth = within(LIMIT, "long chain", || {
        goroutines::run(|| {
            let (root, cancel) = context::with_cancel(&context::background());
            let mut leaf = root.clone();
            for i in 0..50_000u32 {
                leaf = if i % 2 == 0 {
                    context::with_cancel(&leaf).0
                } else {
                    context::with_value(&leaf, i)
                };
            }
            cancel.cancel();
            assert_eq!(leaf.err(), Some(Error::Canceled));
            let found = leaf.value::<u32>().copied();
            drop(leaf); // 50,000 nodes, on a 256 KiB goroutine stack
            found
        })
    });
    assert_eq!(depth, Some(49_999));
}

#[test]
fn contexts_work_on_plain_threads() {
    within(LIMIT, "plain threads", || {
        // A deadline fires for a thread blocked in recv on done().
        let (ctx, _) = context::with_timeout(&context::background(), Duration::from_millis(10));
        let t = std::thread::spawn(move || {
            assert!(ctx.done().recv().is_err());
            ctx.err()
        });
        assert_eq!(t.join().unwrap(), Some(Error::DeadlineExceeded));

        // A cancel from one thread wakes another blocked in select!.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (_keep, never_sent) = chan::bounded::<()>(0);
        let waiter = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                select! {
                    recv(ctx.done()) -> _ => ctx.err(),
                    recv(never_sent) -> _ => unreachable!(),
                }
            })
        };
        cancel.cancel();
        assert_eq!(waiter.join().unwrap(), Some(Error::Canceled));
    });
}

#[test]
fn background_is_never_done() {
    let bg = context::background();
    assert_eq!(bg.err(), None);
    assert_eq!(bg.deadline(), None);
    assert_eq!(
        bg.done().recv_timeout(Duration::from_millis(5)),
        Err(chan::RecvTimeoutError::Timeout)
    );
    assert_eq!(Context::default().err(), None);
}

#[test]
fn values_are_found_by_type_through_the_tree() {
    #[derive(Debug, PartialEq)]
    struct User(&'static str);
    let bg = context::background();
    let ctx = context::with_value(&bg, User("gopher"));
    let (child, _) = context::with_cancel(&ctx);
    let shadowed = context::with_value(&child, User("ferris"));
    assert_eq!(child.value::<User>(), Some(&User("gopher")));
    assert_eq!(shadowed.value::<User>(), Some(&User("ferris")));
    assert_eq!(child.value::<u32>(), None);
    assert_eq!(bg.value::<User>(), None);
}

#[test]
fn errors_read_like_go_and_convert_to_io_errors() {
    assert_eq!(Error::Canceled.to_string(), "context canceled");
    assert_eq!(
        Error::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let canceled: std::io::Error = Error::Canceled.into();
    assert_eq!(canceled.kind(), ErrorKind::Other);
    assert_eq!(canceled.to_string(), "context canceled");
    assert_eq!(Error::from_io(&canceled), Some(Error::Canceled));
    let exceeded: std::io::Error = Error::DeadlineExceeded.into();
    assert_eq!(exceeded.kind(), ErrorKind::TimedOut);
    assert_eq!(Error::from_io(&exceeded), Some(Error::DeadlineExceeded));
    assert_eq!(
        Error::from_io(&std::io::Error::from(ErrorKind::TimedOut)),
        None
    );
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Canceled);
    assert_eq!(boxed.to_string(), "context canceled");
}

// ---- net ----

fn assert_context_error(r: std::io::Result<impl std::fmt::Debug>, want: Error) {
    let e = r.expect_err("the operation should have been cut short");
    assert_eq!(Error::from_io(&e), Some(want), "{e}");
}

#[test]
fn tcp_accept_context_ends_when_cancelled_while_parked_and_the_listener_still_works() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
                let addr = listener.local_addr().unwrap();
                let (ctx, cancel) = context::with_cancel(&context::background());
                let h = {
                    let listener = listener.clone();
                    goroutines::go(move || listener.accept_context(&ctx).map(|(_, a)| a))
                };
                wait_until_parked(&h, "IO wait");
                cancel.cancel();
                let e = h.join().unwrap().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Other);
                assert_eq!(Error::from_io(&e), Some(Error::Canceled));

                let client = TcpStream::connect(addr).unwrap();
                let (_conn, peer) = listener.accept().unwrap();
                assert_eq!(peer, client.local_addr().unwrap());
            })
        });
    }
}

#[test]
fn tcp_read_context_ends_when_cancelled_while_parked_and_the_stream_still_works() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().unwrap();
                let (ctx, cancel) = context::with_cancel(&context::background());
                let h = goroutines::go(move || {
                    let mut buf = [0u8; 16];
                    let first = server.read_context(&ctx, &mut buf).map(|_| ());
                    // Afterwards, the same stream reads normally.
                    let mut got = [0u8; 5];
                    (&server).read_exact(&mut got).unwrap();
                    (first, got)
                });
                wait_until_parked(&h, "IO wait");
                // The parked read is cut short inside cancel(): data sent
                // after it returns goes to the next read.
                cancel.cancel();
                client.write_all(b"hello").unwrap();
                let (first, got) = h.join().unwrap();
                assert_context_error(first, Error::Canceled);
                assert_eq!(&got, b"hello");
            })
        });
    }
}

#[test]
fn tcp_read_through_with_context_ends_at_the_deadline() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().unwrap();
                (&client).write_all(b"abc").unwrap();
                let (ctx, _) =
                    context::with_timeout(&context::background(), Duration::from_millis(20));
                let deadline = ctx.deadline().unwrap();
                // read_exact gets 3 bytes, then parks for the 4th.
                let mut buf = [0u8; 4];
                let e = server.with_context(&ctx).read_exact(&mut buf).unwrap_err();
                assert!(Instant::now() >= deadline);
                assert_eq!(e.kind(), ErrorKind::TimedOut);
                assert_eq!(Error::from_io(&e), Some(Error::DeadlineExceeded));
                // A done context fails at once, even with data waiting.
                (&client).write_all(b"d").unwrap();
                assert_context_error(server.read_context(&ctx, &mut buf), Error::DeadlineExceeded);
                assert_eq!((&server).read(&mut buf).unwrap(), 1);
                assert_eq!(buf[0], b'd');
            })
        });
    }
}

/// Cancels racing readiness on one stream, 2,000 times: every read ends
/// (with data or with the context's error; a wake-up lost or doubled would
/// hang or abort), and a cancelled read consumes nothing.
#[test]
fn read_context_racing_cancels_and_data_ends_every_read_and_loses_nothing() {
    const ROUNDS: usize = 2000;
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let (a, b) = UnixStream::pair().unwrap();
                // The writer keeps its end open until the reader's rounds
                // are over (so no read sees end of file), then closes it.
                // Each 1-byte write costs a whole buffer entry, so it may
                // block until the reader drains: the reader reads to the
                // end before joining it.
                let (rounds_over, wait_for_rounds) = chan::bounded::<()>(0);
                let writer = goroutines::go(move || {
                    let mut written = 0;
                    for i in 0..ROUNDS {
                        if i % 3 == 0 {
                            (&b).write_all(&[1]).unwrap();
                            written += 1;
                        }
                        goroutines::yield_now();
                    }
                    let _ = wait_for_rounds.recv(); // ends when dropped
                    written
                });
                let (mut read, mut canceled) = (0, 0);
                let mut buf = [0u8; 64];
                for i in 0..ROUNDS {
                    let (ctx, cancel) = context::with_cancel(&context::background());
                    let canceller = goroutines::go(move || {
                        for _ in 0..i % 4 {
                            goroutines::yield_now();
                        }
                        cancel.cancel();
                    });
                    match a.read_context(&ctx, &mut buf) {
                        Ok(n) => read += n,
                        Err(e) => {
                            assert_eq!(Error::from_io(&e), Some(Error::Canceled), "{e}");
                            canceled += 1;
                        }
                    }
                    canceller.join().unwrap();
                }
                drop(rounds_over);
                let mut rest = Vec::new();
                (&a).read_to_end(&mut rest).unwrap();
                let written = writer.join().unwrap();
                assert_eq!(read + rest.len(), written, "bytes lost or invented");
                // Every read that did not end cancelled got a byte or more.
                assert!(canceled >= ROUNDS - written, "{canceled} cancelled");
            })
        });
    }
}

#[test]
fn tcp_write_context_ends_when_the_peer_does_not_read() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (_server, _) = listener.accept().unwrap();
                let (ctx, _) =
                    context::with_timeout(&context::background(), Duration::from_millis(50));
                // The socket buffers fill up, then the write parks until
                // the deadline. Bounded: 1 GiB is far beyond any buffer.
                let chunk = vec![7u8; 64 * 1024];
                let mut sent = 0usize;
                let e = loop {
                    match client.write_context(&ctx, &chunk) {
                        Ok(n) => sent += n,
                        Err(e) => break e,
                    }
                    assert!(sent < 1 << 30, "the peer's buffer never filled");
                };
                assert_eq!(Error::from_io(&e), Some(Error::DeadlineExceeded));
                assert!(sent > 0);
            })
        });
    }
}

#[test]
fn tcp_connect_context_with_a_done_context_does_not_connect() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let (ctx, cancel) = context::with_cancel(&context::background());
                cancel.cancel();
                assert_context_error(TcpStream::connect_context(&ctx, addr), Error::Canceled);
                listener.set_nonblocking(true).unwrap();
                let e = listener.accept().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::WouldBlock, "a connection was made");

                // A live context connects as usual.
                let (live, _) =
                    context::with_timeout(&context::background(), Duration::from_secs(30));
                let client = TcpStream::connect_context(&live, addr).unwrap();
                listener.set_nonblocking(false).unwrap();
                let (_conn, peer) = listener.accept_context(&live).unwrap();
                assert_eq!(peer, client.local_addr().unwrap());
            })
        });
    }
}

#[test]
fn unix_accept_and_read_context_end_when_cancelled_while_parked() {
    for (mode, rt) in both_modes(2) {
        let dir = temp_dir(&format!("ctx-{}", mode.replace(' ', "-")));
        within(LIMIT, mode, move || {
            rt.run(move || {
                let path = dir.join("sock");
                let listener = std::sync::Arc::new(UnixListener::bind(&path).unwrap());
                let (ctx, cancel) = context::with_cancel(&context::background());
                let h = {
                    let (listener, ctx) = (listener.clone(), ctx.clone());
                    goroutines::go(move || listener.accept_context(&ctx).map(|_| ()))
                };
                wait_until_parked(&h, "IO wait");
                cancel.cancel();
                assert_context_error(h.join().unwrap(), Error::Canceled);
                assert_context_error(UnixStream::connect_context(&ctx, &path), Error::Canceled);

                let (live, cancel_live) = context::with_cancel(&context::background());
                let client = UnixStream::connect_context(&live, &path).unwrap();
                let (server, _) = listener.accept_context(&live).unwrap();
                let h = {
                    let live = live.clone();
                    goroutines::go(move || {
                        let mut buf = [0u8; 8];
                        let first = server.read_context(&live, &mut buf).map(|_| ());
                        let n = (&server).read(&mut buf).unwrap();
                        (first, buf[..n].to_vec())
                    })
                };
                wait_until_parked(&h, "IO wait");
                cancel_live.cancel();
                (&client).write_all(b"after").unwrap();
                let (first, got) = h.join().unwrap();
                assert_context_error(first, Error::Canceled);
                assert_eq!(got, b"after");
                let _ = std::fs::remove_dir_all(&dir);
            })
        });
    }
}

/// A plain thread blocked in read_context wakes when the deadline's timer
/// (on the default runtime) cancels the context; the stream still works.
#[test]
fn read_context_on_a_plain_thread_ends_at_the_deadline() {
    within(LIMIT, "plain thread", || {
        let (a, b) = UnixStream::pair().unwrap();
        let (ctx, _) = context::with_timeout(&context::background(), Duration::from_millis(20));
        let mut buf = [0u8; 4];
        assert_context_error(a.read_context(&ctx, &mut buf), Error::DeadlineExceeded);
        (&b).write_all(b"ok").unwrap();
        assert_eq!((&a).read(&mut buf).unwrap(), 2);

        // And a cancel from another thread wakes it.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let reader = std::thread::spawn(move || a.read_context(&ctx, &mut [0u8; 4]).map(|_| ()));
        cancel.cancel();
        assert_context_error(reader.join().unwrap(), Error::Canceled);
    });
}

#[test]
fn udp_recv_context_ends_at_the_deadline() {
    for (mode, rt) in both_modes(2) {
        within(LIMIT, mode, move || {
            rt.run(|| {
                let a = UdpSocket::bind("127.0.0.1:0").unwrap();
                let b = UdpSocket::bind("127.0.0.1:0").unwrap();
                let (ctx, _) =
                    context::with_timeout(&context::background(), Duration::from_millis(20));
                let mut buf = [0u8; 16];
                assert_context_error(a.recv_from_context(&ctx, &mut buf), Error::DeadlineExceeded);
                let live = context::background();
                b.connect(a.local_addr().unwrap()).unwrap();
                b.send_context(&live, b"ping").unwrap();
                let (n, from) = a.recv_from_context(&live, &mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&b"ping"[..], b.local_addr().unwrap()));
            })
        });
    }
}
