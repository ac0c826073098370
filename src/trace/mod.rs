//! The execution trace: what every P and M did, when, as a Chrome
//! trace-event JSON file (Perfetto opens it) and a self-contained HTML
//! timeline.
//!
//! ```no_run
//! goroutines::trace::start("/tmp/mytrace").unwrap();
//! goroutines::run(|| { /* work */ });
//! let files = goroutines::trace::stop().unwrap();
//! println!("open {}", files.html.display());
//! ```
//!
//! Or set `GOROUTINES_TRACE=/tmp/mytrace`: the first runtime built while no
//! trace is recording starts one (a path whose files cannot be created is
//! an error from `Builder::build` naming the variable), and the trace is
//! written when that runtime is dropped or when [`stop`] is called,
//! whichever comes first. The default runtime (behind [`crate::run`] and
//! [`crate::go`]) is never dropped, so with it call [`stop`] before the
//! process exits; nothing is written from an exit handler.
//!
//! How recording works:
//! 1. Each hook in the scheduler is one line calling a function here. The
//!    function is `#[inline]` and does one Relaxed load of [`ENABLED`];
//!    when off that is all it costs. The recording half is `#[cold]` and
//!    never inlined, so it does not bloat the hot paths.
//! 2. When on, an event (timestamp, kind, P, M, goroutine, argument) goes
//!    into its P's bounded buffer, or the shared buffer for threads holding
//!    no P (`recorder.rs`). Full buffers drop new events and count them.
//! 3. `stop` clears [`ENABLED`], takes every buffer, sorts by time, builds
//!    the lanes and slices (`timeline.rs`) and writes `chrome.rs`'s JSON and
//!    `html.rs`'s page.
//!
//! One trace records every runtime in the process. Ps of two runtimes that
//! share an id share a lane.

mod chrome;
mod html;
mod recorder;
mod timeline;

use recorder::{Kind, NONE};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Whether hooks record. Relaxed everywhere: events are ordered by their
/// buffers' mutexes and timestamps, not by this flag; a hook that races
/// with `start` or `stop` records one event more or less.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The recording in progress, if any. Protected by its mutex; `start` and
/// `stop` hold it for their whole run, so they never interleave.
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

struct Session {
    json: (PathBuf, File),
    html: (PathBuf, File),
    /// The runtime (its `Shared` address) that started this trace from
    /// `GOROUTINES_TRACE`, and so writes it when dropped; 0 for `start`.
    owner: usize,
}

/// What [`stop`] wrote.
#[derive(Clone, Debug)]
pub struct TraceFiles {
    /// Chrome trace-event JSON: open in <https://ui.perfetto.dev>.
    pub json: PathBuf,
    /// The self-contained HTML timeline: open in any browser.
    pub html: PathBuf,
    /// Events recorded.
    pub events: usize,
    /// Events dropped because a buffer was full (new events are dropped,
    /// the oldest kept).
    pub dropped: u64,
}

/// Starts recording scheduling events of every runtime. `path` names the
/// output: `path.json` and `path.html` (an extension of `path` is
/// replaced). Both files are created now, so a bad path fails here.
///
/// # Errors
/// If a trace is already recording, or a file cannot be created.
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    start_owned(path.as_ref(), 0)
}

fn start_owned(path: &Path, owner: usize) -> io::Result<()> {
    let mut session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    if session.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "goroutines::trace: a trace is already recording",
        ));
    }
    let create = |ext: &str| -> io::Result<(PathBuf, File)> {
        let p = path.with_extension(ext);
        let f = File::create(&p)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", p.display())))?;
        Ok((p, f))
    };
    let json = create("json")?;
    let html = create("html")?;
    recorder::reset();
    *session = Some(Session { json, html, owner });
    ENABLED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Stops recording and writes the files named at [`start`]. If any events
/// were dropped, the count is printed to stderr too.
///
/// # Errors
/// If no trace is recording, or writing fails.
pub fn stop() -> io::Result<TraceFiles> {
    let mut session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    let Some(s) = session.take() else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "goroutines::trace: no trace is recording",
        ));
    };
    ENABLED.store(false, Ordering::Relaxed);
    let (events, dropped) = recorder::drain();
    let t = timeline::build(&events, dropped);
    if dropped > 0 {
        eprintln!(
            "goroutines::trace: {dropped} events dropped (buffers full; the newest were dropped)"
        );
    }
    let (json, mut jf) = s.json;
    let (html, mut hf) = s.html;
    jf.write_all(chrome::render(&t).as_bytes())?;
    hf.write_all(html::render(&t).as_bytes())?;
    Ok(TraceFiles {
        json,
        html,
        events: t.events,
        dropped,
    })
}

