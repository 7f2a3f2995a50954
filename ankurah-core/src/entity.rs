//! [`Entity`]: the live, in-memory state of one entity, built from events and states.
//!
//! A node keeps one resident `Entity` per id (see `EntitySet`); views read it directly, so
//! they always show the latest applied state. Transactions edit a *fork* (an independent,
//! editable copy) and turn its pending writes into one event at commit.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use serde_bytes::ByteBuf;

use crate::ankql::Filterable;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::error::{EventError, PropertyError};
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::property::backend::{Backend, LWWBackend, YrsBackend};
use crate::signals::{Broadcast, SubscriptionGuard};
use crate::state::{EntityState, State};
use crate::value::Value;

/// One entity's live state: head, property backends and the deletion flag.
#[derive(Debug)]
pub struct Entity {
    id: EntityId,
    collection: CollectionId,
    head: RwLock<Clock>,
    pub(crate) lww: LWWBackend,
    pub(crate) yrs: YrsBackend,
    deleted: AtomicBool,
    /// `Some` on transaction forks: edits are allowed until the transaction ends.
    fork: Option<Fork>,
    /// Fired once per committed transaction that changed the entity.
    changed: Arc<Broadcast>,
}

/// What makes an entity a transaction's fork.
#[derive(Debug)]
struct Fork {
    /// Whether its transaction is still open.
    open: AtomicBool,
    /// How deep a value written to it may nest: the node's
    /// [`Limits::depth_limit`](crate::Limits::depth_limit), so that nothing is committed
    /// that peers would refuse.
    max_depth: usize,
}

impl Entity {
    /// `fork` is the depth limit of writes for a transaction's fork, `None` for a read-only
    /// entity.
    fn with_parts(
        id: EntityId,
        collection: CollectionId,
        head: Clock,
        lww: LWWBackend,
        yrs: YrsBackend,
        deleted: bool,
        fork: Option<usize>,
    ) -> Self {
        Entity {
            id,
            collection,
            head: RwLock::new(head),
            lww,
            yrs,
            deleted: AtomicBool::new(deleted),
            fork: fork.map(|max_depth| Fork {
                open: AtomicBool::new(true),
                max_depth,
            }),
            changed: Arc::default(),
        }
    }

    /// A brand-new, editable entity with no events yet (inside a transaction), taking
    /// values that nest at most `max_depth` deep.
    pub(crate) fn create(collection: CollectionId, max_depth: usize) -> Self {
        Self::with_parts(
            EntityId::new(),
            collection,
            Clock::new(),
            LWWBackend::default(),
            YrsBackend::default(),
            false,
            Some(max_depth),
        )
    }

    /// An empty read-only entity that events will be applied to.
    pub(crate) fn empty(id: EntityId, collection: CollectionId) -> Self {
        Self::with_parts(
            id,
            collection,
            Clock::new(),
            LWWBackend::default(),
            YrsBackend::default(),
            false,
            None,
        )
    }

    /// Rebuilds an entity from a stored or received state.
    pub fn from_state(state: &EntityState) -> Result<Self, EventError> {
        let mut lww = LWWBackend::default();
        let mut yrs = YrsBackend::default();
        for (name, bytes) in &state.state.backends {
            match Backend::from_name(name)? {
                Backend::Lww => lww = LWWBackend::from_state_buffer(bytes)?,
                Backend::Yrs => yrs = YrsBackend::from_state_buffer(bytes)?,
                Backend::Tombstone => {}
            }
        }
        let deleted = state.state.is_deleted();
        Ok(Self::with_parts(
            state.entity_id,
            state.collection.clone(),
            state.state.head.clone(),
            lww,
            yrs,
            deleted,
            None,
        ))
    }

    /// The entity's id.
    pub fn id(&self) -> EntityId {
        self.id
    }

    /// The collection the entity belongs to.
    pub fn collection(&self) -> &CollectionId {
        &self.collection
    }

