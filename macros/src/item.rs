//! The item under the attribute: a plain `fn` with no arguments.
//!
//! ```text
//! #[attr]*  vis?  fn NAME ( )  [-> TYPE]  { BODY }
//! ```
//!
//! What is refused, and why: `async` (a goroutine is blocking code; a
//! future is run with `goroutines::block_on`), arguments (the goroutine is
//! started by the generated code, which has nothing to pass), generics and
//! `where` clauses (nothing to instantiate them with), `const`, `unsafe` and
//! `extern` qualifiers (none makes sense for a function that starts a
//! runtime). Each refusal is recorded and parsing goes on, so that one
//! expansion reports every problem and still emits a function of the same
//! name (`Rejected::fallback`) rather than a second error about a missing
//! `main`.

use crate::error::Error;
use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

/// A function the attribute accepts.
pub(crate) struct MainFn {
    /// Outer attributes, `#` and `[...]` each, kept in order.
    pub(crate) attrs: Vec<TokenTree>,
    /// `pub`, `pub(crate)`, ... or nothing.
    pub(crate) vis: Vec<TokenTree>,
    pub(crate) fn_token: Ident,
    pub(crate) name: Ident,
    /// The empty `()`, kept for its span.
    pub(crate) parens: Group,
    /// `->` and the type after it, or nothing.
    pub(crate) arrow: Vec<TokenTree>,
    pub(crate) ret: Vec<TokenTree>,
    pub(crate) body: Group,
}

/// An item the attribute refuses: the errors, and what to emit in its place.
pub(crate) struct Rejected {
    pub(crate) errors: Vec<Error>,
    pub(crate) fallback: TokenStream,
}

