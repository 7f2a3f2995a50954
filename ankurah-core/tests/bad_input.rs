//! Bad input from outside the process gets a typed error, never a panic.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use ankurah_core::ankql::{parse_selection, ComparisonOp, Path, Predicate, Selection};
use ankurah_core::model::{Mutable, View};
use ankurah_core::property::backend::LWWBackend;
use ankurah_core::property::ActiveType;
use ankurah_core::proto::{Message, Request};
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::testing::conformance;
use ankurah_core::{
    encoding, Clock, DecodeError, Entity, EntityState, Event, EventError, EventId, Json,
    LimitExceeded, Limits, MutationError, Node, NodeConfig, PermissiveAgent, RetrievalError, Value,
    DEFAULT_CONTEXT, LWW,
};
use common::album;
use proptest::prelude::*;
use serde_bytes::ByteBuf;

async fn one_entity() -> (Node, Arc<MemoryStorage>, Vec<Event>) {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx.create(&album("a", "b", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let events = common::stored_events(storage.as_ref(), id).await;
    (node, storage, events)
}

async fn fresh_node() -> Node {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system.create().await.unwrap();
    node
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
    let receiver = fresh_node().await;

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

    let receiver = fresh_node().await;
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

// ---- Nesting depth -------------------------------------------------------------------------
//
// Each of these inputs overflowed the stack of the thread decoding or parsing it, which aborts
// the whole process. The tests run on a thread with a tokio worker's stack (2 MiB) and build
// the deep inputs as bytes by hand: building them with the recursive types would overflow in
// the test itself (encoding, and dropping, recurse too).

/// Runs an async test on a thread with a tokio worker's stack, as a server would run it.
fn on_worker_stack<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(test())
        })
        .expect("a thread")
        .join()
        .expect("the test passed");
}

/// MessagePack written byte by byte.
mod raw {
    pub fn str(out: &mut Vec<u8>, s: &str) {
        assert!(s.len() < 32, "a fixstr");
        out.push(0xa0 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }

    /// Opens a map of one entry with this key; its value follows.
    pub fn entry(out: &mut Vec<u8>, key: &str) {
        out.push(0x81);
        str(out, key);
    }

    /// The predicate `NOT NOT … TRUE` with `nots` NOTs.
    pub fn nots(nots: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 * nots + 5);
        for _ in 0..nots {
            entry(&mut out, "Not");
        }
        str(&mut out, "True");
        out
    }

    /// The predicate `((TRUE AND TRUE) AND TRUE) …` with `ands` ANDs.
    pub fn ands(ands: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..ands {
            entry(&mut out, "And");
            out.push(0x92);
        }
        str(&mut out, "True");
        for _ in 0..ands {
            str(&mut out, "True");
        }
        out
    }

    /// Json: `depth` arrays around `1`.
    pub fn json(depth: usize) -> Vec<u8> {
        let mut out = vec![0x91; depth];
        out.push(0x01);
        out
    }

    /// The value `Value::Json(json)`.
    pub fn json_value(json: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        entry(&mut out, "Json");
        out.extend_from_slice(json);
        out
    }

    /// The predicate `property = value`.
    pub fn equals(property: &str, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        entry(&mut out, "Comparison");
        out.push(0x83);
        str(&mut out, "path");
        out.push(0x91);
        str(&mut out, property);
        str(&mut out, "op");
        str(&mut out, "Eq");
        str(&mut out, "value");
        out.extend_from_slice(value);
        out
    }

    /// The message `Request { id: 1, Fetch { collection: "album", selection } }` whose
    /// selection has this predicate, no ORDER BY and no LIMIT (envelope included).
    pub fn fetch(predicate: &[u8]) -> Vec<u8> {
        let mut out = vec![1];
        entry(&mut out, "Request");
        out.push(0x82);
        str(&mut out, "id");
        out.push(1);
        str(&mut out, "request");
        entry(&mut out, "Fetch");
        out.push(0x82);
        str(&mut out, "collection");
        str(&mut out, "album");
        str(&mut out, "selection");
        out.push(0x83);
        str(&mut out, "predicate");
        out.extend_from_slice(predicate);
        str(&mut out, "order_by");
        out.push(0x90);
        str(&mut out, "limit");
        out.push(0xc0);
        out
    }

