//! The ephemeral side of sync: forwarding commits (with an outbox for offline work),
//! reading through a durable peer, remote subscriptions, and applying what peers send.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::error::{MutationError, RetrievalError};
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::node::Node;
use crate::peer::{Peer, PeerError};
use crate::proto::{Delta, Request, Response};
use crate::reactor::Query;
use crate::state::EntityState;

/// A commit the durable peer refused after it had been applied locally; the local change
/// was undone. Delivered by [`Node::rejections`] when no caller was waiting for the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub events: Vec<EventId>,
    pub reason: String,
}

impl Node {
    /// Sends locally committed events to the durable peer. Without one (or if it goes
    /// away), they stay in the outbox and `Ok` is returned: they are sent on reconnect.
    pub(crate) async fn forward_commit(&self, events: Vec<Event>) -> Result<(), MutationError> {
        let Some(peer) = self.durable_peer() else {
            return Ok(());
        };
        match peer
            .request(Request::Commit {
                events: events.clone(),
            })
            .await
        {
            Ok(Response::Committed) => {
                let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
                self.inner.storage.outbox_remove(&ids).await?;
                Ok(())
            }
            Ok(other) => {
                Err(PeerError::Protocol(format!("unexpected answer to Commit: {other:?}")).into())
            }
            Err(PeerError::Remote(reason)) => {
                self.undo(&peer, &events).await?;
                Err(MutationError::Rejected(reason))
            }
            // Disconnected or timed out: the outbox keeps the events for the next connection.
            Err(_) => Ok(()),
        }
    }

    /// Undoes refused events: each entity becomes its confirmed state (from the durable
    /// peer) joined with the events still pending for it.
    async fn undo(&self, peer: &Arc<Peer>, refused: &[Event]) -> Result<(), MutationError> {
        let ids: Vec<EventId> = refused.iter().map(|e| e.id).collect();
        self.inner.storage.outbox_remove(&ids).await?;
        let mut by_collection: BTreeMap<CollectionId, Vec<EntityId>> = BTreeMap::new();
        for event in refused {
            by_collection
                .entry(event.collection.clone())
                .or_default()
                .push(event.entity_id);
        }
        let mut confirmed = Vec::new();
        for (collection, mut ids) in by_collection {
            ids.sort();
            ids.dedup();
            let found = match peer
                .request(Request::Get {
                    collection: collection.clone(),
                    ids: ids.clone(),
                })
                .await?
            {
                Response::Deltas(deltas) => deltas,
                other => {
                    return Err(
                        PeerError::Protocol(format!("unexpected answer to Get: {other:?}")).into(),
                    )
                }
            };
            for id in ids {
                let state = found.iter().find_map(|d| match d {
                    Delta::State(state) if state.entity_id == id => Some(state.clone()),
                    _ => None,
                });
                // A refused creation has no confirmed state: it is withdrawn as deleted.
                confirmed.push(state.ok_or((collection.clone(), id)));
            }
        }
        self.reset_entities(confirmed).await
    }

    /// Replaces entities with confirmed states (or withdraws them) and re-applies pending
    /// outbox events on top.
    async fn reset_entities(
        &self,
        confirmed: Vec<Result<EntityState, (CollectionId, EntityId)>>,
    ) -> Result<(), MutationError> {
        let lock = self.inner.commit_lock.lock().await;
        let pending = self.pending_by_entity().await?;
        let mut changed = Vec::new();
        for item in confirmed {
            let (collection, id) = match &item {
                Ok(state) => (state.collection.clone(), state.entity_id),
                Err((collection, id)) => (collection.clone(), *id),
            };
            let next = match item {
                Ok(state) => Entity::from_state(&state)?,
                Err(_) => {
                    let withdrawn = Entity::empty(id, collection.clone());
                    withdrawn.mark_deleted();
                    withdrawn
                }
            };
            for event in pending.get(&id).into_iter().flatten() {
                next.apply_event(event)?;
            }
            let canonical = self.load_entity(&collection, id).await?;
            if let Some(canonical) = &canonical {
                // The reset drops edits written under the client id it lends to transactions,
                // so that id's clock would repeat.
                canonical.yrs.retire();
            }
            changed.push((canonical, next));
        }
        self.store_and_publish(lock, Vec::new(), changed).await
    }

    /// Outbox events grouped by entity, in id order.
    async fn pending_by_entity(&self) -> Result<HashMap<EntityId, Vec<Event>>, MutationError> {
        let mut pending: HashMap<EntityId, Vec<Event>> = HashMap::new();
        if !self.is_durable() {
            for event in self.inner.storage.outbox().await? {
                pending.entry(event.entity_id).or_default().push(event);
            }
        }
        Ok(pending)
    }

    /// Applies what a durable peer sent: states are joined into local entities (keeping
    /// pending local events on top), events go through causal staging, and missing
    /// ancestors are requested from the peer.
    pub(crate) async fn apply_deltas(
        &self,
        peer: &Arc<Peer>,
        deltas: Vec<Delta>,
    ) -> Result<(), MutationError> {
        let missing = self.apply_received(peer, deltas).await?;
        self.fetch_ancestors(peer, &peer.cx, missing)
            .await
            .map(drop)
    }

    /// Applies what a peer sent without asking it anything; returns the ancestors that
    /// staged events are waiting for.
    async fn apply_received(
        &self,
        peer: &Peer,
        deltas: Vec<Delta>,
    ) -> Result<Vec<(CollectionId, EntityId, EventId)>, MutationError> {
        let mut states = Vec::new();
        let mut events = Vec::new();
        for delta in deltas {
            match delta {
                Delta::State(state) => states.push(state),
                Delta::Events { events: more, .. } => events.extend(more),
            }
        }
        if !states.is_empty() {
            self.merge_states(states).await?;
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.apply_events(&peer.cx, events).await?.missing)
    }

