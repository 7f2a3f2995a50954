//! The reactor: every live query of a node, and the routing of changes to them.
//!
//! When a transaction (local or received) has been stored, the node hands the reactor the
//! changed entities. The reactor finds the affected queries through indexes rather than by
//! evaluating every query: per collection, queries with an equality (or IN) conjunct are
//! filed under the value they compare to; queries that already contain an entity are found
//! through a membership map; queries with a numeric range conjunct are kept sorted by their
//! lower bound, so a value finds the ranges containing it by a binary search and a walk of
//! the ranges starting below it; only the remaining ("scan") queries are tried on every
//! change of their collection. Each affected query then computes Add / Update / Remove and emits
//! one [`ChangeSet`] for the transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use crate::ankql::{ComparisonOp, Predicate, Selection};
use crate::changes::{ChangeSet, ItemChange};
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::id::EntityId;
use crate::node::Node;
use crate::node_error::RetrievalError;
use crate::signals::Broadcast;
use crate::value::{Number, Value, TWO_POW_63};

pub(crate) type QueryId = u64;

/// All live queries of a node and the indexes that route changes to them.
#[derive(Default)]
pub(crate) struct Reactor {
    index: Mutex<Index>,
    /// Called with the id of every query that goes away (to close its remote side).
    unregistered: std::sync::OnceLock<Box<dyn Fn(QueryId) + Send + Sync>>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("index", &self.index)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Index {
    next: QueryId,
    queries: HashMap<QueryId, Weak<Query>>,
    collections: HashMap<CollectionId, CollectionIndex>,
    /// Which queries currently contain each entity (to report removals).
    members: HashMap<EntityId, HashSet<QueryId>>,
}

#[derive(Debug, Default)]
struct CollectionIndex {
    /// property → value key → queries requiring `property = value`.
    equality: HashMap<String, HashMap<ValueKey, HashSet<QueryId>>>,
    /// property → numeric ranges required by queries, sorted by lower bound.
    ranges: HashMap<String, Vec<(Interval, QueryId)>>,
    /// Queries without an indexable conjunct: tried on every change of the collection.
    scan: HashSet<QueryId>,
}

/// One live query: its selection, current result and listeners.
pub(crate) struct Query {
    pub(crate) id: QueryId,
    pub(crate) collection: CollectionId,
    pub(crate) selection: RwLock<Selection>,
    /// Result in query order; guarded by an async lock so that loading and change
    /// processing of one query never interleave.
    pub(crate) results: tokio::sync::Mutex<Vec<Arc<Entity>>>,
    /// A copy of the result for synchronous reads.
    pub(crate) snapshot: RwLock<Vec<Arc<Entity>>>,
    /// Fired (for tracking readers) whenever the result changes.
    pub(crate) changed: Arc<Broadcast>,
    /// Fired with each change set; a listener's backlog past its bound merges.
    pub(crate) changesets: Arc<Broadcast<ChangeSet<Arc<Entity>>>>,
    /// Whether the result reflects the current selection.
    pub(crate) loaded: tokio::sync::watch::Sender<LoadState>,
    reactor: Weak<Reactor>,
}

/// Where a query's result stands with respect to its selection.
#[derive(Debug, Clone)]
pub(crate) enum LoadState {
    /// Not loaded yet.
    Loading,
    /// Loaded; changes keep it current.
    Loaded,
    /// Loading (or refilling) the current selection failed. The result is not trusted:
    /// every change triggers a full reload until one succeeds.
    Failed(Arc<RetrievalError>),
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("id", &self.id)
            .field("selection", &*self.selection.read())
            .finish()
    }
}

impl Drop for Query {
    fn drop(&mut self) {
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.unregister(self.id, &self.collection, &self.selection.read());
        }
    }
}

impl Reactor {
    /// Registers a new, empty query; it receives changes from now on.
    pub(crate) fn register(
        self: &Arc<Self>,
        collection: CollectionId,
        selection: Selection,
    ) -> Arc<Query> {
        let mut index = self.index.lock();
        index.next += 1;
        let id = index.next;
        let query = Arc::new(Query {
            id,
            collection: collection.clone(),
            selection: RwLock::new(selection),
            results: tokio::sync::Mutex::new(Vec::new()),
            snapshot: RwLock::new(Vec::new()),
            changed: Arc::default(),
            changesets: Arc::new(Broadcast::merging(ChangeSet::merge_queued)),
            loaded: tokio::sync::watch::Sender::new(LoadState::Loading),
            reactor: Arc::downgrade(self),
        });
        index.file(id, &collection, &query.selection.read());
        index.queries.insert(id, Arc::downgrade(&query));
        query
    }

