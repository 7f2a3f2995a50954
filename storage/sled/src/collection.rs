//! [`SledCollection`]: the handle on one collection, and the execution of query plans.

use std::collections::BTreeSet;

use ankurah_core::ankql::{Direction, Filterable, Selection};
use ankurah_core::error::DecodeError;
use ankurah_core::event::Event;
use ankurah_core::id::{EntityId, EventId};
use ankurah_core::state::EntityState;
use ankurah_core::storage::{StorageCollection, StoredState};
use ankurah_core::value::Value;
use ankurah_core::{CollectionId, Limits, StorageError};
use async_trait::async_trait;

use crate::engine::{Indexes, SledStorage};
use crate::engine_error;
use crate::index;
use crate::layout::{self, Record};
use crate::planner::{self, KeyRange, Plan};

/// One collection of a [`SledStorage`]; its name was validated when the handle was made.
/// Cloning is cheap: a clone goes to the blocking thread that runs each call.
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

    /// The entries of an index within `ranges`, walked downwards for a descending order.
    fn walk<'a>(
        &'a self,
        prefix: &'a [u8],
        ranges: Vec<KeyRange>,
        order: Option<Direction>,
    ) -> impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a {
        let descending = order == Some(Direction::Desc);
        let ranges: Vec<_> = if descending {
            ranges.into_iter().rev().collect()
        } else {
            ranges
        };
        let tree = self.storage.tree();
        ranges.into_iter().flat_map(move |range| {
            let keys =
                tree.range([prefix, &range.start[..]].concat()..[prefix, &range.end[..]].concat());
            let keys: Box<dyn Iterator<Item = _>> = if descending {
                Box::new(keys.rev())
            } else {
                Box::new(keys)
            };
            keys
        })
    }

    /// Answers from index keys alone when the predicate and the sort keys read nothing but
    /// the indexed property and the entity id: a key holds exactly those (the property's
    /// current value, NULL when missing, and the id of a live entity), so the predicate can
    /// be evaluated on it without reading the state. `None` otherwise.
    fn execute_ids(
        &self,
        selection: &Selection,
        indexes: &Indexes,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        let Plan::Index {
            property,
            ranges,
            order,
        } = planner::plan(selection, |p| indexes.is_ready(p))
        else {
            return Ok(None);
        };
        if !planner::reads_only(selection, &property) {
            return Ok(None);
        }
        let limit = selection
            .limit
            .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
        // Up the only sort key, entries come in result order: stop at the limit.
        let exact_order = order == Some(Direction::Asc) && selection.order_by.len() == 1;
        let prefix = layout::index_prefix(&self.id, &property);
        // Entries of one value are adjacent; unless the predicate reads the id, they all
        // match or all fail, so the value is decoded and tested once per run.
        let per_value = !planner::reads_id(&selection.predicate);
        if let (true, true, Some(limit)) = (per_value, selection.order_by.is_empty(), limit) {
            if let Some(ids) = self.merge_runs(&prefix, &ranges, selection, &property, limit)? {
                return Ok(Some(ids));
            }
        }
        let mut last: Option<(Vec<u8>, Value, bool)> = None;
        let mut matched = Vec::new();
        for item in self.walk(&prefix, ranges, order) {
            if exact_order && limit == Some(matched.len()) {
                break;
            }
            let (key, _) = item.map_err(engine_error)?;
            let (encoded, id) =
                layout::split_trailing_id(key.get(prefix.len()..).unwrap_or_default())?;
            let id = EntityId::from_slice(id)?;
            let entry = match &last {
                Some((previous, value, matches)) if per_value && previous.as_slice() == encoded => {
                    matches.then(|| IndexEntry {
                        id,
                        property: &property,
                        value: value.clone(),
                    })
                }
                _ => {
                    let value = indexed_value(encoded, &property)?;
                    let entry = IndexEntry {
                        id,
                        property: &property,
                        value,
                    };
                    let matches = selection.predicate.matches(&entry);
                    last = Some((encoded.to_vec(), entry.value.clone(), matches));
                    matches.then_some(entry)
                }
            };
            matched.extend(entry);
        }
        selection.sort(&mut matched);
        matched.truncate(limit.unwrap_or(usize::MAX));
        Ok(Some(matched.into_iter().map(|entry| entry.id).collect()))
    }

    /// Without ORDER BY a result is in entity id order. Each run of entries with one value is
    /// in id order already, so the matching runs are merged by id and the walk stops at the
    /// limit: an equality reads about `limit` keys instead of every match. Finding the runs
    /// costs a seek each, so past [`MAX_RUNS`] values this gives up (`None`) and the caller
    /// reads every entry instead.
    fn merge_runs(
        &self,
        prefix: &[u8],
        ranges: &[KeyRange],
        selection: &Selection,
        property: &str,
        limit: usize,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        let tree = self.storage.tree();
        let id_of = |key: &[u8]| -> Result<EntityId, StorageError> {
            let (_, id) = layout::split_trailing_id(key.get(prefix.len()..).unwrap_or_default())?;
            Ok(EntityId::from_slice(id)?)
        };
        let mut runs = Vec::new();
        for range in ranges {
            let end = [prefix, &range.end[..]].concat();
            let mut start = [prefix, &range.start[..]].concat();
            while let Some(item) = tree.range(start.clone()..end.clone()).next() {
                let (key, _) = item.map_err(engine_error)?;
                let (encoded, _) =
                    layout::split_trailing_id(key.get(prefix.len()..).unwrap_or_default())?;
                // Every key of this value starts with `run`; ids are 16 bytes, so `run` + 17
                // bytes of FF is past them all and before the next value.
                let run = [prefix, encoded].concat();
                let past = [&run[..], &[0xFF; 17]].concat();
                let value = indexed_value(encoded, property)?;
                let entry = IndexEntry {
                    id: id_of(&key)?,
                    property,
                    value,
                };
                if selection.predicate.matches(&entry) {
                    if runs.len() == MAX_RUNS {
                        return Ok(None);
                    }
                    runs.push(tree.range(run..past.clone()));
                }
                start = past;
            }
        }
        // A min-heap of each run's next id.
        let mut heads = std::collections::BinaryHeap::new();
        for (index, run) in runs.iter_mut().enumerate() {
            if let Some(item) = run.next() {
                heads.push(std::cmp::Reverse((
                    id_of(&item.map_err(engine_error)?.0)?,
                    index,
                )));
            }
        }
        let mut ids = Vec::with_capacity(limit.min(1024));
        while ids.len() < limit {
            let Some(std::cmp::Reverse((id, index))) = heads.pop() else {
                break;
            };
            ids.push(id);
            if let Some(item) = runs[index].next() {
                heads.push(std::cmp::Reverse((
                    id_of(&item.map_err(engine_error)?.0)?,
                    index,
                )));
            }
        }
        Ok(Some(ids))
    }

    /// The record an index entry points at; its absence means the index is corrupt.
    fn indexed_record(&self, id: EntityId) -> Result<Record<'static>, StorageError> {
        Ok(self.record(id)?.ok_or_else(|| DecodeError::Malformed {
            what: "index entry",
            reason: format!(
                "entity {id} of collection `{}` has no stored state",
                self.id
            ),
        })?)
    }

    /// Runs a plan: collects the live candidates that match, then sorts and cuts them.
    fn execute(
        &self,
        selection: &Selection,
        indexes: &Indexes,
    ) -> Result<Vec<Record<'static>>, StorageError> {
        let limit = selection
            .limit
            .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let plan = planner::plan(selection, |property| indexes.is_ready(property));
        let keep =
            |record: &Record<'_>| !record.is_deleted() && selection.predicate.matches(record);
        let mut matched = Vec::new();
        match plan {
            Plan::Scan => {
                for item in self
                    .storage
                    .tree()
                    .scan_prefix(layout::state_prefix(&self.id))
                {
                    let (_, bytes) = item.map_err(engine_error)?;
                    let record = Record::decode(&bytes)?;
                    if keep(&record) {
                        matched.push(record);
                        // Scans run in entity id order, the result order without ORDER BY.
                        if selection.order_by.is_empty() && Some(matched.len()) == limit {
                            break;
                        }
                    }
                }
            }
            Plan::Index {
                property,
                ranges,
                order,
            } => {
                let prefix = layout::index_prefix(&self.id, &property);
                let walk = self.walk(&prefix, ranges, order);
                if let (true, Some(limit)) = (selection.order_by.is_empty(), limit) {
                    // Without ORDER BY the result is in entity id order: gather the candidate
                    // ids from index keys alone, then read records in id order until the
                    // limit is met, instead of reading every candidate.
                    let mut ids = BTreeSet::new();
                    for item in walk {
                        let (key, _) = item.map_err(engine_error)?;
                        let (_, id) =
                            layout::split_trailing_id(key.get(prefix.len()..).unwrap_or_default())?;
                        ids.insert(EntityId::from_slice(id)?);
                    }
                    for id in ids {
                        let record = self.indexed_record(id)?;
                        if keep(&record) {
                            matched.push(record);
                            if matched.len() == limit {
                                break;
                            }
                        }
                    }
                    return Ok(matched);
                }
                // The encoded value of the previous entry: when the walk follows the first
                // ORDER BY key, an entry with another value sorts after every match so far.
                let mut previous: Option<Vec<u8>> = None;
                // Walking up the only ORDER BY key, entries of one value come in id order,
                // which is the tie order: the walk may stop as soon as the limit is met.
                let exact_order = order == Some(Direction::Asc) && selection.order_by.len() == 1;
                for item in walk {
                    let (key, _) = item.map_err(engine_error)?;
                    let (value, id) =
                        layout::split_trailing_id(key.get(prefix.len()..).unwrap_or_default())?;
                    if order.is_some() && previous.as_deref() != Some(value) {
                        if limit.is_some_and(|limit| matched.len() >= limit) {
                            break;
                        }
                        previous = Some(value.to_vec());
                    }
                    let record = self.indexed_record(EntityId::from_slice(id)?)?;
                    if keep(&record) {
                        matched.push(record);
                        if exact_order && limit == Some(matched.len()) {
                            break;
                        }
                    }
                }
            }
        }
        selection.sort(&mut matched);
        matched.truncate(limit.unwrap_or(usize::MAX));
        Ok(matched)
    }
}