    /// LWW operations (envelope included) setting `property` to Json nested `depth` deep.
    pub fn lww_operations(property: &str, depth: usize) -> Vec<u8> {
        let mut out = vec![1];
        entry(&mut out, property);
        out.extend_from_slice(&json_value(&json(depth)));
        out
    }

    /// An LWW state (envelope included) whose register `property` holds Json nested `depth`
    /// deep, written by event `writer`.
    pub fn lww_state(property: &str, depth: usize, writer: [u8; 16]) -> Vec<u8> {
        let mut out = vec![1];
        entry(&mut out, property);
        out.push(0x82);
        str(&mut out, "value");
        out.extend_from_slice(&json_value(&json(depth)));
        str(&mut out, "writer");
        out.extend([0xc4, 16]);
        out.extend_from_slice(&writer);
        out
    }

    /// A yrs update of one item under the root `t` whose content is an `Any` of arrays
    /// nested `depth` deep.
    pub fn yrs_any(depth: usize) -> Vec<u8> {
        let mut out = vec![1, 1, 1, 0, 8, 1, 1, b't', 1];
        out.extend([117, 1].repeat(depth));
        out.extend([126, 0]);
        out
    }
}

fn limits(max_depth: usize) -> Limits {
    Limits {
        max_depth,
        ..Limits::default()
    }
}

fn deep_text(nots: usize) -> String {
    format!("{}year = 1", "NOT ".repeat(nots))
}

