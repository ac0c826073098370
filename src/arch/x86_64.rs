//! x86_64 System V context switch.
//!
//! A suspended context is nothing but its stack pointer: everything else the
//! ABI says a callee must preserve was pushed onto its own stack by `switch`.
//! The caller-saved registers need no saving, because `switch` is an ordinary
//! call as far as the compiler is concerned.
//!
//! Saved frame, as `switch` leaves it (addresses grow upwards):
//!
//! ```text
//!          +----------------------+
//!  sp+48   | return address       |  where `switch` returns to when resumed
//!  sp+40   | rbp                  |
//!  sp+32   | rbx                  |
//!  sp+24   | r12                  |
//!  sp+16   | r13                  |
//!  sp+8    | r14                  |
//!  sp+0    | r15                  |
//!          +----------------------+  <- saved sp
//! ```
//!
//! Not saved: MXCSR and the x87 control word. The ABI makes their control
//! bits callee-saved, but `ldmxcsr`/`fldcw` made a round trip 9x slower
//! (24 ns against 2.7 ns, `cargo bench --bench core -- switch`), and Rust
//! code does not change them. Like corosensei, the floating-point
//! environment is the thread's: a goroutine that changes rounding or
//! exception masks must restore them before it can park (SAFETY.md).
//!
//! A fresh stack is laid out as if `switch` had been called from the first
//! instruction of `trampoline`, with the entry function in r12 and its
//! argument in r13:
//!
//! ```text
//!  top-8    0                  fake return address of the trampoline frame:
//!                              unwinders and debuggers stop here
//!  top-16   trampoline         `ret` of the first switch lands here
//!  top-24   rbp = 0
//!  top-32   rbx = 0
//!  top-40   r12 = entry
//!  top-48   r13 = arg
//!  top-56   r14 = 0
//!  top-64   r15 = 0            <- initial sp
//! ```

use core::arch::naked_asm;

/// Entry point of a fresh context: gets the `arg` given to [`init_stack`] and
/// the `arg` of the first `switch` into it. It must never return.
pub(crate) type Entry = unsafe extern "sysv64" fn(arg: usize, first: usize) -> !;

/// The body both switches share: push the callee-saved registers (the
/// return address is already on top), park this context (`[rdi] = rsp`),
/// adopt the other one (`rsp = rsi`), pop its registers, and hand `arg`
/// (`rdx`) over as the resumed side's return value. What remains on top
/// of the new stack is the resumed side's return address.
macro_rules! swap_contexts {
    () => {
        concat!(
            "push rbp\n",
            "push rbx\n",
            "push r12\n",
            "push r13\n",
            "push r14\n",
            "push r15\n",
            "mov [rdi], rsp\n",
            "mov rsp, rsi\n",
            "pop r15\n",
            "pop r14\n",
            "pop r13\n",
            "pop r12\n",
            "pop rbx\n",
            "pop rbp\n",
            "mov rax, rdx\n",
        )
    };
}

/// Saves the running context, stores its stack pointer in `*save` and resumes
/// the context whose stack pointer is `to`, which sees `arg` as the return
/// value of its own call to `switch` (or as `first` of its [`Entry`]).
///
/// # Safety
/// `to` must be a stack pointer saved by `switch` or made by [`init_stack`],
/// whose context has not been resumed since; its stack must stay mapped until
/// that context switches away again. `save` must be valid for a write.
#[unsafe(naked)]
pub(crate) unsafe extern "sysv64" fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    naked_asm!(
        swap_contexts!(),
        // Jump to where the resumed side called `switch` from. `pop; jmp`
        // rather than `ret`: the return-stack predictor would guess the
        // caller of *this* switch, always wrong here; the indirect-branch
        // predictor learns the alternation.
        "pop rcx",
        "jmp rcx",
    )
}

/// [`switch`], ending in `ret`: for a switch between two goroutines that
/// park through the same calls (a channel ping-pong), the return-stack
/// predictor's top entry is the return address of this very call site,
/// which is where the resumed side called from too, and the entries below
/// it match the frames the resumed side returns through next.
///
/// # Safety
/// As for [`switch`].
#[unsafe(naked)]
pub(crate) unsafe extern "sysv64" fn switch_ret(save: *mut usize, to: usize, arg: usize) -> usize {
    naked_asm!(swap_contexts!(), "ret")
}

/// First code run on a fresh stack: calls `entry(arg, first)`.
///
/// Entered by `ret` with rsp = top-8, that is exactly as a function is
/// entered by `call` (rsp ≡ 8 mod 16), so one more push realigns it.
#[unsafe(naked)]
unsafe extern "sysv64" fn trampoline() -> ! {
    naked_asm!(
        "push rbp",     // rbp is 0: ends the frame-pointer chain
        "mov rdi, r13", // arg
        "mov rsi, rax", // first: the value the first switch carried
        "call r12",     // entry never returns
        "ud2",
    )
}

/// Lays out a fresh context at the top of a stack and returns its stack
/// pointer, ready for [`switch`].
///
/// # Safety
/// `top` must be 16-byte aligned and the 64 bytes below it writable.
pub(crate) unsafe fn init_stack(top: usize, entry: Entry, arg: usize) -> usize {
    debug_assert_eq!(top % 16, 0);
    let words: [usize; 8] = [
        0,                                // r15
        0,                                // r14
        arg,                              // r13
        entry as *const () as usize,      // r12
        0,                                // rbx
        0,                                // rbp
        trampoline as *const () as usize, // return address of the first switch
        0,                                // fake return address of the trampoline
    ];
    let sp = top - words.len() * 8;
    // SAFETY: the caller guarantees the 64 bytes below `top` are writable and
    // `sp` is 16-byte aligned because `top` is and 64 is a multiple of 16.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut usize, words.len()) };
    sp
}

/// Asks the CPU to start loading the cache line at `addr` into all cache
/// levels, without waiting for it. A hint: any address will do, valid or
/// not (a prefetch never faults and changes nothing a program can observe
/// but timing).
#[inline(always)]
pub(crate) fn prefetch(addr: *const u8) {
    // SAFETY: `prefetcht0` needs only SSE, which every x86_64 CPU has; it
    // does not access memory in the language's sense, so no pointer
    // validity is required.
    unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr.cast()) }
}
