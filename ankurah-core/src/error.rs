//! Typed errors. Every message names the thing and the reason.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::id::{EntityId, EventId};
use crate::limits::LimitExceeded;

/// Bytes that came from outside the process could not be decoded.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DecodeError {
    /// The buffer is empty.
    #[error("cannot decode {what}: empty buffer")]
    Empty { what: &'static str },
    /// The leading format byte is not one this build understands.
    #[error("cannot decode {what}: format version {found} is not supported (expected {expected})")]
    Version {
        what: &'static str,
        found: u8,
        expected: u8,
    },
    /// A fixed-size field had the wrong length.
    #[error("cannot decode {what}: expected {expected} bytes, found {found}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// A textual id could not be parsed.
    #[error("invalid id `{text}`: {reason}")]
    Id { text: String, reason: String },
    /// The body is malformed.
    #[error("cannot decode {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// The body nests deeper, or holds more, than a [`Limits`](crate::Limits) bound allows;
    /// refused before anything recursed that deep.
    #[error("cannot decode {what}: {exceeded}")]
    LimitExceeded {
        what: &'static str,
        exceeded: LimitExceeded,
    },
}

/// An event or state was well-formed bytes but breaks an invariant.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EventError {
    /// Event ids must be strictly greater than every parent id (HLC rule).
    #[error("event {id} is not newer than its parent {parent}")]
    NotAfterParent { id: EventId, parent: EventId },
    /// A genesis event (no parents) must carry the entity's id.
    #[error("event {id} has no parents but is not the genesis event of entity {entity}")]
    BadGenesis { id: EventId, entity: EntityId },
    /// A non-genesis event may not reuse the entity id.
    #[error("event {id} reuses the entity id but names parents")]
    GenesisWithParents { id: EventId },
    /// The event's clock is too far in the future for this node.
    #[error("event {id} is {ahead_ms} ms in the future (allowed skew is {allowed_ms} ms)")]
    FromTheFuture {
        id: EventId,
        ahead_ms: u64,
        allowed_ms: u64,
    },
    /// The event belongs to another collection than the one it was sent for.
    #[error("event {id} belongs to collection `{found}`, not `{expected}`")]
    WrongCollection {
        id: EventId,
        expected: String,
        found: String,
    },
    /// An operation names a property backend this build does not know.
    #[error("unknown property backend `{0}`")]
    UnknownBackend(String),
    /// Events name ancestors that neither this node nor the peer that sent them has; none
    /// of them was applied.
    #[error("{count} ancestor events are unknown to both peers (for example {example})")]
    UnknownAncestors { count: usize, example: EventId },
    /// The operations of a backend could not be applied.
    #[error("backend `{backend}` rejected the operations of event {id}: {reason}")]
    BadOperations {
        backend: &'static str,
        id: EventId,
        reason: String,
    },
    /// The event is over one of the receiving node's [`Limits`](crate::Limits), e.g. it
    /// writes Json nested deeper than `max_depth`.
    #[error("event {id} is refused: {exceeded}")]
    LimitExceeded {
        id: EventId,
        exceeded: LimitExceeded,
    },
    /// A state's backend payload could not be loaded.
    #[error("backend `{backend}` rejected a state: {reason}")]
    BadState {
        backend: &'static str,
        reason: String,
    },
}

/// Reading or writing a typed property value failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PropertyError {
    /// The entity has no value for this property.
    #[error("property `{0}` is missing")]
    Missing(String),
    /// The stored value has another type than the field.
    #[error("property `{property}`: expected {expected}, found {found}")]
    InvalidType {
        property: String,
        expected: &'static str,
        found: String,
    },
    /// The value cannot be represented (e.g. a u64 beyond i64::MAX).
    #[error("property `{property}`: {reason}")]
    InvalidValue { property: String, reason: String },
    /// A text edit addressed characters that do not exist.
    #[error("text edit out of range: position {pos} + {len} exceeds length {text_len}")]
    OutOfRange { pos: u32, len: u32, text_len: u32 },
    /// The handle's transaction is gone or the entity is read-only.
    #[error("cannot edit: {0}")]
    NotEditable(String),
    /// The entity was deleted (here or on another node): a deleted entity has no values.
    /// Views say so through `is_deleted()`.
    #[error("property `{property}` of entity {id}: the entity was deleted")]
    Deleted { property: String, id: EntityId },
    /// The value is over one of the node's [`Limits`](crate::Limits) (e.g. Json nested deeper
    /// than `max_depth`), so peers would refuse it: it is refused when set.
    #[error("property `{property}`: {exceeded}")]
    LimitExceeded {
        property: String,
        exceeded: LimitExceeded,
    },
}

/// The error of an engine or its driver, kept whole so that callers can inspect it.
pub type EngineSource = Box<dyn std::error::Error + Send + Sync>;

/// A storage engine failed. Never produced by a panic; always by a typed condition.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The engine, its driver or the disk failed (`source`); the operation did not happen.
    /// The message carries the source's causes too, since drivers often say little at the
    /// top ("db error").
    #[error("{engine}: {}", Causes(&**.source))]
    Engine {
        /// The engine that failed: `sled`, `postgres`, ...
        engine: &'static str,
        /// The engine's own code for the condition when it has one: for PostgreSQL the
        /// SQLSTATE (`23505` for a unique violation). Read it with [`StorageError::code`].
        code: Option<String>,
        /// The engine's error.
        #[source]
        source: EngineSource,
    },
    /// Writes could not be made durable, so whether they survive a crash is unknown. A node
    /// that [group-commits](crate::storage::StorageEngine::group_commit) refuses every later
    /// commit with this error (`earlier` set) until it is restarted on its storage, since a
    /// commit after a lost one would be durable on top of a gap.
    #[error(
        "{engine} could not make {}: {}",
        if *.earlier {
            "an earlier commit durable; restart the node on its storage"
        } else {
            "writes durable (whether they survive a crash is unknown)"
        },
        Causes(&**.source)
    )]
    Flush {
        /// The engine that failed.
        engine: &'static str,
        /// Set on the refusals that follow a failed flush; the source is that flush's.
        earlier: bool,
        /// The engine's error, shared by the refusals that follow it.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Stored bytes failed to decode.
    #[error("stored data is corrupt: {0}")]
    Decode(#[from] DecodeError),
    /// The stored format is from another version of the engine.
    #[error("storage format version {found} found, this build reads version {expected}; {hint}")]
    FormatVersion {
        found: String,
        expected: String,
        hint: &'static str,
    },
    /// A collection or property name is not acceptable to this engine.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// A stored state could not be interpreted.
    #[error("stored state is invalid: {0}")]
    State(#[from] EventError),
    /// The engine does not offer this feature.
    #[error("this storage engine does not support {0}")]
    Unsupported(&'static str),
    /// A value to store or query is beyond what engines take, e.g. Json nested deeper than
    /// [`Limits::DEPTH_CEILING`](crate::Limits::DEPTH_CEILING) (encoding it recurses).
    #[error("cannot store or query: {0}")]
    LimitExceeded(#[from] LimitExceeded),
}

impl StorageError {
    /// An [`Engine`](Self::Engine) error without a code.
    pub fn engine(engine: &'static str, source: impl Into<EngineSource>) -> Self {
        StorageError::Engine {
            engine,
            code: None,
            source: source.into(),
        }
    }

    /// The engine's code for the failure (the SQLSTATE on PostgreSQL), if it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StorageError::Engine { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Displays an error's causes, each after a colon, leaving out a cause whose text the
/// message already holds (some errors print their cause themselves).
struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut message = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&message)
    }
}
