//! [`SledCollection`]: the handle on one collection, and its records and indexes as the shared
//! query functions read them.

use ankurah_core::ankql::Selection;
use ankurah_core::event::Event;
use ankurah_core::id::{EntityId, EventId};
use ankurah_core::state::EntityState;
use ankurah_core::storage::ordered::planner::{self, KeyRange};
use ankurah_core::storage::ordered::query::{self, Entries, IndexedStates};
use ankurah_core::storage::ordered::record::Record;
use ankurah_core::storage::{QueryPlan, StorageCollection, StoredState};
use ankurah_core::{CollectionId, Limits, StorageError};
use async_trait::async_trait;

use crate::engine::{EventsAre, Indexes, SledStorage};
use crate::engine_error;
use crate::layout;

/// One collection of a [`SledStorage`]; its name was validated when the handle was made.
/// Cloning is cheap: a clone goes to the blocking thread that builds an index.
#[derive(Debug, Clone)]
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
            .map_err(engine_error)?;
        Ok(bytes.map(|bytes| Record::decode(&bytes)).transpose()?)
    }
}

/// A collection's records and complete indexes as the query functions read them, while the
/// collection's lock is held shared (so no write is half done).
struct View<'a> {
    collection: &'a SledCollection,
    indexes: &'a Indexes,
}

impl IndexedStates for View<'_> {
    type Entry = IndexKey;

    fn collection(&self) -> &CollectionId {
        &self.collection.id
    }

    fn is_indexed(&self, property: &str) -> bool {
        self.indexes.is_ready(property)
    }

    fn records(&self) -> Result<Entries<'_, Record<'static>>, StorageError> {
        let prefix = layout::state_prefix(&self.collection.id);
        let states = self.collection.storage.tree().scan_prefix(prefix);
        Ok(Box::new(states.map(|item| {
            let (_, bytes) = item.map_err(engine_error)?;
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
        let start = [&prefix[..], &range.start[..]].concat();
        let end = [&prefix[..], &range.end[..]].concat();
        let keys = self.collection.storage.tree().range(start..end);
        let skip = prefix.len();
        let entries = keys.map(move |item| {
            let (key, _) = item.map_err(engine_error)?;
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

impl SledCollection {
    /// Runs `query` after creating the indexes `selection` could use, with the collection's
    /// indexes and its lock held shared: on a blocking thread when an index is to be built,
    /// here otherwise. A selection too deep to walk safely is refused first.
    async fn query<R: Send + 'static>(
        &self,
        selection: &Selection,
        query: impl FnOnce(&View<'_>, &Selection) -> Result<R, StorageError> + Send + 'static,
    ) -> Result<R, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let ready = self
            .storage
            .has_indexes(&self.id, &planner::indexable_properties(selection));
        let (this, selection) = (self.clone(), selection.clone());
        let run = move |storage: &SledStorage| {
            storage.ensure_indexes(&this.id, &planner::indexable_properties(&selection))?;
            let indexes = storage.indexes(&this.id);
            let indexes = indexes.read();
            let view = View {
                collection: &this,
                indexes: &indexes,
            };
            query(&view, &selection)
        };
        if ready {
            run(&self.storage)
        } else {
            self.storage.blocking(run).await
        }
    }
}

#[async_trait]
impl StorageCollection for SledCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        self.storage
            .store(
                Some(self.id.clone()),
                Vec::new(),
                vec![state.clone()],
                EventsAre::Unchecked,
            )
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
        self.query(selection, |view, selection| {
            query::fetch_ids(view, selection)
        })
        .await
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        let matched = self
            .query(selection, |view, selection| {
                query::fetch_records(view, selection)
            })
            .await?;
        Ok(matched
            .into_iter()
            .map(|record| record.state.into_owned())
            .collect())
    }

    async fn explain(&self, selection: &Selection) -> Result<QueryPlan, StorageError> {
        self.query(selection, |view, selection| {
            query::explain(view, selection, crate::ENGINE)
        })
        .await
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        Ok(self
            .storage
            .store(
                Some(self.id.clone()),
                vec![event.clone()],
                Vec::new(),
                EventsAre::Unchecked,
            )
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
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = self
                .storage
                .tree()
                .get(layout::event_key(&self.id, entity, id))
                .map_err(engine_error)?
            {
                events.push(Event::decode(&bytes)?);
            }
        }
        Ok(events)
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        self.storage
            .tree()
            .scan_prefix(layout::history_prefix(&self.id, id))
            .map(|item| {
                let (_, bytes) = item.map_err(engine_error)?;
                Ok(Event::decode(&bytes)?)
            })
            .collect()
    }

    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        self.storage
            .tree()
            .range(layout::states_after(&self.id, after))
            .take(limit)
            .map(|item| {
                let (_, bytes) = item.map_err(engine_error)?;
                Ok(Record::decode(&bytes)?.state.into_owned())
            })
            .collect()
    }
}
