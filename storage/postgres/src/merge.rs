//! Concurrent writers to one entity: two server processes sharing the database may each
//! apply an event to the same entity and commit its new state. Both events are stored (event
//! ids are unique); for the state, the second commit finds the row locked by the first, waits,
//! and then sees a head it did not build on. Overwriting would drop the first event's effect,
//! so the commit stores the *join* of both states instead: every backend merged (they are
//! join-semilattices), the tombstone kept if either has it, and as head the newest events of
//! both, i.e. the ids of both heads that are not ancestors of another.
//!
//! Deciding ancestry needs the event graph, which the events table holds: the commit walks
//! parents from both heads down to the oldest head id (ancestors have smaller ids, so the walk
//! stops there). When an event on the way is missing (a state stored without its history),
//! ancestry is unknowable and the incoming state replaces the stored one, as `set_state` would.

use std::collections::BTreeSet;

use ankurah_core::storage::StoredState;
use ankurah_core::{Clock, Entity, EntityId, EntityState, Event, EventId, StorageError};
use deadpool_postgres::GenericClient;

use crate::collection::get_events;
use crate::layout::Table;

/// Which state a commit should store for an entity whose row already exists.
pub(crate) enum Resolution {
    /// The incoming state descends from the stored one: store it.
    Incoming,
    /// The stored state descends from the incoming one: keep it.
    Stored,
    /// They are concurrent: store their join.
    Joined(StoredState),
}

/// Compares the incoming state of a commit with the stored one (its head and encoded state).
/// `batch` holds the commit's events: their parents are heads the incoming state built on.
pub(crate) async fn resolve(
    client: &impl GenericClient,
    table: &Table,
    incoming: &StoredState,
    stored_head: &Clock,
    stored_state: &[u8],
    batch: &[Event],
) -> Result<Resolution, StorageError> {
    let incoming_head = &incoming.state.state.head;
    let entity = incoming.state.entity_id;
    let built_on = |id: &EventId| {
        incoming_head.contains(id)
            || batch
                .iter()
                .any(|e| e.entity_id == entity && e.parent.contains(id))
    };
    if stored_head.iter().all(built_on) {
        return Ok(Resolution::Incoming);
    }
    let candidates: BTreeSet<EventId> = stored_head.iter().chain(incoming_head).copied().collect();
    let Some(ancestors) = ancestors_down_to_oldest(client, table, entity, &candidates).await?
    else {
        return Ok(Resolution::Incoming);
    };
    let head: Clock = candidates.difference(&ancestors).copied().collect();
    if head == *incoming_head {
        Ok(Resolution::Incoming)
    } else if head == *stored_head {
        Ok(Resolution::Stored)
    } else {
        let stored = EntityState::decode(stored_state)?;
        Ok(Resolution::Joined(join(&stored, &incoming.state, head)?))
    }
}

/// The ancestors of `ids` that are not older than the oldest of them; `None` if an event on
/// the way is not stored.
async fn ancestors_down_to_oldest(
    client: &impl GenericClient,
    table: &Table,
    entity: EntityId,
    ids: &BTreeSet<EventId>,
) -> Result<Option<BTreeSet<EventId>>, StorageError> {
    let Some(&oldest) = ids.first() else {
        return Ok(Some(BTreeSet::new()));
    };
    let mut ancestors = BTreeSet::new();
    let mut frontier: Vec<EventId> = ids.iter().copied().collect();
    while !frontier.is_empty() {
        let events = get_events(client, table, entity, &frontier).await?;
        if events.len() < frontier.len() {
            return Ok(None);
        }
        frontier = events
            .iter()
            .flat_map(|e| e.parent.iter())
            .filter(|p| **p >= oldest && ancestors.insert(**p))
            .copied()
            .collect();
    }
    Ok(Some(ancestors))
}

/// The join of two states of one entity, with the given head, in canonical form (loading and
/// re-encoding yields the bytes every replica holding these events produces).
fn join(
    stored: &EntityState,
    incoming: &EntityState,
    head: Clock,
) -> Result<StoredState, StorageError> {
    let entity = Entity::from_state(stored)?;
    entity.join_state(&incoming.state, head)?;
    Ok(StoredState {
        state: entity.to_state(),
        values: entity.values(),
    })
}
