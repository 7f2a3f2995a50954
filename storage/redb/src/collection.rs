//! [`RedbCollection`]: the handle on one collection, and [`Snapshot`], its records and indexes
//! in one read transaction as the shared query functions read them.

use std::collections::BTreeSet;

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
use redb::{AccessGuard, ReadOnlyTable, ReadTransaction};

use crate::engine::{open_read, Durable, RedbStorage};
use crate::engine_error;
use crate::layout::{self, Stage};

/// One collection of a [`RedbStorage`]. Cloning is cheap: a clone goes to the blocking
/// thread that runs each call.
#[derive(Debug, Clone)]
pub(crate) struct RedbCollection {
    storage: RedbStorage,
    id: CollectionId,
}

impl RedbCollection {
    pub(crate) fn new(storage: RedbStorage, id: CollectionId) -> Self {
        RedbCollection { storage, id }
    }

    /// Runs `read` where blocking is allowed, with the collection's events; no events when the
    /// collection never held one.
    async fn read_events(
        &self,
        read: impl FnOnce(&EventsTable) -> Result<Vec<Event>, StorageError> + Send + 'static,
    ) -> Result<Vec<Event>, StorageError> {
        let name = layout::events_table(&self.id);
        self.storage
            .blocking(move |storage| {
                match open_read(&storage.read()?, layout::Events::new(&name))? {
                    Some(events) => read(&events),
                    None => Ok(Vec::new()),
                }
            })
            .await
    }

    /// Runs `query` where blocking is allowed, after creating the indexes `selection` could
    /// use, on a snapshot taken once they exist. A selection too deep to walk safely is
    /// refused first.
    async fn query<R: Send + 'static>(
        &self,
        selection: &Selection,
        query: impl FnOnce(&Snapshot, &Selection) -> Result<R, StorageError> + Send + 'static,
    ) -> Result<R, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let (id, selection) = (self.id.clone(), selection.clone());
        self.storage
            .blocking(move |storage| {
                storage.ensure_indexes(&id, &planner::indexable_properties(&selection))?;
                query(&Snapshot::take(storage.read()?, id)?, &selection)
            })
            .await
    }
}

/// The events of one collection, as a read transaction sees them.
type EventsTable = ReadOnlyTable<(u128, u128), &'static [u8]>;

/// A collection as of one read transaction: its records, and its indexes that were complete
/// then. Queries need no lock: the snapshot holds whole commits only.
pub(crate) struct Snapshot {
    collection: CollectionId,
    txn: ReadTransaction,
    /// `None` when the collection never held a state.
    states: Option<StatesTable>,
    ready: BTreeSet<String>,
}

impl Snapshot {
    fn take(txn: ReadTransaction, collection: CollectionId) -> Result<Snapshot, StorageError> {
        let states = open_read(
            &txn,
            layout::States::new(&layout::states_table(&collection)),
        )?;
        let ready = match open_read(&txn, layout::CATALOG)? {
            Some(catalog) => layout::catalogued(&catalog, &collection)?
                .into_iter()
                .filter(|(_, stage)| *stage == Stage::Ready)
                .map(|(property, _)| property)
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(Snapshot {
            collection,
            txn,
            states,
            ready,
        })
    }
}

/// The states of one collection, as a read transaction sees them.
type StatesTable = ReadOnlyTable<u128, &'static [u8]>;

/// The record of one entity in a collection's states (`None` when it never held one).
fn record_in(
    states: Option<&StatesTable>,
    id: EntityId,
) -> Result<Option<Record<'static>>, StorageError> {
    let Some(states) = states else {
        return Ok(None);
    };
    let bytes = states
        .get(layout::id_key(id.to_bytes()))
        .map_err(engine_error)?;
    Ok(bytes
        .map(|bytes| Record::decode(bytes.value()))
        .transpose()?)
}

/// An index entry: the key of an index table.
pub(crate) struct Entry(AccessGuard<'static, &'static [u8]>);

impl AsRef<[u8]> for Entry {
    fn as_ref(&self) -> &[u8] {
        self.0.value()
    }
}

impl IndexedStates for Snapshot {
    type Entry = Entry;