/// The limit a decode error reports, or a panic naming what came instead.
fn exceeded(result: Result<Message, DecodeError>) -> LimitExceeded {
    match result {
        Err(DecodeError::LimitExceeded { exceeded, .. }) => exceeded,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn raw_messages_decode_as_built() {
    let decoded = Message::decode(&raw::fetch(&raw::nots(2))).unwrap();
    let expected = Message::Request {
        id: 1,
        request: Request::Fetch {
            collection: "album".into(),
            selection: Selection {
                predicate: Predicate::Not(Box::new(Predicate::Not(Box::new(Predicate::True)))),
                order_by: vec![],
                limit: None,
            },
            known: vec![],
        },
    };
    assert_eq!(decoded, expected);
    let decoded = Message::decode(&raw::fetch(&raw::equals(
        "meta",
        &raw::json_value(&raw::json(2)),
    )));
    let Ok(Message::Request {
        request: Request::Fetch { selection, .. },
        ..
    }) = decoded
    else {
        panic!("a fetch: {decoded:?}");
    };
    assert_eq!(
        selection.predicate,
        Predicate::Comparison {
            path: Path::simple("meta"),
            op: ComparisonOp::Eq,
            value: serde_json::json!([[1]]).into(),
        }
    );
    assert_eq!(
        encoding::decode::<BTreeMap<String, Value>>("ops", &raw::lww_operations("meta", 1)),
        Ok(BTreeMap::from([(
            "meta".to_owned(),
            serde_json::json!([1]).into()
        )]))
    );
}

#[test]
fn query_text_nested_too_deep_is_a_parse_error() {
    on_worker_stack(|| async {
        let node = fresh_node().await;
        let ctx = node.context(DEFAULT_CONTEXT).unwrap();
        for nots in [2_000, 100_000] {
            let error = parse_selection(&deep_text(nots), &[]).unwrap_err();
            assert_eq!(error.offset, 4 * 64, "where the nesting passes the limit");
            assert_eq!(
                error.message,
                "query nests deeper than the limit of 64 levels"
            );
            let fetched = ctx.fetch::<common::AlbumView>(deep_text(nots)).await;
            assert!(
                matches!(fetched, Err(RetrievalError::Parse(_))),
                "{nots}: {fetched:?}"
            );
        }
        let parens = format!("{}year = 1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse_selection(&parens, &[]).is_err());
        // At the limit it parses; a node's configured limit is the one that applies.
        assert!(parse_selection(&deep_text(63), &[]).is_ok());
        let (tight, _) = node_with(limits(8)).await;
        let ctx = tight.context(DEFAULT_CONTEXT).unwrap();
        assert!(ctx.fetch::<common::AlbumView>(deep_text(7)).await.is_ok());
        let fetched = ctx.fetch::<common::AlbumView>(deep_text(8)).await;
        assert!(
            matches!(fetched, Err(RetrievalError::Parse(_))),
            "{fetched:?}"
        );
    });
}

#[test]
fn chains_of_100_000_conditions_parse_evaluate_print_and_travel() {
    on_worker_stack(|| async {
        let (node, _, events) = one_entity().await;
        let ctx = node.context(DEFAULT_CONTEXT).unwrap();
        let all = vec!["year = 1"; 100_000].join(" AND ");
        let any = format!("{} OR year = 1", vec!["year = 2"; 99_999].join(" OR "));
        for text in [&all, &any] {
            let found = ctx.fetch::<common::AlbumView>(text.as_str()).await.unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].entity().id(), events[0].entity_id);
            let selection: Selection = text.parse().unwrap();
            assert_eq!(&selection.to_string(), text);
            let message = Message::Request {
                id: 1,
                request: Request::Fetch {
                    collection: "album".into(),
                    selection,
                    known: Vec::new(),
                },
            };
            assert_eq!(Message::decode(&message.encode()).unwrap(), message);
        }
        let none = ctx
            .fetch::<common::AlbumView>(all.replace("1", "2").as_str())
            .await
            .unwrap();
        assert!(none.is_empty());
    });
}

#[test]
fn selections_nested_too_deep_in_messages_are_refused() {
    on_worker_stack(|| async {
        // Far too deep: refused from the bytes, before decoding recurses.
        for nots in [2_000, 100_000] {
            let error = exceeded(Message::decode(&raw::fetch(&raw::nots(nots))));
            assert_eq!(error.what, encoding::NESTING, "{error}");
        }
        // Within reach of decoding: the predicate's own depth is checked, exactly.
        assert!(Message::decode(&raw::fetch(&raw::nots(63))).is_ok());
        let error = exceeded(Message::decode(&raw::fetch(&raw::nots(64))));
        assert_eq!(
            error.to_string(),
            "query nesting depth exceeds the limit of 64 (found 65)"
        );
        // A node's configured limit is the one that applies.
        let eight = limits(8);
        assert!(Message::decode_with(&raw::fetch(&raw::nots(7)), &eight).is_ok());
        assert!(Message::decode_with(&raw::fetch(&raw::nots(8)), &eight).is_err());
        // Json values inside a query.
        let query_value =
            |depth| raw::fetch(&raw::equals("meta", &raw::json_value(&raw::json(depth))));
        assert!(Message::decode(&query_value(64)).is_ok());
        let error = exceeded(Message::decode(&query_value(65)));
        assert_eq!(
            error.to_string(),
            "Json nesting depth exceeds the limit of 64 (found 65)"
        );
        let error = exceeded(Message::decode(&query_value(100_000)));
        assert_eq!(error.what, encoding::NESTING);
        let message = Message::decode(&query_value(100_000))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("cannot decode message: "), "{message}");

        // The deepest any configuration lets decoding recurse (the ceiling) fits the stack:
        // messages just within the nesting allowed there decode, and are then refused.
        let ceiling = limits(usize::MAX);
        let nesting = encoding::nesting_for(Limits::DEPTH_CEILING);
        for message in [raw::fetch(&raw::ands(150)), query_value(300)] {
            assert!(encoding::check_nesting(&message[1..], nesting).is_ok());
            let error = exceeded(Message::decode_with(&message, &ceiling));
            assert_eq!(error.limit, Limits::DEPTH_CEILING, "{error}");
        }
    });
}

