//! Following: how the entities resident on an ephemeral node stay current without a live
//! query.
//!
//! An ephemeral node follows, on its durable peer, every entity resident in it that no
//! live query holds (live queries keep theirs current through their own subscriptions):
//! the entities behind the views the application holds, and the recently read ones the
//! node keeps ([`NodeConfig::resident_entities`](crate::NodeConfig::resident_entities)).
//! The durable peer answers a `Follow` with deltas against the heads the node holds and
//! from then on pushes each change of those entities, deletions included, as it pushes
//! subscription updates. The node stops following an entity once nothing holds it any
//! more. The resident set is followed as a whole, rather than by subscriptions per view,
//! because its members are exactly what reads on the node can return without asking: a
//! followed entity is current, so `get` answers it locally with the latency of a live
//! query, and everything else is read through the durable peer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::id::EntityId;
use crate::node::Node;
use crate::node_error::RetrievalError;
use crate::sync::delta::KnownHeads;
use crate::sync::error::PeerError;
use crate::sync::proto::{Request, Response, FOLLOWED};
use crate::sync::server::{within, Changed};
use crate::sync::session::Peer;

/// How often an ephemeral node looks for entities that became resident, or stopped being,
/// without being told (e.g. a view dropped).
const SWEEP: Duration = Duration::from_millis(250);

/// On a durable node: which peers follow each entity (their change buffers, by entity).
#[derive(Default)]
pub(crate) struct Followers {
    by_entity: Mutex<HashMap<EntityId, Vec<Weak<Changed>>>>,
}

impl Followers {
    /// Hands changed entities to the peers following them.
    pub(crate) fn notify(&self, entities: &[Arc<Entity>]) {
        let by_entity = self.by_entity.lock();
        if by_entity.is_empty() {
            return;
        }
        for entity in entities {
            for changed in by_entity.get(&entity.id()).into_iter().flatten() {
                if let Some(changed) = changed.upgrade() {
                    changed.push(entity);
                }
            }
        }
    }

    fn add(&self, ids: &[EntityId], changed: &Arc<Changed>) {
        let mut by_entity = self.by_entity.lock();
        for id in ids {
            by_entity
                .entry(*id)
                .or_default()
                .push(Arc::downgrade(changed));
        }
    }

    fn remove(&self, ids: impl IntoIterator<Item = EntityId>, changed: &Arc<Changed>) {
        let mut by_entity = self.by_entity.lock();
        for id in ids {
            if let Some(list) = by_entity.get_mut(&id) {
                list.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), &**changed));
                if list.is_empty() {
                    by_entity.remove(&id);
                }
            }
        }
    }
}

/// On a durable node: the entities one peer follows, what changed of them since its last
/// update, and the heads it holds. Dropping it (at the end of the session) stops its
/// updates.
pub(crate) struct Followed {
    ids: Mutex<HashSet<EntityId>>,
    changed: Arc<Changed>,
    known: KnownHeads,
    followers: Arc<Followers>,
}

impl Drop for Followed {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock());
        self.followers.remove(ids, &self.changed);
        self.changed.close();
    }
}

/// On an ephemeral node: the entities it follows, in which session with a durable peer
/// (follows end with their session), and whether that peer has answered for them (from then on they are
/// current here).
#[derive(Default)]
pub(crate) struct Following {
    ids: Mutex<HashMap<EntityId, Follow>>,
    /// Woken when reads made entities resident, so they are followed without delay.
    wake: Notify,
}

#[derive(Clone, Copy)]
struct Follow {
    /// The session ([`Peer::session`]) it was made in.
    session: u64,
    current: bool,
}

impl Following {
    /// Whether `id` is followed in `peer`'s session and its copy here is current.
    pub(crate) fn is_current(&self, id: &EntityId, peer: &Peer) -> bool {
        self.ids
            .lock()
            .get(id)
            .is_some_and(|f| f.session == peer.session && f.current)
    }