/// `GOROUTINES_TRACE`, read by `Builder::build`: starts a trace owned by
/// the runtime at `owner` unless one is recording. True if it did.
pub(crate) fn start_from_env(owner: usize) -> io::Result<bool> {
    let path = match std::env::var_os("GOROUTINES_TRACE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => return Ok(false),
    };
    if SESSION.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
        return Ok(false);
    }
    match start_owned(&path, owner) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("GOROUTINES_TRACE={}: {e}", path.display()),
        )),
    }
}

/// The runtime at `owner` is being dropped: if it started the recording
/// trace, write it (errors are printed: a drop cannot return them).
pub(crate) fn runtime_dropped(owner: usize) {
    let owns = SESSION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|s| s.owner == owner);
    if owns {
        match stop() {
            Ok(f) => eprintln!(
                "goroutines: trace of {} events written to {} and {}",
                f.events,
                f.json.display(),
                f.html.display()
            ),
            Err(e) => eprintln!("goroutines: GOROUTINES_TRACE: {e}"),
        }
    }
}

/// Whether a trace is recording.
pub fn is_recording() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

// The hooks. Each is the one line the scheduler calls; the `if` is the
// whole cost when tracing is off.

#[cold]
#[inline(never)]
fn record(kind: Kind, g: u64, arg: u64, name: &'static str) {
    recorder::push(kind, g, arg, name);
}

fn current_g() -> u64 {
    crate::scheduler::m::current_goroutine_id().unwrap_or(0)
}

/// Goroutine `g` was created (by the calling goroutine, if any).
#[inline]
pub(crate) fn spawn(g: u64) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::Spawn, g, current_g(), "");
    }
}

/// M `m` holding P `p` starts or resumes goroutine `g`.
#[inline]
pub(crate) fn run(g: u64, p: u32, m: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        run_cold(g, p, m);
    }
}

#[cold]
#[inline(never)]
fn run_cold(g: u64, p: u32, m: usize) {
    recorder::set_context(p, m as u32);
    recorder::push(Kind::Run, g, 0, "");
}

/// Goroutine `g` parked for `reason` (recorded on g0, after the switch).
#[inline]
pub(crate) fn park(g: u64, reason: &'static str) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::Park, g, 0, reason);
    }
}

/// Goroutine `g` yielded.
#[inline]
pub(crate) fn yielded(g: u64) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::Yield, g, 0, "");
    }
}

/// Goroutine `g` returned.
#[inline]
pub(crate) fn exit(g: u64) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::Exit, g, 0, "");
    }
}

/// Goroutine `g` was made runnable.
#[inline]
pub(crate) fn ready(g: u64) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::Ready, g, 0, "");
    }
}

/// P `thief` stole `count` goroutines from P `victim`.
#[inline]
pub(crate) fn steal(victim: u32, thief: u32, count: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        steal_cold(victim, thief, count);
    }
}

#[cold]
#[inline(never)]
fn steal_cold(victim: u32, thief: u32, count: usize) {
    let (_, m) = recorder::context();
    recorder::set_context(thief, m);
    recorder::push(Kind::Steal, victim as u64, count as u64, "");
}

/// The calling goroutine is about to park in `syscall`.
#[inline]
pub(crate) fn syscall_enter() {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::SyscallEnter, current_g(), 0, "");
    }
}

/// The calling goroutine resumed from `syscall`.
#[inline]
pub(crate) fn syscall_exit() {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::SyscallExit, current_g(), 0, "");
    }
}

/// A timer's callback is about to run.
#[inline]
pub(crate) fn timer_fire() {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::TimerFire, 0, 0, "");
    }
}

/// A network poll woke `woken` waiters; returns `woken`, so the hook wraps
/// the poll call. Polls that woke nobody are not recorded.
#[inline]
pub(crate) fn netpoll(woken: usize) -> usize {
    if woken > 0 && ENABLED.load(Ordering::Relaxed) {
        record(Kind::Netpoll, 0, woken as u64, "");
    }
    woken
}

/// The calling thread hands P `p` to parked M `m`.
#[inline]
pub(crate) fn hand_off(p: u32, m: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        record(Kind::HandOff, p as u64, m as u64, "");
    }
}

/// M `m` gave up P `p` and is about to sleep.
#[inline]
pub(crate) fn m_idle(p: u32, m: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        m_cold(Kind::MIdle, p, m, NONE);
    }
}

/// M `m` woke holding P `p`.
#[inline]
pub(crate) fn m_wake(p: u32, m: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        m_cold(Kind::MWake, p, m, p);
    }
}

#[cold]
#[inline(never)]
fn m_cold(kind: Kind, p: u32, m: usize, now_holding: u32) {
    recorder::set_context(now_holding, m as u32);
    recorder::push(kind, p as u64, 0, "");
}
