//! The expansion: a function of the same name whose body runs as a goroutine.
//!
//! ```text
//! #[goroutines::main]                 fn main() -> R {
//! fn main() -> R { BODY }       =>        ::goroutines::run(move || -> R { BODY })
//!                                     }
//!
//! #[goroutines::main(max_procs = 4)]  fn main() -> R {
//! fn main() -> R { BODY }       =>        let builder = ::goroutines::Runtime::builder();
//!                                         let builder = builder.max_procs(4);
//!                                         let runtime = match builder.build() { .. panic };
//!                                         let runtime = Box::leak(Box::new(runtime));
//!                                         runtime.run(move || -> R { BODY })
//!                                     }
//! ```
//!
//! The runtime built for options lives as long as the process when the
//! function is `main`, as the default runtime does: returning from `main`
//! ends the program while other goroutines may still run, as in Go, and
//! nothing waits for them. Under any other name (a test, a helper) the
//! runtime is dropped when the function returns, as `#[tokio::test]` drops
//! its runtime, so a test binary does not collect idle threads.
//!
//! Every token the expansion adds is at `Span::mixed_site()`: its local
//! names (`builder`, `runtime`) cannot capture or shadow the user's, and
//! paths (`::goroutines`, `::core`) resolve where the attribute is written.
//! The user's tokens keep their spans, so errors in the body and `?` point
//! where they always did.

use crate::item::{self, MainFn};
use crate::options::{self, Options};
use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};

/// `#[goroutines::main(attr)] item`, expanded; errors become
/// `compile_error!` next to a function of the same name.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = options::parse(attr);
    let mut out = TokenStream::new();
    match item::parse(item) {
        Ok(f) => match options {
            Ok(options) => out.extend(generate(&options, &f)),
            Err(e) => {
                // Expand as if without options, so that the body is still
                // checked and `main` still exists.
                out.extend(e.to_compile_error());
                out.extend(generate(&Options::default(), &f));
            }
        },
        Err(rejected) => {
            if let Err(e) = options {
                out.extend(e.to_compile_error());
            }
            for e in &rejected.errors {
                out.extend(e.to_compile_error());
            }
            out.extend(rejected.fallback);
        }
    }
    out
}

fn generate(options: &Options, f: &MainFn) -> TokenStream {
    let arrow: TokenStream = f.arrow.iter().cloned().collect();
    let ret: TokenStream = f.ret.iter().cloned().collect();
    // A closure cannot be annotated `-> impl Trait`; its type is inferred
    // from the body then.
    let closure_ret = match f.ret.first() {
        Some(TokenTree::Ident(id)) if id == "impl" => TokenStream::new(),
        _ => arrow.clone().into_iter().chain(ret.clone()).collect(),
    };
    let body = TokenTree::Group(f.body.clone()).into();
    let closure = template(
        "move || $ret $body",
        &[("ret", closure_ret), ("body", body)],
    );

    // `run` requires the result to be `Send + 'static`: put the call at the
    // return type, so that an error about it underlines the type.
    let (ret_start, ret_end) = match (f.ret.first(), f.ret.last()) {
        (Some(first), Some(last)) => (first.span(), last.span()),
        _ => (Span::mixed_site(), Span::mixed_site()),
    };
    let mut args = Group::new(Delimiter::Parenthesis, closure);
    args.set_span(ret_end);
    let args = TokenTree::from(args).into();

    let inner = if options.is_default() {
        let run = respan(template("::goroutines::run", &[]), ret_start);
        template("$run $args", &[("run", run), ("args", args)])
    } else {
        let mut steps = template("let builder = ::goroutines::Runtime::builder();", &[]);
        if let Some(v) = options.max_procs {
            steps.extend(template(
                "let builder = builder.max_procs($n);",
                &[("n", literal(v.n, v.span))],
            ));
            // MAX_PROCS lives in the runtime crate; check against it where
            // the user wrote the value, at compile time.
            steps.extend(respan(
                template(
                    "const _: () = ::core::assert!($n <= ::goroutines::MAX_PROCS, \
                     \"max_procs is above goroutines::MAX_PROCS\");",
                    &[("n", literal(v.n, v.span))],
                ),
                v.span,
            ));
        }
        if let Some(v) = options.stack_size {
            steps.extend(template(
                "let builder = builder.stack_size($n);",
                &[("n", literal(v.n, v.span))],
            ));
        }
        if let Some(unsafe_span) = options.migrate_goroutines {
            // The user wrote `unsafe(migrate_goroutines)`: their promise of
            // Builder::migrate_goroutines's contract. The block sits at that
            // `unsafe`, so that the `unsafe_code` lint (which skips blocks a
            // macro wrote) sees it.
            let mut braces = Group::new(
                Delimiter::Brace,
                template("builder.migrate_goroutines()", &[]),
            );
            braces.set_span(unsafe_span);
            let keyword = TokenTree::Ident(Ident::new("unsafe", unsafe_span));
            let block = [keyword, TokenTree::Group(braces)].into_iter().collect();
            // The user's SAFETY comment cannot be where clippy looks for it
            // (above the generated statement), and `unsafe(..)` documents
            // the promise already.
            steps.extend(template(
                "#[allow(clippy::undocumented_unsafe_blocks)] let builder = $block;",
                &[("block", block)],
            ));
        }
        let name = TokenTree::from(Literal::string(&f.name.to_string())).into();
        steps.extend(template(
            "let runtime = match builder.build() {
                ::core::result::Result::Ok(runtime) => runtime,
                ::core::result::Result::Err(error) => ::core::panic!(
                    \"goroutines: cannot start the runtime of `{}`: {}\", $name, error
                ),
            };",
            &[("name", name)],
        ));
        if f.name == "main" {
            steps.extend(template(
                "let runtime: &'static ::goroutines::Runtime =
                    ::std::boxed::Box::leak(::std::boxed::Box::new(runtime));",
                &[],
            ));
        }
        let run = TokenTree::from(Ident::new("run", ret_start)).into();
        steps.extend(template(
            "runtime.$run $args",
            &[("run", run), ("args", args)],
        ));
        steps
    };

    let mut out: Vec<TokenTree> = f.attrs.clone();
    out.extend(f.vis.iter().cloned());
    out.push(f.fn_token.clone().into());
    out.push(f.name.clone().into());
    out.push(f.parens.clone().into());
    out.extend(arrow);
    out.extend(ret);
    let mut outer_body = Group::new(Delimiter::Brace, inner);
    outer_body.set_span(f.body.span());
    out.push(outer_body.into());
    out.into_iter().collect()
}

