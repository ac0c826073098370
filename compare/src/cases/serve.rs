//! What every server case's child shares, whatever the peer: it tells the
//! harness where it listens with one JSON line, then serves until the
//! harness closes its stdin, and exits then without tearing anything down.

use std::io::Write;
use std::net::SocketAddr;

/// Exits this process as soon as stdin reaches end of file.
///
/// Called before the server starts, on a plain thread outside any runtime,
/// so that the way out never depends on the runtime under test.
pub fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
}

/// Prints the `{"listening":"ADDR"}` line the harness waits for.
pub fn announce(address: SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::json!({ "listening": address.to_string() })
    )
    .and_then(|()| stdout.flush())
    .unwrap_or_else(|error| panic!("announcing the listening address: {error}"));
}

/// The only address any server here binds: loopback, port chosen by the OS.
pub const LOOPBACK_ANY_PORT: &str = "127.0.0.1:0";
