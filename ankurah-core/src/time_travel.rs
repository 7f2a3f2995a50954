//! Reads of the past through a [`Context`]: [`Context::get_at`], [`Context::fetch_at`],
//! [`Context::history`], [`Context::diff`] and [`Context::blame`] (and their untyped twins
//! on [`Dynamic`](crate::dynamic::Dynamic)).
//!
//! A durable node answers from its store, which keeps every event. A connected ephemeral
//! node asks its durable peer (`History` and `FetchAt` requests, see docs/PROTOCOL.md),
//! which applies its read policy; offline it answers from the events it holds, and says so
//! when it holds none of an entity it knows.
//!
//! Read policy: the history of an entity (its events, and everything computed from one
//! entity's events: `get_at`, `history`, `diff`, `blame`) is shown to whoever may read the
//! entity now; `fetch_at` is a query at that moment, so it shows the entities whose states
//! then the reader could have read then.

use std::sync::Arc;

use crate::ankql::Selection;
use crate::collection::CollectionId;
use crate::context::{alive, check_properties, Context, IntoSelection};
use crate::entity::Entity;
use crate::event::Event;
use crate::history::{self, At, Blame, HistoryEntry, PropertyDiff, Replayed};
use crate::id::EntityId;
use crate::model::{Model, View};
use crate::node::Node;
use crate::node_error::RetrievalError;
use crate::policy::ContextData;
use crate::storage::StorageCollection;
use crate::sync::proto::{Delta, Request, Response};
use crate::sync::Peer;
use crate::sync::PeerError;

/// States read per page when a read of the past walks a collection.
const SCAN_PAGE: usize = 512;

impl Context {
    /// The entity `id` of `V`'s collection as it was at `at`: a read-only view that does not
    /// follow later changes. Errors if it did not exist yet ([`RetrievalError::NotFound`])
    /// or was deleted by then.
    pub async fn get_at<V: View>(
        &self,
        id: EntityId,
        at: impl Into<At>,
    ) -> Result<V, RetrievalError> {
        let entity = self
            .entity_at(&V::Model::collection(), id, &at.into())
            .await?;
        Ok(V::from_entity(entity))
    }

    /// The entities of `V`'s collection that matched `query` at `at`, as read-only views of
    /// their states then, ordered and limited as the query says: the answer
    /// [`fetch`](Self::fetch) would have given then.
    pub async fn fetch_at<V: View>(
        &self,
        query: impl IntoSelection,
        at: impl Into<At>,
    ) -> Result<Vec<V>, RetrievalError> {
        let selection = query.into_selection(self.node().limits())?;
        check_properties::<V::Model>(&selection)?;
        let entities = self
            .entities_at(&V::Model::collection(), &selection, &at.into())
            .await?;
        Ok(entities.into_iter().map(V::from_entity).collect())
    }

    /// The events of entity `id` of `V`'s collection in causal order, each with its time,
    /// author and the properties it changed.
    pub async fn history<V: View>(
        &self,
        id: EntityId,
    ) -> Result<Vec<HistoryEntry>, RetrievalError> {
        self.history_of(&V::Model::collection(), id).await
    }

    /// The properties of entity `id` whose values differ between `from` and `to`.
    pub async fn diff<V: View>(
        &self,
        id: EntityId,
        from: impl Into<At>,
        to: impl Into<At>,
    ) -> Result<Vec<PropertyDiff>, RetrievalError> {
        self.diff_of(&V::Model::collection(), id, &from.into(), &to.into())
            .await
    }

    /// For each property of entity `id` with a value, the event (time, author) that gave it
    /// that value, and every event that changed it.
    pub async fn blame<V: View>(&self, id: EntityId) -> Result<Vec<Blame>, RetrievalError> {
        self.blame_of(&V::Model::collection(), id).await
    }

    pub(crate) async fn entity_at(
        &self,
        collection: &CollectionId,
        id: EntityId,
        at: &At,
    ) -> Result<Arc<Entity>, RetrievalError> {
        let events = self.events_of(collection, id).await?;
        let entity = alive(
            collection,
            id,
            history::state_at(collection, id, &events, at)?.map(Box::new),
        )?;
        Ok(Arc::new(*entity))
    }

    pub(crate) async fn entities_at(
        &self,
        collection: &CollectionId,
        selection: &Selection,
        at: &At,
    ) -> Result<Vec<Arc<Entity>>, RetrievalError> {
        let node = self.node();
        let entities = match remote(node) {
            Some(peer) => {
                let request = Request::FetchAt {
                    collection: collection.clone(),
                    selection: selection.clone(),
                    at: at.clone(),
                };
                match peer.request(request).await? {
                    Response::Deltas(deltas) => states_of(deltas)?,
                    other => return Err(unexpected("FetchAt", &other)),
                }
            }
            None => {
                node.states_at(self.data(), collection, selection, at)
                    .await?
            }
        };
        Ok(entities.into_iter().map(Arc::new).collect())
    }

