//! Where generated code finds the runtime.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

/// `::ankurah::__private`: everything generated code names goes through this hidden module,
/// so a user's own `Result`, `Arc` or `ankurah` in scope cannot change what an expansion means.
pub(crate) fn private() -> TokenStream {
    private_at(Span::call_site())
}

/// [`private`] spanned at a user's token: a trait bound that fails in a call through it is
/// reported at that token rather than at the whole macro invocation.
pub(crate) fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::ankurah::__private)
}
