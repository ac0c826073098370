//! `goroutines::net` TCP: many connections at once, timeouts, half-close,
//! reset, a plain thread talking to goroutines, and accept under
//! descriptor exhaustion. Loopback only; every loop is bounded.

mod common;
mod net_common;

use goroutines::net::{TcpListener, TcpStream};
use net_common::{both_modes, within};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 2000;
const ROUNDS: usize = 100;
const MSG: usize = 32;

/// The bytes client `c` sends in round `r`: distinct per client and round,
/// so a byte delivered to the wrong connection or out of order is caught.
fn message(c: usize, r: usize) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    for (i, b) in m.iter_mut().enumerate() {
        *b = (c.wrapping_mul(31) ^ r.wrapping_mul(7) ^ i) as u8;
    }
    m[..4].copy_from_slice(&(c as u32).to_le_bytes());
    m[4..8].copy_from_slice(&(r as u32).to_le_bytes());
    m
}

fn echo(mut conn: TcpStream) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => {
                conn.write_all(&buf[..n]).unwrap();
                total += n;
            }
            Err(e) => panic!("server read: {e}"),
        }
    }
}

/// Raises the soft RLIMIT_NOFILE towards `want` (as Go does at start-up);
/// returns the limit now in force.
fn raise_fd_limit(want: usize) -> usize {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes a live rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    if (rl.rlim_cur as usize) < want {
        rl.rlim_cur = rl.rlim_max.min(want as libc::rlim_t);
        // SAFETY: setrlimit reads a live rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    }
    rl.rlim_cur as usize
}

/// 2,000 clients x 100 round trips against one goroutine-per-connection
/// echo server, all in one runtime with 2 Ps, in both modes: every byte
/// comes back to the right client in order.
#[test]
fn many_concurrent_connections_echo_every_byte() {
    // Two descriptors per connection (both ends live in this process).
    let n_clients = raise_fd_limit(2 * CLIENTS + 256).saturating_sub(256) / 2;
    let n_clients = n_clients.min(CLIENTS);
    if n_clients < CLIENTS {
        eprintln!("RLIMIT_NOFILE allows only {n_clients} clients");
    }
    for (mode, rt) in both_modes(2) {
        let started = Instant::now();
        let (echoed, checked) = within(Duration::from_secs(120), mode, move || {
            rt.run(move || {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let server = goroutines::go(move || {
                    let conns: Vec<_> = (0..n_clients)
                        .map(|_| {
                            let (conn, _) = listener.accept().unwrap();
                            goroutines::go(move || echo(conn))
                        })
                        .collect();
                    conns.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
                });
                let checked = Arc::new(AtomicUsize::new(0));
                let clients: Vec<_> = (0..n_clients)
                    .map(|c| {
                        let checked = checked.clone();
                        goroutines::go(move || {
                            let mut conn = TcpStream::connect(addr).unwrap();
                            conn.set_nodelay(true).unwrap();
                            let mut back = [0u8; MSG];
                            for r in 0..ROUNDS {
                                let m = message(c, r);
                                conn.write_all(&m).unwrap();
                                conn.read_exact(&mut back).unwrap();
                                assert_eq!(back, m, "client {c} round {r}");
                                checked.fetch_add(MSG, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for c in clients {
                    c.join().unwrap();
                }
                (server.join().unwrap(), checked.load(Ordering::Relaxed))
            })
        });
        assert_eq!(checked, n_clients * ROUNDS * MSG, "{mode}");
        assert_eq!(echoed, n_clients * ROUNDS * MSG, "{mode}");
        eprintln!(
            "{mode}: {n_clients} clients x {ROUNDS} round trips in {:?}",
            started.elapsed()
        );
    }
}

/// A read with a timeout and no data fails after about the timeout with
/// `WouldBlock` (`EAGAIN`), as std does on Linux; the stream still works.
#[test]
fn read_timeout_fires_with_would_block() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (mut server, _) = listener.accept().unwrap();
                client
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                assert_eq!(
                    client.read_timeout().unwrap(),
                    Some(Duration::from_millis(50))
                );
                let t = Instant::now();
                let err = client.read(&mut [0u8; 8]).unwrap_err();
                let waited = t.elapsed();
                assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
                assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
                assert!(waited >= Duration::from_millis(50), "{waited:?}");
                assert!(waited < Duration::from_secs(5), "{waited:?}");
                // Still usable afterwards.
                server.write_all(b"late").unwrap();
                let mut buf = [0u8; 4];
                client.read_exact(&mut buf).unwrap();
                assert_eq!(&buf, b"late");
            })
        });
    }
}

/// A write blocked on a full socket buffer (the peer never reads) fails
/// after its timeout with `WouldBlock`.
#[test]
fn write_timeout_fires_when_the_peer_does_not_read() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (_server, _) = listener.accept().unwrap();
                client
                    .set_write_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let chunk = vec![7u8; 64 * 1024];
                let mut sent = 0usize;
                // Loopback buffers hold a few MB at most; 1 GB is a bound,
                // not an expectation.
                let err = loop {
                    match (&client).write(&chunk) {
                        Ok(n) => sent += n,
                        Err(e) => break e,
                    }
                    assert!(sent < 1 << 30, "the socket buffer never filled");
                };
                assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
                assert!(sent > 0);
            })
        });
    }
}

