//! The asking side of sync, on an ephemeral node: forwarding commits (with an outbox for
//! offline work), reading through a durable peer, remote subscriptions, and applying what
//! the durable peer sends.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::ankql::Selection;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::durability::Durability;
use crate::entity::Entity;
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::node::{Node, Staging, Unsent};
use crate::node_error::{MutationError, RetrievalError};
use crate::reactor::Query;
use crate::sourced::ReadSource;
use crate::state::EntityState;
use crate::sync::error::PeerError;
use crate::sync::proto::{runs, Delta, RemoteError, Request, Response};
use crate::sync::session::Peer;

/// Where a read-through answer came from: the durable peer if it answered, the local
/// store if it could not answer now; a refusal is the caller's error.
fn answered(read: Result<(), RetrievalError>) -> Result<ReadSource, RetrievalError> {
    match read {
        Ok(()) => Ok(ReadSource::Durable),
        Err(error) if error.is_transient() => {
            tracing::debug!(%error, "read answered from the local store");
            Ok(ReadSource::Local)
        }
        Err(error) => Err(error),
    }
}

/// A commit the durable peer refused after it had been applied locally; the local change
/// was undone. Delivered by [`Node::rejections`] when no caller was waiting for the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub events: Vec<EventId>,
    pub error: RemoteError,
}

impl Node {
    /// Sends a local commit to the durable peer. Without one, or if the answer is lost or
    /// the peer is only busy, its events stay in the outbox, which is made durable before
    /// `Ok` is returned: they are sent again on reconnect. Acknowledged, nothing is flushed
    /// here (the commit is durable on the peer). A refusal undoes the commit locally and is
    /// returned. At [`Durability::Buffered`] all of this happens in the background, and a
    /// refusal is reported through [`Node::rejections`].
    pub(crate) async fn forward_commit(
        &self,
        unsent: Unsent,
        durability: Durability,
    ) -> Result<(), MutationError> {
        match durability {
            Durability::Flushed => self.forward(unsent).await,
            Durability::Buffered => {
                let node = self.clone();
                crate::runtime::spawn(async move {
                    let ids: Vec<EventId> = unsent.events.iter().map(|e| e.id).collect();
                    match node.forward(unsent).await {
                        Ok(()) => {}
                        Err(MutationError::Rejected(error)) => {
                            // Nobody may be listening for rejections; then there is nobody to tell.
                            let _unheard =
                                node.inner.rejections.send(Rejection { events: ids, error });
                        }
                        Err(error) => {
                            tracing::error!(%error, "a buffered commit was not forwarded or kept durably")
                        }
                    }
                });
                Ok(())
            }
        }
    }

    async fn forward(&self, unsent: Unsent) -> Result<(), MutationError> {
        let Unsent { events, number } = unsent;
        let answer = match self.durable_peer() {
            Some(peer) => {
                let request = Request::Commit {
                    events: events.clone(),
                };
                Some((peer.request(request).await, peer))
            }
            None => None,
        };
        let outcome = match answer {
            None => Ok(()),
            Some((Ok(Response::Committed), _)) => {
                let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
                if let Err(error) = self.inner.storage.outbox_remove(&ids).await {
                    // Durable on the peer; sending them again on reconnect is harmless.
                    tracing::warn!(%error, "acknowledged events stay in the outbox");
                }
                return Ok(());
            }
            Some((Ok(other), _)) => {
                Err(PeerError::Protocol(format!("unexpected answer to Commit: {other:?}")).into())
            }
            Some((Err(error), _)) if error.is_transient() => {
                tracing::info!(%error, "commit kept in the outbox for the next connection");
                Ok(())
            }
            Some((Err(PeerError::Remote(refusal)), peer)) => {
                tracing::warn!(error = %refusal, "the durable peer refused a commit; undoing it");
                if let Err(error) = self.undo(&peer, &events).await {
                    tracing::error!(%error, "a refused commit could not be undone");
                }
                return Err(PeerError::Remote(refusal).into());
            }
            Some((Err(error), _)) => {
                tracing::warn!(%error, "commit kept in the outbox for the next connection");
                Ok(())
            }
        };
        // Not acknowledged: the outbox (written with the commit) must survive a crash.
        self.inner
            .group_commit
            .make_durable(self.inner.storage.as_ref(), number)
            .await?;
        outcome
    }

