//! [`IndexedDbError`]: what can go wrong between the engine and IndexedDB.

use ankurah_core::error::StorageError;
use wasm_bindgen::JsValue;

/// A failure of IndexedDB or of the data it returned; reaches callers as
/// [`StorageError::Engine`] with engine `indexeddb`.
#[derive(Debug, thiserror::Error)]
pub enum IndexedDbError {
    /// Neither a window nor a worker offers `indexedDB` here.
    #[error("IndexedDB is not available in this context")]
    Unavailable,
    /// IndexedDB refused or failed an operation (`operation` names it).
    #[error("{operation} failed: {message}")]
    Js {
        /// What the engine was doing: `open`, `put state`, `commit`, ...
        operation: &'static str,
        /// The browser's message (a `DOMException`'s name and message when it gave one).
        message: String,
    },
    /// Another tab holds the database open with an older version and does not close it.
    #[error("opening `{0}` is blocked by another tab holding an older version open")]
    Blocked(String),
    /// A stored value or key was not what the engine writes (bytes, arrays).
    #[error("stored {0} is not what this engine writes")]
    Unexpected(&'static str),
}

impl IndexedDbError {
    /// The error of a failed call, with the browser's message.
    pub(crate) fn js(operation: &'static str, value: JsValue) -> Self {
        let message = match value.dyn_ref::<web_sys::DomException>() {
            Some(exception) => format!("{}: {}", exception.name(), exception.message()),
            None => value.as_string().unwrap_or_else(|| format!("{value:?}")),
        };
        IndexedDbError::Js { operation, message }
    }
}

use wasm_bindgen::JsCast;

impl From<IndexedDbError> for StorageError {
    fn from(error: IndexedDbError) -> Self {
        StorageError::engine("indexeddb", error)
    }
}

/// Maps a failed call's `JsValue` into a [`StorageError`] naming `operation`.
pub(crate) fn js_error(operation: &'static str) -> impl Fn(JsValue) -> StorageError {
    move |value| IndexedDbError::js(operation, value).into()
}
