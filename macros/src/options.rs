//! The attribute's arguments: `#[goroutines::main(OPTION, ...)]`.
//!
//! ```text
//! max_procs = INT                 Builder::max_procs
//! stack_size = INT                Builder::stack_size (bytes)
//! unsafe(migrate_goroutines)      Builder::migrate_goroutines, an unsafe fn
//! ```
//!
//! Options are separated by commas, a trailing comma is fine, each may appear
//! once. Values are integer literals (decimal, `0x`, `0o` or `0b`, with `_`
//! separators, unsuffixed or `usize`), not expressions: the attribute is
//! configuration, and a literal lets the error point at a bad value.
//! `migrate_goroutines` without `unsafe(..)` is refused, so that no program
//! opts into Go mode without writing the word, as it would with the Builder.
//! Parsing stops at the first error.

use crate::error::Error;
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};

const EXPECTED: &str =
    "expected `max_procs = N`, `stack_size = BYTES` or `unsafe(migrate_goroutines)`";

#[derive(Default)]
pub(crate) struct Options {
    pub(crate) max_procs: Option<Value>,
    pub(crate) stack_size: Option<Value>,
    /// The span of the user's `unsafe` in `unsafe(migrate_goroutines)`.
    pub(crate) migrate_goroutines: Option<Span>,
}

/// An integer option's value and the span of the literal that gave it.
#[derive(Clone, Copy)]
pub(crate) struct Value {
    pub(crate) n: u64,
    pub(crate) span: Span,
}

impl Options {
    /// No options: the program uses the default runtime (`goroutines::run`).
    pub(crate) fn is_default(&self) -> bool {
        self.max_procs.is_none() && self.stack_size.is_none() && self.migrate_goroutines.is_none()
    }
}

pub(crate) fn parse(attr: TokenStream) -> Result<Options, Error> {
    let mut options = Options::default();
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    let mut chunks: Vec<&[TokenTree]> = tokens
        .split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .collect();
    if chunks.last().is_some_and(|c| c.is_empty()) {
        chunks.pop(); // a trailing comma, or no options at all
    }
    for (i, chunk) in chunks.iter().enumerate() {
        let Some(first) = chunk.first() else {
            // Two commas in a row: point at the second one.
            let comma = tokens
                .iter()
                .filter(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                .nth(i)
                .map_or_else(Span::call_site, TokenTree::span);
            return Err(Error::new(comma, format!("expected an option: {EXPECTED}")));
        };
        let TokenTree::Ident(name) = first else {
            return Err(Error::new(
                first.span(),
                format!("expected an option, found `{first}`: {EXPECTED}"),
            ));
        };
        let name_str = name.to_string();
        match name_str.as_str() {
            "max_procs" | "stack_size" => {
                let value = parse_value(&name_str, chunk)?;
                if name_str == "max_procs" && value.n == 0 {
                    return Err(Error::new(value.span, "`max_procs` must be at least 1"));
                }
                let slot = match name_str.as_str() {
                    "max_procs" => &mut options.max_procs,
                    _ => &mut options.stack_size,
                };
                if slot.is_some() {
                    return Err(Error::new(
                        name.span(),
                        format!("duplicate option `{name}`"),
                    ));
                }
                *slot = Some(value);
            }
            "unsafe" => {
                parse_unsafe(chunk)?;
                if options.migrate_goroutines.is_some() {
                    return Err(Error::new(
                        name.span(),
                        "duplicate option `unsafe(migrate_goroutines)`",
                    ));
                }
                options.migrate_goroutines = Some(name.span());
            }
            "migrate_goroutines" => {
                return Err(Error::new(
                    name.span(),
                    "`migrate_goroutines` is unsafe: write `unsafe(migrate_goroutines)` to promise \
                     that no goroutine holds a thread-local borrow, a thread-affine lock or a \
                     `!Send` value a thread-local can reach across a park point \
                     (see `goroutines::Builder::migrate_goroutines` and SAFETY.md)",
                ));
            }
            _ => {
                return Err(Error::new(
                    name.span(),
                    format!("unknown option `{name}`: {EXPECTED}"),
                ));
            }
        }
    }
    Ok(options)
}

/// `NAME = INT`, the whole chunk between two commas.
fn parse_value(name: &str, chunk: &[TokenTree]) -> Result<Value, Error> {
    let usage = format!("expected `{name} = <integer>`");
    let eq = match chunk.get(1) {
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => p,
        Some(other) => return Err(Error::new(other.span(), usage)),
        None => return Err(Error::new(chunk[0].span(), usage)),
    };
    let Some(value) = chunk.get(2) else {
        return Err(Error::new(eq.span(), usage));
    };
    if let Some(extra) = chunk.get(3) {
        let last = chunk.last().map_or(extra.span(), TokenTree::span);
        return Err(Error::spanning(
            value.span(),
            last,
            format!("`{name}` takes an integer literal, not an expression"),
        ));
    }
    let literal = unwrap_invisible_group(value);
    let n = match literal {
        TokenTree::Literal(l) => parse_int(&l.to_string()),
        _ => None,
    };
    match n {
        Some(n) => Ok(Value {
            n,
            span: value.span(),
        }),
        None => Err(Error::new(
            value.span(),
            format!("`{name}` takes a non-negative integer literal (a `usize`), found `{value}`"),
        )),
    }
}

/// `unsafe(migrate_goroutines)`, the whole chunk.
fn parse_unsafe(chunk: &[TokenTree]) -> Result<(), Error> {
    let usage = "expected `unsafe(migrate_goroutines)`, the only unsafe option";
    match chunk.get(1) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            match inner.as_slice() {
                [TokenTree::Ident(i)] if i == "migrate_goroutines" => {}
                [first, ..] => return Err(Error::new(first.span(), usage)),
                [] => return Err(Error::new(g.span(), usage)),
            }
            if let Some(extra) = chunk.get(2) {
                return Err(Error::new(
                    extra.span(),
                    "expected `,` or the end of the options",
                ));
            }
            Ok(())
        }
        Some(other) => Err(Error::new(other.span(), usage)),
        None => Err(Error::new(chunk[0].span(), usage)),
    }
}

