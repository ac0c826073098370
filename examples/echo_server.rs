//! A TCP echo server: one goroutine per connection, plain blocking code.
//!
//! ```text
//! cargo run --release --example echo_server [ADDR]     # default 127.0.0.1:7000
//! ```

use goroutines::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

fn serve(mut conn: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    goroutines::run(move || {
        let listener = match TcpListener::bind(&addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo_server: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!(
            "echo_server: listening on {}",
            listener.local_addr().unwrap()
        );
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    goroutines::go(move || serve(conn));
                }
                // Out of descriptors and the like: the listener keeps
                // working; back off briefly rather than spin.
                Err(e) => {
                    eprintln!("echo_server: accept: {e}");
                    goroutines::time::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    })
}