#[test]
fn json_query_values_nested_too_deep_are_refused() {
    on_worker_stack(|| async {
        let (node, _, _) = one_entity().await;
        let ctx = node.context(DEFAULT_CONTEXT).unwrap();
        let query = |depth: usize| ("artist = ?", [Value::from(conformance::nested_json(depth))]);
        // Within the limit the query parses; the typed check then refuses it, as a string
        // property never equals a Json document (printing the document in its message).
        let within = ctx.fetch::<common::AlbumView>(query(64)).await;
        assert!(
            matches!(within, Err(RetrievalError::InvalidQuery { .. })),
            "{within:?}"
        );
        for depth in [65, 1_000] {
            let Err(RetrievalError::Parse(error)) =
                ctx.fetch::<common::AlbumView>(query(depth)).await
            else {
                panic!("a query value nested {depth} deep is a parse error");
            };
            assert_eq!(
                error.to_string(),
                "argument 1: Json nesting depth exceeds the limit of 64 (found 65) at 9"
            );
        }
    });
}

/// The album genesis event with its LWW operations replaced.
async fn event_with_lww(operations: Vec<u8>) -> Event {
    let (_, _, events) = one_entity().await;
    let mut event = events[0].clone();
    event
        .operations
        .insert("lww".into(), ByteBuf::from(operations));
    event
}

/// A durable node on memory storage under these limits.
async fn node_with(limits: Limits) -> (Node, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let config = NodeConfig {
        limits,
        ..NodeConfig::default()
    };
    let node = Node::with_config(storage.clone(), PermissiveAgent::new(), true, config);
    node.system.create().await.unwrap();
    (node, storage)
}

/// Json: `depth` arrays around `1`, as [`raw::json`] writes it.
fn json_arrays(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |inner, _| serde_json::json!([inner]))
}

/// Hands `event` to a fresh node under `limits` and returns why the node refused it, after
/// checking that nothing of it was stored.
async fn refused(event: Event, limits: Limits) -> MutationError {
    let (node, storage) = node_with(limits).await;
    let id = event.entity_id;
    let err = node
        .apply_events(DEFAULT_CONTEXT, vec![event])
        .await
        .expect_err("the event is refused");
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    assert!(ctx.get::<common::AlbumView>(id).await.is_err(), "no entity");
    let collection = storage.collection(&"album".into()).await.unwrap();
    assert_eq!(collection.get_state(id).await.unwrap(), None, "no state");
    assert_eq!(
        collection.dump_entity_events(id).await.unwrap(),
        vec![],
        "no event"
    );
    err
}

#[test]
fn events_writing_json_nested_too_deep_are_refused_and_nothing_is_stored() {
    on_worker_stack(|| async {
        for depth in [65, 700, 100_000] {
            let event = event_with_lww(raw::lww_operations("meta", depth)).await;
            let id = event.id;
            // From a peer's frame: refused when decoding it.
            let commit = Message::Request {
                id: 1,
                request: Request::Commit {
                    events: vec![event.clone()],
                },
            };
            assert_eq!(
                exceeded(Message::decode(&commit.encode())).to_string(),
                "Json nesting depth exceeds the limit of 64 (found 65)"
            );
            // Handed to a node: refused, nothing stored.
            let err = refused(event.clone(), Limits::default()).await;
            assert!(
                matches!(
                    &err,
                    MutationError::Event(EventError::LimitExceeded { id: refused, .. }) if *refused == id
                ),
                "{depth}: {err}"
            );
            // A node configured past the ceiling holds events to the ceiling.
            if depth > Limits::DEPTH_CEILING {
                let err = refused(event.clone(), limits(usize::MAX)).await;
                assert!(
                    matches!(
                        &err,
                        MutationError::Event(EventError::LimitExceeded { exceeded, .. })
                            if exceeded.limit == Limits::DEPTH_CEILING
                    ),
                    "{depth}: {err}"
                );
                // Below any node, the backend's decoder refuses it too.
                let lww = &event.operations["lww"];
                let err = LWWBackend::default().apply_operations(lww, id).unwrap_err();
                assert!(
                    matches!(&err, EventError::BadOperations { reason, .. }
                        if reason == "Json nesting depth exceeds the limit of 100 (found 101)"),
                    "{depth}: {err}"
                );
            } else {
                let (unlimited, _) = node_with(limits(usize::MAX)).await;
                let applied = unlimited.apply_events(DEFAULT_CONTEXT, vec![event]).await;
                assert!(applied.is_ok(), "{applied:?}");
            }
        }
        // At the limit the value is applied and reads back.
        let event = event_with_lww(raw::lww_operations("meta", 64)).await;
        let (receiver, storage) = node_with(Limits::default()).await;
        receiver
            .apply_events(DEFAULT_CONTEXT, vec![event.clone()])
            .await
            .unwrap();
        let state = common::stored_state(storage.as_ref(), event.entity_id).await;
        let entity = Entity::from_state(&state).unwrap();
        assert_eq!(entity.value("meta"), Some(Value::Json(json_arrays(64))));
    });
}

