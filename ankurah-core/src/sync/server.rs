//! The answering side of sync: what a node does with each [`Request`] of a peer, how it
//! takes commits (whole or not at all), and how it pushes subscription updates.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::ankql::{Predicate, Selection};
use crate::changes::ChangeKind;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::error::EventError;
use crate::event::Event;
use crate::history::At;
use crate::id::{EntityId, EventId};
use crate::limits::LimitExceeded;
use crate::node::{Node, Staging};
use crate::node_error::MutationError;
use crate::policy::ContextData;
use crate::reactor::Query;
use crate::signals::SubscriptionGuard;
use crate::sync::delta::KnownHeads;
use crate::sync::error::PeerError;
use crate::sync::proto::{Delta, ErrorKind, RemoteError, Request, Response};
use crate::sync::session::Peer;

/// A peer's subscription served by this node. Dropping it (unsubscribe, resubscribe under
/// the same id, end of session) stops its updates.
pub(crate) struct Subscription {
    _query: Arc<Query>,
    _guard: SubscriptionGuard,
    changed: Arc<Changed>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.changed.close();
    }
}

/// Entities of a subscription changed since its last update, coalesced by id: a subscriber
/// that reads slowly gets the latest state of each entity once, however often it changed,
/// so what waits for it is bounded by the entities, not by the number of commits.
#[derive(Default)]
pub(crate) struct Changed {
    entities: Mutex<BTreeMap<EntityId, Arc<Entity>>>,
    wake: Notify,
    closed: AtomicBool,
}

impl Changed {
    /// Records a changed entity and wakes the task sending updates.
    pub(crate) fn push(&self, entity: &Arc<Entity>) {
        self.entities.lock().insert(entity.id(), entity.clone());
        self.wake.notify_one();
    }

    /// Ends the updates: the task sending them returns.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

impl Node {
    /// Answers one request of `peer` (a commit arriving here needed no session ordering).
    pub(crate) async fn serve(&self, peer: &Arc<Peer>, request: Request) -> Response {
        let kind = request_kind(&request);
        let answer = match self.try_serve(peer, request).await {
            // Nothing leaves this node that a crash could take back.
            Ok(response) => match self.flush_written().await {
                Ok(()) => Ok(response),
                Err(error) => Err(RemoteError::from(&error)),
            },
            Err(error) => Err(error),
        };
        match answer {
            Ok(response) => response,
            Err(error) => {
                match error.kind {
                    ErrorKind::LimitExceeded | ErrorKind::Storage => {
                        tracing::warn!(request = kind, %error, "request refused")
                    }
                    _ => tracing::debug!(request = kind, %error, "request refused"),
                }
                Response::Error(error)
            }
        }
    }

    /// Makes every commit written so far durable (with group commit, a commit is readable
    /// before it is durable): called between reading data for a peer and sending it.
    async fn flush_written(&self) -> Result<(), crate::error::StorageError> {
        self.inner
            .group_commit
            .flush_written(self.inner.storage.as_ref())
            .await
    }

