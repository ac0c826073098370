//! `goroutines::net::UdpSocket`: datagrams between goroutines, receive
//! timeouts, and several goroutines receiving on one socket.

mod net_common;

use goroutines::net::UdpSocket;
use net_common::{both_modes, within};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A goroutine echoes 1,000 datagrams back to a goroutine that sends them
/// one at a time (so none is dropped for lack of buffer), both modes.
#[test]
fn datagrams_round_trip_between_goroutines() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(30), mode, move || {
            rt.run(|| {
                let server = UdpSocket::bind("127.0.0.1:0").unwrap();
                let server_addr = server.local_addr().unwrap();
                let echo = goroutines::go(move || {
                    let mut buf = [0u8; 1500];
                    for _ in 0..1000 {
                        let (n, from) = server.recv_from(&mut buf).unwrap();
                        server.send_to(&buf[..n], from).unwrap();
                    }
                });
                let client = UdpSocket::bind("127.0.0.1:0").unwrap();
                client.connect(server_addr).unwrap();
                assert_eq!(client.peer_addr().unwrap(), server_addr);
                let mut buf = [0u8; 1500];
                for i in 0..1000u32 {
                    let msg: Vec<u8> = (0..(i % 1400 + 1)).map(|j| (i ^ j) as u8).collect();
                    assert_eq!(client.send(&msg).unwrap(), msg.len());
                    let n = client.recv(&mut buf).unwrap();
                    assert_eq!(&buf[..n], &msg[..], "datagram {i}");
                }
                echo.join().unwrap();
            })
        });
    }
}

/// A receive with a timeout and nothing to receive fails with
/// `WouldBlock` after about the timeout.
#[test]
fn recv_timeout_fires_with_would_block() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
                let t = Instant::now();
                let err = s.recv_from(&mut [0u8; 16]).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
                assert!(t.elapsed() >= Duration::from_millis(40));
            })
        });
    }
}

/// Eight goroutines receive on one shared socket; 800 datagrams are each
/// received exactly once.
#[test]
fn goroutines_sharing_a_socket_each_get_whole_datagrams() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(30), mode, move || {
            rt.run(|| {
                let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
                let addr = sock.local_addr().unwrap();
                let received = Arc::new(AtomicUsize::new(0));
                let receivers: Vec<_> = (0..8)
                    .map(|_| {
                        let (sock, received) = (sock.clone(), received.clone());
                        goroutines::go(move || {
                            let mut got = Vec::new();
                            let mut buf = [0u8; 8];
                            for _ in 0..100 {
                                let n = sock.recv(&mut buf).unwrap();
                                assert_eq!(n, 8);
                                got.push(u64::from_le_bytes(buf));
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                            got
                        })
                    })
                    .collect();
                let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
                for i in 0..800u64 {
                    // Flow control: loopback UDP drops datagrams when the
                    // receive buffer is full, so keep at most 32 in flight.
                    while i as usize - received.load(Ordering::Relaxed) >= 32 {
                        goroutines::time::sleep(Duration::from_micros(200));
                    }
                    sender.send_to(&i.to_le_bytes(), addr).unwrap();
                }
                let mut all: Vec<u64> = receivers
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..800).collect::<Vec<_>>());
            })
        });
    }
}

#[test]
fn peek_leaves_the_datagram_queued() {
    goroutines::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.send_to(b"peekaboo", b.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.peek_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"peekaboo"[..], a.local_addr().unwrap())
        );
        let (n, _) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"peekaboo");
    });
}

/// `send_to_context`: a live context sends (and the datagram arrives), a
/// cancelled one fails with the context's error before sending anything.
#[test]
fn send_to_context_sends_while_live_and_fails_once_cancelled() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
                let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
                let to = rx.local_addr().unwrap();
                let (ctx, cancel) =
                    goroutines::context::with_cancel(&goroutines::context::background());
                assert_eq!(tx.send_to_context(&ctx, b"live", to).unwrap(), 4);
                let mut buf = [0u8; 16];
                let (n, from) = rx.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&b"live"[..], tx.local_addr().unwrap()));
                cancel.cancel();
                let err = tx.send_to_context(&ctx, b"late", to).unwrap_err();
                assert_eq!(
                    goroutines::context::Error::from_io(&err),
                    Some(goroutines::context::Error::Canceled),
                    "{err}"
                );
                rx.set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let late = rx.recv_from(&mut buf);
                assert_eq!(
                    late.unwrap_err().kind(),
                    ErrorKind::WouldBlock,
                    "a datagram was sent"
                );
            })
        });
    }
}
