//! [`MemoryStorage`]: an in-memory engine for tests and pure in-memory clients. It is the
//! reference the conformance suite holds other engines to.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;

use super::{CommitBatch, QueryPlan, StorageCollection, StorageEngine, StoredState};
use crate::ankql::Selection;
use crate::collection::CollectionId;
use crate::error::StorageError;
use crate::event::Event;
use crate::id::{EntityId, EventId, SystemId};
use crate::limits::Limits;
use crate::state::EntityState;

/// Keeps everything in memory behind one lock; a commit is applied under it, so it is atomic.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    data: Arc<RwLock<Data>>,
}

#[derive(Debug, Default)]
struct Data {
    system: Option<SystemId>,
    outbox: BTreeMap<EventId, Event>,
    collections: HashMap<CollectionId, Collection>,
}

#[derive(Debug, Default)]
struct Collection {
    states: BTreeMap<EntityId, StoredState>,
    events: BTreeMap<EventId, Event>,
    /// Each entity's event ids, for `dump_entity_events`.
    histories: HashMap<EntityId, BTreeSet<EventId>>,
}

impl Collection {
    fn add_event(&mut self, event: Event) -> bool {
        self.histories
            .entry(event.entity_id)
            .or_default()
            .insert(event.id);
        self.events.insert(event.id, event).is_none()
    }
}

impl MemoryStorage {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A handle on one collection of a [`MemoryStorage`].
struct MemoryCollection {
    data: Arc<RwLock<Data>>,
    id: CollectionId,
}

impl MemoryCollection {
    fn read<R>(&self, f: impl FnOnce(&Collection) -> R) -> R {
        let data = self.data.read();
        match data.collections.get(&self.id) {
            Some(collection) => f(collection),
            None => f(&Collection::default()),
        }
    }

    fn write<R>(&self, f: impl FnOnce(&mut Collection) -> R) -> R {
        f(self
            .data
            .write()
            .collections
            .entry(self.id.clone())
            .or_default())
    }
}

#[async_trait]
impl StorageEngine for MemoryStorage {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        Ok(Arc::new(MemoryCollection {
            data: self.data.clone(),
            id: id.clone(),
        }))
    }

    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        batch.states.iter().try_for_each(StoredState::check_depth)?;
        let mut data = self.data.write();
        for event in batch.events {
            data.collections
                .entry(event.collection.clone())
                .or_default()
                .add_event(event);
        }
        for state in batch.states {
            let collection = data
                .collections
                .entry(state.state.collection.clone())
                .or_default();
            collection.states.insert(state.state.entity_id, state);
        }
        Ok(())
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        Ok(self.data.read().system)
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        self.data.write().system = Some(id);
        Ok(())
    }

    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        let data = self.data.read();
        let mut names: Vec<CollectionId> = data.collections.keys().cloned().collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(names)
    }

    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        self.data
            .write()
            .outbox
            .extend(events.iter().map(|e| (e.id, e.clone())));
        Ok(())
    }

    async fn outbox_remove(&self, ids: &[EventId]) -> Result<(), StorageError> {
        let mut data = self.data.write();
        for id in ids {
            data.outbox.remove(id);
        }
        Ok(())
    }

    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        Ok(self.data.read().outbox.values().cloned().collect())
    }
}

#[async_trait]
impl StorageCollection for MemoryCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        state.check_depth()?;
        self.write(|c| c.states.insert(state.state.entity_id, state.clone()));
        Ok(())
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        Ok(self.read(|c| c.states.get(&id).map(|s| s.state.clone())))
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let live: Vec<StoredState> = self.read(|c| {
            c.states
                .values()
                .filter(|s| !s.is_deleted())
                .cloned()
                .collect()
        });
        Ok(selection.apply(live).into_iter().map(|s| s.state).collect())
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        Ok(self.write(|c| c.add_event(event.clone())))
    }

    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        let mut events: Vec<Event> = self.read(|c| {
            ids.iter()
                .filter_map(|id| c.events.get(id))
                .filter(|event| event.entity_id == entity)
                .cloned()
                .collect()
        });
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        Ok(events)
    }

    /// Memory keeps no indexes: every query scans the collection's states.
    async fn explain(&self, selection: &Selection) -> Result<QueryPlan, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let plan = super::ordered::planner::plan(selection, |_| false);
        let states = self.read(|c| c.states.len());
        Ok(QueryPlan {
            engine: "memory",
            index: None,
            candidates: states as u64,
            estimated: false,
            detail: format!("{plan:?} of {states} states (MemoryStorage keeps no indexes)"),
        })
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        Ok(self.read(|c| {
            let ids = c.histories.get(&id).into_iter().flatten();
            ids.filter_map(|event| c.events.get(event).cloned())
                .collect()
        }))
    }

    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        Ok(self.read(|c| {
            c.states
                .range((start, Unbounded))
                .take(limit)
                .map(|(_, s)| s.state.clone())
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    fn stored(year: i64) -> StoredState {
        StoredState {
            state: EntityState {
                entity_id: EntityId::new(),
                collection: "album".into(),
                state: State::default(),
            },
            values: [("year".to_owned(), crate::value::Value::I64(year))].into(),
        }
    }

    #[tokio::test]
    async fn explain_scans_every_state() {
        let storage = MemoryStorage::new();
        let states = vec![stored(2001), stored(2002), stored(2003)];
        storage
            .commit(CommitBatch {
                events: Vec::new(),
                states,
            })
            .await
            .unwrap();
        let albums = storage.collection(&"album".into()).await.unwrap();
        let plan = albums
            .explain(&"year = 2001".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            (plan.engine, plan.index, plan.candidates),
            ("memory", None, 3)
        );
        assert!(!plan.estimated);
    }
}