#[test]
fn zero_timeout_is_invalid_input_as_in_std() {
    goroutines::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let err = client.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(client.read_timeout().unwrap(), None);
    });
}

/// After the peer's `shutdown(Write)` a read returns 0 (end of file), and
/// the half-closed connection still carries data the other way.
#[test]
fn read_returns_zero_after_peer_shuts_down_writing() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let server = goroutines::go(move || {
                    let (mut conn, _) = listener.accept().unwrap();
                    let mut got = Vec::new();
                    // Parks until the client's FIN arrives.
                    conn.read_to_end(&mut got).unwrap();
                    conn.write_all(&got).unwrap();
                    got.len()
                });
                let mut client = TcpStream::connect(addr).unwrap();
                client.write_all(b"half-closed").unwrap();
                client.shutdown(Shutdown::Write).unwrap();
                let mut back = Vec::new();
                client.read_to_end(&mut back).unwrap();
                assert_eq!(back, b"half-closed");
                assert_eq!(server.join().unwrap(), 11);
                assert_eq!(client.read(&mut [0u8; 4]).unwrap(), 0);
            })
        });
    }
}

/// A peer that closes with `SO_LINGER` 0 sends a reset: a goroutine parked
/// reading is woken and gets `ConnectionReset`.
#[test]
fn peer_reset_wakes_a_parked_reader_with_connection_reset() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let reader = goroutines::go(move || {
                    let (mut conn, _) = listener.accept().unwrap();
                    conn.read(&mut [0u8; 16])
                });
                let client = TcpStream::connect(addr).unwrap();
                // Let the reader park first.
                goroutines::time::sleep(Duration::from_millis(20));
                client.set_linger(Some(Duration::ZERO)).unwrap();
                assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
                drop(client);
                let err = reader.join().unwrap().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
            })
        });
    }
}

/// `shutdown(Read)` of our own stream wakes a goroutine parked reading it,
/// which then reads end of file: std's way to interrupt a blocked reader.
#[test]
fn shutdown_read_wakes_a_parked_reader() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
                let (_server, _) = listener.accept().unwrap();
                let c = client.clone();
                let reader = goroutines::go(move || (&*c).read(&mut [0u8; 16]).unwrap());
                goroutines::time::sleep(Duration::from_millis(20));
                client.shutdown(Shutdown::Read).unwrap();
                assert_eq!(reader.join().unwrap(), 0);
            })
        });
    }
}

/// Trains `conn` to skip the syscall of a read that follows a short read
/// (`PollFd::read_stream`: it does so once such syscalls have mostly found
/// nothing): `rounds` times, `peer` sends one byte only after `conn`'s
/// next read has had 2 ms to try its syscall and find the queue empty.
fn train_skip(conn: &mut TcpStream, peer: &TcpStream, rounds: usize) {
    let mut buf = [0u8; 64];
    for _ in 0..rounds {
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(2));
                (&*peer).write_all(b"x").unwrap();
            });
            assert_eq!(conn.read(&mut buf).unwrap(), 1);
        });
    }
}