    pub(crate) async fn history_of(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Vec<HistoryEntry>, RetrievalError> {
        Ok(self.replayed(collection, id).await?.entries)
    }

    pub(crate) async fn blame_of(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Vec<Blame>, RetrievalError> {
        Ok(self.replayed(collection, id).await?.blame())
    }

    pub(crate) async fn diff_of(
        &self,
        collection: &CollectionId,
        id: EntityId,
        from: &At,
        to: &At,
    ) -> Result<Vec<PropertyDiff>, RetrievalError> {
        let events = self.events_of(collection, id).await?;
        let before = history::state_at(collection, id, &events, from)?;
        let after = history::state_at(collection, id, &events, to)?;
        Ok(history::diff(before.as_ref(), after.as_ref()))
    }

    async fn replayed(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Replayed, RetrievalError> {
        let events = self.events_of(collection, id).await?;
        Ok(Replayed::new(collection, id, &events)?)
    }

    /// Every event of an entity this context may read, in id order: from the durable peer
    /// when connected to one, else from the store. `NotFound` if there are none.
    pub(crate) async fn events_of(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Vec<Event>, RetrievalError> {
        let node = self.node();
        let events = match remote(node) {
            Some(peer) => {
                let request = Request::History {
                    collection: collection.clone(),
                    entity_id: id,
                };
                match peer.request(request).await? {
                    Response::Events(events) => checked_history(collection, id, events)?,
                    other => return Err(unexpected("History", &other)),
                }
            }
            None => node.events_of(self.data(), collection, id).await?,
        };
        if events.is_empty() {
            return Err(RetrievalError::NotFound {
                collection: collection.to_string(),
                id,
            });
        }
        Ok(events)
    }
}

impl Node {
    /// The stored events of an entity `cx` may read now, in id order (none if unknown). An
    /// ephemeral node that holds the entity but none of its events says so.
    pub(crate) async fn events_of(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Vec<Event>, RetrievalError> {
        let current = self.load_entity(collection, id).await?;
        if let Some(entity) = &current {
            self.inner.policy.check_read(cx, collection, entity)?;
        }
        let events = self
            .collection(collection)
            .await?
            .dump_entity_events(id)
            .await?;
        if events.is_empty() && current.is_some() && !self.is_durable() {
            return Err(RetrievalError::NoHistory {
                collection: collection.to_string(),
                id,
            });
        }
        Ok(events)
    }

    /// The entities of a collection that matched `selection` at `at` and that `cx` may read
    /// as they were then, in query order. Entities whose current state is already the state
    /// then are taken as stored; the others are rebuilt from their events.
    pub(crate) async fn states_at(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
        selection: &Selection,
        at: &At,
    ) -> Result<Vec<Entity>, RetrievalError> {
        let store = self.collection(collection).await?;
        let mut matched = Vec::new();
        let mut after = None;
        loop {
            let page = store.scan_states(after, SCAN_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.entity_id);
            for state in page {
                let id = state.entity_id;
                if state.collection != *collection || !at.may_include(id) {
                    continue;
                }
                let entity = match at.covers(&state.state.head) {
                    true => Entity::from_state(&state)?,
                    false => match past_state(store.as_ref(), collection, id, at).await? {
                        Some(entity) => entity,
                        None => continue,
                    },
                };
                if !entity.is_deleted()
                    && selection.predicate.matches(&entity)
                    && self
                        .inner
                        .policy
                        .check_read(cx, collection, &entity)
                        .is_ok()
                {
                    matched.push(entity);
                }
            }
        }
        Ok(selection.apply(matched))
    }
}

/// The state of one stored entity at `at`, from its events; `None` if it did not exist.
async fn past_state(
    store: &dyn StorageCollection,
    collection: &CollectionId,
    id: EntityId,
    at: &At,
) -> Result<Option<Entity>, RetrievalError> {
    // A clock that names none of this entity's events says nothing of it.
    if let At::Clock(clock) = at {
        if store.get_events(id, clock.ids()).await?.is_empty() {
            return Ok(None);
        }
    }
    let events = store.dump_entity_events(id).await?;
    Ok(history::state_at(collection, id, &events, at)?)
}

/// The states of a `FetchAt` answer as read-only entities (never stored: they are the past).
fn states_of(deltas: Vec<Delta>) -> Result<Vec<Entity>, RetrievalError> {
    deltas
        .into_iter()
        .map(|delta| match delta {
            Delta::State(state) => Ok(Entity::from_state(&state)?),
            other => Err(RetrievalError::Peer(PeerError::Protocol(format!(
                "a FetchAt answer holds states only, not {other:?}"
            )))),
        })
        .collect()
}

/// A peer's answer to `History`, checked to be one entity's events in id order.
fn checked_history(
    collection: &CollectionId,
    id: EntityId,
    mut events: Vec<Event>,
) -> Result<Vec<Event>, RetrievalError> {
    if let Some(stray) = events
        .iter()
        .find(|e| e.entity_id != id || e.collection != *collection)
    {
        return Err(RetrievalError::Peer(PeerError::Protocol(format!(
            "the History answer for {id} holds event {} of another entity",
            stray.id
        ))));
    }
    events.sort_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    Ok(events)
}

/// The durable peer a connected ephemeral node asks about the past; `None` on a durable
/// node (its store has every event) or offline.
fn remote(node: &Node) -> Option<Arc<Peer>> {
    match node.is_durable() {
        true => None,
        false => node.durable_peer(),
    }
}

fn unexpected(request: &str, answer: &Response) -> RetrievalError {
    RetrievalError::Peer(PeerError::Protocol(format!(
        "unexpected answer to {request}: {answer:?}"
    )))
}
