//! Running a [`Plan`] on an engine's states and index entries, through [`IndexedStates`].
//!
//! Whatever the plan, each candidate is checked against the whole predicate and the results
//! are sorted by the full ORDER BY, so the answer is always that of [`Selection::apply`] over
//! the live entities. What the plan buys is reading less: a walk that follows the first ORDER
//! BY key stops once the limit is met, and without ORDER BY, where results come in entity id
//! order, candidates are read in id order until the limit is met.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::planner::{self, KeyRange, Plan};
use super::record::{split_entry, Record};
use super::value_key::decode_value;
use crate::ankql::{Direction, Filterable, Selection};
use crate::collection::CollectionId;
use crate::error::{DecodeError, StorageError};
use crate::id::EntityId;
use crate::storage::QueryPlan;
use crate::value::Value;

/// What the query functions read: one collection's records and index entries, as of one
/// consistent view (a snapshot, or under a lock that excludes writers).
pub trait IndexedStates {
    /// An index entry as the engine hands it out: the bytes of an entry (encoded value, then
    /// entity id; see [`super::record`]), without any key prefix of the engine's.
    type Entry: AsRef<[u8]>;

    /// The collection, named in errors.
    fn collection(&self) -> &CollectionId;

    /// Whether the index on `property` is complete and maintained, so queries may use it.
    fn is_indexed(&self, property: &str) -> bool;

    /// Every record of the collection, in entity id order.
    fn records(&self) -> Result<Entries<'_, Record<'static>>, StorageError>;

    /// The record of one entity.
    fn record(&self, id: EntityId) -> Result<Option<Record<'static>>, StorageError>;

    /// The entries of the index on `property` from `range.start` (included) to `range.end`
    /// (excluded), upwards or, when `descending`, downwards. Called only with
    /// `range.start < range.end`.
    fn entries(
        &self,
        property: &str,
        range: &KeyRange,
        descending: bool,
    ) -> Result<Entries<'_, Self::Entry>, StorageError>;
}

/// A fallible iterator an engine hands to the query functions.
pub type Entries<'a, T> = Box<dyn Iterator<Item = Result<T, StorageError>> + 'a>;

/// How many distinct values [`fetch_ids`] merges before giving up on merging runs.
const MAX_RUNS: usize = 64;

fn limit_of(selection: &Selection) -> Option<usize> {
    selection
        .limit
        .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX))
}

/// The entries of an index within `ranges`, walked downwards for a descending order.
fn walk<'s, S: IndexedStates>(
    store: &'s S,
    property: &'s str,
    mut ranges: Vec<KeyRange>,
    order: Option<Direction>,
) -> impl Iterator<Item = Result<S::Entry, StorageError>> + 's {
    let descending = order == Some(Direction::Desc);
    if descending {
        ranges.reverse();
    }
    ranges.into_iter().flat_map(
        move |range| match store.entries(property, &range, descending) {
            Ok(entries) => entries,
            Err(error) => Box::new(std::iter::once(Err(error))),
        },
    )
}