    /// The ids of the newest applied events.
    pub fn head(&self) -> Clock {
        self.head.read().clone()
    }

    /// Whether `id` is one of the newest applied events (checked without copying the head).
    pub(crate) fn head_contains(&self, id: &EventId) -> bool {
        self.head.read().contains(id)
    }

    /// Whether `event` builds on this entity's head alone: its parents are all newest
    /// events here and it is not one of them. Such an event is new (an applied event is in
    /// the head or an ancestor of a head event, and no head event is an ancestor of
    /// another), and its parents are applied, so nothing needs looking up in the store.
    pub(crate) fn is_next(&self, event: &Event) -> bool {
        let head = self.head.read();
        !event.parent.is_empty()
            && !head.contains(&event.id)
            && event.parent.iter().all(|parent| head.contains(parent))
    }

    /// Whether the entity was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// The current value of a property, `None` if it was never set.
    pub fn value(&self, property: &str) -> Option<Value> {
        self.lww
            .get(property)
            .or_else(|| self.yrs.get(property).map(Value::String))
    }

    /// All property values.
    pub fn values(&self) -> BTreeMap<String, Value> {
        let mut values = self.yrs.values();
        values.extend(self.lww.values());
        values
    }

    /// The event that wrote each last-writer-wins property's current value.
    pub(crate) fn lww_writers(&self) -> BTreeMap<String, EventId> {
        self.lww.writers()
    }

    /// The encoded state (pending edits of a fork are not part of it).
    pub fn to_state(&self) -> EntityState {
        let mut backends = BTreeMap::new();
        if !self.lww.is_empty() {
            backends.insert(
                Backend::Lww.name().to_owned(),
                ByteBuf::from(self.lww.to_state_buffer()),
            );
        }
        if let Some(yrs) = self.yrs.to_state_buffer() {
            backends.insert(Backend::Yrs.name().to_owned(), ByteBuf::from(yrs));
        }
        if self.is_deleted() {
            backends.insert(Backend::Tombstone.name().to_owned(), ByteBuf::new());
        }
        EntityState {
            entity_id: self.id,
            collection: self.collection.clone(),
            state: State {
                head: self.head(),
                backends,
            },
        }
    }

    /// An editable copy for a transaction, taking values that nest at most `max_depth` deep.
    /// Its text edits reuse this entity's yrs client id when no other transaction holds it;
    /// [`Self::return_client`] gives the id back.
    pub(crate) fn fork(&self, max_depth: usize) -> Self {
        self.copy(self.yrs.lend_client(), Some(max_depth))
    }

    /// A read-only copy, used to stage a change before it is stored.
    pub(crate) fn snapshot(&self) -> Self {
        self.copy(self.yrs.fork(), None)
    }

    fn copy(&self, yrs: YrsBackend, fork: Option<usize>) -> Self {
        Self::with_parts(
            self.id,
            self.collection.clone(),
            self.head(),
            self.lww.fork(),
            yrs,
            self.is_deleted(),
            fork,
        )
    }

    /// Ends `fork`'s claim on this entity's text client id: its transaction is over and its
    /// edits, if committed, are part of this entity.
    pub(crate) fn return_client(&self, fork: &Entity) {
        self.yrs.return_client(&fork.yrs);
    }

    /// A read-only, empty entity that takes over this sealed fork's text, and the client id
    /// it was written under. Applying the fork's genesis event to it then integrates nothing
    /// new (the content is already there), so a creation builds one document, not two.
    pub(crate) fn take_text(&self) -> Self {
        Self::with_parts(
            self.id,
            self.collection.clone(),
            Clock::new(),
            LWWBackend::default(),
            self.yrs.take(),
            false,
            None,
        )
    }

    /// Records a dependency of the running signal observer on this entity.
    pub(crate) fn track(&self) {
        self.changed.track();
    }

    /// Tells subscribers that a committed transaction changed the entity (their callbacks
    /// run later, off the caller's thread).
    pub(crate) fn notify_changed(&self) {
        self.changed.notify(());
    }