    async fn try_serve(&self, peer: &Arc<Peer>, request: Request) -> Result<Response, RemoteError> {
        let cx = &peer.cx;
        match request {
            Request::Get {
                collection,
                ids,
                known,
            } => {
                within("ids in one Get", ids.len(), peer.limits.max_ids_per_request)?;
                let known = known_heads(known, peer)?;
                let mut entities = Vec::new();
                for id in ids {
                    let entity = self
                        .load_entity(&collection, id)
                        .await
                        .map_err(|e| RemoteError::from(&e))?;
                    entities.extend(entity.filter(|e| self.can_read(cx, e)));
                }
                Ok(Response::Deltas(self.deltas(&entities, &known).await))
            }
            Request::Fetch {
                collection,
                selection,
                known,
            } => {
                let known = known_heads(known, peer)?;
                let selection = self.readable_selection(cx, &collection, selection)?;
                let entities = self
                    .fetch_entities(&collection, &selection)
                    .await
                    .map_err(|e| RemoteError::from(&e))?;
                let (entities, hidden) = self.with_stale(&collection, entities, &known, cx).await?;
                let mut deltas = self.deltas(&entities, &known).await;
                deltas.extend(Node::withdrawn(&hidden, &known));
                Ok(Response::Deltas(deltas))
            }
            Request::Follow { collection, known } => {
                self.serve_follow(peer, collection, known).await
            }
            Request::Unfollow { ids } => {
                within(
                    "ids in one Unfollow",
                    ids.len(),
                    peer.limits.max_ids_per_request,
                )?;
                Ok(self.serve_unfollow(peer, ids))
            }
            Request::Subscribe {
                subscription,
                collection,
                selection,
                known,
            } => {
                // With the read rule in its selection, the query drops an entity that
                // stops being readable as soon as it changes, like any that stops matching.
                let selection = self.readable_selection(cx, &collection, selection)?;
                self.serve_subscription(peer, subscription, collection, selection, known)
                    .await
            }
            Request::Unsubscribe { subscription } => {
                peer.subscriptions.lock().remove(&subscription);
                Ok(Response::Unsubscribed)
            }
            Request::Commit { events } => {
                self.commit_from(peer, events).await?;
                Ok(Response::Committed)
            }
            Request::GetEvents {
                collection,
                entity_id,
                ids,
            } => {
                within(
                    "ids in one GetEvents",
                    ids.len(),
                    peer.limits.max_ids_per_request,
                )?;
                // History shows what an entity was: only readers of the entity see it.
                if self.is_durable() {
                    let entity = self
                        .load_entity(&collection, entity_id)
                        .await
                        .map_err(|e| RemoteError::from(&e))?;
                    if let Some(entity) = entity {
                        self.inner
                            .policy
                            .check_read(cx, &collection, &entity)
                            .map_err(|denied| RemoteError::new(ErrorKind::AccessDenied, denied))?;
                    }
                }
                let store = self
                    .collection(&collection)
                    .await
                    .map_err(|e| RemoteError::from(&e))?;
                let events = store
                    .get_events(entity_id, &ids)
                    .await
                    .map_err(|e| RemoteError::from(&e))?;
                Ok(Response::Events(events))
            }
            Request::History {
                collection,
                entity_id,
            } => {
                let events = self
                    .events_of(cx, &collection, entity_id)
                    .await
                    .map_err(|e| RemoteError::from(&e))?;
                Ok(Response::Events(events))
            }
            Request::FetchAt {
                collection,
                selection,
                at,
            } => {
                if let At::Clock(clock) = &at {
                    within(
                        "ids in the clock of one FetchAt",
                        clock.len(),
                        peer.limits.max_ids_per_request,
                    )?;
                }
                let states = self
                    .states_at(cx, &collection, &selection, &at)
                    .await
                    .map_err(|e| RemoteError::from(&e))?;
                let states = states.iter().map(|e| Delta::State(e.to_state()));
                Ok(Response::Deltas(states.collect()))
            }
        }
    }

    /// `selection` narrowed to what `cx` may read: the policy agent's read filter ANDed
    /// into its predicate, so storage uses its indexes for the rule too. Every entity sent
    /// is still checked with [`can_read`](Self::can_read).
    fn readable_selection(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
        mut selection: Selection,
    ) -> Result<Selection, RemoteError> {
        match self.inner.policy.read_filter(cx, collection) {
            Ok(None) => Ok(selection),
            Ok(Some(filter)) => {
                selection.predicate =
                    Predicate::And(Box::new(selection.predicate), Box::new(filter));
                Ok(selection)
            }
            Err(denied) => Err(RemoteError::new(ErrorKind::AccessDenied, denied)),
        }
    }

    pub(crate) fn can_read(&self, cx: &ContextData, entity: &Entity) -> bool {
        self.inner
            .policy
            .check_read(cx, entity.collection(), entity)
            .is_ok()
    }

