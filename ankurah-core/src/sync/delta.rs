//! Deltas: what brings a peer from the heads it holds to an entity's current state — the
//! events it lacks, or the whole state when that is smaller or the events are not all here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::clock::Clock;
use crate::entity::Entity;
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::node::Node;
use crate::storage::StorageCollection;
use crate::sync::proto::Delta;

/// Heads a subscriber holds, per entity: deltas are computed against them.
pub(crate) type KnownHeads = Arc<Mutex<HashMap<EntityId, Clock>>>;

impl Node {
    /// Deltas bringing a subscriber from the heads it holds to the current state, and
    /// records the new heads as held.
    pub(crate) async fn deltas(&self, entities: &[Arc<Entity>], known: &KnownHeads) -> Vec<Delta> {
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

    /// `Withdrawn` for each of `entities` the subscriber holds, which it may no longer
    /// read; they are no longer held, so a later `State` brings them back whole.
    pub(crate) fn withdrawn(entities: &[Arc<Entity>], known: &KnownHeads) -> Vec<Delta> {
        let mut known = known.lock();
        entities
            .iter()
            .filter(|entity| known.remove(&entity.id()).is_some())
            .map(|entity| Delta::Withdrawn {
                collection: entity.collection().clone(),
                entity_id: entity.id(),
            })
            .collect()
    }

    /// The events of `entity` not in the history of `held`, if this node has them all and
    /// they are smaller than the state.
    async fn events_since(&self, entity: &Arc<Entity>, held: &Clock) -> Option<Delta> {
        let store = match self.collection(entity.collection()).await {
            Ok(store) => store,
            Err(error) => {
                tracing::warn!(%error, "cannot read events for a delta; sending the state");
                return None;
            }
        };
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
