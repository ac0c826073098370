//! A compile error with a place: what the user wrote wrong and where.
//!
//! It becomes `::core::compile_error! { "message" }` whose tokens carry the
//! offending span, so rustc underlines the user's tokens, not the attribute.
//! A range is two spans: the first tokens of the invocation carry `start`
//! and its braces carry `end`, and rustc underlines from one to the other.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

pub(crate) struct Error {
    start: Span,
    end: Span,
    message: String,
}

impl Error {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Error {
        Error::spanning(span, span, message)
    }

    pub(crate) fn spanning(start: Span, end: Span, message: impl Into<String>) -> Error {
        Error {
            start,
            end,
            message: message.into(),
        }
    }

    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn to_compile_error(&self) -> TokenStream {
        let colon = || -> [TokenTree; 2] {
            let mut first = Punct::new(':', Spacing::Joint);
            let mut second = Punct::new(':', Spacing::Alone);
            first.set_span(self.start);
            second.set_span(self.start);
            [first.into(), second.into()]
        };
        let mut out: Vec<TokenTree> = Vec::new();
        out.extend(colon());
        out.push(Ident::new("core", self.start).into());
        out.extend(colon());
        out.push(Ident::new("compile_error", self.start).into());
        let mut bang = Punct::new('!', Spacing::Alone);
        bang.set_span(self.start);
        out.push(bang.into());
        let mut message = Literal::string(&self.message);
        message.set_span(self.end);
        let mut braces = Group::new(Delimiter::Brace, TokenTree::from(message).into());
        braces.set_span(self.end);
        out.push(braces.into());
        out.into_iter().collect()
    }
}
