//! Typed errors. Every message names the thing and the reason.

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
    /// The value is over one of the node's [`Limits`](crate::Limits) (e.g. Json nested deeper
    /// than `max_depth`), so peers would refuse it: it is refused when set.
    #[error("property `{property}`: {exceeded}")]
    LimitExceeded {
        property: String,
        exceeded: LimitExceeded,
    },
}

/// A storage engine failed. Never produced by a panic; always by a typed condition.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The backend reported an I/O or engine error.
    #[error("storage backend error: {0}")]
    Backend(String),
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