    /// Undoes refused events: each entity becomes its confirmed state (from the durable
    /// peer) joined with the events still waiting in the outbox for it.
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
            let request = Request::Get {
                collection: collection.clone(),
                ids: ids.clone(),
                known: Vec::new(),
            };
            let found = match peer.request(request).await? {
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

    /// Replaces entities with confirmed states (or withdraws them) and re-applies the
    /// outbox events on top.
    async fn reset_entities(
        &self,
        confirmed: Vec<Result<EntityState, (CollectionId, EntityId)>>,
    ) -> Result<(), MutationError> {
        let lock = self.inner.commit_lock.lock().await;
        let unsent = self.outbox_by_entity().await?;
        let mut changed = Vec::new();
        for item in confirmed {
            let (collection, id) = match &item {
                Ok(state) => (state.collection.clone(), state.entity_id),
                Err((collection, id)) => (collection.clone(), *id),
            };
            let next = match item {
                Ok(state) => Entity::from_state(&state)?,
                Err(_) => forgotten(id, collection.clone()),
            };
            for event in unsent.get(&id).into_iter().flatten() {
                next.apply_event(event)?;
            }
            let canonical = self.load_entity(&collection, id).await?;
            if let Some(canonical) = &canonical {
                // The reset drops edits written under the client id it lends to transactions,
                // so that id's clock would repeat.
                canonical.yrs.retire_client();
            }
            changed.push((canonical, next));
        }
        self.store_and_publish(lock, Vec::new(), changed).await
    }

    /// Outbox events grouped by entity, in id order.
    async fn outbox_by_entity(&self) -> Result<HashMap<EntityId, Vec<Event>>, MutationError> {
        let mut unsent: HashMap<EntityId, Vec<Event>> = HashMap::new();
        if !self.is_durable() {
            for event in self.inner.storage.outbox().await? {
                unsent.entry(event.entity_id).or_default().push(event);
            }
        }
        Ok(unsent)
    }

    /// Applies what a durable peer sent: states are joined into local entities (keeping
    /// outbox events on top); events are applied once their ancestors are here, which are
    /// asked of the same peer.
    pub(crate) async fn apply_deltas(
        &self,
        peer: &Arc<Peer>,
        deltas: Vec<Delta>,
    ) -> Result<(), MutationError> {
        let outcome = self.apply_received(peer, deltas).await?;
        if outcome.waiting.is_empty() {
            return Ok(());
        }
        let outcome = self
            .resolve_ancestors(peer, outcome.waiting, outcome.missing, Staging::Partial)
            .await?;
        if !outcome.missing.is_empty() {
            tracing::warn!(
                missing = outcome.missing.len(),
                "events from the durable peer wait for ancestors it does not have"
            );
        }
        Ok(())
    }

    /// Applies what a peer sent without asking it anything; events whose ancestors are not
    /// here come back in the outcome's `waiting`.
    async fn apply_received(
        &self,
        peer: &Peer,
        deltas: Vec<Delta>,
    ) -> Result<crate::node::ApplyOutcome, MutationError> {
        let mut states = Vec::new();
        let mut events = Vec::new();
        let mut withdrawn = Vec::new();
        for delta in deltas {
            match delta {
                Delta::State(state) => states.push(state),
                Delta::Events { events: more, .. } => events.extend(more),
                Delta::Withdrawn {
                    collection,
                    entity_id,
                } => withdrawn.push((collection, entity_id)),
            }
        }
        if !withdrawn.is_empty() {
            self.withdraw(withdrawn).await?;
        }
        if !states.is_empty() {
            self.merge_states(states).await?;
        }
        if events.is_empty() {
            return Ok(Default::default());
        }
        self.apply(&peer.cx, events, Staging::Partial).await
    }

    /// Forgets entities the durable peer no longer lets this node read: each is replaced,
    /// in memory and in the store, by an empty deleted entity with no head, so it leaves
    /// every live query (`Remove`), reads refuse it, and none of its data stays on this
    /// node, after a restart too. A state of it arriving later replaces that placeholder.
    async fn withdraw(&self, ids: Vec<(CollectionId, EntityId)>) -> Result<(), MutationError> {
        let lock = self.inner.commit_lock.lock().await;
        let mut changed = Vec::new();
        for (collection, id) in ids {
            let Some(canonical) = self.load_entity(&collection, id).await? else {
                continue;
            };
            tracing::debug!(%collection, entity = %id, "withdrawn by the durable peer");
            // As on a reset: edits under the client id lent to transactions are dropped.
            canonical.yrs.retire_client();
            changed.push((Some(canonical), forgotten(id, collection)));
        }
        self.store_and_publish(lock, Vec::new(), changed).await
    }

    /// Joins received states into the local entities.
    async fn merge_states(&self, states: Vec<EntityState>) -> Result<(), MutationError> {
        let lock = self.inner.commit_lock.lock().await;
        let unsent = self.outbox_by_entity().await?;
        let mut changed = Vec::new();
        for state in states {
            let canonical = self.load_entity(&state.collection, state.entity_id).await?;
            let next = match &canonical {
                Some(current) if current.head() == state.state.head => continue,
                // Nothing of it is known here (withdrawn, or a refused creation): the state
                // replaces the placeholder rather than joining its deletion.
                Some(current) if current.head().is_empty() => Entity::from_state(&state)?,
                Some(current) => {
                    let next = current.snapshot();
                    next.join_state(&state.state, state.state.head.clone())?;
                    next
                }
                None => Entity::from_state(&state)?,
            };
            for event in unsent.get(&state.entity_id).into_iter().flatten() {
                if !next.head_contains(&event.id) {
                    next.apply_event(event)?;
                }
            }
            changed.push((canonical, next));
        }
        self.store_and_publish(lock, Vec::new(), changed).await
    }

    /// Brings entity `id` up to date from the durable peer, which follows it from now on
    /// (see [`crate::sync`]), and says where the answer comes from. An entity followed
    /// already is current: nothing is asked.
    pub(crate) async fn read_through_get(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<ReadSource, RetrievalError> {
        if self.is_durable() {
            return Ok(ReadSource::Durable);
        }
        let Some(peer) = self.durable_peer() else {
            return Ok(ReadSource::Local);
        };
        let local = self.load_entity(collection, id).await?;
        if local.is_some() && self.inner.following.is_current(&id, &peer) {
            return Ok(ReadSource::Durable);
        }
        let head = local.map(|e| e.head()).unwrap_or_default();
        answered(self.follow_on(&peer, collection, vec![(id, head)]).await)
    }

    /// Brings what `selection` matches up to date from the durable peer: its answer, and
    /// the entities matching here (so that those changed or deleted there are current
    /// too), as deltas against the heads held here. Says where the answer comes from.
    pub(crate) async fn read_through_fetch(
        &self,
        collection: &CollectionId,
        selection: &Selection,
    ) -> Result<ReadSource, RetrievalError> {
        if self.is_durable() {
            return Ok(ReadSource::Durable);
        }
        let Some(peer) = self.durable_peer() else {
            return Ok(ReadSource::Local);
        };
        let mut known: Vec<(EntityId, Clock)> = self
            .fetch_entities(collection, selection)
            .await?
            .iter()
            .map(|e| (e.id(), e.head()))
            .collect();
        // Heads beyond what one request may carry are brought up to date by `Get`s.
        let limit = peer.limits.max_ids_per_request.max(1);
        let rest = known.split_off(known.len().min(limit));
        let mut requests = vec![Request::Fetch {
            collection: collection.clone(),
            selection: selection.clone(),
            known,
        }];
        for chunk in rest.chunks(limit) {
            requests.push(Request::Get {
                collection: collection.clone(),
                ids: chunk.iter().map(|(id, _)| *id).collect(),
                known: chunk.to_vec(),
            });
        }
        let mut read = Ok(());
        for request in requests {
            read = match peer.request(request).await {
                Ok(Response::Deltas(deltas)) => self
                    .apply_deltas(&peer, deltas)
                    .await
                    .map_err(RetrievalError::from),
                Ok(other) => Err(PeerError::Protocol(format!(
                    "unexpected answer to a read: {other:?}"
                ))
                .into()),
                Err(error) => Err(error.into()),
            };
            if read.is_err() {
                break;
            }
        }
        // What the answer made resident is followed from now on.
        self.inner.following.wake();
        answered(read)
    }

    /// Opens (or reopens) the remote side of a local live query on an ephemeral node (a
    /// durable node answers its queries itself).
    pub(crate) async fn remote_subscribe(&self, query: &Arc<Query>) -> Result<(), RetrievalError> {
        if self.is_durable() {
            return Ok(());
        }
        let Some(peer) = self.durable_peer() else {
            return Ok(());
        };
        self.subscribe_on(&peer, query).await
    }

    async fn subscribe_on(
        &self,
        peer: &Arc<Peer>,
        query: &Arc<Query>,
    ) -> Result<(), RetrievalError> {
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
            Response::Deltas(deltas) => Ok(self.apply_deltas(peer, deltas).await?),
            other => Err(
                PeerError::Protocol(format!("unexpected answer to Subscribe: {other:?}")).into(),
            ),
        }
    }

    /// What an ephemeral node does when a durable peer connects: send the outbox, then
    /// resubscribe every live query with the heads it holds.
    pub(crate) async fn on_durable_peer(&self, peer: &Arc<Peer>) {
        match self.send_outbox(peer).await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(%error, "outbox not sent; it stays for the next connection");
                return;
            }
        }
        for query in self.inner.reactor.queries() {
            if let Err(error) = self.subscribe_on(peer, &query).await {
                tracing::warn!(%error, query = query.id, "live query not resubscribed");
            }
        }
        self.follow_resident(peer).await;
    }

    /// Sends the outbox in commits within the peer's limits, oldest first (an event's
    /// parents are older, so each commit builds on the ones before). A refused commit is
    /// undone and reported through [`Node::rejections`].
    async fn send_outbox(&self, peer: &Arc<Peer>) -> Result<(), MutationError> {
        let outbox = self.inner.storage.outbox().await?;
        let (max_bytes, max_events) = (
            peer.limits.max_transaction_bytes,
            peer.limits.max_transaction_events,
        );
        for batch in runs(outbox, Event::estimated_len, max_bytes, max_events) {
            let ids: Vec<EventId> = batch.iter().map(|e| e.id).collect();
            let request = Request::Commit {
                events: batch.clone(),
            };
            match peer.request(request).await {
                Ok(_) => self.inner.storage.outbox_remove(&ids).await?,
                Err(PeerError::Remote(error)) if !error.is_transient() => {
                    tracing::warn!(%error, "the durable peer refused offline commits; undoing them");
                    self.undo(peer, &batch).await?;
                    // Nobody may be listening for rejections; then there is nobody to tell.
                    let _unheard = self.inner.rejections.send(Rejection { events: ids, error });
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Applies a pushed subscription update in the session loop, in arrival order; missing
    /// ancestors are fetched off the loop, since their answers arrive through it. A failed
    /// update is repaired by the next one or by resubscribing on reconnect.
    pub(crate) async fn receive_update(&self, peer: &Arc<Peer>, deltas: Vec<Delta>) {
        match self.apply_received(peer, deltas).await {
            Ok(outcome) if outcome.waiting.is_empty() => {}
            Ok(outcome) => {
                let (node, sender) = (self.clone(), peer.clone());
                peer.spawn(async move {
                    let resolved = node
                        .resolve_ancestors(
                            &sender,
                            outcome.waiting,
                            outcome.missing,
                            Staging::Partial,
                        )
                        .await;
                    if let Err(error) = resolved {
                        tracing::warn!(%error, "ancestors of an update could not be fetched");
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "subscription update not applied"),
        }
    }

    /// Refused commits that were sent from the outbox (no caller was waiting for them).
    pub fn rejections(&self) -> tokio::sync::broadcast::Receiver<Rejection> {
        self.inner.rejections.subscribe()
    }
}

/// What stands for an entity of which nothing may or can be known here: deleted, with no
/// head and no data (see [`Node::withdraw`]).
fn forgotten(id: EntityId, collection: CollectionId) -> Entity {
    let entity = Entity::empty(id, collection);
    entity.mark_deleted();
    entity
}