/// A state of `event`'s entity with `event` as its head and one backend holding `bytes`.
fn state_after(event: &Event, backend: &str, bytes: Vec<u8>) -> EntityState {
    EntityState {
        entity_id: event.entity_id,
        collection: event.collection.clone(),
        state: ankurah_core::State {
            head: Clock::from_ids([event.id]),
            backends: BTreeMap::from([(backend.to_owned(), ByteBuf::from(bytes))]),
        },
    }
}

#[test]
fn states_holding_json_nested_too_deep_are_refused() {
    on_worker_stack(|| async {
        let (_, _, events) = one_entity().await;
        let genesis = &events[0];
        for depth in [700, 100_000] {
            let lww = raw::lww_state("meta", depth, genesis.id.to_bytes());
            let state = state_after(genesis, "lww", lww);
            let err = Entity::from_state(&state).unwrap_err();
            assert!(
                matches!(&err, EventError::BadState { reason, .. }
                    if reason.contains("exceeds the limit of 100")),
                "{err}"
            );
            let update = Message::Update {
                subscription: 1,
                deltas: vec![ankurah_core::proto::Delta::State(state)],
            };
            assert_eq!(
                exceeded(Message::decode(&update.encode())).to_string(),
                "Json nesting depth exceeds the limit of 64 (found 65)"
            );
        }
    });
}

#[test]
fn text_updates_nesting_values_too_deep_are_refused_and_nothing_is_stored() {
    on_worker_stack(|| async {
        let (_, _, events) = one_entity().await;
        for depth in [1_000, 100_000] {
            let mut event = events[0].clone();
            event
                .operations
                .insert("yrs".into(), ByteBuf::from(raw::yrs_any(depth)));
            let err = refused(event.clone(), Limits::default()).await;
            assert!(
                matches!(
                    &err,
                    MutationError::Event(EventError::BadOperations { backend: "yrs", reason, .. })
                        if reason.contains("deeper than the limit of 100")
                ),
                "{err}"
            );
            let state = state_after(&event, "yrs", raw::yrs_any(depth));
            assert!(matches!(
                Entity::from_state(&state),
                Err(EventError::BadState { backend: "yrs", .. })
            ));
        }
    });
}

#[test]
fn local_json_writes_nested_too_deep_are_refused_when_set() {
    on_worker_stack(|| async {
        let (node, storage, events) = one_entity().await;
        let id = events[0].entity_id;
        let ctx = node.context(DEFAULT_CONTEXT).unwrap();
        let view = ctx.get::<common::AlbumView>(id).await.unwrap();
        let trx = ctx.begin();
        let album = trx.edit::<common::Album>(&view).unwrap();
        let meta = LWW::<Json>::bind(album.entity().clone(), "meta");
        for depth in [65, 1_000] {
            let err = meta
                .set(&Json(conformance::nested_json(depth)))
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "property `meta`: Json nesting depth exceeds the limit of 64 (found 65)"
            );
        }
        meta.set(&Json(conformance::nested_json(64))).unwrap();
        trx.commit().await.unwrap();
        assert_eq!(common::stored_events(storage.as_ref(), id).await.len(), 2);
        assert_eq!(
            view.entity().value("meta"),
            Some(Value::Json(conformance::nested_json(64)))
        );
    });
}
