//! [`SledCollection`]: the handle on one collection, and its records and indexes as the shared
//! query functions read them.

use std::collections::BTreeSet;

use ankurah_core::ankql::Selection;
use ankurah_core::event::Event;
use ankurah_core::id::{EntityId, EventId};
use ankurah_core::state::EntityState;
use ankurah_core::storage::ordered::planner::{self, KeyRange};
use ankurah_core::storage::ordered::query::{self, Entries, IndexedStates};
use ankurah_core::storage::ordered::record::Record;
use ankurah_core::storage::{StorageCollection, StoredState};
use ankurah_core::{CollectionId, StorageError};
use async_trait::async_trait;

use crate::backend_error;
use crate::engine::SledStorage;
use crate::layout;

/// One collection of a [`SledStorage`]; its name was validated when the handle was made.
#[derive(Debug)]
pub(crate) struct SledCollection {
    storage: SledStorage,
    id: CollectionId,
}

impl SledCollection {
    pub(crate) fn new(storage: SledStorage, id: CollectionId) -> Self {
        SledCollection { storage, id }
    }

    fn record(&self, id: EntityId) -> Result<Option<Record<'static>>, StorageError> {
        let bytes = self
            .storage
            .tree()
            .get(layout::state_key(&self.id, id))
            .map_err(backend_error)?;
        Ok(bytes.map(|bytes| Record::decode(&bytes)).transpose()?)
    }

    /// Runs `query` on this collection's records and complete indexes.
    fn view<R>(&self, query: impl FnOnce(&View<'_>) -> R) -> R {
        self.storage.read(|catalog| {
            query(&View {
                collection: self,
                indexed: catalog.get(&self.id),
            })
        })
    }
}

/// A collection's records and complete indexes as the query functions read them, while the
/// catalog lock excludes writers.
struct View<'a> {
    collection: &'a SledCollection,
    indexed: Option<&'a BTreeSet<String>>,
}

impl IndexedStates for View<'_> {
    type Entry = IndexKey;

    fn collection(&self) -> &CollectionId {
        &self.collection.id
    }

    fn is_indexed(&self, property: &str) -> bool {
        self.indexed.is_some_and(|set| set.contains(property))
    }

    fn records(&self) -> Result<Entries<'_, Record<'static>>, StorageError> {
        let states = self
            .collection
            .storage
            .tree()
            .scan_prefix(layout::state_prefix(&self.collection.id));
        Ok(Box::new(states.map(|item| {
            let (_, bytes) = item.map_err(backend_error)?;
            Ok(Record::decode(&bytes)?)
        })))
    }

    fn record(&self, id: EntityId) -> Result<Option<Record<'static>>, StorageError> {
        self.collection.record(id)
    }

    fn entries(
        &self,
        property: &str,
        range: &KeyRange,
        descending: bool,
    ) -> Result<Entries<'_, IndexKey>, StorageError> {
        let prefix = layout::index_prefix(&self.collection.id, property);
        let keys = self.collection.storage.tree().range(
            [&prefix[..], &range.start[..]].concat()..[&prefix[..], &range.end[..]].concat(),
        );
        let skip = prefix.len();
        let entries = keys.map(move |item| {
            let (key, _) = item.map_err(backend_error)?;
            Ok(IndexKey { key, skip })
        });
        Ok(match descending {
            true => Box::new(entries.rev()),
            false => Box::new(entries),
        })
    }
}

/// An index key seen without the prefix that names its index: an index entry.
struct IndexKey {
    key: sled::IVec,
    skip: usize,
}

impl AsRef<[u8]> for IndexKey {
    fn as_ref(&self) -> &[u8] {
        self.key.get(self.skip..).unwrap_or_default()
    }
}

#[async_trait]
impl StorageCollection for SledCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        self.storage
            .store(Some(&self.id), &[], std::slice::from_ref(state))
            .await
            .map(drop)
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        Ok(self.record(id)?.map(|record| record.state.into_owned()))
    }

    async fn fetch_ids(
        &self,
        selection: &Selection,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        self.storage
            .ensure_indexes(&self.id, &planner::indexable_properties(selection))?;
        self.view(|view| query::fetch_ids(view, selection))
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        self.storage
            .ensure_indexes(&self.id, &planner::indexable_properties(selection))?;
        let matched = self.view(|view| query::fetch_records(view, selection))?;
        Ok(matched
            .into_iter()
            .map(|record| record.state.into_owned())
            .collect())
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        Ok(self
            .storage
            .store(Some(&self.id), std::slice::from_ref(event), &[])
            .await?
            == 1)
    }

    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let tree = self.storage.tree();
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = tree
                .get(layout::event_key(&self.id, entity, id))
                .map_err(backend_error)?
            {
                events.push(Event::decode(&bytes)?);
            }
        }
        Ok(events)
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        let prefix = layout::history_prefix(&self.id, id);
        let mut events = Vec::new();
        for item in self.storage.tree().scan_prefix(&prefix) {
            let (_, bytes) = item.map_err(backend_error)?;
            events.push(Event::decode(&bytes)?);
        }
        Ok(events)
    }
}
