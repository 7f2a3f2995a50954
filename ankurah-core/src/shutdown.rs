//! A safe exit: [`Node::shutdown`] ends a node's work without losing what it committed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::error::StorageError;
use crate::node::Node;
use crate::runtime::{self, Instant};

/// How long [`Node::shutdown`] waits for a connected durable peer to acknowledge the
/// outbox before leaving the rest on disk for the next start.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What [`Node::shutdown`] left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "events left unsent are worth telling the user about"]
pub struct Shutdown {
    /// Events committed here that no durable peer has acknowledged yet. They are durable
    /// in this node's storage and are sent when the node next connects (on a persistent
    /// store: a temporary one is gone with the process).
    pub unsent: usize,
}

impl Node {
    /// Ends this node's work safely. Later commits are refused
    /// ([`MutationError::ShutDown`](crate::MutationError::ShutDown)); an ephemeral node
    /// connected to a durable peer waits (up to [`SHUTDOWN_GRACE`]) until its outbox is
    /// acknowledged; then everything written is flushed to disk. Call it before the
    /// process exits: a client typed offline into keeps its work for the next start.
    pub async fn shutdown(&self) -> Result<Shutdown, StorageError> {
        self.inner.shut_down.store(true, Ordering::Release);
        let storage = &self.inner.storage;
        let mut unsent = if self.is_durable() {
            0
        } else {
            storage.outbox().await?.len()
        };
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while unsent > 0 && self.durable_peer().is_some() && Instant::now() < deadline {
            runtime::sleep(Duration::from_millis(10)).await;
            unsent = storage.outbox().await?.len();
        }
        if unsent > 0 {
            tracing::info!(
                unsent,
                "shutting down with unacknowledged events; they are sent on the next connection"
            );
        }
        self.flush().await?;
        // The outbox's own writes are made durable by the engine's sync, written commits or not.
        storage.sync().await?;
        Ok(Shutdown { unsent })
    }
}
