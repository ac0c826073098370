//! tcp_echo: an echo server on 127.0.0.1, one task per connection, each
//! reading into a 4 KiB buffer and writing back what it read. Every peer
//! sets TCP_NODELAY on accepted connections (Go does so by default).
//!
//! The child only serves; the harness's built-in client (`load/echo.rs`)
//! drives it: 64 connections, each sending 1 KiB and reading it back, for
//! the case's size in seconds. Reports echoed payload in MB/s (one
//! direction). Go counterpart: `compare/go/tcp_echo.go`.

use std::io::{Read, Write};

use super::serve::{self, LOOPBACK_ANY_PORT};
use super::{go_runs_elsewhere, Better, Case, Execution, Load, Metric, Outcome, SizeUnit};
use crate::peer::{self, Peer, Procs};

/// Each connection's read buffer, in every peer.
const BUFFER: usize = 4096;

pub const CASE: Case = Case {
    name: "tcp_echo",
    summary: "echo server on loopback; 64 connections doing 1 KiB round trips",
    sizes: &[10],
    quick_sizes: &[1],
    size_unit: SizeUnit::Seconds,
    metrics: &[
        Metric {
            key: "mb_per_s",
            unit: "MB/s of payload echoed",
            better: Better::Higher,
        },
        Metric {
            key: "round_trips_per_s",
            unit: "1 KiB round trips per second",
            better: Better::Higher,
        },
        Metric {
            key: crate::load::SERVER_CPU_KEY,
            unit: "µs of server CPU (user + system, all threads) per round trip",
            better: Better::Lower,
        },
    ],
    procs: Procs::All,
    execution: Execution::Server(Load::Echo),
    timeout_secs: 30,
    notes: &[(
        Peer::Threads,
        "one OS thread per connection, blocking std::net",
    )],
    run,
};

fn run(peer: Peer, _seconds: u64) -> Outcome {
    serve::exit_when_stdin_closes();
    match peer {
        #[cfg(feature = "ours-net")]
        Peer::OursPinned | Peer::OursGo => ours(peer),
        #[cfg(not(feature = "ours-net"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-net"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => tokio(),
        Peer::May => may(),
        Peer::Threads => threads(),
    }
}

/// One connection of the peers whose reads and writes block the caller.
fn echo(mut stream: impl Read + Write) {
    let mut buffer = vec![0u8; BUFFER];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(feature = "ours-net")]
fn ours(peer: Peer) -> Outcome {
    peer::run_ours(peer, Procs::All, || {
        let listener = goroutines::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (stream, _) = listener
                .accept()
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            goroutines::go(move || echo(stream));
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn tokio() -> Outcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    peer::run_tokio(Procs::All, async {
        let listener = tokio::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .await
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (mut stream, _) = listener
                .accept()
                .await
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            tokio::spawn(async move {
                let mut buffer = vec![0u8; BUFFER];
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => {
                            if stream.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn may() -> Outcome {
    peer::run_may(Procs::All, || {
        let listener = may::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (stream, _) = listener
                .accept()
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            may::go!(move || echo(stream));
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn threads() -> Outcome {
    let listener = std::net::TcpListener::bind(LOOPBACK_ANY_PORT)
        .unwrap_or_else(|error| panic!("bind: {error}"));
    serve::announce(listener.local_addr().expect("local address"));
    loop {
        let (stream, _) = listener
            .accept()
            .unwrap_or_else(|error| panic!("accept: {error}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        std::thread::spawn(move || echo(stream));
    }
}
