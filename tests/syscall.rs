//! `syscall(f)`: a blocking call parks its goroutine, not its OS thread.

mod common;

use common::go_mode;
use goroutines::Runtime;
use std::time::{Duration, Instant};

fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-int buffer.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

/// GOMAXPROCS=1: one goroutine blocks in read(2) on an empty pipe inside
/// `syscall`, while another keeps ticking; then the pipe is written and the
/// reader gets its byte.
fn one_p_keeps_running_while_a_syscall_blocks(rt: Runtime) {
    let (r, w) = pipe();
    let (ticks, byte) = rt.run(move || {
        let reader = goroutines::go(move || {
            goroutines::syscall(|| {
                let mut b = [0u8; 1];
                // SAFETY: r is an open pipe end; b is a 1-byte buffer.
                let n = unsafe { libc::read(r, b.as_mut_ptr().cast(), 1) };
                assert_eq!(n, 1);
                b[0]
            })
        });
        let mut ticks = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            goroutines::time::sleep(Duration::from_millis(1));
            ticks += 1;
        }
        assert!(
            !reader.is_finished(),
            "the read returned before anything was written"
        );
        // SAFETY: w is an open pipe end; writing one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(w, b"x".as_ptr().cast(), 1) }, 1);
        (ticks, reader.join().unwrap())
    });
    assert_eq!(byte, b'x');
    // With one P, a syscall that blocked the M would stop this loop for
    // good: the write that unblocks the reader comes after it.
    assert!(ticks > 0);
    // SAFETY: closing our own fds.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

#[test]
fn a_blocked_syscall_does_not_stall_its_p_in_pinned_mode() {
    one_p_keeps_running_while_a_syscall_blocks(Runtime::builder().max_procs(1).build().unwrap());
}

#[test]
fn a_blocked_syscall_does_not_stall_its_p_in_go_mode() {
    // SAFETY: nothing thread-affine is held across parks.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(1)
        .build()
        .unwrap();
    one_p_keeps_running_while_a_syscall_blocks(rt);
}

#[test]
fn syscall_may_borrow_from_the_goroutines_stack() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let total = rt.run(|| {
        let data = [1u64, 2, 3, 4];
        let mut out = Vec::new();
        let sum = goroutines::syscall(|| {
            out.extend(data.iter().map(|x| x * 10));
            data.iter().sum::<u64>()
        });
        (sum, out)
    });
    assert_eq!(total, (10, vec![10, 20, 30, 40]));
}

#[test]
fn a_panic_in_a_syscall_comes_back_to_the_caller() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let r = rt
        .run(|| goroutines::go(|| goroutines::syscall(|| -> u8 { panic!("in the pool") })).join());
    let err = r.unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"in the pool"));
}

#[test]
fn many_concurrent_syscalls_all_complete() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let n = rt.run(|| {
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                goroutines::go(move || {
                    goroutines::syscall(move || {
                        std::thread::sleep(Duration::from_millis(2));
                        i
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(n, 199 * 200 / 2);
}

#[test]
fn syscall_on_a_plain_thread_runs_inline() {
    let tid = goroutines::syscall(|| std::thread::current().id());
    assert_eq!(tid, std::thread::current().id());
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

#[test]
fn in_go_mode_a_syscall_runs_inline_on_the_goroutines_thread() {
    let rt = go_mode(2);
    let (outside, inside) = rt.run(|| {
        let outside = gettid();
        (outside, goroutines::syscall(gettid))
    });
    assert_eq!(
        outside, inside,
        "Go mode runs the call on the goroutine's M"
    );
}

#[test]
fn in_go_mode_sysmon_retakes_the_p_of_a_blocked_syscall() {
    let rt = go_mode(1);
    let before = rt.stats().retakes;
    let (r, w) = pipe();
    let ticks = rt.run(move || {
        let reader = goroutines::go(move || {
            goroutines::syscall(|| {
                let mut b = [0u8; 1];
                // SAFETY: r is an open pipe end; b is a 1-byte buffer.
                unsafe { libc::read(r, b.as_mut_ptr().cast(), 1) }
            })
        });
        let mut ticks = 0;
        while ticks < 20 {
            goroutines::time::sleep(Duration::from_micros(200));
            ticks += 1;
        }
        // SAFETY: w is an open pipe end; writing one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(w, b"x".as_ptr().cast(), 1) }, 1);
        assert_eq!(reader.join().unwrap(), 1);
        ticks
    });
    assert_eq!(ticks, 20);
    assert!(
        rt.stats().retakes > before,
        "the only P was never taken from the blocked M"
    );
    // SAFETY: closing our own fds.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

/// GOMAXPROCS=1: while A blocks in a syscall its P is retaken and runs B,
/// which keeps it busy; A comes back to no P, so it is queued globally and
/// its M sleeps; A then finishes on whichever M runs it next.
#[test]
fn in_go_mode_a_syscall_that_returns_to_no_p_is_queued_and_finishes() {
    let rt = go_mode(1);
    let out = rt.run(|| {
        let (tx, rx) = goroutines::chan::bounded::<()>(0);
        let a = goroutines::go(move || {
            let got = goroutines::syscall(|| {
                std::thread::sleep(Duration::from_millis(20));
                7u32
            });
            tx.send(()).unwrap();
            got
        });
        // B: busy on the P (yielding, so A can get back in) until A is done.
        let b = goroutines::go(move || {
            let mut spins = 0u64;
            while rx.try_recv().is_err() {
                let until = Instant::now() + Duration::from_micros(500);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                spins += 1;
                goroutines::yield_now();
            }
            spins
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(out.0, 7);
    assert!(out.1 > 0);
}

#[test]
fn in_go_mode_short_syscalls_keep_their_p_and_all_complete() {
    let rt = go_mode(2);
    let total = rt.run(|| {
        let hs: Vec<_> = (0..8u64)
            .map(|i| {
                goroutines::go(move || {
                    let mut sum = 0;
                    for j in 0..10_000u64 {
                        sum += goroutines::syscall(|| {
                            // SAFETY: getppid has no preconditions.
                            assert!(unsafe { libc::getppid() } > 0);
                            j
                        });
                        if j % 100 == 0 {
                            goroutines::yield_now();
                        }
                    }
                    sum + i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, 8 * (9_999 * 10_000 / 2) + 28);
}

/// Inside an inline syscall the thread acts as a plain thread: it may spawn
/// goroutines and block on a channel without touching the P it gave up.
#[test]
fn in_go_mode_a_syscall_may_spawn_and_block_on_a_channel() {
    let rt = go_mode(1);
    let got = rt.run(|| {
        goroutines::go(|| {
            goroutines::syscall(|| {
                assert_eq!(goroutines::goroutine_id(), None);
                let (tx, rx) = goroutines::chan::bounded::<u32>(0);
                let h = goroutines::go(move || tx.send(41).unwrap());
                let v = rx.recv().unwrap() + 1;
                h.join().unwrap();
                v
            })
        })
        .join()
        .unwrap()
    });
    assert_eq!(got, 42);
}

#[test]
fn in_go_mode_a_panic_in_an_inline_syscall_comes_back_to_the_caller() {
    let rt = go_mode(1);
    let r = rt.run(|| {
        goroutines::go(|| {
            goroutines::syscall(|| -> u8 {
                std::thread::sleep(Duration::from_millis(2));
                panic!("inline")
            })
        })
        .join()
    });
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"inline"));
    // The runtime still runs goroutines afterwards.
    assert_eq!(rt.run(|| goroutines::go(|| 5).join().unwrap()), 5);
}
