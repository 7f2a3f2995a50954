//! Answering peers: what a node does with each [`Request`], and how it pushes subscription
//! updates as deltas.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::changes::ChangeSet;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::error::MutationError;
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::node::Node;
use crate::peer::{KnownHeads, Peer, PeerError, Subscription};
use crate::policy::ContextData;
use crate::proto::{Delta, Request, Response};
use crate::storage::StorageCollection;

/// How many rounds of asking a peer for missing ancestors a commit may take.
const MAX_ANCESTOR_ROUNDS: usize = 16;

impl Node {
    /// Answers one request of `peer`.
    pub(crate) async fn serve(&self, peer: &Arc<Peer>, request: Request) -> Response {
        let response = match self.try_serve(peer, request).await {
            Ok(response) => response,
            Err(reason) => Response::Error(reason),
        };
        match self.flush_written().await {
            Ok(()) => response,
            Err(error) => Response::Error(error.to_string()),
        }
    }

    /// Makes every commit written so far durable (with group commit, a commit is readable
    /// before it is durable): called between reading data for a peer and sending it, so
    /// nothing leaves this node that a crash could take back.
    async fn flush_written(&self) -> Result<(), crate::error::StorageError> {
        self.inner
            .group_commit
            .flush_written(self.inner.storage.as_ref())
            .await
    }

