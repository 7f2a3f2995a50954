//! [`Context`]: the JS handle on a node's context, where transactions begin and the
//! generated `Album.query(ctx, ..)` / `Album.get(ctx, id)` read.

use wasm_bindgen::prelude::wasm_bindgen;

use super::Transaction;

/// A context of a node (who reads and writes, see `ankurah::Context`), for JS. The
/// application's wasm crate makes one from its node's context: `Context::from(ctx)`.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct Context {
    inner: ankurah_core::Context,
}

impl From<ankurah_core::Context> for Context {
    fn from(inner: ankurah_core::Context) -> Self {
        Context { inner }
    }
}

impl Context {
    /// The Rust context.
    pub fn inner(&self) -> &ankurah_core::Context {
        &self.inner
    }
}

#[wasm_bindgen]
impl Context {
    /// Begins a transaction: `trx.create(..)`, `trx.edit(view)`, `trx.delete(view)`, then
    /// `await trx.commit()`.
    pub fn begin(&self) -> Transaction {
        Transaction::from(self.inner.begin())
    }
}
