//! [`IndexedDbCollection`]: one collection's states, events and queries.
//!
//! A query runs the shared planner ([`planner::plan`]) over the complete indexes, reads the
//! key ranges of the plan (or, for a scan, the collection's states) in one read-only
//! transaction, and hands what it read to the shared query execution
//! ([`query::fetch_records`]), which filters, sorts and limits exactly as on sled and redb.

use std::collections::{BTreeMap, BTreeSet};

use ankurah_core::ankql::Selection;
use ankurah_core::error::StorageError;
use ankurah_core::event::Event;
use ankurah_core::id::{EntityId, EventId};
use ankurah_core::limits::Limits;
use ankurah_core::state::EntityState;
use ankurah_core::storage::ordered::planner::{self, KeyRange, Plan};
use ankurah_core::storage::ordered::query::{self, Entries, IndexedStates};
use ankurah_core::storage::ordered::record::{split_entry, Record};
use ankurah_core::storage::{StorageCollection, StoredState};
use ankurah_core::CollectionId;
use async_trait::async_trait;
use send_wrapper::SendWrapper;
use web_sys::{IdbObjectStore, IdbTransactionMode};

use crate::engine::{catalogued, object_store, IndexedDbStorage};
use crate::idb::{items, key_part, request, to_bytes};
use crate::layout::{self, Part};

/// A handle on one collection of an [`IndexedDbStorage`].
#[derive(Debug)]
pub(crate) struct IndexedDbCollection {
    storage: IndexedDbStorage,
    id: CollectionId,
}

/// What one query read, as the shared query execution reads it.
struct Snapshot {
    collection: CollectionId,
    indexed: BTreeSet<String>,
    records: BTreeMap<EntityId, Record<'static>>,
    /// The entries read from the index of the plan, in key order.
    entries: BTreeSet<Vec<u8>>,
}

impl IndexedStates for Snapshot {
    type Entry = Vec<u8>;

    fn collection(&self) -> &CollectionId {
        &self.collection
    }

    fn is_indexed(&self, property: &str) -> bool {
        self.indexed.contains(property)
    }

    fn records(&self) -> Result<Entries<'_, Record<'static>>, StorageError> {
        Ok(Box::new(
            self.records.values().map(|record| Ok(copy(record))),
        ))
    }

    fn record(&self, id: EntityId) -> Result<Option<Record<'static>>, StorageError> {
        Ok(self.records.get(&id).map(copy))
    }

    fn entries(
        &self,
        _property: &str,
        range: &KeyRange,
        descending: bool,
    ) -> Result<Entries<'_, Vec<u8>>, StorageError> {
        let within = self.entries.range(range.clone()).cloned().map(Ok);
        Ok(match descending {
            true => Box::new(within.rev()),
            false => Box::new(within),
        })
    }
}

/// A record as the query functions take it (they own what they return).
fn copy(record: &Record<'static>) -> Record<'static> {
    Record {
        state: record.state.clone(),
        values: record.values.clone(),
    }
}

/// Decodes stored record bytes.
fn decode_record(value: &wasm_bindgen::JsValue) -> Result<Record<'static>, StorageError> {
    Ok(Record::decode(&to_bytes(value, "state")?)?)
}

/// Decodes stored event bytes.
fn decode_event(value: &wasm_bindgen::JsValue) -> Result<Event, StorageError> {
    Ok(Event::decode(&to_bytes(value, "event")?)?)
}

impl IndexedDbCollection {
    pub(crate) fn new(storage: IndexedDbStorage, id: CollectionId) -> Self {
        IndexedDbCollection { storage, id }
    }

    fn events_store(&self) -> Result<IdbObjectStore, StorageError> {
        let tx = self
            .storage
            .transaction(&[layout::EVENTS], IdbTransactionMode::Readonly)?;
        object_store(&tx, layout::EVENTS)
    }