    /// Joins received states into the local entities.
    async fn merge_states(&self, states: Vec<EntityState>) -> Result<(), MutationError> {
        let lock = self.inner.commit_lock.lock().await;
        let pending = self.pending_by_entity().await?;
        let mut changed = Vec::new();
        for state in states {
            let canonical = self.load_entity(&state.collection, state.entity_id).await?;
            let next = match &canonical {
                Some(current) if current.head() == state.state.head => continue,
                Some(current) => {
                    let next = current.snapshot();
                    next.join_state(&state.state, state.state.head.clone())?;
                    next
                }
                None => Entity::from_state(&state)?,
            };
            for event in pending.get(&state.entity_id).into_iter().flatten() {
                if !next.head_contains(&event.id) {
                    next.apply_event(event)?;
                }
            }
            changed.push((canonical, next));
        }
        self.store_and_publish(lock, Vec::new(), changed).await
    }

    /// Reads entities from the durable peer into the local store.
    pub(crate) async fn remote_get(
        &self,
        collection: &CollectionId,
        ids: Vec<EntityId>,
    ) -> Result<(), RetrievalError> {
        let Some(peer) = self.durable_peer() else {
            return Ok(());
        };
        self.remote_read(
            &peer,
            Request::Get {
                collection: collection.clone(),
                ids,
            },
        )
        .await
    }

    /// Runs a query on the durable peer and stores the results locally.
    pub(crate) async fn remote_fetch(
        &self,
        collection: &CollectionId,
        selection: &crate::ankql::Selection,
    ) -> Result<(), RetrievalError> {
        let Some(peer) = self.durable_peer() else {
            return Ok(());
        };
        self.remote_read(
            &peer,
            Request::Fetch {
                collection: collection.clone(),
                selection: selection.clone(),
            },
        )
        .await
    }

    async fn remote_read(&self, peer: &Arc<Peer>, request: Request) -> Result<(), RetrievalError> {
        match peer.request(request).await {
            Ok(Response::Deltas(deltas)) => self
                .apply_deltas(peer, deltas)
                .await
                .map_err(RetrievalError::from),
            // Offline or refused: the local cache answers.
            _ => Ok(()),
        }
    }

    /// Opens (or reopens) the remote side of a local live query.
    pub(crate) async fn remote_subscribe(&self, query: &Arc<Query>) -> Result<(), MutationError> {
        let Some(peer) = self.durable_peer() else {
            return Ok(());
        };
        let known = query
            .snapshot
            .read()
            .iter()
            .map(|e| (e.id(), e.head()))
            .collect();
        let request = Request::Subscribe {
            subscription: query.id,
            collection: query.collection.clone(),
            selection: query.selection.read().clone(),
            known,
        };
        match peer.request(request).await? {
            Response::Deltas(deltas) => self.apply_deltas(&peer, deltas).await,
            other => Err(
                PeerError::Protocol(format!("unexpected answer to Subscribe: {other:?}")).into(),
            ),
        }
    }

    /// What an ephemeral node does when a durable peer connects: send the outbox, then
    /// resubscribe every live query with the heads it holds.
    pub(crate) async fn on_durable_peer(&self, peer: &Arc<Peer>) {
        if let Ok(outbox) = self.inner.storage.outbox().await {
            if !outbox.is_empty() {
                match peer
                    .request(Request::Commit {
                        events: outbox.clone(),
                    })
                    .await
                {
                    Ok(_) => {
                        let ids: Vec<EventId> = outbox.iter().map(|e| e.id).collect();
                        let _ = self.inner.storage.outbox_remove(&ids).await;
                    }
                    Err(PeerError::Remote(reason)) => {
                        let _ = self.undo(peer, &outbox).await;
                        let _ = self.inner.rejections.send(Rejection {
                            events: outbox.iter().map(|e| e.id).collect(),
                            reason,
                        });
                    }
                    Err(_) => return,
                }
            }
        }
        for query in self.inner.reactor.queries() {
            let _ = self.remote_subscribe(&query).await;
        }
    }

    /// Applies a pushed subscription update.
    /// Applies a pushed subscription update in the session loop, in arrival order; missing
    /// ancestors are fetched off the loop, since their answers arrive through it. A failed
    /// update is repaired by the next one or by resubscribing on reconnect.
    pub(crate) async fn receive_update(&self, peer: &Arc<Peer>, deltas: Vec<Delta>) {
        if let Ok(missing) = self.apply_received(peer, deltas).await {
            if !missing.is_empty() {
                let (node, peer) = (self.clone(), peer.clone());
                tokio::spawn(async move {
                    let _ = node.fetch_ancestors(&peer, &peer.cx, missing).await;
                });
            }
        }
    }

    /// Refused commits that were sent from the outbox (no caller was waiting for them).
    pub fn rejections(&self) -> tokio::sync::broadcast::Receiver<Rejection> {
        self.inner.rejections.subscribe()
    }
}

impl From<MutationError> for RetrievalError {
    fn from(error: MutationError) -> Self {
        match error {
            MutationError::Storage(e) => RetrievalError::Storage(e),
            MutationError::Event(e) => RetrievalError::State(e),
            MutationError::Retrieval(e) => *e,
            other => RetrievalError::Sync(other.to_string()),
        }
    }
}
