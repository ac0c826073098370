//! syscall_ticker: does a blocking system call freeze the other tasks?
//! GOMAXPROCS=1 (one worker per runtime).
//!
//! 1. Make a pipe (blocking file descriptors) and note the window start.
//! 2. A plain OS thread, outside every runtime, is set to write one byte to
//!    the pipe 20 ms after the window ends: that unblocks the reader even if
//!    the runtime is frozen, so a frozen runtime shows as a huge gap, not a
//!    hang.
//! 3. Task A reads one byte from the empty pipe through the runtime's
//!    blocking-call facility (a real `read(2)` that sleeps in the kernel).
//! 4. Task B sleeps 100 µs in a loop until the window has passed, recording
//!    the longest gap between wake-ups, counted from the window start.
//!
//! Reports that longest gap in µs. A gap near the window length means the
//! blocked read froze the only worker. Go counterpart:
//! `compare/go/syscall_ticker.go` (`syscall.Read` on the raw fd of
//! `syscall.Pipe`: an `os.File` pipe would go through the netpoller and
//! never block in the kernel).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::{
    go_runs_elsewhere, Better, Case, Execution, Measured, Metric, Outcome, SizeUnit, Unavailable,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

/// How often the ticker asks to wake.
const TICK: Duration = Duration::from_micros(100);
/// How long after the window the outside thread unblocks the reader.
const UNBLOCK_AFTER_WINDOW: Duration = Duration::from_millis(20);

pub const CASE: Case = Case {
    name: "syscall_ticker",
    summary: "GOMAXPROCS=1: one task blocked in read(2) on a pipe, another ticks every 100 µs",
    sizes: &[200],
    quick_sizes: &[200],
    size_unit: SizeUnit::Millis,
    metrics: &[Metric {
        key: "max_gap_us",
        unit: "µs, longest gap between ticks",
        better: Better::Lower,
    }],
    procs: Procs::One,
    execution: Execution::InProcess,
    timeout_secs: 30,
    notes: &[
        (
            Peer::Tokio,
            "read in spawn_blocking; tokio's timer wheel has 1 ms resolution, so its ticks are at least ~1 ms apart",
        ),
        (
            Peer::Threads,
            "reader and ticker are OS threads pinned to one CPU",
        ),
    ],
    run,
};

fn run(peer: Peer, window_ms: u64) -> Outcome {
    let window = Duration::from_millis(window_ms);
    match peer {
        #[cfg(all(feature = "ours-syscall", feature = "ours-time"))]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, window)),
        #[cfg(not(all(feature = "ours-syscall", feature = "ours-time")))]
        Peer::OursPinned | Peer::OursGo => {
            super::ours_not_built(&["ours-core", "ours-syscall", "ours-time"])
        }
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(window)),
        Peer::May => Err(Unavailable::Unsupported(
            "may has no blocking-call facility: a plain read(2) would stall its only worker, \
             and its CoIo makes the fd non-blocking and polls it instead of blocking"
                .into(),
        )),
        Peer::Threads => Ok(threads(window)),
    }
}

/// Both ends of a pipe whose descriptors block (no O_NONBLOCK).
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> Pipe {
        let mut fds: [RawFd; 2] = [-1; 2];
        // SAFETY: `fds` is a writable array of two descriptors, as pipe(2) needs.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            panic!("pipe: {}", std::io::Error::last_os_error());
        }
        // SAFETY: pipe(2) succeeded, so both descriptors are open and owned
        // by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Pipe { read, write }
    }
}

/// A blocking read(2) of one byte from `fd`; returns what read returned.
fn read_one_byte(fd: RawFd) -> isize {
    let mut byte = [0u8; 1];
    // SAFETY: `byte` is a writable buffer of one byte; `fd` is open for the
    // whole call (the `Pipe` outlives the reader).
    unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) }
}