    fn unregister(&self, id: QueryId, collection: &CollectionId, selection: &Selection) {
        {
            let mut index = self.index.lock();
            index.queries.remove(&id);
            index.unfile(id, collection, selection);
            index.members.retain(|_, queries| {
                queries.remove(&id);
                !queries.is_empty()
            });
        }
        if let Some(hook) = self.unregistered.get() {
            hook(id);
        }
    }

    /// Sets the hook called when a query goes away (once, by the node).
    pub(crate) fn on_unregister(&self, hook: impl Fn(QueryId) + Send + Sync + 'static) {
        if self.unregistered.set(Box::new(hook)).is_err() {
            tracing::error!("a second unregister hook was refused; the first one stays");
        }
    }

    /// Every live query.
    pub(crate) fn queries(&self) -> Vec<Arc<Query>> {
        self.index
            .lock()
            .queries
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Re-files a query under a new selection.
    pub(crate) fn refile(&self, query: &Query, old: &Selection, new: &Selection) {
        let mut index = self.index.lock();
        index.unfile(query.id, &query.collection, old);
        index.file(query.id, &query.collection, new);
    }

    /// Routes one transaction's changed entities to the affected queries.
    pub(crate) async fn notify(&self, node: &Node, changed: &[Arc<Entity>]) {
        let affected: Vec<(Arc<Query>, Vec<Arc<Entity>>)> = {
            let index = self.index.lock();
            let mut by_query: BTreeMap<QueryId, Vec<Arc<Entity>>> = BTreeMap::new();
            for entity in changed {
                for id in index.candidates(entity) {
                    by_query.entry(id).or_default().push(entity.clone());
                }
            }
            by_query
                .into_iter()
                .filter_map(|(id, entities)| Some((index.queries.get(&id)?.upgrade()?, entities)))
                .collect()
        };
        for (query, entities) in affected {
            if let Err(error) = query.apply_changes(node, &entities).await {
                tracing::warn!(
                    query = %query.selection.read(),
                    collection = %query.collection,
                    %error,
                    "a live query could not refresh; it is marked failed and the next change retries"
                );
            }
        }
    }

    /// Leaves out the entities some live query holds in its result: the query keeps them
    /// current already.
    pub(crate) fn not_in_results(&self, mut entities: Vec<Arc<Entity>>) -> Vec<Arc<Entity>> {
        let index = self.index.lock();
        entities.retain(|e| !index.members.contains_key(&e.id()));
        entities
    }

    /// Records the membership of a query's result (for routing removals).
    fn set_members(&self, query: QueryId, removed: &[EntityId], added: &[EntityId]) {
        let mut index = self.index.lock();
        for id in removed {
            if let Some(queries) = index.members.get_mut(id) {
                queries.remove(&query);
                if queries.is_empty() {
                    index.members.remove(id);
                }
            }
        }
        for id in added {
            index.members.entry(*id).or_default().insert(query);
        }
    }
}

impl Index {
    fn file(&mut self, id: QueryId, collection: &CollectionId, selection: &Selection) {
        let entry = self.collections.entry(collection.clone()).or_default();
        if let Some((property, keys)) = equality_keys(&selection.predicate) {
            let by_value = entry.equality.entry(property).or_default();
            for key in keys {
                by_value.entry(key).or_default().insert(id);
            }
        } else if let Some((property, interval)) = range_of(&selection.predicate) {
            let ranges = entry.ranges.entry(property).or_default();
            let at = ranges.partition_point(|(i, _)| i.lower <= interval.lower);
            ranges.insert(at, (interval, id));
        } else {
            entry.scan.insert(id);
        }
    }

