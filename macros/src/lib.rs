//! `#[goroutines::main]`: run a program's `main` as its main goroutine.
//!
//! Use it through the `goroutines` crate, which re-exports it; this crate
//! exists because a procedural macro must live in a crate of its own.
//!
//! Layout: `options.rs` parses the attribute's arguments, `item.rs` the
//! function under it, `expand.rs` writes the new function, `error.rs` turns
//! a refusal into a `compile_error!` at the offending tokens. Everything
//! works on `proc_macro2` tokens, so the expansion is an ordinary function
//! that the unit tests call; the compile-fail cases, which need rustc, are
//! in `tests/ui/`.

mod error;
mod expand;
mod item;
mod options;

/// Runs the function's body as the main goroutine of a goroutines runtime.
///
/// ```
/// #[goroutines::main]
/// fn main() {
///     let (tx, rx) = goroutines::chan::bounded(0);
///     goroutines::go(move || tx.send("hello from a goroutine").unwrap());
///     println!("{}", rx.recv().unwrap());
/// }
/// ```
///
/// is `fn main() { goroutines::run(move || { ... }) }`: the body blocks,
/// spawns and parks like any goroutine, and `main` returns its result. The
/// return type is kept, so `?` works in the body:
///
/// ```
/// #[goroutines::main]
/// fn main() -> std::io::Result<()> {
///     let listener = goroutines::net::TcpListener::bind("127.0.0.1:0")?;
///     println!("listening on {}", listener.local_addr()?);
///     Ok(())
/// }
/// ```
///
/// The result travels from the goroutine back to the main thread, so it
/// must be `Send + 'static`: return `Box<dyn Error + Send + Sync>`, not
/// `Box<dyn Error>`. As in Go, returning from `main` ends the program even
/// if other goroutines are still running.
///
/// # Options
///
/// Without options the body runs on the default runtime (what
/// `goroutines::run` uses). Options build a runtime of its own with
/// `goroutines::Runtime::builder()`:
///
/// | option | builder call |
/// |---|---|
/// | `max_procs = 4` | `.max_procs(4)` (the `GOMAXPROCS` environment variable still wins) |
/// | `stack_size = 1_048_576` | `.stack_size(1_048_576)`, bytes per goroutine stack |
/// | `unsafe(migrate_goroutines)` | `unsafe { .migrate_goroutines() }`: Go mode |
///
/// ```
/// #[goroutines::main(max_procs = 2, stack_size = 0x10_0000)]
/// fn main() {
///     assert_eq!(goroutines::max_procs(), std::env::var("GOMAXPROCS")
///         .map_or(2, |v| v.parse().unwrap()));
/// }
/// ```
///
/// Values are integer literals. `unsafe(migrate_goroutines)` is spelled
/// with `unsafe` because `Builder::migrate_goroutines` is an `unsafe fn`:
/// writing it is the program's promise that no goroutine holds a
/// thread-local borrow, a lock tied to its OS thread, or a `!Send` value a
/// thread-local can reach, across a call that can park it (SAFETY.md in the
/// goroutines repository has the whole contract). A crate that forbids
/// `unsafe_code` cannot use it. If the runtime cannot be built (say
/// `GOMAXPROCS=abc`), the function panics with the builder's message before
/// the body runs.
///
/// ```
/// // SAFETY: no goroutine of this program holds a thread-local borrow, a
/// // thread-affine lock or a `!Send` value across a park point.
/// #[goroutines::main(max_procs = 2, unsafe(migrate_goroutines))]
/// fn main() {
///     let h = goroutines::go(|| 6 * 7);
///     assert_eq!(h.join().unwrap(), 42);
/// }
/// ```
///
/// # Other functions
///
/// Any function without arguments may carry the attribute, not only `main`,
/// so a `#[test]` can run as a goroutine (put `#[goroutines::main]` above or
/// below `#[test]`). The one difference is the lifetime of a runtime built
/// from options: `main`'s lives until the process exits, as the default
/// runtime does (nothing waits for leftover goroutines, as in Go); any
/// other function's runtime is dropped when the function returns.
///
/// ```
/// #[goroutines::main(max_procs = 1)]
/// fn on_one_p() -> usize {
///     goroutines::max_procs()
/// }
///
/// # if std::env::var_os("GOMAXPROCS").is_none() {
/// assert_eq!(on_one_p(), 1);
/// # }
/// ```
///
/// # Refused
///
/// A compile error, at the offending tokens, for an `async fn` (a goroutine
/// is blocking code: remove `async` and use `goroutines::block_on` for any
/// future inside), a function with arguments, generics or a `where` clause,
/// a `const`, `unsafe` or `extern` function, an unknown or repeated option,
/// a value that is not an integer literal, `max_procs = 0` or above
/// `goroutines::MAX_PROCS`, and `migrate_goroutines` without `unsafe(..)`.
#[proc_macro_attribute]
pub fn main(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