    /// Takes a peer's commit in its session loop, in arrival order, and answers it. A commit
    /// whose ancestors are all known is applied here; one that lacks some goes on in a task
    /// of the session, which asks the committer for them (the answers arrive through the
    /// loop). Either way the answer is `Committed` if and only if every event is stored.
    pub(crate) async fn receive_commit(
        &self,
        peer: &Arc<Peer>,
        id: u64,
        events: Vec<Event>,
    ) -> Result<(), PeerError> {
        let span = tracing::debug_span!("commit", events = events.len());
        let checked = peer
            .limits
            .check_events(&events)
            .map_err(MutationError::from)
            .and_then(|()| self.check_authors(peer, &events));
        let outcome = match checked {
            Ok(()) => {
                let applying = self.apply(&peer.cx, events, Staging::Whole);
                tracing::Instrument::instrument(applying, span).await
            }
            Err(error) => Err(error),
        };
        let answer = match outcome {
            Ok(outcome) if outcome.waiting.is_empty() => Ok(()),
            Ok(outcome) => {
                let (node, committer) = (self.clone(), peer.clone());
                peer.spawn(async move {
                    let answer = node
                        .resolve_ancestors(
                            &committer,
                            outcome.waiting,
                            outcome.missing,
                            Staging::Whole,
                        )
                        .await
                        .and_then(|outcome| unresolved(&outcome.missing));
                    let response = commit_answer(answer);
                    if let Err(error) = committer.respond(id, response).await {
                        tracing::debug!(%error, "commit answer not delivered");
                    }
                });
                return Ok(());
            }
            Err(error) => Err(error),
        };
        peer.respond(id, commit_answer(answer)).await
    }

    /// A commit that arrived outside the session loop (it is ordered by nothing).
    async fn commit_from(&self, peer: &Arc<Peer>, events: Vec<Event>) -> Result<(), RemoteError> {
        peer.limits
            .check_events(&events)
            .map_err(|e| RemoteError::new(ErrorKind::LimitExceeded, e))?;
        let outcome = self
            .apply(&peer.cx, events, Staging::Whole)
            .await
            .map_err(|e| RemoteError::from(&e))?;
        let outcome = self
            .resolve_ancestors(peer, outcome.waiting, outcome.missing, Staging::Whole)
            .await
            .map_err(|e| RemoteError::from(&e))?;
        unresolved(&outcome.missing).map_err(|e| RemoteError::from(&e))
    }

    async fn serve_subscription(
        &self,
        peer: &Arc<Peer>,
        subscription: u64,
        collection: CollectionId,
        selection: Selection,
        known: Vec<(EntityId, Clock)>,
    ) -> Result<Response, RemoteError> {
        let known = known_heads(known, peer)?;
        if self.requires_authentication() && !peer.subscriptions.lock().contains_key(&subscription)
        {
            within(
                "subscriptions of one identity",
                self.subscriptions_of(&peer.cx) + 1,
                peer.limits.max_subscriptions_per_identity,
            )?;
        }
        let query = self.inner.reactor.register(collection.clone(), selection);
        let changed = Arc::new(Changed::default());
        let guard = {
            let changed = changed.clone();
            query.changesets.listen_inline(move |set| {
                for change in &set.changes {
                    if change.kind() != ChangeKind::Initial {
                        changed.push(change.entity());
                    }
                }
            })
        };
        let subscribed = Subscription {
            _query: query.clone(),
            _guard: guard,
            changed: changed.clone(),
        };
        {
            // Counted and taken in one step: concurrent Subscribes cannot both pass the limit.
            let mut subscriptions = peer.subscriptions.lock();
            if !subscriptions.contains_key(&subscription) {
                within(
                    "subscriptions of one peer",
                    subscriptions.len() + 1,
                    peer.limits.max_subscriptions_per_peer,
                )?;
            }
            subscriptions.insert(subscription, subscribed);
        }
        let (node, subscriber, heads) = (self.clone(), peer.clone(), known.clone());
        peer.spawn(async move {
            node.push_updates(&subscriber, subscription, &changed, &heads)
                .await
        });
        query.load(self).await.map_err(|e| RemoteError::from(&e))?;
        let initial: Vec<Arc<Entity>> = query.snapshot.read().clone();
        let (initial, hidden) = self
            .with_stale(&collection, initial, &known, &peer.cx)
            .await?;
        let mut deltas = self.deltas(&initial, &known).await;
        deltas.extend(Node::withdrawn(&hidden, &known));
        Ok(Response::Deltas(deltas))
    }