    async fn read_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        let tx = self
            .storage
            .transaction(&[layout::STATES], IdbTransactionMode::Readonly)?;
        let states = object_store(&tx, layout::STATES)?;
        let key = layout::state_key(&self.id, id.to_bytes());
        let stored = request("read state", states.get(&key)).await?;
        match stored.is_undefined() {
            true => Ok(None),
            false => Ok(Some(decode_record(&stored)?.state.into_owned())),
        }
    }

    async fn query(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let wanted = planner::indexable_properties(selection);
        let read = || {
            self.storage.transaction(
                &[layout::CATALOG, layout::STATES, layout::INDEX],
                IdbTransactionMode::Readonly,
            )
        };
        let mut tx = read()?;
        let mut indexed = catalogued(&tx, &self.id).await?;
        // Building an index takes a read-write transaction, which waits for commits: only
        // when one is missing, and then the query reads in a new transaction.
        if wanted.iter().any(|property| !indexed.contains(*property)) {
            self.storage.ensure_indexes(&self.id, &wanted).await?;
            tx = read()?;
            indexed = catalogued(&tx, &self.id).await?;
        }
        let states = object_store(&tx, layout::STATES)?;
        let mut snapshot = Snapshot {
            collection: self.id.clone(),
            records: BTreeMap::new(),
            entries: BTreeSet::new(),
            indexed,
        };
        match planner::plan(selection, |property| snapshot.indexed.contains(property)) {
            Plan::Scan => {
                let range = layout::starting_with(&[Part::Text(self.id.as_str())])?;
                let stored = request("read states", states.get_all_with_key(&range)).await?;
                for value in items(stored, "states")? {
                    let record = decode_record(&value)?;
                    snapshot.records.insert(record.state.entity_id, record);
                }
            }
            Plan::Index {
                property, ranges, ..
            } => {
                let index = object_store(&tx, layout::INDEX)?;
                for range in &ranges {
                    let keys = layout::index_range(&self.id, &property, &range.start, &range.end)?;
                    let found = request("read index", index.get_all_keys_with_key(&keys)).await?;
                    for key in items(found, "index keys")? {
                        snapshot
                            .entries
                            .insert(to_bytes(&key_part(&key, 2), "index entry")?);
                    }
                }
                for entry in &snapshot.entries {
                    let id = split_entry(entry)?.1;
                    let key = layout::state_key(&self.id, id.to_bytes());
                    let stored = request("read state", states.get(&key)).await?;
                    if !stored.is_undefined() {
                        snapshot.records.insert(id, decode_record(&stored)?);
                    }
                }
            }
        }
        let records = query::fetch_records(&snapshot, selection)?;
        Ok(records
            .into_iter()
            .map(|record| record.state.into_owned())
            .collect())
    }

    async fn read_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        let events = self.events_store()?;
        let mut found = Vec::new();
        for id in ids.iter().collect::<BTreeSet<_>>() {
            let key = layout::event_key(&self.id, entity.to_bytes(), id.to_bytes());
            let stored = request("read event", events.get(&key)).await?;
            if !stored.is_undefined() {
                found.push(decode_event(&stored)?);
            }
        }
        Ok(found)
    }

    async fn history(&self, entity: EntityId) -> Result<Vec<Event>, StorageError> {
        let events = self.events_store()?;
        let range = layout::starting_with(&[
            Part::Text(self.id.as_str()),
            Part::Bytes(&entity.to_bytes()),
        ])?;
        let stored = request("read events", events.get_all_with_key(&range)).await?;
        items(stored, "events")?.iter().map(decode_event).collect()
    }

    async fn scan(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        let tx = self
            .storage
            .transaction(&[layout::STATES], IdbTransactionMode::Readonly)?;
        let states = object_store(&tx, layout::STATES)?;
        let range = layout::states_after(&self.id, after.map(|id| id.to_bytes()))?;
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let stored = request(
            "read states",
            states.get_all_with_key_and_limit(&range, limit),
        )
        .await?;
        items(stored, "states")?
            .iter()
            .map(|value| Ok(decode_record(value)?.state.into_owned()))
            .collect()
    }
}

#[async_trait]
impl StorageCollection for IndexedDbCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        let states = std::slice::from_ref(state);
        SendWrapper::new(self.storage.store(Some(&self.id), &[], states))
            .await
            .map(drop)
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        SendWrapper::new(self.read_state(id)).await
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        SendWrapper::new(self.query(selection)).await
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        let events = std::slice::from_ref(event);
        SendWrapper::new(self.storage.store(Some(&self.id), events, &[]))
            .await
            .map(|added| added > 0)
    }

    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        SendWrapper::new(self.read_events(entity, ids)).await
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        SendWrapper::new(self.history(id)).await
    }

    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        SendWrapper::new(self.scan(after, limit)).await
    }
}
