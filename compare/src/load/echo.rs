//! The echo load: CONNECTIONS plain std threads, each with one blocking
//! connection, send a MESSAGE_BYTES message and read it back, over and over,
//! until the duration is up. All connect first, then start together.
//! Every reply is compared with what was sent: a wrong echo fails the run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::{LoadMetrics, IO_TIMEOUT};

pub const CONNECTIONS: usize = 64;
pub const MESSAGE_BYTES: usize = 1024;
pub const DESCRIPTION: &str = "built-in echo client: 64 connections, 1 KiB round trips";

pub fn drive(address: SocketAddr, duration: Duration) -> Result<LoadMetrics, String> {
    let start_together = Arc::new(Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|index| {
            let start_together = start_together.clone();
            std::thread::spawn(move || {
                let connected = connect(address);
                // Wait even when connecting failed, so no one waits forever.
                start_together.wait();
                round_trips(connected?, duration)
                    .map_err(|error| format!("echo connection {index}: {error}"))
            })
        })
        .collect();
    let mut total = 0u64;
    for client in clients {
        total += client
            .join()
            .map_err(|_| "an echo client panicked".to_string())??;
    }
    let seconds = duration.as_secs_f64();
    let round_trips_per_s = total as f64 / seconds;
    Ok(vec![
        ("mb_per_s", round_trips_per_s * MESSAGE_BYTES as f64 / 1e6),
        ("round_trips_per_s", round_trips_per_s),
    ])
}

fn connect(address: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
        .map_err(|error| format!("connect to {address}: {error}"))?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|error| format!("socket options: {error}"))?;
    Ok(stream)
}

fn round_trips(mut stream: TcpStream, duration: Duration) -> std::io::Result<u64> {
    let message: Vec<u8> = (0..MESSAGE_BYTES).map(|i| (i % 251) as u8).collect();
    let mut reply = vec![0u8; MESSAGE_BYTES];
    let deadline = Instant::now() + duration;
    let mut done = 0;
    while Instant::now() < deadline {
        stream.write_all(&message)?;
        stream.read_exact(&mut reply)?;
        if reply != message {
            return Err(std::io::Error::other("the echo differs from what was sent"));
        }
        done += 1;
    }
    Ok(done)
}
