//! `syscall(f)`: a blocking call parks its goroutine, not its OS thread.

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
