//! The storage contract: a [`StorageEngine`] with per-collection handles.
//!
//! Engines store each entity's latest [`EntityState`] with its property values (so queries
//! and indexes need not decode backends) and, on durable nodes, every [`Event`]. One
//! transaction's events and states are written by [`StorageEngine::commit`] atomically and
//! durably. Engines never panic on bad data; they return [`StorageError`].
//!
//! Ordering contract for [`StorageCollection::fetch_states`]: matches per the predicate (see
//! [`crate::ankql`]), deleted entities excluded, sorted by the ORDER BY keys with ties broken by
//! entity id ascending (entity id alone without ORDER BY), then cut to LIMIT.

mod memory;
pub mod ordered;

pub use memory::MemoryStorage;

/// Runs a call of an engine whose calls block (sled, redb) where blocking stalls no async
/// worker: on a multi-thread Tokio runtime the calling thread becomes a blocking one for the
/// call, on a current-thread runtime the call goes to a blocking thread. `engine` names the
/// engine in the error returned when the runtime shuts down before the call ran.
pub async fn blocking<T: Send + 'static>(
    engine: &'static str,
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    crate::runtime::run_blocking(work)
        .await
        .unwrap_or_else(|error| Err(StorageError::engine(engine, error)))
}

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ankql::{Filterable, Selection};
use crate::collection::CollectionId;
use crate::error::StorageError;
use crate::event::Event;
use crate::id::{EntityId, EventId, SystemId};
use crate::limits::{LimitExceeded, Limits};
use crate::state::EntityState;
use crate::value::Value;

/// A storage backend. Implementations: [`MemoryStorage`], `SledStorage`, `PostgresStorage`.
#[async_trait]
pub trait StorageEngine: Send + Sync + 'static {
    /// A handle on one collection, created on first use.
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError>;

    /// Writes the events and states of one transaction: all or nothing, durable on return,
    /// together with everything [written](Self::write) before it.
    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError>;

    /// Whether the node may [`write`](Self::write) commits and make them durable later with
    /// one [`sync`](Self::sync) for all that were written meanwhile (group commit). Worth it
    /// for an engine whose flush costs more than its write; `false` by default.
    fn group_commit(&self) -> bool {
        false
    }

    /// Writes one transaction like [`commit`](Self::commit), all or nothing and visible to
    /// reads at once, but durable only after the next [`sync`](Self::sync) (buffered
    /// commits, an ephemeral node's cache). A crash may lose a suffix of what was written
    /// and not synced, never part of a batch nor a batch without the ones written before.
    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.commit(batch).await
    }

    /// Makes every batch written so far durable.
    async fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// The system this storage belongs to, if one was created.
    async fn system_id(&self) -> Result<Option<SystemId>, StorageError>;

    /// Records the system id (once, when the system is created).
    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError>;

    /// Every collection holding a state or an event, in name order: what tools that walk a
    /// whole store (dump, inspection) start from.
    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError>;

    /// Adds events to the outbox: committed on this ephemeral node, not yet acknowledged by
    /// a durable peer. Kept across restarts so they are sent on the next connection, once
    /// durable: like [`write`](Self::write), after the next [`sync`](Self::sync) (the node
    /// syncs when a commit was not acknowledged).
    async fn outbox_add(&self, _events: &[Event]) -> Result<(), StorageError> {
        Err(StorageError::Unsupported("an outbox (ephemeral nodes)"))
    }

    /// Removes acknowledged events from the outbox; durable after the next
    /// [`sync`](Self::sync) (until then a restart may send them again, which is harmless).
    async fn outbox_remove(&self, _ids: &[EventId]) -> Result<(), StorageError> {
        Err(StorageError::Unsupported("an outbox (ephemeral nodes)"))
    }

    /// The outbox, in id order (which is causal order).
    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        Err(StorageError::Unsupported("an outbox (ephemeral nodes)"))
    }
}

/// One collection of a [`StorageEngine`].
#[async_trait]
pub trait StorageCollection: Send + Sync {
    /// Stores the latest state of an entity, replacing the previous one.
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError>;

    /// The stored state of an entity (deleted ones included).
    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError>;