    async fn try_serve(&self, peer: &Arc<Peer>, request: Request) -> Result<Response, String> {
        let cx = &peer.cx;
        match request {
            Request::Get { collection, ids } => {
                let mut deltas = Vec::new();
                for id in ids {
                    if let Some(entity) = self
                        .load_entity(&collection, id)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        if self
                            .inner
                            .policy
                            .check_read(cx, &collection, &entity)
                            .is_ok()
                        {
                            deltas.push(Delta::State(entity.to_state()));
                        }
                    }
                }
                Ok(Response::Deltas(deltas))
            }
            Request::Fetch {
                collection,
                selection,
            } => {
                let entities = self
                    .fetch_entities(&collection, &selection)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Response::Deltas(
                    entities
                        .iter()
                        .filter(|e| self.inner.policy.check_read(cx, &collection, e).is_ok())
                        .map(|e| Delta::State(e.to_state()))
                        .collect(),
                ))
            }
            Request::Subscribe {
                subscription,
                collection,
                selection,
                known,
            } => {
                self.serve_subscription(peer, subscription, collection, selection, known)
                    .await
            }
            Request::Unsubscribe { subscription } => {
                peer.subscriptions.lock().remove(&subscription);
                Ok(Response::Unsubscribed)
            }
            Request::Commit { events } => self.serve_commit(peer, cx, events).await,
            Request::GetEvents {
                collection,
                entity_id,
                ids,
            } => {
                let store = self
                    .collection(&collection)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Response::Events(
                    store
                        .get_events(entity_id, &ids)
                        .await
                        .map_err(|e| e.to_string())?,
                ))
            }
        }
    }

    /// Applies a peer's commit in its session loop, in arrival order, and answers it; only a
    /// commit that lacks ancestors goes on in a task, which asks the peer for them (the
    /// answers arrive through the loop).
    pub(crate) async fn receive_commit(&self, peer: &Arc<Peer>, id: u64, events: Vec<Event>) {
        let missing = match self.apply_events(&peer.cx, events).await {
            Ok(outcome) if outcome.missing.is_empty() => {
                peer.respond(id, Response::Committed);
                return;
            }
            Ok(outcome) => outcome.missing,
            Err(error) => {
                peer.respond(id, Response::Error(error.to_string()));
                return;
            }
        };
        let (node, peer) = (self.clone(), peer.clone());
        tokio::spawn(async move {
            let response = node
                .finish_commit(&peer, &peer.cx, missing)
                .await
                .unwrap_or_else(Response::Error);
            peer.respond(id, response);
        });
    }

    async fn serve_commit(
        &self,
        peer: &Arc<Peer>,
        cx: &ContextData,
        events: Vec<Event>,
    ) -> Result<Response, String> {
        let missing = self
            .apply_events(cx, events)
            .await
            .map_err(|e| e.to_string())?
            .missing;
        self.finish_commit(peer, cx, missing).await
    }

    /// The answer to a commit whose events left `missing` ancestors: they are requested from
    /// the sender (never guessed) and applied first.
    async fn finish_commit(
        &self,
        peer: &Arc<Peer>,
        cx: &ContextData,
        missing: Vec<(CollectionId, EntityId, EventId)>,
    ) -> Result<Response, String> {
        match self
            .fetch_ancestors(peer, cx, missing)
            .await
            .map_err(|e| e.to_string())?
            .len()
        {
            0 => Ok(Response::Committed),
            unknown => Err(format!(
                "{unknown} ancestor events are unknown to both peers"
            )),
        }
    }

    /// Asks `peer` for the `missing` events and applies them, round after round (their own
    /// parents may be missing too), until nothing is missing or the peer has nothing more.
    /// Returns what is still missing.
    pub(crate) async fn fetch_ancestors(
        &self,
        peer: &Arc<Peer>,
        cx: &ContextData,
        mut missing: Vec<(CollectionId, EntityId, EventId)>,
    ) -> Result<Vec<(CollectionId, EntityId, EventId)>, MutationError> {
        for _ in 0..MAX_ANCESTOR_ROUNDS {
            if missing.is_empty() {
                break;
            }
            let mut fetched = Vec::new();
            for ((collection, entity_id), ids) in group_missing(&missing) {
                let request = Request::GetEvents {
                    collection,
                    entity_id,
                    ids,
                };
                match peer.request(request).await? {
                    Response::Events(events) => fetched.extend(events),
                    other => {
                        return Err(PeerError::Protocol(format!(
                            "unexpected answer to GetEvents: {other:?}"
                        ))
                        .into())
                    }
                }
            }
            if fetched.is_empty() {
                break;
            }
            missing = self.apply_events(cx, fetched).await?.missing;
        }
        Ok(missing)
    }

    async fn serve_subscription(
        &self,
        peer: &Arc<Peer>,
        subscription: u64,
        collection: CollectionId,
        selection: crate::ankql::Selection,
        known: Vec<(EntityId, Clock)>,
    ) -> Result<Response, String> {
        let known: KnownHeads = Arc::new(Mutex::new(known.into_iter().collect()));
        let query = self.inner.reactor.register(collection.clone(), selection);
        // Change sets are turned into deltas in order, by one task per subscription.
        let (changes, mut queue) = mpsc::unbounded_channel::<ChangeSet<Arc<Entity>>>();
        let guard = query.changesets.listen_inline(move |set| {
            let _ = changes.send(set.clone());
        });
        {
            let (node, peer, known, cx) = (
                self.clone(),
                Arc::downgrade(peer),
                known.clone(),
                peer.cx.clone(),
            );
            tokio::spawn(async move {
                while let Some(set) = queue.recv().await {
                    let Some(peer) = peer.upgrade() else { break };
                    let entities: Vec<Arc<Entity>> = set
                        .changes
                        .into_iter()
                        .filter(|c| c.kind() != crate::changes::ChangeKind::Initial)
                        .map(|c| c.entity().clone())
                        .filter(|e| node.inner.policy.check_read(&cx, e.collection(), e).is_ok())
                        .collect();
                    let deltas = node.deltas(&entities, &known).await;
                    if deltas.is_empty() || node.flush_written().await.is_err() {
                        continue;
                    }
                    if !peer.update(subscription, deltas) {
                        break;
                    }
                }
            });
        }
        let subscribed = Subscription {
            _query: query.clone(),
            _guard: guard,
        };
        peer.subscriptions.lock().insert(subscription, subscribed);
        query.load(self).await.map_err(|e| e.to_string())?;
        let cx = &peer.cx;
        let mut initial: Vec<Arc<Entity>> = query.snapshot.read().clone();
        // Entities the subscriber holds that no longer match (changed or deleted while it was
        // away) are sent too: once its copy is current, they leave its result.
        let matching: HashSet<EntityId> = initial.iter().map(|e| e.id()).collect();
        let stale: Vec<EntityId> = known
            .lock()
            .keys()
            .filter(|id| !matching.contains(id))
            .copied()
            .collect();
        for id in stale {
            if let Some(entity) = self
                .load_entity(&collection, id)
                .await
                .map_err(|e| e.to_string())?
            {
                initial.push(entity);
            }
        }
        initial.retain(|e| self.inner.policy.check_read(cx, &collection, e).is_ok());
        Ok(Response::Deltas(self.deltas(&initial, &known).await))
    }

    /// Deltas bringing a subscriber from the heads it holds to the current state, and
    /// records the new heads as held.
    async fn deltas(&self, entities: &[Arc<Entity>], known: &KnownHeads) -> Vec<Delta> {
        let mut out = Vec::new();
        for entity in entities {
            let head = entity.head();
            let held = known.lock().get(&entity.id()).cloned();
            if held.as_ref() == Some(&head) {
                continue;
            }
            let delta = match held {
                Some(held) if !held.is_empty() => self.events_since(entity, &held).await,
                _ => None,
            };
            out.push(delta.unwrap_or_else(|| Delta::State(entity.to_state())));
            known.lock().insert(entity.id(), head);
        }
        out
    }

    /// The events of `entity` not in the history of `held`, if this node has them all and
    /// they are smaller than the state.
    async fn events_since(&self, entity: &Arc<Entity>, held: &Clock) -> Option<Delta> {
        let store = self.collection(entity.collection()).await.ok()?;
        let missing = match walk_back(store.as_ref(), entity.id(), &entity.head(), held).await {
            Some(missing) => missing,
            None => outside_history(store.as_ref(), entity.id(), held).await?,
        };
        // Below this size a delta is sent without encoding the state to compare.
        const SMALL: usize = 1024;
        let size: usize = missing.iter().map(|e| e.encode().len()).sum();
        (size <= SMALL || size < entity.to_state().encode().len()).then(|| Delta::Events {
            collection: entity.collection().clone(),
            entity_id: entity.id(),
            events: missing,
        })
    }
}