    fn unfile(&mut self, id: QueryId, collection: &CollectionId, selection: &Selection) {
        let Some(entry) = self.collections.get_mut(collection) else {
            return;
        };
        entry.scan.remove(&id);
        if let Some((property, _)) = range_of(&selection.predicate) {
            if let Some(ranges) = entry.ranges.get_mut(&property) {
                ranges.retain(|(_, query)| *query != id);
            }
        }
        if let Some((property, keys)) = equality_keys(&selection.predicate) {
            if let Some(by_value) = entry.equality.get_mut(&property) {
                for key in keys {
                    if let Some(ids) = by_value.get_mut(&key) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            by_value.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Queries that may be affected by a change of `entity`: a superset, never missing one.
    fn candidates(&self, entity: &Entity) -> HashSet<QueryId> {
        let mut out: HashSet<QueryId> = self.members.get(&entity.id()).cloned().unwrap_or_default();
        if let Some(collection) = self.collections.get(entity.collection()) {
            out.extend(&collection.scan);
            for (property, by_value) in &collection.equality {
                let value = if property == "id" {
                    Some(Value::EntityId(entity.id()))
                } else {
                    entity.value(property)
                };
                for key in value.iter().flat_map(value_keys) {
                    out.extend(by_value.get(&key).into_iter().flatten());
                }
            }
            for (property, ranges) in &collection.ranges {
                let Some(x) = entity.value(property).as_ref().and_then(number_of) else {
                    continue;
                };
                let below = ranges.partition_point(|(i, _)| i.lower <= x);
                out.extend(
                    ranges[..below]
                        .iter()
                        .filter(|(i, _)| x <= i.upper)
                        .map(|(_, id)| *id),
                );
            }
        }
        out
    }
}

impl Query {
    /// Loads the result from storage and reports it as `Initial`. A failure leaves the
    /// query [failed](LoadState::Failed), which [`Self::outcome`] reports.
    pub(crate) async fn load(&self, node: &Node) -> Result<(), RetrievalError> {
        let mut results = self.results.lock().await;
        let selection = self.selection.read().clone();
        let fresh = self.fetch(node, &selection).await?;
        let previous: Vec<EntityId> = results.iter().map(|e| e.id()).collect();
        let changes = fresh
            .iter()
            .map(|e| ItemChange::Initial { item: e.clone() })
            .collect();
        self.publish(&mut results, fresh, changes, &previous);
        self.loaded.send_replace(LoadState::Loaded);
        Ok(())
    }

    /// Waits until the query is loaded or failed, and says which.
    pub(crate) async fn outcome(&self) -> Result<(), RetrievalError> {
        let mut state = self.loaded.subscribe();
        let settled = state
            .wait_for(|state| !matches!(state, LoadState::Loading))
            .await
            .map(|state| state.clone());
        match settled {
            Ok(LoadState::Failed(reason)) => Err(self.failure(reason)),
            // Loaded (waiting cannot fail: the sender is this query's own field).
            _ => Ok(()),
        }
    }

    /// The whole current result, from storage. On failure the query is marked failed.
    async fn fetch(
        &self,
        node: &Node,
        selection: &Selection,
    ) -> Result<Vec<Arc<Entity>>, RetrievalError> {
        node.fetch_entities(&self.collection, selection)
            .await
            .map_err(|error| {
                let reason = Arc::new(error);
                self.loaded.send_replace(LoadState::Failed(reason.clone()));
                self.failure(reason)
            })
    }

    fn failure(&self, reason: Arc<RetrievalError>) -> RetrievalError {
        RetrievalError::QueryFailed {
            collection: self.collection.to_string(),
            query: self.selection.read().to_string(),
            reason,
        }
    }

    /// Replaces the selection, reloading and reporting the difference.
    pub(crate) async fn reselect(
        &self,
        node: &Node,
        selection: Selection,
    ) -> Result<(), RetrievalError> {
        let mut results = self.results.lock().await;
        let old = std::mem::replace(&mut *self.selection.write(), selection.clone());
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.refile(self, &old, &selection);
        }
        let fresh = self.fetch(node, &selection).await?;
        self.diff_and_publish(&mut results, fresh, &[]);
        self.loaded.send_replace(LoadState::Loaded);
        Ok(())
    }

    /// Works out what `changed` means for this query and reports it.
    async fn apply_changes(
        &self,
        node: &Node,
        changed: &[Arc<Entity>],
    ) -> Result<(), RetrievalError> {
        let mut results = self.results.lock().await;
        let selection = self.selection.read().clone();
        let failed = matches!(*self.loaded.borrow(), LoadState::Failed(_));
        if failed || selection.limit.is_some() {
            // A window (entering or leaving items shift it) is refilled from storage; so is
            // a result that is not trusted since a load failed, which recovers the query.
            let fresh = self.fetch(node, &selection).await?;
            self.diff_and_publish(&mut results, fresh, changed);
            if failed {
                self.loaded.send_replace(LoadState::Loaded);
            }
            return Ok(());
        }
        let mut next: Vec<Arc<Entity>> = results.clone();
        let mut changes = Vec::new();
        for entity in changed {
            let matches = !entity.is_deleted() && selection.predicate.matches(entity);
            let position = next.iter().position(|e| e.id() == entity.id());
            match (matches, position) {
                (true, None) => {
                    next.push(entity.clone());
                    changes.push(ItemChange::Add {
                        item: entity.clone(),
                    });
                }
                (true, Some(_)) => changes.push(ItemChange::Update {
                    item: entity.clone(),
                }),
                (false, Some(at)) => {
                    next.remove(at);
                    changes.push(ItemChange::Remove {
                        item: entity.clone(),
                    });
                }
                (false, None) => {}
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        selection.sort(&mut next);
        let previous: Vec<EntityId> = results.iter().map(|e| e.id()).collect();
        self.publish(&mut results, next, changes, &previous);
        Ok(())
    }

    /// Diffs a freshly fetched result against the current one; entities in `changed` that
    /// stay are reported as updates.
    fn diff_and_publish(
        &self,
        results: &mut Vec<Arc<Entity>>,
        fresh: Vec<Arc<Entity>>,
        changed: &[Arc<Entity>],
    ) {
        let old: HashSet<EntityId> = results.iter().map(|e| e.id()).collect();
        let new: HashSet<EntityId> = fresh.iter().map(|e| e.id()).collect();
        let mut changes: Vec<ItemChange<Arc<Entity>>> = results
            .iter()
            .filter(|e| !new.contains(&e.id()))
            .map(|e| ItemChange::Remove { item: e.clone() })
            .collect();
        for entity in &fresh {
            if !old.contains(&entity.id()) {
                changes.push(ItemChange::Add {
                    item: entity.clone(),
                });
            } else if changed.iter().any(|c| c.id() == entity.id()) {
                changes.push(ItemChange::Update {
                    item: entity.clone(),
                });
            }
        }
        if !changes.is_empty() {
            let previous: Vec<EntityId> = old.into_iter().collect();
            self.publish(results, fresh, changes, &previous);
        }
    }

    fn publish(
        &self,
        results: &mut Vec<Arc<Entity>>,
        next: Vec<Arc<Entity>>,
        changes: Vec<ItemChange<Arc<Entity>>>,
        previous: &[EntityId],
    ) {
        let added: Vec<EntityId> = next.iter().map(|e| e.id()).collect();
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.set_members(self.id, previous, &added);
        }
        *results = next.clone();
        *self.snapshot.write() = next.clone();
        // Only queued here, under the result lock, so listeners hear change sets in the order
        // the result took them; their callbacks run later, elsewhere.
        self.changed.notify(());
        if !self.changesets.is_empty() {
            self.changesets.notify(ChangeSet {
                resultset: next,
                changes,
            });
        }
    }
}

/// The first top-level `property = value` (or `property IN (...)`) conjunct, as index keys.
fn equality_keys(predicate: &Predicate) -> Option<(String, Vec<ValueKey>)> {
    match predicate {
        Predicate::And(left, right) => equality_keys(left).or_else(|| equality_keys(right)),
        Predicate::Comparison {
            path,
            op: ComparisonOp::Eq,
            value,
        } if path.0.len() == 1 => {
            let keys = value_keys(value);
            (!keys.is_empty()).then(|| (path.property().to_owned(), keys))
        }
        Predicate::In {
            path,
            values,
            negated: false,
        } if path.0.len() == 1 => {
            let keys: Vec<ValueKey> = values.iter().flat_map(value_keys).collect();
            // A NULL or Json element could match in ways keys do not capture.
            (values.iter().all(|v| !value_keys(v).is_empty()))
                .then(|| (path.property().to_owned(), keys))
        }
        _ => None,
    }
}

/// A closed numeric interval, widened a little so float rounding never excludes a match.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    lower: f64,
    upper: f64,
}

/// The numeric range a query's top-level conjuncts require of its first range property.
fn range_of(predicate: &Predicate) -> Option<(String, Interval)> {
    fn conjuncts<'a>(p: &'a Predicate, out: &mut Vec<&'a Predicate>) {
        match p {
            Predicate::And(l, r) => {
                conjuncts(l, out);
                conjuncts(r, out);
            }
            other => out.push(other),
        }
    }
    let mut all = Vec::new();
    conjuncts(predicate, &mut all);
    let mut found: Option<(String, Interval)> = None;
    for conjunct in all {
        let Predicate::Comparison { path, op, value } = conjunct else {
            continue;
        };
        let (Some(bound), 1) = (literal_number(value), path.0.len()) else {
            continue;
        };
        let property = path.property();
        if found.as_ref().is_some_and(|(p, _)| p != property) {
            continue;
        }
        let slack = bound.abs() * 4.0 * f64::EPSILON + f64::MIN_POSITIVE;
        let entry = found.get_or_insert_with(|| {
            (
                property.to_owned(),
                Interval {
                    lower: f64::NEG_INFINITY,
                    upper: f64::INFINITY,
                },
            )
        });
        match op {
            ComparisonOp::Gt | ComparisonOp::GtEq => {
                entry.1.lower = entry.1.lower.max(bound - slack)
            }
            ComparisonOp::Lt | ComparisonOp::LtEq => {
                entry.1.upper = entry.1.upper.min(bound + slack)
            }
            _ => {}
        }
    }
    found.filter(|(_, i)| i.lower > f64::NEG_INFINITY || i.upper < f64::INFINITY)
}

/// A numeric literal of a range: only numbers (a string literal compares as text with text).
fn literal_number(value: &Value) -> Option<f64> {
    match value {
        Value::I64(i) => Some(*i as f64),
        Value::F64(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// The number an entity's value compares as against a numeric literal.
fn number_of(value: &Value) -> Option<f64> {
    value.as_number().map(|n| n.to_f64())
}

/// A hashable form of a value under AnkQL equality: values that compare equal share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Bytes(Vec<u8>),
    Id([u8; 16]),
    Date(i32),
    Timestamp(i64),
    Duration(i64),
}

/// Every key a value can be equal under: a string that reads as a number also equals that
/// number, one that reads as an id that id, one that reads as a date, a timestamp or a
/// duration that value; a Json scalar is its plain value.
fn value_keys(value: &Value) -> Vec<ValueKey> {
    fn number(f: f64) -> ValueKey {
        if f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) {
            ValueKey::Int(f as i64)
        } else {
            ValueKey::Float(f.to_bits())
        }
    }
    match &*value.canonical() {
        Value::Null | Value::Json(_) => Vec::new(),
        Value::Date(days) => vec![ValueKey::Date(*days)],
        Value::Timestamp(micros) => vec![ValueKey::Timestamp(*micros)],
        Value::Duration(micros) => vec![ValueKey::Duration(*micros)],
        Value::Bool(b) => vec![ValueKey::Bool(*b)],
        Value::I64(i) => vec![ValueKey::Int(*i)],
        Value::F64(f) if f.is_nan() => Vec::new(),
        Value::F64(f) => vec![number(*f)],
        Value::Bytes(b) => vec![ValueKey::Bytes(b.clone())],
        Value::EntityId(id) => vec![ValueKey::Id(id.to_bytes())],
        Value::String(s) => {
            let mut keys = vec![ValueKey::Str(s.clone())];
            match value.as_number() {
                Some(Number::I64(i)) => keys.push(ValueKey::Int(i)),
                Some(Number::F64(f)) => keys.push(number(f)),
                None => {}
            }
            if let Ok(id) = s.parse::<EntityId>() {
                keys.push(ValueKey::Id(id.to_bytes()));
            }
            let string = Value::String(s.clone());
            keys.extend(string.as_date().map(ValueKey::Date));
            keys.extend(string.as_timestamp().map(ValueKey::Timestamp));
            keys.extend(string.as_duration().map(ValueKey::Duration));
            keys
        }
    }
}
