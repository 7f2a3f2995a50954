//! [`YrsString`]: a collaborative text field of an edit handle, for JS.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use super::error::js_error;

/// A text field in a transaction (`album.name` of an `AlbumMut`): edits by position
/// merge with concurrent edits elsewhere, so an `<input>` can be edited collaboratively by
/// turning each change into `delete` and `insert`. Positions count Unicode characters.
#[wasm_bindgen]
#[derive(Debug)]
pub struct YrsString {
    inner: ankurah_core::YrsString<String>,
}

impl From<ankurah_core::YrsString<String>> for YrsString {
    fn from(inner: ankurah_core::YrsString<String>) -> Self {
        YrsString { inner }
    }
}

#[wasm_bindgen]
impl YrsString {
    /// The text, this transaction's edits included.
    pub fn value(&self) -> Result<String, JsValue> {
        self.inner.value().map_err(js_error)
    }

    /// Inserts `text` before character `index`.
    pub fn insert(&self, index: u32, text: &str) -> Result<(), JsValue> {
        self.inner.insert(index, text).map_err(js_error)
    }

    /// Deletes `length` characters from `index`.
    pub fn delete(&self, index: u32, length: u32) -> Result<(), JsValue> {
        self.inner.delete(index, length).map_err(js_error)
    }

    /// Replaces the whole text.
    pub fn replace(&self, text: &str) -> Result<(), JsValue> {
        self.inner.replace(text).map_err(js_error)
    }
}