    /// Calls `listener` after every committed transaction that changes the entity, in
    /// commit order, on a thread where it may block.
    pub(crate) fn listen(&self, listener: impl Fn() + Send + Sync + 'static) -> SubscriptionGuard {
        self.changed.listen(move |()| listener())
    }

    /// Errors unless this is a fork of a transaction that is still open.
    /// `Ok` unless the entity was deleted: reading `property` of it is then an error.
    pub(crate) fn check_alive(&self, property: &str) -> Result<(), PropertyError> {
        if self.is_deleted() {
            return Err(PropertyError::Deleted {
                property: property.to_owned(),
                id: self.id,
            });
        }
        Ok(())
    }

    pub(crate) fn check_editable(&self) -> Result<(), PropertyError> {
        self.max_write_depth().map(drop)
    }

    /// How deep a value written to this fork may nest; an error unless this is a fork of a
    /// transaction that is still open.
    pub(crate) fn max_write_depth(&self) -> Result<usize, PropertyError> {
        match &self.fork {
            Some(fork) if fork.open.load(Ordering::Acquire) => Ok(fork.max_depth),
            Some(_) => Err(PropertyError::NotEditable(
                "its transaction has ended".into(),
            )),
            None => Err(PropertyError::NotEditable(
                "views are read-only; use `edit(&trx)`".into(),
            )),
        }
    }

    /// Ends editing of a fork (its transaction committed or was dropped).
    pub(crate) fn seal(&self) {
        if let Some(fork) = &self.fork {
            fork.open.store(false, Ordering::Release);
        }
    }

    /// Marks the entity deleted. On a fork the tombstone becomes part of the next event; on
    /// a staged entity without one it withdraws a creation the durable peer refused.
    pub(crate) fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
    }

    /// Joins another state of this entity into this one: every backend merged (each is a
    /// join-semilattice), the tombstone kept if either has it, and `head` as the new head.
    /// Choosing the head needs the event history, so it is the caller's: the newest ids of
    /// both heads, those that are no other's ancestor.
    pub fn join_state(&self, state: &State, head: Clock) -> Result<(), EventError> {
        for (name, bytes) in &state.backends {
            match Backend::from_name(name)? {
                Backend::Lww => self.lww.merge_state(bytes)?,
                Backend::Yrs => self.yrs.merge_state(bytes)?,
                Backend::Tombstone => self.deleted.store(true, Ordering::Release),
            }
        }
        *self.head.write() = head;
        Ok(())
    }

    /// Turns a fork's pending edits into an event on top of the fork's head; `None` if
    /// nothing changed. Forks are only made of live entities, so a deleted fork was deleted
    /// by this transaction.
    pub(crate) fn take_event(&self) -> Option<Event> {
        let mut operations = BTreeMap::new();
        if let Some(ops) = self.lww.take_operations() {
            operations.insert(Backend::Lww.name().to_owned(), ByteBuf::from(ops));
        }
        if let Some(ops) = self.yrs.take_operations() {
            operations.insert(Backend::Yrs.name().to_owned(), ByteBuf::from(ops));
        }
        if self.is_deleted() {
            operations.insert(Backend::Tombstone.name().to_owned(), ByteBuf::new());
        }
        let parent = self.head();
        if operations.is_empty() && !parent.is_empty() {
            return None;
        }
        let id = if parent.is_empty() {
            self.id.genesis_event()
        } else {
            EventId::after(&parent)
        };
        Some(Event {
            id,
            collection: self.collection.clone(),
            entity_id: self.id,
            parent,
            operations,
            author: String::new(),
        })
    }

    /// Applies an event whose parents have all been applied and which was not applied before
    /// (the node checks both). On error the entity may be partly changed: callers apply to a
    /// [`snapshot`](Self::snapshot) first.
    pub(crate) fn apply_event(&self, event: &Event) -> Result<(), EventError> {
        event.validate()?;
        let mut head = self.head.write();
        for (backend, ops) in &event.operations {
            match Backend::from_name(backend)? {
                Backend::Lww => self.lww.apply_operations(ops, event.id)?,
                Backend::Yrs => self.yrs.apply_operations(ops, event.id)?,
                Backend::Tombstone => self.deleted.store(true, Ordering::Release),
            }
        }
        head.advance(&event.parent, event.id);
        Ok(())
    }

    /// Replaces this entity's content with `other`'s (same id), e.g. a staged snapshot after
    /// it was stored. Readers see either the old or the new content of each backend.
    pub(crate) fn adopt(&self, other: Entity) {
        let mut head = self.head.write();
        self.lww.adopt(other.lww);
        self.yrs.adopt(other.yrs);
        self.deleted
            .store(other.deleted.into_inner(), Ordering::Release);
        *head = other.head.into_inner();
    }
}

