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

/// Why a read (`get`, `fetch`, `query`) failed.
#[derive(Debug, Error)]
pub enum RetrievalError {
    /// No entity with this id exists in the collection.
    #[error("entity {id} not found in collection `{collection}`")]
    NotFound { collection: String, id: EntityId },
    /// The entity existed but was deleted.
    #[error("entity {id} in collection `{collection}` was deleted")]
    Deleted { collection: String, id: EntityId },
    /// A query names a property the model does not have.
    #[error("unknown property `{property}` in collection `{collection}`; it has: {known}")]
    UnknownProperty {
        collection: String,
        property: String,
        known: String,
    },
    /// The query text did not parse.
    #[error(transparent)]
    Parse(#[from] crate::ankql::ParseError),
    /// The policy agent refused.
    #[error(transparent)]
    AccessDenied(#[from] AccessDenied),
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored state was invalid.
    #[error(transparent)]
    State(#[from] EventError),
    /// Syncing with a peer failed.
    #[error("sync failed: {0}")]
    Sync(String),
}

/// Why a write (`create`, `edit`, `delete`, `commit`) failed.
#[derive(Debug, Error)]
pub enum MutationError {
    /// The entity was deleted; edits of deleted entities are refused.
    #[error("entity {id} in collection `{collection}` was deleted and cannot be edited")]
    Deleted { collection: String, id: EntityId },
    /// The transaction was already committed.
    #[error("the transaction was already committed")]
    AlreadyCommitted,
    /// A property could not be written.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// The policy agent refused.
    #[error(transparent)]
    AccessDenied(#[from] AccessDenied),
    /// The storage engine failed; nothing of the transaction was stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An event broke an invariant.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Reading an entity for the edit failed.
    #[error(transparent)]
    Retrieval(#[from] Box<RetrievalError>),
    /// The durable peer refused the commit; its local effects were undone.
    #[error("the durable peer refused the commit: {0}")]
    Rejected(String),
    /// Talking to a peer failed.
    #[error(transparent)]
    Peer(crate::peer::PeerError),
}

impl From<RetrievalError> for MutationError {
    fn from(e: RetrievalError) -> Self {
        MutationError::Retrieval(Box::new(e))
    }
}

/// The policy agent refused an operation.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("access denied: {0}")]
pub struct AccessDenied(pub String);
