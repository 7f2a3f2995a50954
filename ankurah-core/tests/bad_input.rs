//! Bad input from outside the process gets a typed error, never a panic.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use ankurah_core::model::Mutable;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    Clock, DecodeError, Entity, EntityState, Event, EventError, EventId, MutationError, Node,
    PermissiveAgent, DEFAULT_CONTEXT,
};
use common::album;
use proptest::prelude::*;
use serde_bytes::ByteBuf;

async fn one_entity() -> (Node, Arc<MemoryStorage>, Vec<Event>) {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx.create(&album("a", "b", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let events = common::stored_events(storage.as_ref(), id).await;
    (node, storage, events)
}

fn fresh_node() -> Node {
    Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new())
}

#[tokio::test]
async fn truncated_and_garbage_encodings_are_errors() {
    let (_, _, events) = one_entity().await;
    let bytes = events[0].encode();
    assert_eq!(Event::decode(&bytes).unwrap(), events[0]);
    for cut in 0..bytes.len() {
        assert!(
            Event::decode(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    assert!(matches!(Event::decode(&[]), Err(DecodeError::Empty { .. })));
    let mut wrong_version = bytes.clone();
    wrong_version[0] = 9;
    assert!(matches!(
        Event::decode(&wrong_version),
        Err(DecodeError::Version { found: 9, .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Event::decode(&trailing).is_err());
    // A clock whose ids are not sorted is malformed, not silently reordered.
    let (a, b) = (EventId::after([]), EventId::after([]));
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    assert!(Clock::try_from(vec![high, low]).is_err());
    assert!(Clock::try_from(vec![low, low]).is_err());
    assert!(Clock::try_from(vec![low, high]).is_ok());
}

#[tokio::test]
async fn events_breaking_invariants_are_rejected() {
    let (_, _, events) = one_entity().await;
    let genesis = &events[0];
    let receiver = fresh_node();

    // Not newer than its parent.
    let mut stale = genesis.clone();
    stale.parent = Clock::from_ids([genesis.id]);
    stale.id = EventId::from_bytes([0; 16]);
    let err = receiver
        .apply_events(DEFAULT_CONTEXT, vec![stale])
        .await
        .unwrap_err();
    assert!(
        matches!(err, MutationError::Event(EventError::NotAfterParent { .. })),
        "{err}"
    );

    // A genesis event whose id is not the entity's.
    let mut bad_genesis = genesis.clone();
    bad_genesis.id = EventId::after([&genesis.id]);
    let err = receiver
        .apply_events(DEFAULT_CONTEXT, vec![bad_genesis])
        .await
        .unwrap_err();
    assert!(
        matches!(err, MutationError::Event(EventError::BadGenesis { .. })),
        "{err}"
    );

    // From the far future.
    let mut future = genesis.clone();
    let far = ulid::Ulid::from_parts(genesis.id.timestamp_ms() + 3_600_000, 1);
    future.id = EventId::from_bytes(far.to_bytes());
    future.entity_id = future.id.as_entity_id();
    let err = receiver
        .apply_events(DEFAULT_CONTEXT, vec![future])
        .await
        .unwrap_err();
    assert!(
        matches!(err, MutationError::Event(EventError::FromTheFuture { .. })),
        "{err}"
    );

    // An unknown backend.
    let mut unknown = genesis.clone();
    unknown
        .operations
        .insert("crdt-of-the-week".into(), ByteBuf::new());
    let err = receiver
        .apply_events(DEFAULT_CONTEXT, vec![unknown])
        .await
        .unwrap_err();
    assert!(
        matches!(err, MutationError::Event(EventError::UnknownBackend(_))),
        "{err}"
    );

    // Garbage operations of a known backend: rejected, and nothing is stored.
    for backend in ["lww", "yrs"] {
        let mut garbage = genesis.clone();
        garbage
            .operations
            .insert(backend.into(), ByteBuf::from(vec![1, 0xc1, 0xff, 0x00]));
        let err = receiver
            .apply_events(DEFAULT_CONTEXT, vec![garbage])
            .await
            .unwrap_err();
        assert!(
            matches!(err, MutationError::Event(EventError::BadOperations { .. })),
            "{backend}: {err}"
        );
    }
    // After all of that, the real event still applies.
    let outcome = receiver
        .apply_events(DEFAULT_CONTEXT, vec![genesis.clone()])
        .await
        .unwrap();
    assert_eq!(outcome.applied, vec![genesis.id]);
}

#[tokio::test]
async fn events_with_unknown_parents_wait_for_them() {
    let (node, storage, events) = one_entity().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let view = ctx
        .get::<common::AlbumView>(events[0].entity_id)
        .await
        .unwrap();
    for year in [2, 3] {
        let trx = ctx.begin();
        trx.edit::<common::Album>(&view)
            .unwrap()
            .year()
            .set(&year)
            .unwrap();
        trx.commit().await.unwrap();
    }
    let all = common::stored_events(storage.as_ref(), events[0].entity_id).await;
    assert_eq!(all.len(), 3);

    let receiver = fresh_node();
    let outcome = receiver
        .apply_events(DEFAULT_CONTEXT, vec![all[2].clone()])
        .await
        .unwrap();
    assert!(outcome.applied.is_empty());
    let entity = all[0].entity_id;
    assert_eq!(outcome.missing, vec![("album".into(), entity, all[1].id)]);
    assert_eq!(
        outcome.waiting,
        vec![all[2].clone()],
        "handed back, not kept"
    );
    let mut waiting = outcome.waiting;
    waiting.push(all[1].clone());
    let outcome = receiver
        .apply_events(DEFAULT_CONTEXT, waiting)
        .await
        .unwrap();
    assert_eq!(outcome.missing, vec![("album".into(), entity, all[0].id)]);
    assert_eq!(outcome.waiting, vec![all[1].clone(), all[2].clone()]);
    let rctx = receiver.context(DEFAULT_CONTEXT).unwrap();
    assert!(
        rctx.get::<common::AlbumView>(events[0].entity_id)
            .await
            .is_err(),
        "nothing visible before its ancestors"
    );
    let mut waiting = outcome.waiting;
    waiting.extend([all[0].clone(), all[0].clone()]);
    let outcome = receiver
        .apply_events(DEFAULT_CONTEXT, waiting)
        .await
        .unwrap();
    assert_eq!(
        outcome.applied,
        all.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let copy = rctx
        .get::<common::AlbumView>(events[0].entity_id)
        .await
        .unwrap();
    assert_eq!(copy.year().unwrap(), 3);
    assert_eq!(
        ankurah_core::model::View::entity(&copy).to_state(),
        ankurah_core::model::View::entity(&view).to_state()
    );
}

#[test]
fn corrupt_states_are_errors() {
    let state = EntityState {
        entity_id: ankurah_core::EntityId::new(),
        collection: "album".into(),
        state: ankurah_core::State {
            head: Clock::new(),
            backends: BTreeMap::from([("lww".to_owned(), ByteBuf::from(vec![1, 2, 3]))]),
        },
    };
    assert!(matches!(
        Entity::from_state(&state),
        Err(EventError::BadState { .. })
    ));
    let mut yrs = state.clone();
    yrs.state.backends = BTreeMap::from([("yrs".to_owned(), ByteBuf::from(vec![0xff; 40]))]);
    assert!(matches!(
        Entity::from_state(&yrs),
        Err(EventError::BadState { .. })
    ));
    let mut unknown = state;
    unknown.state.backends = BTreeMap::from([("nope".to_owned(), ByteBuf::new())]);
    assert!(matches!(
        Entity::from_state(&unknown),
        Err(EventError::UnknownBackend(_))
    ));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Event::decode(&bytes);
        if let Ok(state) = EntityState::decode(&bytes) {
            let _ = Entity::from_state(&state);
        }
        let mut versioned = vec![1u8];
        versioned.extend_from_slice(&bytes);
        let _ = Event::decode(&versioned);
        if let Ok(state) = EntityState::decode(&versioned) {
            let _ = Entity::from_state(&state);
        }
    }

    #[test]
    fn arbitrary_backend_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for backend in ["lww", "yrs"] {
            let state = EntityState {
                entity_id: ankurah_core::EntityId::new(),
                collection: "album".into(),
                state: ankurah_core::State { head: Clock::new(), backends: BTreeMap::from([(backend.to_owned(), ByteBuf::from(bytes.clone()))]) },
            };
            let _ = Entity::from_state(&state);
        }
    }
}