    fn collection(&self) -> &CollectionId {
        &self.collection
    }

    fn is_indexed(&self, property: &str) -> bool {
        self.ready.contains(property)
    }

    fn records(&self) -> Result<Entries<'_, Record<'static>>, StorageError> {
        let Some(states) = &self.states else {
            return Ok(Box::new(std::iter::empty()));
        };
        let records = states.range::<u128>(..).map_err(engine_error)?;
        Ok(Box::new(records.map(|item| {
            let (_, bytes) = item.map_err(engine_error)?;
            Ok(Record::decode(bytes.value())?)
        })))
    }

    fn record(&self, id: EntityId) -> Result<Option<Record<'static>>, StorageError> {
        record_in(self.states.as_ref(), id)
    }

    fn entries(
        &self,
        property: &str,
        range: &KeyRange,
        descending: bool,
    ) -> Result<Entries<'_, Entry>, StorageError> {
        let name = layout::index_table(&self.collection, property);
        let Some(table) = open_read(&self.txn, layout::Index::new(&name))? else {
            return Ok(Box::new(std::iter::empty()));
        };
        let keys = table
            .range(range.start.as_slice()..range.end.as_slice())
            .map_err(engine_error)?;
        let entries = keys.map(|item| Ok(Entry(item.map_err(engine_error)?.0)));
        Ok(match descending {
            true => Box::new(entries.rev()),
            false => Box::new(entries),
        })
    }
}

#[async_trait]
impl StorageCollection for RedbCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        let (id, state) = (self.id.clone(), state.clone());
        self.storage
            .blocking(move |storage| storage.store(Some(&id), &[], &[state], Durable::Now))
            .await
            .map(drop)
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        let name = layout::states_table(&self.id);
        self.storage
            .blocking(move |storage| {
                let states = open_read(&storage.read()?, layout::States::new(&name))?;
                let record = record_in(states.as_ref(), id)?;
                Ok(record.map(|record| record.state.into_owned()))
            })
            .await
    }

    async fn fetch_ids(
        &self,
        selection: &Selection,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        self.query(selection, |snapshot, selection| {
            query::fetch_ids(snapshot, selection)
        })
        .await
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        let records = self
            .query(selection, |snapshot, selection| {
                query::fetch_records(snapshot, selection)
            })
            .await?;
        Ok(records
            .into_iter()
            .map(|record| record.state.into_owned())
            .collect())
    }

    async fn explain(&self, selection: &Selection) -> Result<QueryPlan, StorageError> {
        self.query(selection, |snapshot, selection| {
            query::explain(snapshot, selection, crate::ENGINE)
        })
        .await
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        let (id, event) = (self.id.clone(), event.clone());
        let added = self
            .storage
            .blocking(move |storage| storage.store(Some(&id), &[event], &[], Durable::Now))
            .await?;
        Ok(added == 1)
    }

    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        let ids: BTreeSet<EventId> = ids.iter().copied().collect();
        let entity = layout::id_key(entity.to_bytes());
        self.read_events(move |events| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                let key = (entity, layout::id_key(id.to_bytes()));
                if let Some(bytes) = events.get(key).map_err(engine_error)? {
                    found.push(Event::decode(bytes.value())?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        let entity = layout::id_key(id.to_bytes());
        self.read_events(move |events| {
            let history = events
                .range((entity, 0)..=(entity, u128::MAX))
                .map_err(engine_error)?;
            history
                .map(|item| Ok(Event::decode(item.map_err(engine_error)?.1.value())?))
                .collect()
        })
        .await
    }

    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let name = layout::states_table(&self.id);
        let start = after.map_or(Unbounded, |id| Excluded(layout::id_key(id.to_bytes())));
        self.storage
            .blocking(move |storage| {
                let Some(states) = open_read(&storage.read()?, layout::States::new(&name))? else {
                    return Ok(Vec::new());
                };
                let page = states
                    .range::<u128>((start, Unbounded))
                    .map_err(engine_error)?;
                page.take(limit)
                    .map(|item| {
                        let (_, bytes) = item.map_err(engine_error)?;
                        Ok(Record::decode(bytes.value())?.state.into_owned())
                    })
                    .collect()
            })
            .await
    }
}
