//! The context switch: one file per architecture, chosen here.
//!
//! Each architecture provides:
//! * `switch(save, to, arg) -> usize`: save the callee-saved registers of the
//!   running context on its own stack, store its stack pointer in `*save`,
//!   load `to` and resume the context saved there, which sees `arg` as the
//!   return value of its own `switch` call.
//! * `init_stack(top, entry, arg) -> sp`: lay out a fresh stack so that the
//!   first `switch` to the returned `sp` calls `entry(arg, value)` on it.
//!
//! Why our own `naked_asm!` and not corosensei: the switch the scheduler needs
//! is one symmetric "save here, resume there" between a goroutine and its M's
//! scheduler context; corosensei's `Coroutine` adds a resume/yield protocol,
//! an owned stack trait and unwinding-on-drop that the runtime does not use
//! (goroutine panics are caught at the goroutine's entry). `benches/core.rs`
//! measures both on the same machine (`cargo bench --bench core -- switch`):
//! see the README for the numbers.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use x86_64::{init_stack, switch};

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "goroutines supports x86_64 Linux only so far: the context switch (src/arch), \
     stack guards (src/stack) and futex parking are written and tested for it. \
     Another target needs its own src/arch file and tests."
);
