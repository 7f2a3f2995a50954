//! [`Transaction`]: a group of creations, edits and deletions that commit atomically.
//!
//! Each entity touched by a transaction is *forked*: edits go to the fork and are invisible
//! elsewhere. [`Transaction::commit`] turns each fork's edits into one event, stores all events
//! and new states in one atomic storage commit, and only then makes them visible. If anything
//! fails, nothing is stored or shown. Dropping a transaction discards it.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::context::Context;
use crate::durability::Durability;
use crate::entity::Entity;
use crate::model::{Model, Mutable, View};
use crate::node::LocalChange;
use crate::node_error::MutationError;

/// An open transaction of a [`Context`].
#[derive(Debug)]
pub struct Transaction {
    ctx: Context,
    changes: Mutex<Vec<LocalChange>>,
}

impl Transaction {
    pub(crate) fn new(ctx: Context) -> Self {
        Transaction {
            ctx,
            changes: Mutex::new(Vec::new()),
        }
    }

    /// Creates a new entity from a model value; the returned handle edits it further.
    pub async fn create<'t, M: Model>(
        &'t self,
        model: &M,
    ) -> Result<M::Mutable<'t>, MutationError> {
        let fork = Arc::new(Entity::create(M::collection(), self.max_depth()));
        model.initialize(&fork)?;
        self.changes.lock().push(LocalChange {
            fork: fork.clone(),
            canonical: None,
        });
        Ok(M::Mutable::new(fork, self))
    }

    /// An edit handle on an existing entity. Editing a deleted entity is refused.
    pub fn edit<'t, M: Model>(&'t self, view: &M::View) -> Result<M::Mutable<'t>, MutationError> {
        Ok(M::Mutable::new(self.fork(view.entity())?, self))
    }

    /// Deletes an entity when the transaction commits.
    pub fn delete<V: View>(&self, view: &V) -> Result<(), MutationError> {
        self.fork(view.entity())?.mark_deleted();
        Ok(())
    }

    /// This transaction's fork of `entity`, made on first use.
    fn fork(&self, entity: &Arc<Entity>) -> Result<Arc<Entity>, MutationError> {
        let mut changes = self.changes.lock();
        if let Some(entry) = changes.iter().find(|e| e.fork.id() == entity.id()) {
            return Ok(entry.fork.clone());
        }
        if entity.is_deleted() {
            return Err(MutationError::Deleted {
                collection: entity.collection().to_string(),
                id: entity.id(),
            });
        }
        let fork = Arc::new(entity.fork(self.max_depth()));
        changes.push(LocalChange {
            fork: fork.clone(),
            canonical: Some(entity.clone()),
        });
        Ok(fork)
    }

    /// How deep values written in this transaction may nest: the node's limit.
    fn max_depth(&self) -> usize {
        self.ctx.node().limits().depth_limit()
    }

    /// Stores every change of the transaction atomically and makes them visible together,
    /// at the node's [`Durability`] ([`NodeConfig::durability`](crate::NodeConfig::durability)).
    /// On error nothing was stored.
    pub async fn commit(self) -> Result<(), MutationError> {
        let durability = self.ctx.node().durability();
        self.commit_with(durability).await
    }

    /// [`commit`](Self::commit) at the given [`Durability`] instead of the node's: local
    /// reads and listeners see the changes once they are written, and this returns once
    /// they are as durable as asked (see [`crate::durability`]).
    pub async fn commit_with(self, durability: Durability) -> Result<(), MutationError> {
        let changes = std::mem::take(&mut *self.changes.lock());
        for change in &changes {
            change.fork.seal();
        }
        let node = self.ctx.node();
        match node
            .commit_local(self.ctx.data(), changes, durability)
            .await?
        {
            Some(unsent) => node.forward_commit(unsent, durability).await,
            None => Ok(()),
        }
    }

    /// Discards the transaction (the same as dropping it).
    pub fn rollback(self) {}
}

impl Drop for Transaction {
    fn drop(&mut self) {
        for entry in self.changes.get_mut().iter() {
            entry.fork.seal();
        }
    }
}
