//! `GOROUTINES_DEBUG`: comma-separated `key=value` settings, in the spirit of
//! Go's `GODEBUG`. Unknown keys and malformed values are errors naming them,
//! so a typo is never silently ignored.
//!
//! Keys:
//! * `guard=madvise|mprotect`: how stack guard pages are made (default
//!   `madvise`, falling back to `mprotect` where the kernel lacks
//!   `MADV_GUARD_INSTALL`); `mprotect` forces the fallback, for testing it.
//! * `maxmapcount=N`: the mprotect fallback budgets its stacks as if
//!   `vm.max_map_count` were N, so tests can exhaust it without changing a
//!   machine-wide sysctl.
//! * `schedtrace=MS`: sysmon prints a `SCHED` line every MS milliseconds.
//! * `scheddetail=1`: with schedtrace, a line per P as well.
//! * `parkstacks=1`: capture a backtrace each time a goroutine parks, shown
//!   under it in dumps and the deadlock report (costly: for debugging).

use std::io;

#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) guard_mprotect: bool,
    pub(crate) max_map_count: Option<usize>,
    pub(crate) schedtrace: Option<std::time::Duration>,
    pub(crate) scheddetail: bool,
    pub(crate) parkstacks: bool,
}

impl Settings {
    pub(crate) fn from_env() -> io::Result<Settings> {
        match std::env::var("GOROUTINES_DEBUG") {
            Ok(v) => Settings::parse(&v),
            Err(std::env::VarError::NotPresent) => Ok(Settings::default()),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(bad(format!("GOROUTINES_DEBUG={v:?} is not valid UTF-8")))
            }
        }
    }

    pub(crate) fn parse(text: &str) -> io::Result<Settings> {
        let mut s = Settings::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(bad(format!("GOROUTINES_DEBUG: `{item}` is not key=value")));
            };
            match (key, value) {
                ("guard", "madvise") => s.guard_mprotect = false,
                ("guard", "mprotect") => s.guard_mprotect = true,
                ("guard", v) => {
                    return Err(bad(format!(
                        "GOROUTINES_DEBUG: guard={v} is not one of madvise, mprotect"
                    )))
                }
                ("maxmapcount", v) => match v.parse::<usize>() {
                    Ok(n) => s.max_map_count = Some(n),
                    Err(_) => {
                        return Err(bad(format!(
                            "GOROUTINES_DEBUG: maxmapcount={v} is not a number of mappings"
                        )))
                    }
                },
                ("schedtrace", v) => match v.parse::<u64>() {
                    Ok(ms) if ms > 0 => s.schedtrace = Some(std::time::Duration::from_millis(ms)),
                    _ => {
                        return Err(bad(format!(
                        "GOROUTINES_DEBUG: schedtrace={v} is not a positive number of milliseconds"
                    )))
                    }
                },
                ("scheddetail", "0") => s.scheddetail = false,
                ("scheddetail", "1") => s.scheddetail = true,
                ("parkstacks", "0") => s.parkstacks = false,
                ("parkstacks", "1") => s.parkstacks = true,
                ("parkstacks", v) => {
                    return Err(bad(format!("GOROUTINES_DEBUG: parkstacks={v} is not 0 or 1")))
                }
                ("scheddetail", v) => {
                    return Err(bad(format!(
                        "GOROUTINES_DEBUG: scheddetail={v} is not 0 or 1"
                    )))
                }
                (k, _) => {
                    return Err(bad(format!(
                    "GOROUTINES_DEBUG: unknown key `{k}` (known: guard, maxmapcount, schedtrace, scheddetail, parkstacks)"
                )))
                }
            }
        }
        Ok(s)
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