    /// The readable entities of an answer to a query: its `result`, and the entities the
    /// asker holds (`known`) that are not in it (changed or deleted while it was away):
    /// once its copies are current, they leave its result there too. Second, the entities
    /// it holds that it may no longer read (to withdraw).
    async fn with_stale(
        &self,
        collection: &CollectionId,
        mut result: Vec<Arc<Entity>>,
        known: &KnownHeads,
        cx: &ContextData,
    ) -> Result<(Vec<Arc<Entity>>, Vec<Arc<Entity>>), RemoteError> {
        let matching: HashSet<EntityId> = result.iter().map(|e| e.id()).collect();
        let stale: Vec<EntityId> = known
            .lock()
            .keys()
            .filter(|id| !matching.contains(id))
            .copied()
            .collect();
        for id in stale {
            let entity = self
                .load_entity(collection, id)
                .await
                .map_err(|e| RemoteError::from(&e))?;
            result.extend(entity);
        }
        Ok(result.into_iter().partition(|e| self.can_read(cx, e)))
    }

    /// Sends a subscription's coalesced changes as they come, until it is closed or the
    /// peer is gone. Sending waits while the peer's queue is full; changes meanwhile
    /// coalesce.
    pub(crate) async fn push_updates(
        &self,
        peer: &Arc<Peer>,
        subscription: u64,
        changed: &Changed,
        known: &KnownHeads,
    ) {
        loop {
            changed.wake.notified().await;
            if changed.closed.load(Ordering::Acquire) {
                return;
            }
            let (entities, hidden): (Vec<Arc<Entity>>, Vec<Arc<Entity>>) =
                std::mem::take(&mut *changed.entities.lock())
                    .into_values()
                    .partition(|e| self.can_read(&peer.cx, e));
            let mut deltas = self.deltas(&entities, known).await;
            deltas.extend(Node::withdrawn(&hidden, known));
            if deltas.is_empty() {
                continue;
            }
            if let Err(error) = self.flush_written().await {
                tracing::error!(%error, "subscription update withheld: commits not durable");
                continue;
            }
            if let Err(error) = peer.update(subscription, deltas).await {
                tracing::debug!(%error, "subscription update not delivered");
                return;
            }
        }
    }
}

/// The answer to a commit.
fn commit_answer(result: Result<(), MutationError>) -> Response {
    match result {
        Ok(()) => Response::Committed,
        Err(error) => {
            let error = RemoteError::from(&error);
            match error.kind {
                ErrorKind::LimitExceeded | ErrorKind::Storage => {
                    tracing::warn!(%error, "commit refused")
                }
                _ => tracing::info!(%error, "commit refused"),
            }
            Response::Error(error)
        }
    }
}

/// An error if ancestors are still missing: the batch was refused.
fn unresolved(missing: &[(CollectionId, EntityId, EventId)]) -> Result<(), MutationError> {
    match missing.first() {
        None => Ok(()),
        Some((_, _, example)) => Err(EventError::UnknownAncestors {
            count: missing.len(),
            example: *example,
        }
        .into()),
    }
}

/// The heads a peer says it holds, within its limit on ids per request.
fn known_heads(known: Vec<(EntityId, Clock)>, peer: &Peer) -> Result<KnownHeads, RemoteError> {
    within(
        "known heads in one request",
        known.len(),
        peer.limits.max_ids_per_request,
    )?;
    Ok(Arc::new(Mutex::new(known.into_iter().collect())))
}

/// `count` within `limit`, or the peer's error saying which limit.
pub(crate) fn within(what: &'static str, count: usize, limit: usize) -> Result<(), RemoteError> {
    LimitExceeded::check(what, count, limit)
        .map_err(|e| RemoteError::new(ErrorKind::LimitExceeded, e))
}

fn request_kind(request: &Request) -> &'static str {
    match request {
        Request::Get { .. } => "Get",
        Request::Fetch { .. } => "Fetch",
        Request::Follow { .. } => "Follow",
        Request::Unfollow { .. } => "Unfollow",
        Request::Subscribe { .. } => "Subscribe",
        Request::Unsubscribe { .. } => "Unsubscribe",
        Request::Commit { .. } => "Commit",
        Request::GetEvents { .. } => "GetEvents",
        Request::History { .. } => "History",
        Request::FetchAt { .. } => "FetchAt",
    }
}