/// After a short read, a socket whose reads after short reads have mostly
/// found nothing waits for the poller without trying the syscall first.
/// Data followed at once by the peer's FIN can arrive in one edge; the
/// short read that takes the data stops in front of the end of stream, and
/// the next read must still see it (not wait for an edge that never
/// comes). Trained for 10 to 18 rounds, so that the reads under test fall
/// on both skipped and probing reads.
#[test]
fn the_end_of_stream_behind_a_short_read_is_seen() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(60), mode, move || {
            rt.run(|| {
                for rounds in 10..=18 {
                    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                    let (mut conn, _) = listener.accept().unwrap();
                    train_skip(&mut conn, &client, rounds);
                    let mut buf = [0u8; 4096];
                    (&client).write_all(b"first").unwrap();
                    let n = conn.read(&mut buf).unwrap();
                    assert_eq!(&buf[..n], b"first", "{rounds} rounds");
                    (&client).write_all(b"tail").unwrap();
                    client.shutdown(Shutdown::Write).unwrap();
                    // Both the tail and the FIN are queued before we read.
                    goroutines::time::sleep(Duration::from_millis(20));
                    let n = conn.read(&mut buf).unwrap();
                    assert_eq!(&buf[..n], b"tail", "{rounds} rounds");
                    assert_eq!(conn.read(&mut buf).unwrap(), 0, "{rounds} rounds");
                }
            })
        });
    }
}

/// A peek that had to wait consumed the poller's readiness without
/// emptying the queue: the read after it must try the syscall, not wait
/// for another edge, even on a socket trained to skip it.
#[test]
fn a_read_after_a_waiting_peek_gets_the_peeked_bytes() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(60), mode, move || {
            rt.run(|| {
                for rounds in [0, 10, 13, 16] {
                    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                    let (mut conn, _) = listener.accept().unwrap();
                    train_skip(&mut conn, &client, rounds);
                    (&client).write_all(b"one").unwrap();
                    let mut buf = [0u8; 64];
                    let n = conn.read(&mut buf).unwrap();
                    assert_eq!(&buf[..n], b"one");
                    let writer = goroutines::go(move || {
                        // Let the peek park first.
                        goroutines::time::sleep(Duration::from_millis(20));
                        (&client).write_all(b"two").unwrap();
                        client
                    });
                    let n = conn.peek(&mut buf).unwrap();
                    assert_eq!(&buf[..n], b"two", "{rounds} rounds");
                    let n = conn.read(&mut buf).unwrap();
                    assert_eq!(&buf[..n], b"two", "{rounds} rounds");
                    drop(writer.join().unwrap());
                }
            })
        });
    }
}

/// Streams written in chunks of varying sizes, with pauses, and read into
/// a larger buffer, so that most reads are short and most of the next
/// reads wait without a syscall: every byte arrives, in order.
#[test]
fn short_reads_lose_nothing_under_load() {
    const CONNS: usize = 64;
    const CHUNKS: usize = 400;
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(60), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let writers: Vec<_> = (0..CONNS)
                    .map(|c| {
                        goroutines::go(move || {
                            let mut conn = TcpStream::connect(addr).unwrap();
                            let mut sent = 0usize;
                            for k in 0..CHUNKS {
                                let len = 1 + (c * 131 + k * 17) % 300;
                                let chunk: Vec<u8> =
                                    (sent..sent + len).map(|i| (i % 251) as u8).collect();
                                conn.write_all(&chunk).unwrap();
                                sent += len;
                                if k % 7 == 0 {
                                    goroutines::yield_now();
                                }
                            }
                            sent
                        })
                    })
                    .collect();
                let readers: Vec<_> = (0..CONNS)
                    .map(|_| {
                        let (mut conn, _) = listener.accept().unwrap();
                        goroutines::go(move || {
                            let mut buf = [0u8; 4096];
                            let mut got = 0usize;
                            loop {
                                let n = conn.read(&mut buf).unwrap();
                                if n == 0 {
                                    return got;
                                }
                                for (j, &b) in buf[..n].iter().enumerate() {
                                    assert_eq!(b, ((got + j) % 251) as u8, "byte {}", got + j);
                                }
                                got += n;
                            }
                        })
                    })
                    .collect();
                let sent: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
                let got: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
                assert_eq!(got, sent);
            })
        });
    }
}