impl SledCollection {
    /// Runs `query` on a blocking thread after creating the indexes `selection` could use,
    /// with the collection's indexes and its lock held shared. A selection too deep to walk
    /// safely is refused first.
    async fn query<R: Send + 'static>(
        &self,
        selection: &Selection,
        query: impl FnOnce(&SledCollection, &Selection, &Indexes) -> Result<R, StorageError>
            + Send
            + 'static,
    ) -> Result<R, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let (this, selection) = (self.clone(), selection.clone());
        self.storage
            .blocking(move |storage| {
                storage.ensure_indexes(&this.id, &planner::indexable_properties(&selection))?;
                let indexes = storage.indexes(&this.id);
                let indexes = indexes.read();
                query(&this, &selection, &indexes)
            })
            .await
    }
}

#[async_trait]
impl StorageCollection for SledCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        self.storage
            .store(Some(self.id.clone()), Vec::new(), vec![state.clone()])
            .await
            .map(drop)
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        let this = self.clone();
        self.storage
            .blocking(move |_| Ok(this.record(id)?.map(|record| record.state.into_owned())))
            .await
    }

    async fn fetch_ids(
        &self,
        selection: &Selection,
    ) -> Result<Option<Vec<EntityId>>, StorageError> {
        self.query(selection, SledCollection::execute_ids).await
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        let matched = self.query(selection, SledCollection::execute).await?;
        Ok(matched
            .into_iter()
            .map(|record| record.state.into_owned())
            .collect())
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        Ok(self
            .storage
            .store(Some(self.id.clone()), vec![event.clone()], Vec::new())
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
        let collection = self.id.clone();
        self.storage
            .blocking(move |storage| {
                let mut events = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(bytes) = storage
                        .tree()
                        .get(layout::event_key(&collection, entity, id))
                        .map_err(engine_error)?
                    {
                        events.push(Event::decode(&bytes)?);
                    }
                }
                Ok(events)
            })
            .await
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        let prefix = layout::history_prefix(&self.id, id);
        self.storage
            .blocking(move |storage| {
                storage
                    .tree()
                    .scan_prefix(&prefix)
                    .map(|item| {
                        let (_, bytes) = item.map_err(engine_error)?;
                        Ok(Event::decode(&bytes)?)
                    })
                    .collect()
            })
            .await
    }
}

/// The value of `property` an index key holds; bytes no encoding produces mean the index
/// is corrupt.
fn indexed_value(encoded: &[u8], property: &str) -> Result<Value, StorageError> {
    index::decode_value(encoded).ok_or_else(|| {
        DecodeError::Malformed {
            what: "index entry",
            reason: format!("undecodable value in the index of `{property}`"),
        }
        .into()
    })
}

/// How many distinct values [`SledCollection::merge_runs`] merges before giving up.
const MAX_RUNS: usize = 64;

/// One index entry seen as an entity with a single property.
struct IndexEntry<'a> {
    id: EntityId,
    property: &'a str,
    value: Value,
}

impl Filterable for IndexEntry<'_> {
    fn entity_id(&self) -> EntityId {
        self.id
    }
    fn value(&self, property: &str) -> Option<Value> {
        (property == self.property).then(|| self.value.clone())
    }
}