    /// The states of live entities matching `selection`, ordered and limited.
    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError>;

    /// The ids of the live entities matching `selection`, in result order, when the engine
    /// can answer from its indexes alone; `None` when it cannot (callers then use
    /// [`fetch_states`](Self::fetch_states)). A node serves the entities it holds in memory
    /// without reading their states.
    async fn fetch_ids(
        &self,
        _selection: &Selection,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        Ok(None)
    }

    /// Stores an event; `false` if it was already stored.
    async fn add_event(&self, event: &Event) -> Result<bool, StorageError>;

    /// The stored events of entity `entity` among `ids`, each once, in id order (unknown
    /// ids, and those of other entities' events, are skipped). Events are always asked for
    /// with their entity, so an engine may file them under it.
    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError>;

    /// Every stored event of an entity, in id order.
    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError>;

    /// Up to `limit` stored states with ids after `after` (from the first when `None`), in
    /// id order, deleted entities included: one page of a walk over the whole collection,
    /// for reads of the past (an entity deleted now may have been alive then) and dumps.
    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError>;

    /// How the engine would find the candidates of `selection`: which index, if any, and
    /// how many stored entries that reads, without reading the states themselves. Like a
    /// query, it first creates the indexes the query would create, so the plan it reports
    /// is the one the same [`fetch_states`](Self::fetch_states) then runs. For devtools
    /// (`ankurah explain`); engines that cannot say keep this default, which answers
    /// [`StorageError::Unsupported`].
    async fn explain(&self, _selection: &Selection) -> Result<QueryPlan, StorageError> {
        Err(StorageError::Unsupported("explaining queries"))
    }
}

/// What [`StorageCollection::explain`] reports: how an engine finds a query's candidates.
/// Every candidate is still checked against the whole predicate, so a plan decides how much
/// is read, never what is returned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueryPlan {
    /// The engine that planned it (`"memory"`, `"sled"`, `"redb"`, `"postgres"`).
    pub engine: &'static str,
    /// The index the candidates come from: the indexed property on the embedded engines,
    /// the index name on Postgres; `None` for a scan of every stored state.
    pub index: Option<String>,
    /// How many entries the plan reads before filtering: index entries in the planned
    /// ranges, or every stored state for a scan (an upper bound: a LIMIT may stop the walk
    /// earlier). On Postgres the planner's estimate of rows, see [`estimated`](Self::estimated).
    pub candidates: u64,
    /// Whether [`candidates`](Self::candidates) is an estimate rather than a count.
    pub estimated: bool,
    /// The plan in the engine's own words: the ranges and walk order, or Postgres's
    /// `EXPLAIN` output.
    pub detail: String,
}

/// An entity state with the property values derived from it, as engines store it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredState {
    pub state: EntityState,
    /// Current value of each property (what queries and indexes read).
    pub values: BTreeMap<String, Value>,
}

impl StoredState {
    /// Derives the values by loading the state (used when only a state is at hand).
    pub fn from_state(state: EntityState) -> Result<Self, StorageError> {
        let values = crate::entity::Entity::from_state(&state)?.values();
        Ok(StoredState { state, values })
    }

    /// Whether the entity was deleted.
    pub fn is_deleted(&self) -> bool {
        self.state.state.is_deleted()
    }

    /// `Ok` unless a value nests deeper than [`Limits::DEPTH_CEILING`]. Engines check states
    /// with this before storing them (and selections with
    /// [`Selection::check_depth`]), because encoding a value for an index or a column
    /// recurses into it; a node never hands them anything deeper.
    pub fn check_depth(&self) -> Result<(), LimitExceeded> {
        self.values
            .values()
            .try_for_each(|value| value.check_depth(Limits::DEPTH_CEILING))
    }
}

impl Filterable for StoredState {
    fn entity_id(&self) -> EntityId {
        self.state.entity_id
    }
    fn value(&self, property: &str) -> Option<Value> {
        self.values.get(property).cloned()
    }
}

/// What one transaction writes.
#[derive(Clone, Debug, Default)]
pub struct CommitBatch {
    pub events: Vec<Event>,
    pub states: Vec<StoredState>,
}