fn literal(n: u64, span: Span) -> TokenStream {
    let mut l = Literal::u64_unsuffixed(n);
    l.set_span(span);
    TokenTree::from(l).into()
}

/// Rust source with `$name` holes, as tokens at `Span::mixed_site()`, each
/// hole filled with the given tokens (which keep their own spans).
fn template(src: &str, holes: &[(&str, TokenStream)]) -> TokenStream {
    let tokens: TokenStream = src.parse().expect("a template is valid Rust tokens");
    fill(tokens, holes)
}

fn fill(tokens: TokenStream, holes: &[(&str, TokenStream)]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut iter = tokens.into_iter();
    while let Some(tree) = iter.next() {
        match tree {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                let Some(TokenTree::Ident(name)) = iter.next() else {
                    panic!("template: `$` must be followed by a hole's name");
                };
                let (_, filling) = holes
                    .iter()
                    .find(|(hole, _)| name == hole)
                    .unwrap_or_else(|| panic!("template: no tokens for `${name}`"));
                out.extend(filling.clone());
            }
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), fill(g.stream(), holes));
                group.set_span(Span::mixed_site());
                out.extend([TokenTree::Group(group)]);
            }
            mut other => {
                other.set_span(Span::mixed_site());
                out.extend([other]);
            }
        }
    }
    out
}

/// The same tokens, all at `span`: for generated code whose error should
/// point at one of the user's tokens.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> String {
        expand(attr.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    /// `src` as tokens, printed the way proc-macro2 prints an expansion.
    fn tokens(src: &str) -> String {
        src.parse::<TokenStream>().unwrap().to_string()
    }

    #[test]
    fn without_options_the_body_runs_on_the_default_runtime() {
        assert_eq!(
            expand_str("", "fn main() { println!(\"hi\"); }"),
            tokens("fn main() { ::goroutines::run(move || { println!(\"hi\"); }) }"),
        );
    }

    #[test]
    fn the_return_type_is_kept_on_the_function_and_the_closure() {
        assert_eq!(
            expand_str(
                "",
                "#[allow(unused)] pub fn main() -> std::io::Result<()> { let x = y?; Ok(x) }"
            ),
            tokens(
                "#[allow(unused)] pub fn main() -> std::io::Result<()> {
                    ::goroutines::run(move || -> std::io::Result<()> { let x = y?; Ok(x) })
                }"
            ),
        );
    }

    #[test]
    fn an_impl_trait_return_type_is_left_to_inference_on_the_closure() {
        assert_eq!(
            expand_str("", "fn answer() -> impl Send { 42 }"),
            tokens("fn answer() -> impl Send { ::goroutines::run(move || { 42 }) }"),
        );
    }

    #[test]
    fn options_build_a_runtime_that_main_never_drops() {
        let out = expand_str(
            "max_procs = 4, stack_size = 1_048_576, unsafe(migrate_goroutines)",
            "fn main() {}",
        );
        for step in [
            "let builder = :: goroutines :: Runtime :: builder () ;",
            "let builder = builder . max_procs (4) ;",
            "const _ : () = :: core :: assert ! (4 <= :: goroutines :: MAX_PROCS",
            "let builder = builder . stack_size (1048576) ;",
            "let builder = unsafe { builder . migrate_goroutines () } ;",
            "match builder . build ()",
            ":: std :: boxed :: Box :: leak",
            "runtime .run (move || { })",
        ] {
            assert!(out.contains(step), "missing {step:?} in {out}");
        }
    }

    #[test]
    fn options_on_another_function_drop_its_runtime_on_return() {
        let out = expand_str("max_procs = 2", "fn check() {}");
        assert!(out.contains("runtime .run (move || { })"), "{out}");
        assert!(!out.contains("leak"), "{out}");
        assert!(!out.contains("migrate_goroutines"), "{out}");
    }

    #[test]
    fn a_bad_option_is_reported_and_the_function_still_expands() {
        let out = expand_str("workers = 4", "fn main() {}");
        assert!(
            out.starts_with(":: core :: compile_error ! { \"unknown option `workers`"),
            "{out}"
        );
        assert!(
            out.ends_with(&tokens("fn main() { ::goroutines::run(move || {}) }")),
            "{out}"
        );
    }

    #[test]
    fn a_refused_function_is_reported_and_replaced_by_a_stub() {
        let out = expand_str("", "async fn main() { f().await }");
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.contains("cannot be used on an `async fn`"), "{out}");
        assert!(out.ends_with("fn main () { }"), "{out}");
    }

    #[test]
    fn bad_options_and_a_refused_function_are_all_reported() {
        let out = expand_str("workers = 4", "fn main(x: u8) {}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }
}