/// Two goroutines reading one `&TcpStream` take turns; each message goes
/// to exactly one of them.
#[test]
fn concurrent_readers_of_one_stream_take_turns() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
                let (mut server, _) = listener.accept().unwrap();
                let readers: Vec<_> = (0..4)
                    .map(|_| {
                        let c = client.clone();
                        goroutines::go(move || {
                            let mut buf = [0u8; 8];
                            (&*c).read_exact(&mut buf).unwrap();
                            u64::from_le_bytes(buf)
                        })
                    })
                    .collect();
                goroutines::time::sleep(Duration::from_millis(20));
                for i in 0..4u64 {
                    server.write_all(&i.to_le_bytes()).unwrap();
                    goroutines::time::sleep(Duration::from_millis(2));
                }
                let mut got: Vec<u64> = readers.into_iter().map(|h| h.join().unwrap()).collect();
                got.sort_unstable();
                assert_eq!(got, vec![0, 1, 2, 3]);
            })
        });
    }
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    goroutines::run(|| {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn ipv6_loopback_works_when_available() {
    goroutines::run(|| {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        };
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        client.write_all(b"six").unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"six");
    });
}

/// A plain std thread, with std's own blocking sockets and with ours
/// (which then block the thread), talks to a goroutine server.
#[test]
fn plain_threads_talk_to_a_goroutine_server() {
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    let listener = rt.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let server = rt.go(move || {
        for _ in 0..2 {
            let (conn, _) = listener.accept().unwrap();
            goroutines::go(move || echo(conn));
        }
    });
    within(Duration::from_secs(20), "plain threads", move || {
        let std_client = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            for r in 0..100 {
                let m = message(1, r);
                c.write_all(&m).unwrap();
                let mut back = [0u8; MSG];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, m);
            }
        });
        let our_client = std::thread::spawn(move || {
            assert!(goroutines::goroutine_id().is_none());
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            for r in 0..100 {
                let m = message(2, r);
                c.write_all(&m).unwrap();
                let mut back = [0u8; MSG];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, m);
            }
            // A timeout on a plain thread: no goroutine timer involved.
            c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let t = Instant::now();
            let err = c.read(&mut [0u8; 1]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WouldBlock);
            assert!(t.elapsed() >= Duration::from_millis(30));
        });
        std_client.join().unwrap();
        our_client.join().unwrap();
    });
    server.join().unwrap();
}

/// A server that is idle between requests: its M sleeps in the poller and,
/// in Go mode, wakes to each request by taking an idle P itself and
/// running the connection's goroutine (`netpoll.rs` step 6). Four plain
/// threads pause between round trips so the runtime goes idle each time,
/// while a goroutine sleeps in 1 ms steps (the poller M is also the timer
/// sleeper, and must hand that role on when it takes a P). Every echo must
/// come back whole and the sleeper must keep waking.
#[test]
fn an_idle_server_wakes_to_each_request_and_timers_keep_firing() {
    for (mode, rt) in both_modes(2) {
        let listener = rt.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = rt.go(move || {
            let conns: Vec<_> = (0..4)
                .map(|_| {
                    let (conn, _) = listener.accept().unwrap();
                    goroutines::go(move || echo(conn))
                })
                .collect();
            for c in conns {
                c.join().unwrap();
            }
        });
        let sleeper = rt.go({
            let stop = stop.clone();
            move || {
                let mut naps = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    goroutines::time::sleep(Duration::from_millis(1));
                    naps += 1;
                }
                naps
            }
        });
        within(Duration::from_secs(60), mode, move || {
            let clients: Vec<_> = (0..4)
                .map(|c| {
                    std::thread::spawn(move || {
                        let mut conn = std::net::TcpStream::connect(addr).unwrap();
                        for r in 0..60 {
                            std::thread::sleep(Duration::from_micros(200 + 300 * c as u64));
                            let m = message(c, r);
                            conn.write_all(&m).unwrap();
                            let mut back = [0u8; MSG];
                            conn.read_exact(&mut back).unwrap();
                            assert_eq!(back, m, "client {c}, round trip {r}");
                        }
                    })
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
        });
        server.join().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let naps = within(Duration::from_secs(20), mode, move || {
            sleeper.join().unwrap()
        });
        assert!(naps > 0, "{mode}: the sleeping goroutine never woke");
    }
}

const EXHAUST_CHILD: &str = "GOROUTINES_NET_EXHAUST";
const PENDING: usize = 8;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The child half of `accept_recovers_after_descriptor_exhaustion`: with
/// RLIMIT_NOFILE lowered, fill the table, see accept fail with EMFILE
/// while connections wait, free descriptors, accept them all, leak none.
fn exhaust_and_recover() {
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = (0..PENDING)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        let before = open_fds();
        let limit = (before + 16) as libc::rlim_t;
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: setrlimit reads a live rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
        // Fill the table.
        let mut filler = Vec::new();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        for _ in 0..64 {
            match devnull.try_clone() {
                Ok(f) => filler.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                    break;
                }
            }
        }
        for _ in 0..3 {
            let err = listener.accept().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        drop(filler);
        let mut accepted = Vec::new();
        for (i, mut c) in clients.into_iter().enumerate() {
            let (mut s, _) = listener.accept().unwrap();
            c.write_all(&[i as u8]).unwrap();
            let mut b = [0u8];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i as u8);
            accepted.push((c, s));
        }
        drop(accepted);
        drop(devnull);
        assert_eq!(open_fds(), before - PENDING, "descriptors leaked");
    });
    println!("exhaust-and-recover ok");
}