/// Starts the outside thread that writes one byte to `fd` at `when`.
fn unblock_at(fd: RawFd, when: Instant) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
        let byte = [1u8; 1];
        // SAFETY: `byte` is a readable one-byte buffer; `fd` stays open until
        // this thread is joined.
        let written = unsafe { libc::write(fd, byte.as_ptr().cast(), 1) };
        assert_eq!(
            written,
            1,
            "unblocking write: {}",
            std::io::Error::last_os_error()
        );
    })
}

/// The ticker's record: the longest gap so far, counted from the window
/// start, so a ticker that could not run at all still shows the stall.
struct Gaps {
    window_start: Instant,
    window: Duration,
    last: Instant,
    longest: Duration,
    ticks: u64,
}

impl Gaps {
    fn new(window_start: Instant, window: Duration) -> Gaps {
        Gaps {
            window_start,
            window,
            last: window_start,
            longest: Duration::ZERO,
            ticks: 0,
        }
    }

    /// Records a wake-up now; false once the window is over.
    fn tick(&mut self) -> bool {
        let now = Instant::now();
        self.longest = self.longest.max(now - self.last);
        self.last = now;
        self.ticks += 1;
        now - self.window_start < self.window
    }

    fn report(self, read: isize) -> Measured {
        assert_eq!(read, 1, "the blocked reader should get one byte");
        Measured::Metrics(vec![
            ("max_gap_us", measure::micros(self.longest)),
            ("ticks", self.ticks as f64),
        ])
    }
}

/// The ticker of the peers whose sleep blocks the caller.
fn tick_through(window_start: Instant, window: Duration, sleep: impl Fn(Duration)) -> Gaps {
    let mut gaps = Gaps::new(window_start, window);
    loop {
        sleep(TICK);
        if !gaps.tick() {
            return gaps;
        }
    }
}

#[cfg(all(feature = "ours-syscall", feature = "ours-time"))]
fn ours(peer: Peer, window: Duration) -> Measured {
    peer::run_ours(peer, Procs::One, move || {
        let pipe = Pipe::new();
        let read_fd = pipe.read.as_raw_fd();
        let window_start = Instant::now();
        let unblocker = unblock_at(
            pipe.write.as_raw_fd(),
            window_start + window + UNBLOCK_AFTER_WINDOW,
        );
        let reader = goroutines::go(move || goroutines::syscall(move || read_one_byte(read_fd)));
        let ticker =
            goroutines::go(move || tick_through(window_start, window, goroutines::time::sleep));
        let gaps = ticker.join().expect("ticker panicked");
        let read = reader.join().expect("reader panicked");
        unblocker.join().expect("unblocker panicked");
        gaps.report(read)
    })
}

fn tokio(window: Duration) -> Measured {
    peer::run_tokio(Procs::One, async move {
        let pipe = Pipe::new();
        let read_fd = pipe.read.as_raw_fd();
        let window_start = Instant::now();
        let unblocker = unblock_at(
            pipe.write.as_raw_fd(),
            window_start + window + UNBLOCK_AFTER_WINDOW,
        );
        let reader = tokio::task::spawn_blocking(move || read_one_byte(read_fd));
        let ticker = tokio::spawn(async move {
            let mut gaps = Gaps::new(window_start, window);
            loop {
                tokio::time::sleep(TICK).await;
                if !gaps.tick() {
                    return gaps;
                }
            }
        });
        let gaps = ticker.await.expect("ticker panicked");
        let read = reader.await.expect("reader panicked");
        unblocker.join().expect("unblocker panicked");
        gaps.report(read)
    })
}

fn threads(window: Duration) -> Measured {
    peer::pin_threads_to_one_cpu();
    let pipe = Pipe::new();
    let read_fd = pipe.read.as_raw_fd();
    let window_start = Instant::now();
    let unblocker = unblock_at(
        pipe.write.as_raw_fd(),
        window_start + window + UNBLOCK_AFTER_WINDOW,
    );
    let reader = std::thread::spawn(move || read_one_byte(read_fd));
    let ticker = std::thread::spawn(move || tick_through(window_start, window, std::thread::sleep));
    let gaps = ticker.join().expect("ticker panicked");
    let read = reader.join().expect("reader panicked");
    unblocker.join().expect("unblocker panicked");
    gaps.report(read)
}
