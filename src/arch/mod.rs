//! The context switch: one file per architecture, chosen here.
//!
//! Each architecture provides:
//! * `switch(save, to, arg) -> usize`: save the callee-saved registers of the
//!   running context on its own stack, store its stack pointer in `*save`,
//!   load `to` and resume the context saved there, which sees `arg` as the
//!   return value of its own `switch` call.
//! * `switch_ret(save, to, arg) -> usize`: the same switch, returning into
//!   the resumed context the way a function returns, for a switch between
//!   two goroutines that parked through the same calls (the return
//!   predictor then stays right; `scheduler/m.rs`, the direct park).
//! * `init_stack(top, entry, arg) -> sp`: lay out a fresh stack so that the
//!   first `switch` to the returned `sp` calls `entry(arg, value)` on it.
//!
//! Why our own `naked_asm!` and not corosensei: the switch the scheduler needs
//! is one symmetric "save here, resume there" between a goroutine and its M's
//! scheduler context; corosensei's `Coroutine` adds a resume/yield protocol,
//! an owned stack trait and unwinding-on-drop that the runtime does not use
//! (goroutine panics are caught at the goroutine's entry), and has no
//! goroutine-to-goroutine switch like `switch_ret`, which the direct park
//! relies on. `benches/core.rs` measures both raw round trips on the same
//! machine (`cargo bench --bench core -- switch`). Raw speed does not decide
//! it: on 2026-12-05 (an Intel Xeon VM) corosensei's round trip took 2.1 ns
//! and ours 3.8 ns, a difference under 1% of a channel ping-pong's round
//! trip, which switches twice.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use x86_64::{init_stack, prefetch, switch, switch_ret};

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "goroutines supports x86_64 Linux only so far: the context switch (src/arch), \
     stack guards (src/stack) and futex parking are written and tested for it. \
     Another target needs its own src/arch file and tests."
);

/// Times `n` round trips (two switches each) between the caller and a
/// context on a stack of its own: the raw cost of [`switch`], without the
/// scheduler. For `benches/core.rs`; not part of the API.
#[doc(hidden)]
pub fn switch_round_trips(n: u64) -> std::time::Duration {
    use std::cell::Cell;

    struct Pair {
        main_sp: Cell<usize>,
        coro_sp: Cell<usize>,
    }

    unsafe extern "sysv64" fn bounce(arg: usize, _first: usize) -> ! {
        let pair = arg as *const Pair;
        loop {
            // SAFETY: `pair` outlives every switch into this context, and
            // main_sp holds the context that switched to us.
            unsafe { switch((*pair).coro_sp.as_ptr(), (*pair).main_sp.get(), 0) };
        }
    }

    let mut stack = vec![0u128; 4096]; // 64 KiB, 16-byte aligned
    let top = stack.as_mut_ptr() as usize + stack.len() * 16;
    let pair = Pair {
        main_sp: Cell::new(0),
        coro_sp: Cell::new(0),
    };
    // SAFETY: `top` is the 16-aligned end of a writable buffer that lives
    // until this function returns, after the last switch into it.
    pair.coro_sp
        .set(unsafe { init_stack(top, bounce, &pair as *const Pair as usize) });
    let start = std::time::Instant::now();
    for _ in 0..n {
        // SAFETY: coro_sp is a context made by init_stack or saved by
        // `bounce`'s switch, resumed once each time.
        unsafe { switch(pair.main_sp.as_ptr(), pair.coro_sp.get(), 0) };
    }
    let elapsed = start.elapsed();
    // The context is abandoned mid-loop; it owns nothing that needs dropping.
    drop(stack);
    elapsed
}