/// The events between `held` and `head`, found by walking parents back from `head` and
/// stopping at held ids: the cost is that of the missing events only. `None` when a walk
/// reaches a genesis event that is not held (the held ids are not on every path, so some
/// collected events might be their ancestors) or an event unknown here.
async fn walk_back(
    store: &dyn StorageCollection,
    entity: EntityId,
    head: &Clock,
    held: &Clock,
) -> Option<Vec<Event>> {
    let mut collected: BTreeMap<EventId, Event> = BTreeMap::new();
    let mut frontier: Vec<EventId> = head
        .iter()
        .filter(|id| !held.contains(id))
        .copied()
        .collect();
    while !frontier.is_empty() {
        let events = store.get_events(entity, &frontier).await.ok()?;
        if events.len() < frontier.len() {
            return None;
        }
        let mut next = BTreeSet::new();
        for event in events {
            if event.parent.is_empty() {
                return None;
            }
            next.extend(
                event
                    .parent
                    .iter()
                    .filter(|p| !held.contains(p) && !collected.contains_key(p)),
            );
            collected.insert(event.id, event);
        }
        frontier = next
            .into_iter()
            .filter(|id| !collected.contains_key(id))
            .collect();
    }
    Some(collected.into_values().collect())
}

/// The events of an entity outside the history of `held`, from its whole history; `None`
/// if a held event is unknown here.
async fn outside_history(
    store: &dyn StorageCollection,
    entity: EntityId,
    held: &Clock,
) -> Option<Vec<Event>> {
    let events = store.dump_entity_events(entity).await.ok()?;
    let by_id: HashMap<_, &Event> = events.iter().map(|e| (e.id, e)).collect();
    let mut seen = HashSet::new();
    let mut stack: Vec<_> = held.iter().copied().collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(by_id.get(&id)?.parent.iter().copied());
        }
    }
    Some(
        events
            .into_iter()
            .filter(|e| !seen.contains(&e.id))
            .collect(),
    )
}

/// Groups missing event ids by the collection and entity of the staged events waiting on
/// them: one `GetEvents` request each.
fn group_missing(
    missing: &[(CollectionId, EntityId, EventId)],
) -> HashMap<(CollectionId, EntityId), Vec<EventId>> {
    let mut groups: HashMap<_, Vec<_>> = HashMap::new();
    for (collection, entity, id) in missing {
        groups
            .entry((collection.clone(), *entity))
            .or_default()
            .push(*id);
    }
    groups
}

impl From<PeerError> for crate::error::MutationError {
    fn from(error: PeerError) -> Self {
        crate::error::MutationError::Peer(error)
    }
}
