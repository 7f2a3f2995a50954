//! [`Node`]: one participant of a system, holding storage, policy and resident entities.
//!
//! A *durable* node keeps the full event history and answers peers; an *ephemeral* node
//! keeps a local cache and forwards to durable peers. Every change, local or remote, is
//! applied through the node under one commit lock: staged on a snapshot, stored atomically,
//! then made visible.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use crate::ankql::Selection;
use crate::collection::CollectionId;
use crate::context::Context;
use crate::durability::Durability;
use crate::entity::{Entity, EntitySet};
use crate::error::{EventError, StorageError};
use crate::event::Event;
use crate::group_commit::{GroupCommit, Wait, WrittenCommit};
use crate::id::{EntityId, EventId, NodeId};
use crate::limits::{LimitExceeded, Limits};
use crate::node_error::{MutationError, RetrievalError};
use crate::policy::{AccessDenied, ContextData, PolicyAgent};
use crate::reactor::Reactor;
use crate::runtime::{SystemTime, UNIX_EPOCH};
use crate::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use crate::sync::proto::{Message, Request};
use crate::sync::{Followers, Following, Peer, Rejection};
use crate::system::SystemManager;

/// Tunables of a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// A durable node rejects events whose clock is further than this in its future.
    pub max_clock_skew: Duration,
    /// How many recently loaded entities stay in memory after their last view is dropped,
    /// so that repeated reads do not load them again.
    pub resident_entities: usize,
    /// Bounds on what peers and query text may send this node.
    pub limits: Limits,
    /// How far a commit must have gone before it returns, unless the transaction says
    /// otherwise ([`Transaction::commit_with`](crate::Transaction::commit_with)); see
    /// [`crate::durability`] for what each level survives.
    pub durability: Durability,
    /// The longest a written change waits for the node's background flusher.
    pub flush_delay: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            max_clock_skew: Duration::from_secs(60),
            resident_entities: 10_000,
            limits: Limits::default(),
            durability: Durability::Flushed,
            flush_delay: Duration::from_millis(50),
        }
    }
}

/// A node of an Ankurah system. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
    /// The system this node belongs to.
    pub system: SystemManager,
}

pub(crate) struct NodeInner {
    pub(crate) id: NodeId,
    pub(crate) durable: bool,
    pub(crate) storage: Arc<dyn StorageEngine>,
    pub(crate) policy: Arc<dyn PolicyAgent>,
    pub(crate) auth: crate::auth::NodeAuth,
    pub(crate) entities: EntitySet,
    pub(crate) reactor: Arc<Reactor>,
    config: NodeConfig,
    /// Serializes every change so staging, storing and publishing happen in one order.
    pub(crate) commit_lock: tokio::sync::Mutex<()>,
    /// Durability and publishing order of commits, shared with the background flusher.
    pub(crate) group_commit: Arc<GroupCommit>,
    pub(crate) peers: Mutex<HashMap<NodeId, Arc<Peer>>>,
    /// Bumped whenever a peer connects or disconnects.
    pub(crate) peers_changed: watch::Sender<u64>,
    pub(crate) rejections: broadcast::Sender<Rejection>,
    /// On a durable node: the entities peers follow (see [`crate::sync`]).
    pub(crate) followers: Arc<Followers>,
    /// On an ephemeral node: the entities it follows on its durable peer.
    pub(crate) following: Following,
    /// Set by [`Node::shutdown`]: commits are refused from then on.
    pub(crate) shut_down: AtomicBool,
    /// The request rates of the identities with sessions here.
    pub(crate) request_rates: crate::sync::RequestRates,
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        // What the background flusher has not flushed yet, it flushes now.
        self.group_commit.close();
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("durable", &self.inner.durable)
            .field("system", &self.system)
            .finish()
    }
}

/// What [`Node::apply_events`] did with a batch of received events.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ApplyOutcome {
    /// Events applied now (including staged ones they unblocked), in id order.
    pub applied: Vec<EventId>,
    /// Events already known, ignored.
    pub duplicates: Vec<EventId>,
    /// Parent ids (with their collection and entity) that are unknown here.
    pub missing: Vec<(CollectionId, EntityId, EventId)>,
    /// Events not applied because an ancestor is missing, handed back in id order: the
    /// caller fetches the ancestors from whoever sent the events and applies them together.
    /// The node itself keeps nothing of them, so one sender's gaps never affect another's.
    pub waiting: Vec<Event>,
}

/// What [`Node::apply`] does when some events of a batch wait for missing ancestors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staging {
    /// Apply what can be applied; hand back the rest.
    Partial,
    /// All or nothing: store none of the batch, hand all of it back.
    Whole,
}

