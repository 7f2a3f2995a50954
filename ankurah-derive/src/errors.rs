//! [`Errors`]: every mistake found in one macro invocation, reported together.

use proc_macro2::TokenStream;

/// Collects spanned errors so one build shows all of a user's mistakes, not just the first.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: impl Into<syn::Error>) {
        self.0.push(error.into());
    }

    /// The value of `result`, or `None` with its error recorded.
    pub(crate) fn handle<T, E: Into<syn::Error>>(&mut self, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// A `compile_error!` per error.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.0.into_iter().map(|e| e.into_compile_error()).collect()
    }
}
