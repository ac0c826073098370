//! The Go peer: find a Go toolchain, build `compare/go/` into
//! `target/compare-go/`, and say how to invoke the result.
//!
//! The build is offline and self-contained, so it works as root on a fresh
//! machine: stdlib only (GOPROXY=off, GOFLAGS cleared), GOCACHE and GOPATH
//! under target/, GOTOOLCHAIN=local (no toolchain download), CGO off.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `golang-1.19-go` and the usual installs put `go`, tried
/// after `$GO` and `go` on PATH.
const KNOWN_LOCATIONS: [&str; 3] = [
    "/usr/lib/go-1.19/bin/go",
    "/usr/lib/go/bin/go",
    "/usr/local/go/bin/go",
];

pub enum GoPeer {
    Ready {
        binary: PathBuf,
        version: String,
    },
    /// No toolchain here: the go column is skipped, with this reason.
    Missing(String),
    /// A toolchain, but the build failed: every go cell fails with this.
    BuildFailed(String),
}

pub fn prepare(target_dir: &Path) -> GoPeer {
    let Some(go) = find_go() else {
        return GoPeer::Missing(
            "no go binary found ($GO, go on PATH, /usr/lib/go-1.19/bin/go); \
             apt-get install golang-1.19-go"
                .into(),
        );
    };
    let version = super::machine::command_line(go.to_str().unwrap_or("go"), &["version"])
        .unwrap_or_else(|| "go (version unknown)".into());
    let build_dir = target_dir.join("compare-go");
    let binary = build_dir.join("compare-go");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
    let output = Command::new(&go)
        .args(["build", "-trimpath", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(&source)
        .env("GOCACHE", build_dir.join("cache"))
        .env("GOPATH", build_dir.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "0")
        .output();
    match output {
        Ok(output) if output.status.success() => GoPeer::Ready { binary, version },
        Ok(output) => GoPeer::BuildFailed(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => GoPeer::BuildFailed(format!("running {}: {error}", go.display())),
    }
}

fn find_go() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("GO") {
        return Some(PathBuf::from(explicit)).filter(|path| path.is_file());
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|folder| folder.join("go"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        KNOWN_LOCATIONS
            .iter()
            .map(PathBuf::from)
            .find(|candidate| candidate.is_file())
    })
}