pub(crate) fn parse(item: TokenStream) -> Result<MainFn, Rejected> {
    let original = item.clone();
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let mut errors = Vec::new();
    let mut i = 0;
    let refuse = |errors: Vec<Error>| Rejected {
        errors,
        fallback: original.clone(),
    };

    let mut attrs = Vec::new();
    while let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(g))) =
        (tokens.get(i), tokens.get(i + 1))
    {
        if hash.as_char() != '#' || g.delimiter() != Delimiter::Bracket {
            break;
        }
        attrs.extend_from_slice(&tokens[i..i + 2]);
        i += 2;
    }

    let mut vis = Vec::new();
    if matches!(tokens.get(i), Some(TokenTree::Ident(id)) if id == "pub") {
        vis.push(tokens[i].clone());
        i += 1;
        if let Some(TokenTree::Group(g)) = tokens.get(i) {
            if g.delimiter() == Delimiter::Parenthesis {
                vis.push(tokens[i].clone());
                i += 1;
            }
        }
    }

    let fn_token = loop {
        match tokens.get(i) {
            Some(TokenTree::Ident(id)) if id == "fn" => break id.clone(),
            Some(TokenTree::Ident(id)) if id == "async" => errors.push(Error::new(
                id.span(),
                "`#[goroutines::main]` cannot be used on an `async fn`: the body runs as a \
                 goroutine, which is plain blocking code; remove `async`, and run any future \
                 inside with `goroutines::block_on`",
            )),
            Some(TokenTree::Ident(id)) if id == "const" || id == "unsafe" || id == "extern" => {
                errors.push(Error::new(
                    id.span(),
                    format!("`#[goroutines::main]` takes a plain `fn`: remove `{id}`"),
                ));
                // `extern "C"`: skip the ABI string too.
                if id == "extern" && matches!(tokens.get(i + 1), Some(TokenTree::Literal(_))) {
                    i += 1;
                }
            }
            other => {
                let span = other.map_or_else(Span::call_site, TokenTree::span);
                errors.push(Error::new(
                    span,
                    "`#[goroutines::main]` applies to a function: expected `fn`",
                ));
                return Err(refuse(errors));
            }
        }
        i += 1;
    };
    i += 1;

    let Some(TokenTree::Ident(name)) = tokens.get(i).cloned() else {
        errors.push(Error::new(
            fn_token.span(),
            "expected the function's name after `fn`",
        ));
        return Err(refuse(errors));
    };
    i += 1;

    if let Some(TokenTree::Punct(lt)) = tokens.get(i) {
        if lt.as_char() == '<' {
            errors.push(Error::new(
                lt.span(),
                "a `#[goroutines::main]` function cannot be generic",
            ));
            // Skip to the argument list.
            while i < tokens.len()
                && !matches!(&tokens[i], TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis)
            {
                i += 1;
            }
        }
    }

    let parens = match tokens.get(i) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g.clone(),
        other => {
            let span = other.map_or_else(|| name.span(), TokenTree::span);
            errors.push(Error::new(span, "expected `()` after the function's name"));
            return Err(refuse(errors));
        }
    };
    i += 1;
    if !parens.stream().is_empty() {
        errors.push(Error::new(
            parens.span(),
            "a `#[goroutines::main]` function takes no arguments (read the command line with \
             `std::env::args()`)",
        ));
    }

    // The rest: an optional `-> TYPE`, then the body, always the last token.
    let body = match tokens.last() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace && tokens.len() > i => {
            g.clone()
        }
        _ => {
            errors.push(Error::new(
                tokens.last().map_or_else(Span::call_site, TokenTree::span),
                "expected the function's body",
            ));
            return Err(refuse(errors));
        }
    };
    let rest = &tokens[i..tokens.len() - 1];
    let (arrow, ret) = match rest {
        [] => (Vec::new(), Vec::new()),
        [TokenTree::Punct(minus), TokenTree::Punct(gt), ret @ ..]
            if minus.as_char() == '-' && gt.as_char() == '>' && !ret.is_empty() =>
        {
            (rest[..2].to_vec(), ret.to_vec())
        }
        [first, ..] => {
            errors.push(Error::new(
                first.span(),
                "expected `->` or the function's body",
            ));
            return Err(refuse(errors));
        }
    };
    if let Some(w) = ret
        .iter()
        .find(|t| matches!(t, TokenTree::Ident(id) if id == "where"))
    {
        errors.push(Error::new(
            w.span(),
            "a `#[goroutines::main]` function cannot have a `where` clause",
        ));
    }

    if !errors.is_empty() {
        // `ATTRS VIS fn NAME() {}`: the name still exists, and the errors
        // above are the only ones the user sees.
        let mut fallback: Vec<TokenTree> = attrs;
        fallback.extend(vis);
        fallback.push(fn_token.into());
        fallback.push(name.into());
        fallback.push(Group::new(Delimiter::Parenthesis, TokenStream::new()).into());
        fallback.push(Group::new(Delimiter::Brace, TokenStream::new()).into());
        return Err(Rejected {
            errors,
            fallback: fallback.into_iter().collect(),
        });
    }
    Ok(MainFn {
        attrs,
        vis,
        fn_token,
        name,
        parens,
        arrow,
        ret,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<MainFn, Vec<String>> {
        parse(s.parse().unwrap())
            .map_err(|r| r.errors.iter().map(|e| e.message().to_string()).collect())
    }

    fn text(tokens: &[TokenTree]) -> String {
        tokens.iter().cloned().collect::<TokenStream>().to_string()
    }

    #[test]
    fn attributes_visibility_and_return_type_are_kept() {
        let f = parse_str("#[allow(unused)] #[doc = \"x\"] pub(crate) fn main() -> std::io::Result<()> { Ok(()) }")
            .ok()
            .unwrap();
        assert_eq!(f.attrs.len(), 4);
        assert_eq!(text(&f.vis), "pub (crate)");
        assert_eq!(f.name.to_string(), "main");
        assert_eq!(text(&f.ret), "std :: io :: Result < () >");
        assert_eq!(f.body.stream().to_string(), "Ok (())");
    }

    #[test]
    fn any_name_is_accepted() {
        assert_eq!(
            parse_str("fn check() {}").ok().unwrap().name.to_string(),
            "check"
        );
    }

    #[test]
    fn a_return_type_holding_braces_is_not_mistaken_for_the_body() {
        let f = parse_str("fn main() -> Buf<{ 4 }> { todo!() }")
            .ok()
            .unwrap();
        assert_eq!(text(&f.ret), "Buf < { 4 } >");
    }

    #[test]
    fn refused_functions_name_the_problem() {
        let cases = [
            ("async fn main() {}", "cannot be used on an `async fn`"),
            ("pub async fn main() {}", "cannot be used on an `async fn`"),
            ("fn main(args: Vec<String>) {}", "takes no arguments"),
            ("fn main<T>() {}", "cannot be generic"),
            ("fn main() -> T where T: Send {}", "`where` clause"),
            ("unsafe fn main() {}", "remove `unsafe`"),
            ("const fn main() {}", "remove `const`"),
            ("extern \"C\" fn main() {}", "remove `extern`"),
            ("struct Main;", "applies to a function"),
            ("fn main();", "expected the function's body"),
            ("fn main() => {}", "expected `->` or the function's body"),
        ];
        for (item, want) in cases {
            let got = parse_str(item).err().unwrap_or_default();
            assert!(
                got.iter().any(|m| m.contains(want)),
                "{item}: got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let got = parse_str("async fn main(x: u8) {}").err().unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn a_refused_fn_leaves_a_stub_of_the_same_name() {
        let r = parse("#[test] async fn check() { x.await }".parse().unwrap())
            .err()
            .unwrap();
        assert_eq!(r.fallback.to_string(), "# [test] fn check () { }");
    }
}