impl Node {
    /// A durable node: keeps full event history and answers peers.
    pub fn new_durable<S: StorageEngine, P: PolicyAgent>(storage: Arc<S>, policy: P) -> Self {
        Self::with_config(storage, policy, true, NodeConfig::default())
    }

    /// An ephemeral (client) node: a local cache that forwards to durable peers.
    pub fn new<S: StorageEngine, P: PolicyAgent>(storage: Arc<S>, policy: P) -> Self {
        Self::with_config(storage, policy, false, NodeConfig::default())
    }

    /// A node with explicit tunables.
    pub fn with_config<S: StorageEngine, P: PolicyAgent>(
        storage: Arc<S>,
        policy: P,
        durable: bool,
        config: NodeConfig,
    ) -> Self {
        let storage: Arc<dyn StorageEngine> = storage;
        let system = SystemManager::new(storage.clone(), durable);
        let inner = NodeInner {
            id: NodeId::new(),
            durable,
            storage,
            policy: Arc::new(policy),
            auth: Default::default(),
            entities: EntitySet::new(config.resident_entities),
            reactor: Arc::default(),
            config,
            commit_lock: tokio::sync::Mutex::new(()),
            group_commit: Arc::default(),
            peers: Mutex::new(HashMap::new()),
            peers_changed: watch::Sender::new(0),
            rejections: broadcast::channel(64).0,
            followers: Arc::default(),
            following: Following::default(),
            request_rates: Default::default(),
            shut_down: AtomicBool::new(false),
        };
        let inner = Arc::new(inner);
        let weak = Arc::downgrade(&inner);
        inner.reactor.on_unregister(move |query| {
            // Closing a local live query closes its remote side too.
            if let Some(inner) = weak.upgrade() {
                for peer in inner.peers.lock().values().filter(|p| p.durable) {
                    let unsubscribe = Message::Request {
                        id: 0,
                        request: Request::Unsubscribe {
                            subscription: query,
                        },
                    };
                    if !peer.try_send(unsubscribe) {
                        // It ends with the session, or is replaced when the id is reused.
                        tracing::debug!(query, "remote side of a closed query left open");
                    }
                }
            }
        });
        Node { inner, system }
    }

    /// This node's id (fresh per construction).
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// Whether this node keeps full history.
    pub fn is_durable(&self) -> bool {
        self.inner.durable
    }

    /// The bounds this node holds outside input to (its [`NodeConfig::limits`]), e.g. for
    /// [`Message::decode_with`](crate::proto::Message::decode_with) in a connector.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// This node's durability level for commits that choose none
    /// ([`NodeConfig::durability`]).
    pub fn durability(&self) -> Durability {
        self.inner.config.durability
    }

    /// Makes every change written so far durable (buffered commits included), and returns
    /// once it is. Fails if the engine's flush fails; the node then refuses further commits.
    pub async fn flush(&self) -> Result<(), StorageError> {
        self.inner
            .group_commit
            .flush_written(self.inner.storage.as_ref())
            .await
    }

    /// Has the background flusher flush what was written within the flush delay.
    pub(crate) fn flush_later(&self) {
        self.inner
            .group_commit
            .flush_later(&self.inner.storage, self.inner.config.flush_delay);
    }

    /// Opens a context acting for `cx`, if the policy agent allows it.
    pub fn context(&self, cx: &ContextData) -> Result<Context, AccessDenied> {
        self.inner.policy.check_context(cx)?;
        Ok(Context::new(self.clone(), cx.clone()))
    }