    /// Asks the follower to look at the resident entities now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Node {
    /// Serves a peer's `Follow`: registers the entities, then answers their deltas (so a
    /// change committed in between is pushed rather than missed).
    pub(crate) async fn serve_follow(
        &self,
        peer: &Arc<Peer>,
        collection: CollectionId,
        known: Vec<(EntityId, Clock)>,
    ) -> Result<Response, crate::sync::proto::RemoteError> {
        within(
            "entities in one Follow",
            known.len(),
            peer.limits.max_ids_per_request,
        )?;
        let followed = self.followed_by(peer);
        let ids: Vec<EntityId> = {
            let mut followed_ids = followed.ids.lock();
            let new: Vec<EntityId> = known
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !followed_ids.contains(id))
                .collect();
            within(
                "entities followed by one peer",
                followed_ids.len() + new.len(),
                peer.limits.max_followed_per_peer,
            )?;
            followed_ids.extend(new.iter().copied());
            new
        };
        self.inner.followers.add(&ids, &followed.changed);
        let mut entities = Vec::new();
        {
            let mut heads = followed.known.lock();
            for (id, head) in &known {
                heads.insert(*id, head.clone());
            }
        }
        for (id, _) in known {
            let entity = self
                .load_entity(&collection, id)
                .await
                .map_err(|e| crate::sync::proto::RemoteError::from(&e))?;
            entities.extend(entity.filter(|e| self.can_read(&peer.cx, e)));
        }
        Ok(Response::Deltas(
            self.deltas(&entities, &followed.known).await,
        ))
    }

    /// Serves a peer's `Unfollow`.
    pub(crate) fn serve_unfollow(&self, peer: &Peer, ids: Vec<EntityId>) -> Response {
        if let Some(followed) = peer.followed.lock().as_ref() {
            {
                let mut followed_ids = followed.ids.lock();
                let mut heads = followed.known.lock();
                for id in &ids {
                    followed_ids.remove(id);
                    heads.remove(id);
                }
            }
            self.inner.followers.remove(ids, &followed.changed);
        }
        Response::Unfollowed
    }

    /// The peer's followed entities, created (with the task pushing their changes) by its
    /// first `Follow`.
    fn followed_by(&self, peer: &Arc<Peer>) -> Arc<Followed> {
        let mut slot = peer.followed.lock();
        if let Some(followed) = slot.as_ref() {
            return followed.clone();
        }
        let followed = Arc::new(Followed {
            ids: Mutex::default(),
            changed: Arc::default(),
            known: KnownHeads::default(),
            followers: self.inner.followers.clone(),
        });
        *slot = Some(followed.clone());
        let (node, subscriber) = (self.clone(), peer.clone());
        let (changed, known) = (followed.changed.clone(), followed.known.clone());
        peer.spawn(async move {
            node.push_updates(&subscriber, FOLLOWED, &changed, &known)
                .await
        });
        followed
    }

    /// On an ephemeral node, for the life of a session with a durable peer: follows the
    /// resident entities no live query holds, and stops following those nothing holds.
    pub(crate) async fn follow_resident(&self, peer: &Arc<Peer>) {
        let following = &self.inner.following;
        loop {
            let resident = self.inner.entities.alive();
            let held: HashSet<EntityId> = resident.iter().map(|e| e.id()).collect();
            let (new, gone) = {
                let mut ids = following.ids.lock();
                // Follows made on an earlier session's peer ended with it.
                ids.retain(|_, f| f.session == peer.session);
                let gone: Vec<EntityId> = ids
                    .keys()
                    .filter(|id| !held.contains(id))
                    .copied()
                    .collect();
                let candidates: Vec<Arc<Entity>> = resident
                    .into_iter()
                    .filter(|e| !e.is_deleted() && !ids.contains_key(&e.id()))
                    .collect();
                (candidates, gone)
            };
            let new = self.inner.reactor.not_in_results(new);
            if !gone.is_empty() {
                {
                    let mut ids = following.ids.lock();
                    for id in &gone {
                        ids.remove(id);
                    }
                }
                let limit = peer.limits.max_ids_per_request.max(1);
                for ids in gone.chunks(limit) {
                    let request = Request::Unfollow { ids: ids.to_vec() };
                    if let Err(error) = peer.request(request).await {
                        tracing::debug!(%error, "unfollow not delivered; the session is ending");
                        return;
                    }
                }
            }
            let mut by_collection: BTreeMap<CollectionId, Vec<Arc<Entity>>> = BTreeMap::new();
            for entity in new {
                by_collection
                    .entry(entity.collection().clone())
                    .or_default()
                    .push(entity);
            }
            for (collection, entities) in by_collection {
                let limit = peer.limits.max_ids_per_request.max(1);
                for chunk in entities.chunks(limit) {
                    let known = chunk.iter().map(|e| (e.id(), e.head())).collect();
                    if let Err(error) = self.follow_on(peer, &collection, known).await {
                        if matches!(error, RetrievalError::Peer(PeerError::Disconnected)) {
                            return;
                        }
                        // They stay marked as followed-not-current: reads ask the peer.
                        tracing::warn!(%error, %collection, "resident entities not followed");
                    }
                }
            }
            tokio::select! {
                _ = crate::runtime::sleep(SWEEP) => {}
                _ = following.wake.notified() => {}
            }
        }
    }

    /// Follows entities on the durable peer and applies its answer; they are current once
    /// this returns `Ok`.
    pub(crate) async fn follow_on(
        &self,
        peer: &Arc<Peer>,
        collection: &CollectionId,
        known: Vec<(EntityId, Clock)>,
    ) -> Result<(), RetrievalError> {
        let ids: Vec<EntityId> = known.iter().map(|(id, _)| *id).collect();
        {
            let mut following = self.inner.following.ids.lock();
            for id in &ids {
                following.insert(
                    *id,
                    Follow {
                        session: peer.session,
                        current: false,
                    },
                );
            }
        }
        let request = Request::Follow {
            collection: collection.clone(),
            known,
        };
        match peer.request(request).await? {
            Response::Deltas(deltas) => self.apply_deltas(peer, deltas).await?,
            other => {
                return Err(
                    PeerError::Protocol(format!("unexpected answer to Follow: {other:?}")).into(),
                )
            }
        }
        let mut following = self.inner.following.ids.lock();
        for id in ids {
            if let Some(follow) = following.get_mut(&id).filter(|f| f.session == peer.session) {
                follow.current = true;
            }
        }
        Ok(())
    }
}