impl Filterable for Entity {
    fn entity_id(&self) -> EntityId {
        self.id
    }
    fn value(&self, property: &str) -> Option<Value> {
        Entity::value(self, property)
    }
}

impl Filterable for Arc<Entity> {
    fn entity_id(&self) -> EntityId {
        self.id
    }
    fn value(&self, property: &str) -> Option<Value> {
        Entity::value(self, property)
    }
}

/// The resident entities of a node: at most one live `Entity` per id, shared by every view.
/// The most recently loaded ones are also kept when no view holds them, so that repeated
/// reads find them in memory.
#[derive(Debug)]
pub(crate) struct EntitySet {
    entities: Mutex<HashMap<EntityId, Weak<Entity>>>,
    recent: Mutex<VecDeque<Arc<Entity>>>,
    keep: usize,
}

impl EntitySet {
    /// A set keeping up to `keep` recently loaded entities without views.
    pub(crate) fn new(keep: usize) -> Self {
        EntitySet {
            entities: Mutex::default(),
            recent: Mutex::new(VecDeque::with_capacity(keep.min(1024))),
            keep,
        }
    }

    fn remember(&self, entity: &Arc<Entity>) {
        if self.keep == 0 {
            return;
        }
        let mut recent = self.recent.lock();
        if recent.len() == self.keep {
            recent.pop_front();
        }
        recent.push_back(entity.clone());
    }

    /// The resident entity for `id`, if one is alive.
    pub(crate) fn get(&self, id: &EntityId) -> Option<Arc<Entity>> {
        self.entities.lock().get(id).and_then(Weak::upgrade)
    }

    /// The resident entity for this state's id, loading it from the state if none is alive.
    pub(crate) fn get_or_load(&self, state: &EntityState) -> Result<Arc<Entity>, EventError> {
        if let Some(entity) = self.get(&state.entity_id) {
            return Ok(entity);
        }
        let loaded = Arc::new(Entity::from_state(state)?);
        let mut entities = self.entities.lock();
        // Another task may have loaded it meanwhile; keep the first.
        match entities.get(&state.entity_id).and_then(Weak::upgrade) {
            Some(existing) => Ok(existing),
            None => {
                entities.insert(state.entity_id, Arc::downgrade(&loaded));
                if entities.len() > 1024 && entities.len().is_power_of_two() {
                    entities.retain(|_, weak| weak.strong_count() > 0);
                }
                drop(entities);
                self.remember(&loaded);
                Ok(loaded)
            }
        }
    }

    /// Every resident entity: those something holds (a view, a live query, a transaction,
    /// or the recently loaded ones kept here).
    pub(crate) fn alive(&self) -> Vec<Arc<Entity>> {
        self.entities
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Makes `entity` resident (after its creation was stored).
    pub(crate) fn insert(&self, entity: &Arc<Entity>) {
        self.entities
            .lock()
            .insert(entity.id(), Arc::downgrade(entity));
        self.remember(entity);
    }
}
