//! Errors as JS exceptions: an `Error` named `AnkurahError` whose `kind` is one of the
//! strings of the TypeScript type `ErrorKind`, and whose `message` is the Rust error's.

use std::fmt::Display;

use ankurah_core::{
    AccessDenied, ErrorKind, MutationError, PeerError, PropertyError, RemoteError, RetrievalError,
    StorageError,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(typescript_custom_section)]
const ERROR_TS: &'static str = r#"
/** What went wrong: the `kind` of every error the Ankurah API throws. */
export type ErrorKind =
  | "NotFound" | "Deleted" | "InvalidQuery" | "AccessDenied" | "Storage" | "InvalidEvent"
  | "LimitExceeded" | "Property" | "InvalidArgument" | "AlreadyCommitted" | "Peer"
  | "Overloaded" | "Protocol" | "Unauthenticated" | "CredentialExpired" | "ShutDown"
  | "NoSystem" | "NoHistory" | "Internal";
/** An error thrown by the Ankurah API. */
export interface AnkurahError extends Error { name: "AnkurahError"; kind: ErrorKind; }
"#;

/// The `kind` of an error on the JS side.
pub trait ErrorKindOf: Display {
    /// One of the strings of the TypeScript type `ErrorKind`.
    fn kind(&self) -> &'static str;
}

/// `error` as a JS `AnkurahError`.
pub fn js_error<E: ErrorKindOf>(error: E) -> JsValue {
    make(error.kind(), &error.to_string())
}

/// An `AnkurahError` of `kind` saying `message`.
pub(crate) fn make(kind: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("AnkurahError");
    // Setting a property of a fresh `Error` cannot fail.
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &kind.into());
    error.into()
}

/// The name of a kind that crossed the wire.
fn remote_kind(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFound",
        ErrorKind::AccessDenied => "AccessDenied",
        ErrorKind::InvalidQuery => "InvalidQuery",
        ErrorKind::InvalidEvent => "InvalidEvent",
        ErrorKind::LimitExceeded => "LimitExceeded",
        ErrorKind::Overloaded => "Overloaded",
        ErrorKind::Storage => "Storage",
        ErrorKind::Protocol => "Protocol",
        ErrorKind::Unauthenticated => "Unauthenticated",
        ErrorKind::CredentialExpired => "CredentialExpired",
        ErrorKind::Internal => "Internal",
    }
}

impl ErrorKindOf for RemoteError {
    fn kind(&self) -> &'static str {
        remote_kind(self.kind)
    }
}

impl ErrorKindOf for PeerError {
    fn kind(&self) -> &'static str {
        "Peer"
    }
}

impl ErrorKindOf for AccessDenied {
    fn kind(&self) -> &'static str {
        "AccessDenied"
    }
}

impl ErrorKindOf for StorageError {
    fn kind(&self) -> &'static str {
        "Storage"
    }
}

impl ErrorKindOf for PropertyError {
    fn kind(&self) -> &'static str {
        match self {
            PropertyError::Deleted { .. } => "Deleted",
            PropertyError::LimitExceeded { .. } => "LimitExceeded",
            _ => "Property",
        }
    }
}

impl ErrorKindOf for RetrievalError {
    fn kind(&self) -> &'static str {
        match self {
            RetrievalError::NotFound { .. } => "NotFound",
            RetrievalError::Deleted { .. } => "Deleted",
            RetrievalError::NoHistory { .. } => "NoHistory",
            RetrievalError::UnknownProperty { .. }
            | RetrievalError::InvalidQuery { .. }
            | RetrievalError::Parse(_) => "InvalidQuery",
            RetrievalError::AccessDenied(_) => "AccessDenied",
            RetrievalError::Storage(_) => "Storage",
            RetrievalError::State(_) => "InvalidEvent",
            RetrievalError::LimitExceeded(_) => "LimitExceeded",
            RetrievalError::Remote(error) => error.kind(),
            RetrievalError::Peer(error) => error.kind(),
            RetrievalError::QueryFailed { reason, .. } => reason.kind(),
        }
    }
}

impl ErrorKindOf for MutationError {
    fn kind(&self) -> &'static str {
        match self {
            MutationError::Deleted { .. } => "Deleted",
            MutationError::AlreadyCommitted => "AlreadyCommitted",
            MutationError::Property(error) => error.kind(),
            MutationError::AccessDenied(_) => "AccessDenied",
            MutationError::Storage(_) => "Storage",
            MutationError::Event(_) => "InvalidEvent",
            MutationError::Retrieval(error) => error.kind(),
            MutationError::LimitExceeded(_) => "LimitExceeded",
            MutationError::Rejected(error) => error.kind(),
            MutationError::Peer(error) => error.kind(),
            MutationError::ShutDown => "ShutDown",
            MutationError::NoSystem => "NoSystem",
        }
    }
}
