//! Errors of the node's API: why a read ([`RetrievalError`]) or a write
//! ([`MutationError`]) failed. Errors of the data layer (decoding, events, properties,
//! storage) are in [`crate::error`] and convert into these.

use thiserror::Error;

use crate::error::{EventError, PropertyError, StorageError};
use crate::id::EntityId;
use crate::limits::LimitExceeded;
use crate::policy::AccessDenied;
use crate::sync::{PeerError, RemoteError};

/// Why a read (`get`, `fetch`, `query`) failed.
#[derive(Debug, Error)]
pub enum RetrievalError {
    /// No entity with this id exists in the collection.
    #[error("entity {id} not found in collection `{collection}`")]
    NotFound { collection: String, id: EntityId },
    /// The entity existed but was deleted.
    #[error("entity {id} in collection `{collection}` was deleted")]
    Deleted { collection: String, id: EntityId },
    /// This ephemeral node holds the entity but none of its events, and no durable peer is
    /// connected to ask: its past cannot be read here now.
    #[error("no history of entity {id} in collection `{collection}` here: this node keeps states only, and no durable peer is connected")]
    NoHistory { collection: String, id: EntityId },
    /// A query names a property the model does not have.
    #[error("unknown property `{property}` in collection `{collection}`; it has: {known}")]
    UnknownProperty {
        collection: String,
        property: String,
        known: String,
    },
    /// The model proves the query can never match (a path into a property without inner
    /// values, a value of a type the property never compares with); `reason` names the
    /// property, its type and the fix (see "Typed checks" in the [`crate::ankql`] docs).
    #[error("query on collection `{collection}` can never match: {reason}")]
    InvalidQuery { collection: String, reason: String },
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
    /// A query or entity exceeds one of the node's limits.
    #[error(transparent)]
    LimitExceeded(#[from] LimitExceeded),
    /// The durable peer refused or failed the read (its kind says why).
    #[error("the durable peer refused the read: {0}")]
    Remote(RemoteError),
    /// Talking to the durable peer failed.
    #[error(transparent)]
    Peer(PeerError),
    /// A live query could not load its result; it stays failed (and empty or stale) until a
    /// later change or `update_selection` loads it.
    #[error("live query `{query}` on `{collection}` failed to load: {reason}")]
    QueryFailed {
        collection: String,
        query: String,
        /// Shared: every waiter of the query is told the same error.
        #[source]
        reason: std::sync::Arc<RetrievalError>,
    },
}

impl RetrievalError {
    /// Whether the durable peer could not answer now (it went away, was busy, or its
    /// storage failed): the local store answers instead.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            RetrievalError::Peer(error) => error.is_transient(),
            RetrievalError::Remote(error) => error.is_transient(),
            _ => false,
        }
    }
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
    /// The transaction exceeds one of the node's limits; nothing was stored.
    #[error(transparent)]
    LimitExceeded(#[from] LimitExceeded),
    /// The durable peer refused the commit (its kind says why); its local effects were
    /// undone.
    #[error("the durable peer refused the commit: {0}")]
    Rejected(RemoteError),
    /// Talking to a peer failed.
    #[error(transparent)]
    Peer(PeerError),
    /// The node was shut down ([`Node::shutdown`](crate::Node::shutdown)); it takes no
    /// more commits.
    #[error("the node was shut down and takes no more commits")]
    ShutDown,
    /// A durable node takes commits only once it belongs to a system.
    #[error(
        "this durable node has no system yet: call `node.system.create().await` once, when \
         the system is new (a node opened on existing storage finds its system there)"
    )]
    NoSystem,
}

impl From<RetrievalError> for MutationError {
    fn from(e: RetrievalError) -> Self {
        MutationError::Retrieval(Box::new(e))
    }
}
