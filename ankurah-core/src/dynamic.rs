//! Access without compiled models: any collection's entities as property maps
//! ([`EntityMap`]), for tools, inspectors and bindings to other languages.
//!
//! `ctx.dynamic("album")` reads, queries, watches and travels in time like the typed API,
//! under the same policy, on every node (a client asks its durable peer as typed reads do).
//! Queries are checked for syntax and limits only: without a model there are no property
//! types to check them against.
//!
//! ```
//! # use ankurah_core::{Node, storage::MemoryStorage, policy::{PermissiveAgent, DEFAULT_CONTEXT}};
//! # use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! # node.system.create().await?;
//! let ctx = node.context(DEFAULT_CONTEXT)?;
//! for album in ctx.dynamic("album").fetch("year > 2000").await? {
//!     println!("{} {:?}", album.id, album.values.get("name"));
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::changes::ChangeSet;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::context::{Context, IntoSelection};
use crate::entity::Entity;
use crate::event::Event;
use crate::history::{At, Blame, HistoryEntry, PropertyDiff};
use crate::id::EntityId;
use crate::node_error::RetrievalError;
use crate::reactor::Query;
use crate::signals::SubscriptionGuard;
use crate::value::Value;

/// An entity's values by property name: last-writer-wins values as they are, text as a
/// string. A copy: it does not change when the entity does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityMap {
    pub id: EntityId,
    pub collection: CollectionId,
    /// The newest events the values reflect.
    pub head: Clock,
    pub deleted: bool,
    pub values: BTreeMap<String, Value>,
}

impl EntityMap {
    fn of(entity: &Entity) -> Self {
        EntityMap {
            id: entity.id(),
            collection: entity.collection().clone(),
            head: entity.head(),
            deleted: entity.is_deleted(),
            values: entity.values(),
        }
    }
}

impl From<Arc<Entity>> for EntityMap {
    fn from(entity: Arc<Entity>) -> Self {
        EntityMap::of(&entity)
    }
}

/// One collection seen through a [`Context`], without a model. Made by
/// [`Context::dynamic`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct Dynamic {
    ctx: Context,
    collection: CollectionId,
}

impl Context {
    /// The collection `collection`, read as property maps.
    pub fn dynamic(&self, collection: impl Into<CollectionId>) -> Dynamic {
        Dynamic {
            ctx: self.clone(),
            collection: collection.into(),
        }
    }
}

impl Dynamic {
    /// The collection read.
    pub fn collection(&self) -> &CollectionId {
        &self.collection
    }

    /// The entity `id`, as [`Context::get`] reads it.
    pub async fn get(&self, id: EntityId) -> Result<EntityMap, RetrievalError> {
        let read = self.ctx.read_entity(&self.collection, id).await?;
        Ok(EntityMap::of(&read.value))
    }

    /// The entities matching `query`, as [`Context::fetch`] reads them.
    pub async fn fetch(&self, query: impl IntoSelection) -> Result<Vec<EntityMap>, RetrievalError> {
        let selection = query.into_selection(self.ctx.node().limits())?;
        let read = self.ctx.read_entities(&self.collection, &selection).await?;
        Ok(read.value.iter().map(|e| EntityMap::of(e)).collect())
    }

    /// Calls `listener` with the first result (as `Initial` changes) and then with every
    /// change set, until the guard is dropped, as [`Context::subscribe`] does.
    pub async fn subscribe<F>(
        &self,
        query: impl IntoSelection,
        listener: F,
    ) -> Result<MapQueryGuard, RetrievalError>
    where
        F: Fn(ChangeSet<EntityMap>) + Send + Sync + 'static,
    {
        let selection = query.into_selection(self.ctx.node().limits())?;
        let query = self.ctx.register_query(self.collection.clone(), selection);
        let guard = query
            .changesets
            .listen(move |changes: &ChangeSet<Arc<Entity>>| {
                listener(changes.clone().map(EntityMap::from))
            });
        let node = self.ctx.node();
        query.load(node).await?;
        node.remote_subscribe(&query).await?;
        Ok(MapQueryGuard {
            _guard: guard,
            _query: query,
        })
    }

    /// The entity `id` as it was at `at`, as [`Context::get_at`] reads it.
    pub async fn get_at(
        &self,
        id: EntityId,
        at: impl Into<At>,
    ) -> Result<EntityMap, RetrievalError> {
        let entity = self.ctx.entity_at(&self.collection, id, &at.into()).await?;
        Ok(EntityMap::of(&entity))
    }

    /// The entities that matched `query` at `at`, as [`Context::fetch_at`] reads them.
    pub async fn fetch_at(
        &self,
        query: impl IntoSelection,
        at: impl Into<At>,
    ) -> Result<Vec<EntityMap>, RetrievalError> {
        let selection = query.into_selection(self.ctx.node().limits())?;
        let entities = self
            .ctx
            .entities_at(&self.collection, &selection, &at.into())
            .await?;
        Ok(entities.iter().map(|e| EntityMap::of(e)).collect())
    }

    /// The entity's events in causal order, as [`Context::history`] lists them.
    pub async fn history(&self, id: EntityId) -> Result<Vec<HistoryEntry>, RetrievalError> {
        self.ctx.history_of(&self.collection, id).await
    }

    /// What changed between two moments, as [`Context::diff`] says.
    pub async fn diff(
        &self,
        id: EntityId,
        from: impl Into<At>,
        to: impl Into<At>,
    ) -> Result<Vec<PropertyDiff>, RetrievalError> {
        self.ctx
            .diff_of(&self.collection, id, &from.into(), &to.into())
            .await
    }

    /// Who gave each property its value, as [`Context::blame`] says.
    pub async fn blame(&self, id: EntityId) -> Result<Vec<Blame>, RetrievalError> {
        self.ctx.blame_of(&self.collection, id).await
    }

    /// The entity's events themselves (its DAG), in id order.
    pub async fn events(&self, id: EntityId) -> Result<Vec<Event>, RetrievalError> {
        self.ctx.events_of(&self.collection, id).await
    }
}

/// Keeps a [`Dynamic::subscribe`] subscription alive; dropping it unsubscribes.
#[must_use = "dropping the guard unsubscribes at once"]
#[derive(Debug)]
pub struct MapQueryGuard {
    _guard: SubscriptionGuard,
    _query: Arc<Query>,
}