/// The live records matching `selection`, ordered and limited, read through the best plan
/// the complete indexes allow.
pub fn fetch_records<S: IndexedStates>(
    store: &S,
    selection: &Selection,
) -> Result<Vec<Record<'static>>, StorageError> {
    let limit = limit_of(selection);
    if limit == Some(0) {
        return Ok(Vec::new());
    }
    let keep = |record: &Record<'_>| !record.is_deleted() && selection.predicate.matches(record);
    let mut matched = Vec::new();
    match planner::plan(selection, |property| store.is_indexed(property)) {
        Plan::Scan => {
            for record in store.records()? {
                let record = record?;
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
            let walk = walk(store, &property, ranges, order);
            if let (true, Some(limit)) = (selection.order_by.is_empty(), limit) {
                // Without ORDER BY the result is in entity id order: gather the candidate
                // ids from index entries alone, then read records in id order until the
                // limit is met, instead of reading every candidate.
                let mut ids = BTreeSet::new();
                for entry in walk {
                    ids.insert(split_entry(entry?.as_ref())?.1);
                }
                for id in ids {
                    let record = indexed_record(store, id)?;
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
            for entry in walk {
                let entry = entry?;
                let (value, id) = split_entry(entry.as_ref())?;
                if order.is_some() && previous.as_deref() != Some(value) {
                    if limit.is_some_and(|limit| matched.len() >= limit) {
                        break;
                    }
                    previous = Some(value.to_vec());
                }
                let record = indexed_record(store, id)?;
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

/// The ids of the live entities matching `selection`, in result order, answered from index
/// entries alone when the predicate and the sort keys read nothing but the indexed property
/// and the entity id: an entry holds exactly those (the property's current value, NULL when
/// missing, and the id of a live entity), so the predicate can be evaluated on it without
/// reading the record. `None` otherwise.
pub fn fetch_ids<S: IndexedStates>(
    store: &S,
    selection: &Selection,
) -> Result<Option<Vec<EntityId>>, StorageError> {
    let Plan::Index {
        property,
        ranges,
        order,
    } = planner::plan(selection, |property| store.is_indexed(property))
    else {
        return Ok(None);
    };
    if !planner::reads_only(selection, &property) {
        return Ok(None);
    }
    let limit = limit_of(selection);
    // Up the only sort key, entries come in result order: stop at the limit.
    let exact_order = order == Some(Direction::Asc) && selection.order_by.len() == 1;
    // Entries of one value are adjacent; unless the predicate reads the id, they all match
    // or all fail, so the value is decoded and tested once per run.
    let per_value = !planner::reads_id(&selection.predicate);
    if let (true, true, Some(limit)) = (per_value, selection.order_by.is_empty(), limit) {
        if let Some(ids) = merge_runs(store, &property, &ranges, selection, limit)? {
            return Ok(Some(ids));
        }
    }
    let mut last: Option<(Vec<u8>, Value, bool)> = None;
    let mut matched = Vec::new();
    for entry in walk(store, &property, ranges, order) {
        if exact_order && limit == Some(matched.len()) {
            break;
        }
        let entry = entry?;
        let (encoded, id) = split_entry(entry.as_ref())?;
        let found = match &last {
            Some((previous, value, matches)) if per_value && previous.as_slice() == encoded => {
                matches.then(|| IndexEntry {
                    id,
                    property: &property,
                    value: value.clone(),
                })
            }
            _ => {
                let found = IndexEntry {
                    id,
                    property: &property,
                    value: indexed_value(encoded, &property)?,
                };
                let matches = selection.predicate.matches(&found);
                last = Some((encoded.to_vec(), found.value.clone(), matches));
                matches.then_some(found)
            }
        };
        matched.extend(found);
    }
    selection.sort(&mut matched);
    matched.truncate(limit.unwrap_or(usize::MAX));
    Ok(Some(matched.into_iter().map(|entry| entry.id).collect()))
}

/// Without ORDER BY a result is in entity id order. Each run of entries with one value is in
/// id order already, so the matching runs are merged by id and the walk stops at the limit:
/// an equality reads about `limit` entries instead of every match. Finding the runs costs a
/// seek each, so past [`MAX_RUNS`] values this gives up (`None`) and the caller reads every
/// entry instead.
fn merge_runs<S: IndexedStates>(
    store: &S,
    property: &str,
    ranges: &[KeyRange],
    selection: &Selection,
    limit: usize,
) -> Result<Option<Vec<EntityId>>, StorageError> {
    let mut runs = Vec::new();
    for range in ranges {
        let mut start = range.start.clone();
        while start < range.end {
            let Some(first) = store
                .entries(property, &(start..range.end.clone()), false)?
                .next()
            else {
                break;
            };
            let first = first?;
            let (encoded, id) = split_entry(first.as_ref())?;
            // Every entry of this value starts with `run`; ids are 16 bytes, so `run` + 17
            // bytes of FF is past them all and before the next value.
            let run = encoded.to_vec();
            let past = [&run[..], &[0xFF; 17]].concat();
            let entry = IndexEntry {
                id,
                property,
                value: indexed_value(encoded, property)?,
            };
            if selection.predicate.matches(&entry) {
                if runs.len() == MAX_RUNS {
                    return Ok(None);
                }
                runs.push(store.entries(property, &(run..past.clone()), false)?);
            }
            start = past;
        }
    }
    let next_id = |run: &mut Entries<'_, S::Entry>| -> Result<Option<EntityId>, StorageError> {
        run.next()
            .map(|entry| Ok(split_entry(entry?.as_ref())?.1))
            .transpose()
    };
    // A min-heap of each run's next id.
    let mut heads = BinaryHeap::new();
    for (index, run) in runs.iter_mut().enumerate() {
        if let Some(id) = next_id(run)? {
            heads.push(Reverse((id, index)));
        }
    }
    let mut ids = Vec::with_capacity(limit.min(1024));
    while ids.len() < limit {
        let Some(Reverse((id, index))) = heads.pop() else {
            break;
        };
        ids.push(id);
        if let Some(id) = next_id(&mut runs[index])? {
            heads.push(Reverse((id, index)));
        }
    }
    Ok(Some(ids))
}

/// How [`fetch_records`] would find the candidates of `selection` on `store`: the plan the
/// complete indexes allow, with the entries it reads counted (index entries in the planned
/// ranges, or every record for a scan). `engine` names the engine in the report.
pub fn explain<S: IndexedStates>(
    store: &S,
    selection: &Selection,
    engine: &'static str,
) -> Result<QueryPlan, StorageError> {
    fn count<T>(entries: Entries<'_, T>) -> Result<u64, StorageError> {
        entries
            .into_iter()
            .try_fold(0, |n, entry| entry.map(|_| n + 1))
    }
    match planner::plan(selection, |property| store.is_indexed(property)) {
        Plan::Scan => {
            let records = count(store.records()?)?;
            Ok(QueryPlan {
                engine,
                index: None,
                candidates: records,
                estimated: false,
                detail: format!("scan of every state ({records}), in entity id order"),
            })
        }
        Plan::Index {
            property,
            ranges,
            order,
        } => {
            let mut entries = 0;
            for range in &ranges {
                entries += count(store.entries(&property, range, false)?)?;
            }
            let walk = match order {
                Some(Direction::Asc) => "walked upwards (ORDER BY follows it)",
                Some(Direction::Desc) => "walked downwards (ORDER BY follows it)",
                None => "read, then sorted",
            };
            let early = match (order, selection.limit) {
                (Some(_), Some(limit)) => format!("; the LIMIT {limit} may stop it early"),
                _ => String::new(),
            };
            Ok(QueryPlan {
                engine,
                index: Some(property.clone()),
                candidates: entries,
                estimated: false,
                detail: format!(
                    "index on `{property}`: {} range(s), {entries} entries, {walk}{early}",
                    ranges.len()
                ),
            })
        }
    }
}

/// The record an index entry points at; its absence means the index is corrupt.
fn indexed_record<S: IndexedStates>(
    store: &S,
    id: EntityId,
) -> Result<Record<'static>, StorageError> {
    Ok(store.record(id)?.ok_or_else(|| DecodeError::Malformed {
        what: "index entry",
        reason: format!(
            "entity {id} of collection `{}` has no stored state",
            store.collection()
        ),
    })?)
}

/// The value of `property` an index entry holds; bytes no encoding produces mean the index
/// is corrupt.
fn indexed_value(encoded: &[u8], property: &str) -> Result<Value, StorageError> {
    decode_value(encoded).ok_or_else(|| {
        DecodeError::Malformed {
            what: "index entry",
            reason: format!("undecodable value in the index of `{property}`"),
        }
        .into()
    })
}

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
