//! [`SystemManager`]: which system a node belongs to.
//!
//! A durable node creates the system once (`node.system.create()`); the id is kept by the
//! storage engine, so later runs load it. Ephemeral nodes learn it from the durable peer
//! they connect to; [`SystemManager::wait_system_ready`] resolves once it is known.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::StorageError;
use crate::id::SystemId;
use crate::storage::StorageEngine;

/// Knows and publishes the node's system id.
#[derive(Clone)]
pub struct SystemManager {
    storage: Arc<dyn StorageEngine>,
    durable: bool,
    id: watch::Sender<Option<SystemId>>,
}

impl std::fmt::Debug for SystemManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemManager")
            .field("id", &*self.id.borrow())
            .field("durable", &self.durable)
            .finish()
    }
}

/// Why a system could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Only durable nodes create systems; ephemeral ones join one.
    #[error("only a durable node can create a system; this node is ephemeral")]
    NotDurable,
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl SystemManager {
    pub(crate) fn new(storage: Arc<dyn StorageEngine>, durable: bool) -> Self {
        SystemManager {
            storage,
            durable,
            id: watch::Sender::new(None),
        }
    }

    /// Creates the system, or loads the one this storage already belongs to, and returns
    /// its id. Calling it on every start of a server is the intended use.
    pub async fn create(&self) -> Result<SystemId, SystemError> {
        if !self.durable {
            return Err(SystemError::NotDurable);
        }
        let id = match self.storage.system_id().await? {
            Some(id) => id,
            None => {
                let id = SystemId::new();
                self.storage.set_system_id(id).await?;
                id
            }
        };
        self.id.send_replace(Some(id));
        Ok(id)
    }

    /// The system id, once known.
    pub fn system_id(&self) -> Option<SystemId> {
        *self.id.borrow()
    }

    /// Whether a durable node belongs to a system: created in this run, or found in its
    /// storage (a node reopened on existing storage need not call `create` to take commits).
    pub(crate) async fn is_ready(&self) -> Result<bool, StorageError> {
        if self.system_id().is_some() {
            return Ok(true);
        }
        match self.storage.system_id().await? {
            Some(id) => {
                self.id.send_replace(Some(id));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Records a system id learned from a durable peer (ephemeral nodes).
    pub(crate) fn join(&self, id: SystemId) {
        self.id.send_replace(Some(id));
    }

    /// Resolves when the node knows its system: created or loaded on a durable node, learned
    /// from a peer on an ephemeral one.
    pub async fn wait_system_ready(&self) -> SystemId {
        if self.durable && self.system_id().is_none() {
            if let Ok(Some(id)) = self.storage.system_id().await {
                self.id.send_replace(Some(id));
            }
        }
        let mut rx = self.id.subscribe();
        loop {
            if let Some(id) = *rx.borrow_and_update() {
                return id;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as this manager, so this cannot happen while we wait.
                std::future::pending::<()>().await;
            }
        }
    }
}