    pub(crate) async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        self.inner.storage.collection(id).await
    }

    /// The resident entity for `id`, loading it from storage; `None` if unknown here.
    pub(crate) async fn load_entity(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Option<Arc<Entity>>, RetrievalError> {
        if let Some(entity) = self.inner.entities.get(&id) {
            return Ok((entity.collection() == collection).then_some(entity));
        }
        match self.collection(collection).await?.get_state(id).await? {
            Some(state) if state.collection == *collection => {
                Ok(Some(self.inner.entities.get_or_load(&state)?))
            }
            _ => Ok(None),
        }
    }

    /// Stores and publishes the changes of one local transaction, all or nothing, and
    /// returns what to forward to a durable peer (nothing on a durable node, where the
    /// commit is `durability` when this returns). An ephemeral node also puts the events in
    /// its outbox, written with the cache and, like it, not flushed here: the outbox is made
    /// durable when the commit is not acknowledged ([`Node::forward_commit`]).
    pub(crate) async fn commit_local(
        &self,
        cx: &ContextData,
        changes: Vec<LocalChange>,
        durability: Durability,
    ) -> Result<Option<Unsent>, MutationError> {
        self.check_open().await?;
        let lock = self.inner.commit_lock.lock().await;
        let mut staged = Vec::new();
        for change in &changes {
            // Pending writes are taken once: a commit retried after failure starts from scratch.
            let Some(mut event) = change.fork.take_event() else {
                continue;
            };
            event.author = cx.principal().to_owned();
            let next = match &change.canonical {
                Some(canonical) => canonical.snapshot(),
                // A creation: the fork's text document already holds the genesis content.
                None => change.fork.take_text(),
            };
            next.apply_event(&event)?;
            // Judged on the staged copy: a refusal stores nothing of it.
            self.inner
                .policy
                .check_change(cx, &event, change.canonical.as_deref(), &next)?;
            staged.push((change.canonical.clone(), next, event));
        }
        if staged.is_empty() {
            return Ok(None);
        }
        let (changed, events): (Vec<_>, Vec<Event>) = staged
            .into_iter()
            .map(|(canonical, next, event)| ((canonical, next), event))
            .unzip();
        if self.inner.durable {
            self.store_at(lock, events, changed, durability.into())
                .await?;
            return Ok(None);
        }
        self.inner.storage.outbox_add(&events).await?;
        // The cache is never flushed on the latency path.
        let stored = self
            .store_at(lock, events.clone(), changed, Wait::Nothing)
            .await;
        match stored {
            Ok(number) => Ok(Some(Unsent { events, number })),
            Err(e) => {
                let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
                if let Err(undo) = self.inner.storage.outbox_remove(&ids).await {
                    // The events stay in the outbox and are sent on the next connection.
                    tracing::error!(error = %undo, "a failed commit's events stay in the outbox");
                }
                Err(e)
            }
        }
    }

    /// `Ok` if this node takes commits: it was not shut down and, if durable, belongs to a
    /// system.
    async fn check_open(&self) -> Result<(), MutationError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(MutationError::ShutDown);
        }
        self.check_system().await
    }

    /// `Ok` unless this is a durable node without a system.
    async fn check_system(&self) -> Result<(), MutationError> {
        if self.inner.durable && !self.system.is_ready().await? {
            return Err(MutationError::NoSystem);
        }
        Ok(())
    }

    /// Stores and publishes changes received from a peer: flushed before this returns on a
    /// durable node (its answer says they are durable), written to the cache on an
    /// ephemeral one.
    pub(crate) async fn store_and_publish(
        &self,
        lock: tokio::sync::MutexGuard<'_, ()>,
        events: Vec<Event>,
        changed: Vec<(Option<Arc<Entity>>, Entity)>,
    ) -> Result<(), MutationError> {
        let wait = match self.inner.durable {
            true => Wait::Durable,
            false => Wait::Nothing,
        };
        self.store_at(lock, events, changed, wait).await.map(drop)
    }

    /// Stores events and staged entities in one atomic write, then publishes them. Takes
    /// the commit lock (held since staging) and releases it once the batch is written, so
    /// later commits build on this one; local listeners hear of it in commit order, then it
    /// waits as `wait` says (see [`crate::group_commit`]). Returns the commit's number.
    async fn store_at(
        &self,
        lock: tokio::sync::MutexGuard<'_, ()>,
        events: Vec<Event>,
        changed: Vec<(Option<Arc<Entity>>, Entity)>,
        wait: Wait,
    ) -> Result<u64, MutationError> {
        let commits = &self.inner.group_commit;
        if changed.is_empty() && events.is_empty() {
            return Ok(commits.written_so_far());
        }
        let storage = &self.inner.storage;
        let states: Vec<StoredState> = changed.iter().map(|(_, next)| stored_state(next)).collect();
        for stored in &states {
            let size: usize = stored.state.state.backends.values().map(|b| b.len()).sum();
            LimitExceeded::check(
                "entity state size in bytes",
                size,
                self.limits().max_entity_bytes,
            )?;
        }
        let batch = CommitBatch { states, events };
        commits.check()?;
        // Without group commit a flushed commit is written durably under the lock.
        let durable_now = wait == Wait::Durable && !storage.group_commit();
        if durable_now {
            storage.commit(batch).await?;
        } else {
            storage.write(batch).await?;
        }
        let number = commits.written();
        if durable_now {
            commits.durable_through(number);
        }
        let written = WrittenCommit::new(self, number, self.adopt(changed), wait);
        drop(lock);
        written.finish().await?;
        Ok(number)
    }

    /// Staged entities replace or join the resident set: later commits and local reads see
    /// them.
    fn adopt(&self, changed: Vec<(Option<Arc<Entity>>, Entity)>) -> Vec<Arc<Entity>> {
        changed
            .into_iter()
            .map(|(canonical, next)| match canonical {
                Some(canonical) => {
                    canonical.adopt(next);
                    canonical
                }
                None => {
                    let entity = Arc::new(next);
                    self.inner.entities.insert(&entity);
                    entity
                }
            })
            .collect()
    }

    /// Entity subscribers and live queries hear of a stored transaction, once.
    pub(crate) async fn notify(&self, entities: &[Arc<Entity>]) {
        for entity in entities {
            entity.notify_changed();
        }
        self.inner.followers.notify(entities);
        self.inner.reactor.notify(self, entities).await;
    }

    /// The resident entities of a collection matching `selection`, in query order.
    pub(crate) async fn fetch_entities(
        &self,
        collection: &CollectionId,
        selection: &Selection,
    ) -> Result<Vec<Arc<Entity>>, RetrievalError> {
        let store = self.collection(collection).await?;
        let Some(ids) = store.fetch_ids(selection).await? else {
            let states = store.fetch_states(selection).await?;
            return states
                .iter()
                .map(|state| Ok(self.inner.entities.get_or_load(state)?))
                .collect();
        };
        // Answered from an index: entities in memory are used as they are, the others read.
        let mut entities = Vec::with_capacity(ids.len());
        for id in ids {
            let entity = match self.inner.entities.get(&id) {
                Some(entity) => entity,
                None => match store.get_state(id).await? {
                    Some(state) => self.inner.entities.get_or_load(&state)?,
                    None => continue,
                },
            };
            // A commit between reading the ids and the entity may have deleted it.
            if !entity.is_deleted() {
                entities.push(entity);
            }
        }
        Ok(entities)
    }

    /// Applies events received from a peer, in causal order.
    ///
    /// Invalid events, and events over the node's limits, reject the whole batch (nothing is
    /// applied). Events whose parents are unknown are not applied and come back in
    /// [`ApplyOutcome::waiting`], with the missing ids in [`ApplyOutcome::missing`], so the
    /// caller can fetch the ancestors and deliver them together. Duplicates are ignored, so
    /// delivery may repeat.
    pub async fn apply_events(
        &self,
        cx: &ContextData,
        events: Vec<Event>,
    ) -> Result<ApplyOutcome, MutationError> {
        self.apply(cx, events, Staging::Partial).await
    }

    /// [`apply_events`](Self::apply_events), with a choice of what happens to a batch that
    /// is applicable only in part.
    pub(crate) async fn apply(
        &self,
        cx: &ContextData,
        events: Vec<Event>,
        staging: Staging,
    ) -> Result<ApplyOutcome, MutationError> {
        self.check_system().await?;
        let max_depth = self.limits().depth_limit();
        for event in &events {
            event.validate()?;
            self.check_skew(event)?;
            event
                .check_depth(max_depth)
                .map_err(|exceeded| EventError::LimitExceeded {
                    id: event.id,
                    exceeded,
                })?;
        }
        let lock = self.inner.commit_lock.lock().await;
        self.check_collections(&events)?;
        let batch: BTreeMap<EventId, Event> = events.into_iter().map(|e| (e.id, e)).collect();

        let mut outcome = ApplyOutcome::default();
        let mut known: HashSet<EventId> = HashSet::new();
        let mut entities: HashMap<EntityId, (Option<Arc<Entity>>, Entity)> = HashMap::new();
        let mut applied_events = Vec::new();
        let mut waiting: BTreeMap<EventId, Event> = BTreeMap::new();
        // Ids are greater than their parents', so ascending id order visits parents first.
        for (id, event) in batch {
            let extends_head = match entities.get(&event.entity_id) {
                Some((_, next)) => next.is_next(&event),
                None => (self.inner.entities.get(&event.entity_id))
                    .is_some_and(|resident| resident.is_next(&event)),
            };
            let mut missing = Vec::new();
            if !extends_head {
                let collection = self.collection(&event.collection).await?;
                if known.contains(&id)
                    || self
                        .is_known(&collection, &entities, &event.entity_id, id)
                        .await?
                {
                    outcome.duplicates.push(id);
                    continue;
                }
                for parent in &event.parent {
                    if !known.contains(parent)
                        && !self
                            .is_known(&collection, &entities, &event.entity_id, *parent)
                            .await?
                    {
                        missing.push(*parent);
                    }
                }
            }
            if !missing.is_empty() {
                outcome.missing.extend(
                    missing
                        .into_iter()
                        .filter(|p| !waiting.contains_key(p))
                        .map(|p| (event.collection.clone(), event.entity_id, p)),
                );
                waiting.insert(id, event);
                continue;
            }
            let (canonical, next) = match entities.entry(event.entity_id) {
                Entry::Occupied(staged) => staged.into_mut(),
                Entry::Vacant(slot) => {
                    let canonical = self
                        .load_entity(&event.collection, event.entity_id)
                        .await
                        .map_err(MutationError::from)?;
                    let next = match &canonical {
                        Some(c) => c.snapshot(),
                        None => Entity::empty(event.entity_id, event.collection.clone()),
                    };
                    slot.insert((canonical, next))
                }
            };
            next.apply_event(&event)?;
            self.inner
                .policy
                .check_change(cx, &event, canonical.as_deref(), next)?;
            known.insert(id);
            outcome.applied.push(id);
            applied_events.push(event);
        }
        outcome
            .missing
            .retain(|(_, _, id)| !known.contains(id) && !waiting.contains_key(id));
        outcome.missing.sort();
        outcome.missing.dedup();
        if staging == Staging::Whole && !waiting.is_empty() {
            applied_events.extend(waiting.into_values());
            applied_events.sort_by_key(|e| e.id);
            outcome.applied.clear();
            outcome.waiting = applied_events;
            return Ok(outcome);
        }
        outcome.waiting = waiting.into_values().collect();
        self.store_and_publish(lock, applied_events, entities.into_values().collect())
            .await?;
        Ok(outcome)
    }

    /// An entity lives in one collection: an event filed under another (by the resident
    /// entity, or by an earlier event of the batch) would fork it and, as resident entities
    /// are keyed by id alone, shadow the real one.
    fn check_collections(&self, events: &[Event]) -> Result<(), EventError> {
        let mut homes: HashMap<EntityId, CollectionId> = HashMap::new();
        for event in events {
            let home = homes.entry(event.entity_id).or_insert_with(|| {
                match self.inner.entities.get(&event.entity_id) {
                    Some(resident) => resident.collection().clone(),
                    None => event.collection.clone(),
                }
            });
            if *home != event.collection {
                return Err(EventError::WrongCollection {
                    id: event.id,
                    expected: home.to_string(),
                    found: event.collection.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Whether event `id` of an entity is already part of this node's history.
    async fn is_known(
        &self,
        collection: &Arc<dyn StorageCollection>,
        staged: &HashMap<EntityId, (Option<Arc<Entity>>, Entity)>,
        entity: &EntityId,
        id: EventId,
    ) -> Result<bool, StorageError> {
        let in_head = match staged.get(entity) {
            Some((_, next)) => next.head_contains(&id),
            None => self
                .inner
                .entities
                .get(entity)
                .is_some_and(|e| e.head_contains(&id)),
        };
        Ok(in_head || !collection.get_events(*entity, &[id]).await?.is_empty())
    }

    fn check_skew(&self, event: &Event) -> Result<(), EventError> {
        if !self.inner.durable {
            return Ok(());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let allowed = self.inner.config.max_clock_skew.as_millis() as u64;
        let ahead = event.id.timestamp_ms().saturating_sub(now);
        if ahead > allowed {
            return Err(EventError::FromTheFuture {
                id: event.id,
                ahead_ms: ahead,
                allowed_ms: allowed,
            });
        }
        Ok(())
    }
}

/// A local commit of an ephemeral node, written and in the outbox, to forward to a durable
/// peer.
#[derive(Debug)]
pub(crate) struct Unsent {
    pub(crate) events: Vec<Event>,
    /// Its number in the node's commits: flushing through it makes the outbox entry durable.
    pub(crate) number: u64,
}

/// One entity changed by a local transaction. Dropping it ends the fork's claim on the
/// resident entity's text client id (see [`Entity::return_client`]), so it is kept until the change
/// is stored and published, or discarded.
#[derive(Debug)]
pub(crate) struct LocalChange {
    /// The transaction's editable fork holding the pending writes.
    pub(crate) fork: Arc<Entity>,
    /// The resident entity it was forked from (`None` for a creation).
    pub(crate) canonical: Option<Arc<Entity>>,
}

impl Drop for LocalChange {
    fn drop(&mut self) {
        if let Some(canonical) = &self.canonical {
            canonical.return_client(&self.fork);
        }
    }
}

fn stored_state(entity: &Entity) -> StoredState {
    StoredState {
        state: entity.to_state(),
        values: entity.values(),
    }
}