/// A literal passed through a `macro_rules!` fragment arrives wrapped in a
/// group without delimiters.
fn unwrap_invisible_group(tree: &TokenTree) -> TokenTree {
    if let TokenTree::Group(g) = tree {
        if g.delimiter() == Delimiter::None {
            let mut inner = g.stream().into_iter();
            if let (Some(only), None) = (inner.next(), inner.next()) {
                return unwrap_invisible_group(&only);
            }
        }
    }
    tree.clone()
}

/// An integer literal's text, as Rust spells it, to its value.
fn parse_int(text: &str) -> Option<u64> {
    let text = text.strip_suffix("usize").unwrap_or(text);
    let (digits, radix) = match text.get(..2) {
        Some("0x") => (&text[2..], 16),
        Some("0o") => (&text[2..], 8),
        Some("0b") => (&text[2..], 2),
        _ => (text, 10),
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Options, String> {
        parse(s.parse().unwrap()).map_err(|e| e.message().to_string())
    }

    #[test]
    fn integer_literals_in_every_radix_with_separators() {
        assert_eq!(parse_int("4"), Some(4));
        assert_eq!(parse_int("1_048_576"), Some(1 << 20));
        assert_eq!(parse_int("0x10_0000"), Some(1 << 20));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("8usize"), Some(8));
    }

    #[test]
    fn non_integer_literals_are_refused() {
        for bad in [
            "4.0",
            "4u32",
            "\"4\"",
            "'4'",
            "0x",
            "true",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn all_options_at_once_with_a_trailing_comma() {
        let o = parse_str("max_procs = 4, stack_size = 0x10_0000, unsafe(migrate_goroutines),")
            .unwrap();
        assert_eq!(o.max_procs.unwrap().n, 4);
        assert_eq!(o.stack_size.unwrap().n, 1 << 20);
        assert!(o.migrate_goroutines.is_some());
        assert!(!o.is_default());
    }

    #[test]
    fn no_options_is_the_default_runtime() {
        assert!(parse_str("").unwrap().is_default());
    }

    #[test]
    fn migrate_goroutines_without_unsafe_is_refused() {
        let e = parse_str("migrate_goroutines").err().unwrap();
        assert!(e.contains("write `unsafe(migrate_goroutines)`"), "{e}");
    }

    #[test]
    fn malformed_options_name_the_problem() {
        let cases = [
            ("workers = 4", "unknown option `workers`"),
            ("max_procs", "expected `max_procs = <integer>`"),
            ("max_procs =", "expected `max_procs = <integer>`"),
            ("max_procs: 4", "expected `max_procs = <integer>`"),
            ("max_procs = \"4\"", "non-negative integer literal"),
            ("max_procs = -1", "not an expression"),
            ("stack_size = 1 << 20", "not an expression"),
            ("stack_size = SIZE", "non-negative integer literal"),
            ("max_procs = 0", "at least 1"),
            (
                "max_procs = 2, max_procs = 3",
                "duplicate option `max_procs`",
            ),
            ("unsafe(max_procs)", "the only unsafe option"),
            ("unsafe", "the only unsafe option"),
            ("unsafe()", "the only unsafe option"),
            ("max_procs = 2,, stack_size = 8192", "expected an option"),
            ("= 4", "expected an option, found `=`"),
        ];
        for (attr, want) in cases {
            let got = parse_str(attr).err().unwrap_or_default();
            assert!(got.contains(want), "{attr}: got {got:?}, want {want:?}");
        }
    }
}
