//! Panic messages that name the goroutine: `goroutine 7 panicked at
//! src/main.rs:3:5:` rather than the name of whichever OS thread ran it.
//!
//! Installed once, when the first runtime is built, on top of the hook in
//! place then: panics outside goroutines still go to that hook. A hook the
//! program sets later replaces ours, as std's `set_hook` always does.

use std::sync::Once;

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let Some(id) = crate::scheduler::m::current_goroutine_id() else {
                return previous(info);
            };
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                s
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.as_str()
            } else {
                "Box<dyn Any>"
            };
            let location = info
                .location()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let backtrace = std::backtrace::Backtrace::capture();
            let trace = match backtrace.status() {
                std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
                _ => String::new(),
            };
            eprintln!("goroutine {id} panicked{location}:\n{msg}{trace}");
        }));
    });
}
