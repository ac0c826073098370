//! Telling Valgrind where goroutine stacks are (cargo feature `valgrind`).
//!
//! Valgrind's memcheck tracks the stack pointer: a move down is a frame
//! being allocated (the bytes become undefined), a move up one being freed
//! (the bytes become inaccessible). A context switch between two goroutine
//! stacks of the same arena, 256 KiB apart, looks exactly like a huge frame
//! to it, and it would poison the live frames of the goroutine switched
//! away from. Stacks registered with `VALGRIND_STACK_REGISTER` are known
//! to be separate, so a jump between them is a switch.
//!
//! The arena registers each slot once, when it carves it, and deregisters
//! them all before it unmaps its chunks. Thread stacks (every M's g0) are
//! registered by Valgrind itself when it sees the thread created.
//!
//! A client request is Valgrind's documented ABI (valgrind.h, amd64-linux):
//! `%rax` points at six words (request code, five arguments), `%rdx` holds
//! the default result, and a preamble of four rotations of `%rdi` (3, 13,
//! 61 and 51 bits: 128 in all, so `%rdi` comes back unchanged) followed by
//! `xchg %rbx,%rbx` marks the request. On a real CPU the sequence does
//! nothing and `%rdx` keeps the default; under Valgrind the translator
//! recognises it and leaves the result in `%rdx`. Without the feature both
//! functions compile to nothing.

/// `VG_USERREQ__STACK_REGISTER` from valgrind.h.
#[cfg(feature = "valgrind")]
const STACK_REGISTER: usize = 0x1501;
/// `VG_USERREQ__STACK_DEREGISTER` from valgrind.h.
#[cfg(feature = "valgrind")]
const STACK_DEREGISTER: usize = 0x1502;

/// Issues one client request; returns Valgrind's answer, or `default` when
/// not running under Valgrind.
#[cfg(feature = "valgrind")]
fn client_request(default: usize, request: usize, args: [usize; 5]) -> usize {
    let block: [usize; 6] = [request, args[0], args[1], args[2], args[3], args[4]];
    let mut result = default;
    // SAFETY: natively, the four rotations of rdi sum to 128 bits (its
    // value comes back unchanged; only CF and OF change, hence no
    // `preserves_flags`) and `xchg rbx, rbx` changes nothing. Under
    // Valgrind the sequence is a request that reads the six words at rax
    // (a live local array) and writes rdx. The stack is not touched.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") block.as_ptr(),
            inout("rdx") result,
            options(nostack),
        );
    }
    result
}

/// Registers `[lo, hi)` as a stack; returns Valgrind's id for it (0 when
/// not under Valgrind, or without the feature).
#[cfg_attr(not(feature = "valgrind"), allow(unused_variables))]
pub(crate) fn register(lo: usize, hi: usize) -> usize {
    #[cfg(feature = "valgrind")]
    {
        // valgrind.h takes the lowest and the highest addressable byte.
        client_request(0, STACK_REGISTER, [lo, hi - 1, 0, 0, 0])
    }
    #[cfg(not(feature = "valgrind"))]
    {
        0
    }
}

/// Forgets the stack `register` returned `id` for.
#[cfg_attr(not(feature = "valgrind"), allow(unused_variables))]
pub(crate) fn deregister(id: usize) {
    #[cfg(feature = "valgrind")]
    client_request(0, STACK_DEREGISTER, [id, 0, 0, 0, 0]);
}
