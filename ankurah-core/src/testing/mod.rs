//! Test support shared by every storage engine's tests (feature `testing`): the AnkQL case
//! tables ([`ankql_cases`], [`property_cases`] for typed values), builders for real events and states, the storage conformance suite, the
//! model-based test of indexes ([`index_model`]), the checks of damaged storage
//! ([`damage`]), and for the fuzz and attack tests hostile bytes ([`wire`]) and tests run in
//! a child process ([`child`]).

pub mod ankql_cases;
pub mod child;
pub mod conformance;
pub mod damage;
pub mod index_model;
pub mod property_cases;
pub mod wire;

use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::event::Event;
use crate::limits::Limits;
use crate::storage::StoredState;
use crate::value::Value;

/// Polls `check` until it holds, for at most `limit` (a bound the behaviour under test
/// promises, e.g. "views follow remote changes within a second"); panics naming `what`.
pub async fn within(limit: std::time::Duration, what: &str, check: impl Fn() -> bool) {
    let deadline = crate::runtime::Instant::now() + limit;
    while !check() {
        assert!(
            crate::runtime::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        crate::runtime::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Creates a real entity through the property backends, as a transaction would: string
/// values go to the collaborative-text backend when `text` is true, everything else to LWW.
/// Returns the genesis event and the resulting stored state.
pub fn genesis(
    collection: &str,
    properties: &[(String, Value)],
    text: bool,
) -> (Event, StoredState) {
    let fork = Entity::create(CollectionId::from(collection), Limits::DEPTH_CEILING);
    for (name, value) in properties {
        match value {
            Value::String(s) if text => fork
                .yrs
                .replace(name, s)
                .expect("replacing a whole text cannot be out of range"),
            other => fork.lww.set(name, other.clone()),
        }
    }
    let event = fork
        .take_event()
        .expect("a new entity always has a genesis event");
    let entity = Entity::empty(event.entity_id, event.collection.clone());
    entity
        .apply_event(&event)
        .expect("a genesis event of known backends applies");
    (
        event,
        StoredState {
            state: entity.to_state(),
            values: entity.values(),
        },
    )
}

/// An edit of an existing state: sets the given LWW values on top of it.
pub fn edit(state: &StoredState, properties: &[(String, Value)]) -> (Event, StoredState) {
    let entity = Entity::from_state(&state.state).expect("states made by `genesis` load");
    let fork = entity.fork(Limits::DEPTH_CEILING);
    for (name, value) in properties {
        fork.lww.set(name, value.clone());
    }
    let event = fork
        .take_event()
        .expect("an edit with properties makes an event");
    entity
        .apply_event(&event)
        .expect("an edit of known backends applies");
    (
        event,
        StoredState {
            state: entity.to_state(),
            values: entity.values(),
        },
    )
}

/// A deletion of an existing state.
pub fn delete(state: &StoredState) -> (Event, StoredState) {
    let entity = Entity::from_state(&state.state).expect("states made by `genesis` load");
    let fork = entity.fork(Limits::DEPTH_CEILING);
    fork.mark_deleted();
    let event = fork.take_event().expect("a deletion makes an event");
    entity.apply_event(&event).expect("a tombstone applies");
    (
        event,
        StoredState {
            state: entity.to_state(),
            values: entity.values(),
        },
    )
}
