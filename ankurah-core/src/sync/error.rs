//! Errors crossing the wire: [`PeerError`] for a session or request that failed, and the
//! mapping between the node's typed errors and [`RemoteError`] in both directions, so a
//! refusal keeps its kind from the answering node to the caller on the asking one.

use std::time::Duration;

use crate::auth::{AuthError, AuthFailure};
use crate::error::StorageError;
use crate::node_error::{MutationError, RetrievalError};
use crate::policy::AccessDenied;
use crate::sync::proto::{ErrorKind, RemoteError};

/// Why a peer session ended or a request to a peer failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeerError {
    /// The peer was refused (or refused us) during the handshake.
    #[error("peer refused: {0}")]
    Refused(String),
    /// The peer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The connection closed.
    #[error("the connection to the peer closed")]
    Disconnected,
    /// The peer ended an established session, saying why (e.g. it is shutting down).
    #[error("the peer closed the session: {0}")]
    Closed(String),
    /// The peer did not answer in time.
    #[error("the peer did not answer within {0:?}")]
    Timeout(Duration),
    /// The peer answered with an error.
    #[error("the peer reported {0}")]
    Remote(RemoteError),
    /// The peer sends more than this node accepts (too many requests at once, or an
    /// answer beyond the limits); the session is closed.
    #[error("the peer is over a limit: {0}")]
    Overloaded(String),
    /// The peer refused this node's credential, or this node the peer's (missing, invalid,
    /// or expired: [`AuthFailure::Expired`](crate::auth::AuthFailure::Expired) means a
    /// fresh credential will do).
    #[error("authentication failed: {0}")]
    Unauthenticated(AuthError),
    /// No durable peer is connected.
    #[error("no durable peer is connected")]
    NoDurablePeer,
}

impl PeerError {
    /// Whether the request may succeed if sent again later (the peer went away, was busy,
    /// or its storage failed) rather than having been refused for what it is.
    pub fn is_transient(&self) -> bool {
        match self {
            PeerError::Remote(error) => error.is_transient(),
            PeerError::Disconnected
            | PeerError::Closed(_)
            | PeerError::Timeout(_)
            | PeerError::NoDurablePeer => true,
            PeerError::Unauthenticated(refusal) => refusal.failure == AuthFailure::Expired,
            PeerError::Refused(_) | PeerError::Protocol(_) | PeerError::Overloaded(_) => false,
        }
    }
}

/// A peer's refusal as this node's own: its message says "access denied" already (it is an
/// [`AccessDenied`] shown on the other side), which the error adds again when shown here.
fn denied(message: String) -> AccessDenied {
    match message.strip_prefix("access denied: ") {
        Some(reason) => AccessDenied(reason.to_owned()),
        None => AccessDenied(message),
    }
}

impl From<PeerError> for MutationError {
    fn from(error: PeerError) -> Self {
        match error {
            PeerError::Remote(remote) if remote.kind == ErrorKind::AccessDenied => {
                MutationError::AccessDenied(denied(remote.message))
            }
            PeerError::Remote(remote) => MutationError::Rejected(remote),
            other => MutationError::Peer(other),
        }
    }
}

impl From<PeerError> for RetrievalError {
    fn from(error: PeerError) -> Self {
        match error {
            PeerError::Remote(remote) if remote.kind == ErrorKind::AccessDenied => {
                RetrievalError::AccessDenied(denied(remote.message))
            }
            PeerError::Remote(remote) => RetrievalError::Remote(remote),
            other => RetrievalError::Peer(other),
        }
    }
}

impl From<MutationError> for RetrievalError {
    /// A read that had to apply what a peer sent, and failed doing so.
    fn from(error: MutationError) -> Self {
        match error {
            MutationError::Storage(e) => RetrievalError::Storage(e),
            MutationError::Event(e) => RetrievalError::State(e),
            MutationError::Retrieval(e) => *e,
            MutationError::AccessDenied(e) => RetrievalError::AccessDenied(e),
            MutationError::LimitExceeded(e) => RetrievalError::LimitExceeded(e),
            MutationError::Peer(e) => RetrievalError::Peer(e),
            MutationError::Rejected(e) => RetrievalError::Remote(e),
            other @ (MutationError::Deleted { .. }
            | MutationError::AlreadyCommitted
            | MutationError::Property(_)
            | MutationError::ShutDown
            | MutationError::NoSystem) => {
                RetrievalError::Remote(RemoteError::new(ErrorKind::Internal, other))
            }
        }
    }
}

impl From<&RetrievalError> for RemoteError {
    fn from(error: &RetrievalError) -> Self {
        let kind = match error {
            RetrievalError::NotFound { .. }
            | RetrievalError::Deleted { .. }
            | RetrievalError::NoHistory { .. } => ErrorKind::NotFound,
            RetrievalError::UnknownProperty { .. }
            | RetrievalError::InvalidQuery { .. }
            | RetrievalError::Parse(_) => ErrorKind::InvalidQuery,
            RetrievalError::AccessDenied(_) => ErrorKind::AccessDenied,
            RetrievalError::Storage(_) => ErrorKind::Storage,
            RetrievalError::State(_) => ErrorKind::Storage,
            RetrievalError::LimitExceeded(_) => ErrorKind::LimitExceeded,
            RetrievalError::Remote(remote) => remote.kind,
            RetrievalError::Peer(_) => ErrorKind::Internal,
            RetrievalError::QueryFailed { reason, .. } => RemoteError::from(reason.as_ref()).kind,
        };
        RemoteError::new(kind, error)
    }
}

impl From<&MutationError> for RemoteError {
    fn from(error: &MutationError) -> Self {
        let kind = match error {
            MutationError::Event(_) | MutationError::Deleted { .. } => ErrorKind::InvalidEvent,
            MutationError::Property(_) => ErrorKind::InvalidEvent,
            MutationError::AccessDenied(_) => ErrorKind::AccessDenied,
            MutationError::Storage(_) => ErrorKind::Storage,
            MutationError::LimitExceeded(_) => ErrorKind::LimitExceeded,
            MutationError::Retrieval(e) => return RemoteError::from(e.as_ref()),
            MutationError::Rejected(remote) => remote.kind,
            // A node shutting down may take the commit after its restart.
            MutationError::ShutDown => ErrorKind::Overloaded,
            MutationError::AlreadyCommitted | MutationError::Peer(_) | MutationError::NoSystem => {
                ErrorKind::Internal
            }
        };
        RemoteError::new(kind, error)
    }
}

impl From<&StorageError> for RemoteError {
    fn from(error: &StorageError) -> Self {
        RemoteError::new(ErrorKind::Storage, error)
    }
}