/// `accept` under EMFILE returns the error, the listener keeps working and
/// nothing leaks (run in a child process with a lowered RLIMIT_NOFILE).
#[test]
fn accept_recovers_after_descriptor_exhaustion() {
    if common::is_child() {
        if std::env::var_os(EXHAUST_CHILD).is_some() {
            exhaust_and_recover();
        }
        return;
    }
    let out = common::run_child(
        "accept_recovers_after_descriptor_exhaustion",
        &[(EXHAUST_CHILD, "1")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("exhaust-and-recover ok"),
        "child failed: {}\n{}",
        stdout,
        common::stderr(&out)
    );
}

/// A `try_clone`d handle is the same connection: one goroutine writes
/// through the clone while another reads through the original.
#[test]
fn try_clone_gives_a_second_handle_on_the_connection() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                client
                    .set_read_timeout(Some(Duration::from_secs(9)))
                    .unwrap();
                let (server, _) = listener.accept().unwrap();
                let mut writer = client.try_clone().unwrap();
                assert_eq!(writer.read_timeout().unwrap(), Some(Duration::from_secs(9)));
                assert_eq!(writer.peer_addr().unwrap(), client.peer_addr().unwrap());
                let echo = goroutines::go(move || echo(server));
                let reader = goroutines::go(move || {
                    let mut client = client;
                    let mut got = vec![0u8; 1000];
                    client.read_exact(&mut got).unwrap();
                    got
                });
                let sent: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
                for chunk in sent.chunks(100) {
                    writer.write_all(chunk).unwrap();
                }
                assert_eq!(reader.join().unwrap(), sent);
                drop(writer); // last handle: the echo server sees EOF
                assert_eq!(echo.join().unwrap(), 1000);
            })
        });
    }
}

#[test]
fn connect_timeout_connects_and_rejects_a_zero_timeout() {
    goroutines::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

/// Two `bind_reuseport` listeners share one port and the kernel spreads
/// connections over both; a plain `bind` of the same port is refused.
#[test]
fn reuseport_listeners_share_a_port() {
    goroutines::run(|| {
        let a = TcpListener::bind_reuseport("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpListener::bind_reuseport(addr).unwrap();
        assert_eq!(
            TcpListener::bind(addr).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        let clients: Vec<_> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let mut counts = [0usize; 2];
        let started = Instant::now();
        while counts.iter().sum::<usize>() < clients.len()
            && started.elapsed() < Duration::from_secs(5)
        {
            for (i, l) in [&a, &b].into_iter().enumerate() {
                loop {
                    match l.accept() {
                        Ok(_) => counts[i] += 1,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("accept: {e}"),
                    }
                }
            }
            goroutines::time::sleep(Duration::from_millis(1));
        }
        assert_eq!(counts.iter().sum::<usize>(), 64, "{counts:?}");
        assert!(counts[0] > 0 && counts[1] > 0, "{counts:?}");
    });
}
