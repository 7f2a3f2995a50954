//! The storage conformance suite: one set of checks that every [`StorageEngine`] runs
//! unchanged, with [`MemoryStorage`](crate::storage::MemoryStorage) as the reference.
//!
//! Each check is an async function taking the engine under test and panicking with a message
//! that names the failed expectation; [`run_all`] runs them all. Checks write into fresh
//! collections (a name plus a new ULID), so they can share one engine, but
//! [`system_id_round_trip`] overwrites the system id: give the suite a scratch engine.
//! Engines with persistent storage also run [`reopen_durability`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ankurah_core::{storage::MemoryStorage, testing::conformance};
//! conformance::run_all(&MemoryStorage::new()).await;
//! # }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use super::{ankql_cases, delete, edit, genesis, property_cases};
use crate::ankql::{
    parse_selection, ComparisonOp, Direction, OrderItem, Path, Predicate, Selection,
};
use crate::collection::CollectionId;
use crate::error::StorageError;
use crate::event::Event;
use crate::id::{EntityId, EventId, SystemId};
use crate::limits::Limits;
use crate::state::EntityState;
use crate::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use crate::value::Value;

/// Runs every check of the suite except [`reopen_durability`].
pub async fn run_all(engine: &dyn StorageEngine) {
    states_round_trip(engine).await;
    events(engine).await;
    atomic_commit(engine).await;
    deleted_entities(engine).await;
    scans(engine).await;
    ankql_cases(engine).await;
    property_types(engine).await;
    ordering_and_limits(engine).await;
    system_id_round_trip(engine).await;
    names(engine).await;
    nesting_depth(engine).await;
    buffered_writes(engine).await;
}

/// A collection name no other check (or earlier run) uses.
fn fresh(name: &str) -> String {
    format!("{name}_{}", EntityId::new())
}

fn props(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

async fn open(engine: &dyn StorageEngine, name: &str) -> Arc<dyn StorageCollection> {
    engine
        .collection(&CollectionId::from(name))
        .await
        .unwrap_or_else(|e| panic!("collection `{name}`: {e}"))
}

async fn fetch(collection: &dyn StorageCollection, query: &str) -> Vec<EntityState> {
    let selection = parse_selection(query, &[]).unwrap_or_else(|e| panic!("{query}: {e}"));
    collection
        .fetch_states(&selection)
        .await
        .unwrap_or_else(|e| panic!("fetch `{query}`: {e}"))
}

async fn commit(engine: &dyn StorageEngine, made: &[(Event, StoredState)]) {
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    engine
        .commit(batch)
        .await
        .unwrap_or_else(|e| panic!("commit: {e}"));
}

fn ids<'a>(states: impl IntoIterator<Item = &'a EntityState>) -> Vec<EntityId> {
    states.into_iter().map(|s| s.entity_id).collect()
}

/// What `query` must return over `states`: [`Selection::apply`] on the live ones.
fn reference(query: &Selection, states: &[StoredState]) -> Vec<EntityId> {
    let live = states.iter().filter(|s| !s.is_deleted()).collect();
    query
        .apply(live)
        .into_iter()
        .map(|s| s.state.entity_id)
        .collect()
}

/// `set_state` then `get_state` returns the state; a second `set_state` replaces it, also for
/// queries; unknown ids give `None`; another handle on the collection sees the same.
pub async fn states_round_trip(engine: &dyn StorageEngine) {
    let name = fresh("states");
    let collection = open(engine, &name).await;
    let (_, first) = genesis(
        &name,
        &props(&[("title", "a".into()), ("n", 1.into())]),
        true,
    );
    let id = first.state.entity_id;
    assert_eq!(
        collection.get_state(id).await.expect("get_state"),
        None,
        "a state never stored"
    );
    collection.set_state(&first).await.expect("set_state");
    assert_eq!(
        collection.get_state(id).await.expect("get_state"),
        Some(first.state.clone()),
        "the stored state"
    );

    let (_, second) = edit(&first, &props(&[("n", 2.into())]));
    collection
        .set_state(&second)
        .await
        .expect("set_state overwriting");
    assert_eq!(
        collection.get_state(id).await.expect("get_state"),
        Some(second.state.clone()),
        "the overwritten state"
    );
    assert_eq!(
        fetch(&*collection, "n = 2").await,
        vec![second.state.clone()],
        "queries see the new values"
    );
    assert_eq!(
        fetch(&*collection, "n = 1").await,
        vec![],
        "queries forget the old values"
    );
    assert_eq!(
        fetch(&*collection, "title = 'a'").await,
        vec![second.state.clone()],
        "text values are queryable"
    );

    let again = open(engine, &name).await;
    assert_eq!(
        again.get_state(id).await.expect("get_state"),
        Some(second.state),
        "another handle on the collection"
    );
}

/// `add_event` is idempotent (second time `false`), `get_events` returns the entity's known
/// ones in id order once each, `dump_entity_events` one entity's events in id order, events
/// stay in their collection and entity, and events stored by `commit` count as stored.
pub async fn events(engine: &dyn StorageEngine) {
    let name = fresh("events");
    let collection = open(engine, &name).await;
    let (created, state) = genesis(&name, &props(&[("n", 1.into())]), false);
    let (second, state) = edit(&state, &props(&[("n", 2.into())]));
    let (third, _) = edit(&state, &props(&[("n", 3.into())]));
    let (other, _) = genesis(&name, &props(&[("n", 9.into())]), false);

    assert!(
        collection.add_event(&created).await.expect("add_event"),
        "a new event is added"
    );
    assert!(
        !collection.add_event(&created).await.expect("add_event"),
        "adding an event twice reports `false`"
    );
    for event in [&third, &other, &second] {
        assert!(
            collection.add_event(event).await.expect("add_event"),
            "a new event is added"
        );
    }
    let unknown = EventId::after([&third.id]);
    let entity = created.entity_id;
    let got = collection
        .get_events(entity, &[third.id, unknown, created.id, other.id, third.id])
        .await
        .expect("get_events");
    assert_eq!(
        got,
        vec![created.clone(), third.clone()],
        "the entity's known events, in id order, once each"
    );
    assert_eq!(
        collection.dump_entity_events(entity).await.expect("dump"),
        vec![created.clone(), second, third],
        "one entity's events in id order"
    );
    assert_eq!(
        collection
            .dump_entity_events(other.entity_id)
            .await
            .expect("dump"),
        vec![other],
        "the other entity's events"
    );
    assert_eq!(
        collection
            .dump_entity_events(EntityId::new())
            .await
            .expect("dump"),
        vec![],
        "an unknown entity has no events"
    );

    let elsewhere = open(engine, &fresh("events_elsewhere")).await;
    assert_eq!(
        elsewhere
            .get_events(entity, &[created.id])
            .await
            .expect("get_events"),
        vec![],
        "events stay in their collection"
    );
    assert_eq!(
        elsewhere.dump_entity_events(entity).await.expect("dump"),
        vec![],
        "histories stay in their collection"
    );

    let (committed, state) = genesis(&name, &props(&[("n", 4.into())]), false);
    engine
        .commit(CommitBatch {
            events: vec![committed.clone()],
            states: vec![state],
        })
        .await
        .expect("commit");
    assert_eq!(
        collection
            .get_events(committed.entity_id, &[committed.id])
            .await
            .expect("get_events"),
        vec![committed.clone()],
        "committed events are stored"
    );
    assert!(
        !collection.add_event(&committed).await.expect("add_event"),
        "a committed event is already stored"
    );
}

/// The outbox of engines that serve ephemeral nodes: added events come back in id order,
/// adding twice keeps one copy, removal takes exactly the named events.
pub async fn outbox(engine: &dyn StorageEngine) {
    let name = fresh("outbox");
    let (first, state) = genesis(&name, &props(&[("n", 1.into())]), false);
    let (second, state) = edit(&state, &props(&[("n", 2.into())]));
    let (third, _) = edit(&state, &props(&[("n", 3.into())]));
    assert_eq!(
        engine.outbox().await.expect("outbox"),
        vec![],
        "a new engine has an empty outbox"
    );
    engine
        .outbox_add(&[third.clone(), first.clone()])
        .await
        .expect("outbox_add");
    engine
        .outbox_add(&[second.clone(), first.clone()])
        .await
        .expect("outbox_add");
    assert_eq!(
        engine.outbox().await.expect("outbox"),
        vec![first.clone(), second.clone(), third.clone()],
        "in id order, once each"
    );
    engine
        .outbox_remove(&[second.id, EventId::after([&third.id])])
        .await
        .expect("outbox_remove");
    assert_eq!(
        engine.outbox().await.expect("outbox"),
        vec![first, third],
        "only the named events leave"
    );
}

/// A batch of many entities in two collections is visible whole after `commit`; of two
/// states of one entity in a batch, the last wins.
pub async fn atomic_commit(engine: &dyn StorageEngine) {
    let (name, side) = (fresh("commit"), fresh("commit_side"));
    let mut made: Vec<_> = (0..40)
        .map(|i| genesis(&name, &props(&[("i", i.into())]), i % 2 == 0))
        .collect();
    made.push(genesis(&side, &props(&[("i", 0.into())]), false));
    let (edited_event, edited) = edit(&made[0].1, &props(&[("i", 100.into())]));
    let mut batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    batch.events.push(edited_event.clone());
    batch.states.push(edited.clone());
    engine.commit(batch).await.expect("commit");

    let collection = open(engine, &name).await;
    for (event, state) in &made[1..40] {
        assert_eq!(
            collection
                .get_state(state.state.entity_id)
                .await
                .expect("get_state")
                .as_ref(),
            Some(&state.state),
            "every state of the batch"
        );
        assert_eq!(
            collection
                .dump_entity_events(event.entity_id)
                .await
                .expect("dump"),
            vec![event.clone()],
            "every event of the batch"
        );
    }
    let first = edited.state.entity_id;
    assert_eq!(
        collection.get_state(first).await.expect("get_state"),
        Some(edited.state.clone()),
        "the last state of an entity wins"
    );
    assert_eq!(
        collection.dump_entity_events(first).await.expect("dump"),
        vec![made[0].0.clone(), edited_event],
        "both events of the entity"
    );
    let mut expected: Vec<EntityId> = made[..40].iter().map(|(_, s)| s.state.entity_id).collect();
    expected.sort();
    assert_eq!(
        ids(&fetch(&*collection, "").await),
        expected,
        "a query sees the whole batch, in id order"
    );
    assert_eq!(
        ids(&fetch(&*collection, "i = 100").await),
        vec![first],
        "queries see the last state"
    );
    assert_eq!(
        fetch(&*open(engine, &side).await, "").await,
        vec![made[40].1.state.clone()],
        "the batch's other collection"
    );
}

/// Deleted entities leave every query (also one answered through an index built before the
/// deletion) but `get_state` still returns their state, with the tombstone.
pub async fn deleted_entities(engine: &dyn StorageEngine) {
    let name = fresh("deleted");
    let made: Vec<_> = (0..3)
        .map(|_| genesis(&name, &props(&[("k", 1.into())]), false))
        .collect();
    commit(engine, &made).await;
    let collection = open(engine, &name).await;
    assert_eq!(
        fetch(&*collection, "k = 1").await.len(),
        3,
        "all live before the deletion"
    );

    let deleted = delete(&made[1].1);
    commit(engine, std::slice::from_ref(&deleted)).await;
    let mut live = ids([&made[0].1.state, &made[2].1.state]);
    live.sort();
    for query in [
        "",
        "k = 1",
        "k IS NOT NULL",
        "ORDER BY k LIMIT 5",
        "ORDER BY k DESC",
        "LIMIT 10",
        "id IS NOT NULL",
    ] {
        assert_eq!(
            ids(&fetch(&*collection, query).await),
            live,
            "`{query}` skips the deleted entity"
        );
    }
    let id = made[1].1.state.entity_id;
    let stored = collection
        .get_state(id)
        .await
        .expect("get_state")
        .expect("a deleted entity keeps its state");
    assert!(
        stored.state.is_deleted(),
        "the stored state carries the tombstone"
    );
    assert_eq!(stored, deleted.1.state);
    assert_eq!(
        collection.dump_entity_events(id).await.expect("dump"),
        vec![made[1].0.clone(), deleted.0],
        "the deletion is in the history"
    );
}

/// `scan_states` walks a collection in entity id order, deleted entities included, in pages
/// that neither skip nor repeat an entity, and sees no other collection's states;
/// `collections` lists the collections written, in name order.
pub async fn scans(engine: &dyn StorageEngine) {
    let name = fresh("scan");
    // A second collection whose name extends the first: its states stay out of the walk.
    let neighbour = format!("{name}x");
    let made: Vec<_> = (0..7)
        .map(|n| genesis(&name, &props(&[("n", n.into())]), false))
        .collect();
    let other = genesis(&neighbour, &props(&[("n", 99.into())]), false);
    commit(engine, &made).await;
    commit(engine, std::slice::from_ref(&other)).await;
    let deleted = delete(&made[3].1);
    commit(engine, std::slice::from_ref(&deleted)).await;

    let collection = open(engine, &name).await;
    let mut expected: Vec<EntityState> = made.iter().map(|(_, s)| s.state.clone()).collect();
    expected[3] = deleted.1.state.clone();
    expected.sort_by_key(|s| s.entity_id);
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = collection
            .scan_states(after, 3)
            .await
            .unwrap_or_else(|e| panic!("scan_states: {e}"));
        assert!(page.len() <= 3, "a page holds at most `limit` states");
        let Some(last) = page.last() else { break };
        after = Some(last.entity_id);
        walked.extend(page);
    }
    assert_eq!(
        walked, expected,
        "pages of 3 walk every state once, in id order, deleted ones too"
    );
    let from_fourth = collection
        .scan_states(Some(expected[3].entity_id), 100)
        .await
        .expect("scan_states");
    assert_eq!(from_fourth, expected[4..], "`after` is exclusive");
    let empty = open(engine, &fresh("scan_empty")).await;
    assert!(
        empty
            .scan_states(None, 10)
            .await
            .expect("scan_states")
            .is_empty(),
        "an unwritten collection has no states"
    );

    let listed = engine
        .collections()
        .await
        .unwrap_or_else(|e| panic!("collections: {e}"));
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "collections are listed in name order");
    for written in [&name, &neighbour] {
        assert!(
            listed.contains(&CollectionId::from(written.as_str())),
            "`{written}` is listed among {listed:?}"
        );
    }
}

/// Every case of [`ankql_cases::cases`] over [`ankql_cases::fixture`], with the fixture's
/// strings stored by LWW and again as collaborative text.
pub async fn ankql_cases(engine: &dyn StorageEngine) {
    let (fixture, cases) = (ankql_cases::fixture(), ankql_cases::cases());
    for text in [false, true] {
        run_table(engine, "ankql", &fixture, &cases, text).await;
    }
}

/// Every case of [`property_cases::cases`]: derived property values (unit and data enums,
/// newtypes, structs), Json scalars, dates, timestamps and durations, compared with text
/// and with typed values, must mean the same on every engine.
pub async fn property_types(engine: &dyn StorageEngine) {
    let (fixture, cases) = (property_cases::fixture(), property_cases::cases());
    run_table(engine, "property_types", &fixture, &cases, false).await;
}

/// Stores `fixture` in a fresh collection (strings as collaborative text when `text`) and
/// checks every case, through `fetch_states` and, where the engine answers from its indexes
/// alone, `fetch_ids`.
async fn run_table(
    engine: &dyn StorageEngine,
    table: &str,
    fixture: &[ankql_cases::Fixture],
    cases: &[ankql_cases::Case],
    text: bool,
) {
    let name = fresh(&format!("{table}{}", if text { "_text" } else { "" }));
    let made: Vec<_> = fixture
        .iter()
        .map(|f| genesis(&name, &f.properties, text))
        .collect();
    commit(engine, &made).await;
    let names: HashMap<EntityId, &str> = made
        .iter()
        .zip(fixture)
        .map(|((_, s), f)| (s.state.entity_id, f.name.as_str()))
        .collect();
    let collection = open(engine, &name).await;
    let mut failures = Vec::new();
    for case in cases {
        let selection = parse_selection(case.query, &case.args)
            .unwrap_or_else(|e| panic!("{}: {e}", case.query));
        let got: Vec<&str> = match collection.fetch_states(&selection).await {
            Ok(states) => states
                .iter()
                .map(|s| {
                    names
                        .get(&s.entity_id)
                        .copied()
                        .unwrap_or("<unknown entity>")
                })
                .collect(),
            Err(e) => {
                failures.push(format!("{}: {e}", case.query));
                continue;
            }
        };
        failures.extend(case.mismatch(got));
        // Where the engine answers from its indexes alone, that answer must agree too.
        match collection.fetch_ids(&selection).await {
            Ok(Some(ids)) => {
                let got = ids
                    .iter()
                    .map(|id| names.get(id).copied().unwrap_or("<unknown entity>"))
                    .collect();
                failures.extend(
                    case.mismatch(got)
                        .map(|m| format!("(ids from an index) {m}")),
                );
            }
            Ok(None) => {}
            Err(e) => failures.push(format!("{} (ids): {e}", case.query)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} {table} cases failed (text = {text}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// ORDER BY and LIMIT with many ties: equal numbers of both types, NULLs, several keys,
/// limits cutting inside groups of equal values; results must equal [`Selection::apply`],
/// ties broken by entity id.
pub async fn ordering_and_limits(engine: &dyn StorageEngine) {
    let name = fresh("ordering");
    let value = |i: i64| match i % 5 {
        0 => Value::I64(i % 3),
        1 => Value::F64((i % 3) as f64),
        2 => Value::String(format!("s{}", i % 2)),
        3 => Value::Null,
        _ => Value::F64(0.5),
    };
    let made: Vec<_> = (0..40)
        .map(|i| {
            let mut properties = vec![("w", Value::I64(i % 4))];
            if i % 7 != 0 {
                properties.push(("v", value(i)));
            }
            genesis(&name, &props(&properties), false)
        })
        .collect();
    commit(engine, &made).await;
    let states: Vec<StoredState> = made.into_iter().map(|(_, s)| s).collect();
    let collection = open(engine, &name).await;
    let mut queries = vec![
        "ORDER BY v".to_owned(),
        "ORDER BY v DESC".to_owned(),
        "ORDER BY v, w DESC".to_owned(),
        "ORDER BY w DESC, v".to_owned(),
        "v >= 1 ORDER BY v DESC".to_owned(),
        "v IN (1, 's0') ORDER BY v".to_owned(),
        "v IS NULL ORDER BY w".to_owned(),
    ];
    for limit in [0, 1, 2, 5, 7, 13, 39, 40, 100] {
        for query in [
            "ORDER BY v",
            "ORDER BY v DESC",
            "ORDER BY v DESC, w",
            "v > 0 ORDER BY v",
            "v < 2 ORDER BY v DESC",
            "w = 1 ORDER BY v",
            "",
            "w >= 2",
        ] {
            queries.push(format!("{query} LIMIT {limit}"));
        }
    }
    for query in queries {
        let selection = parse_selection(&query, &[]).expect("a valid query");
        assert_eq!(
            ids(&fetch(&*collection, &query).await),
            reference(&selection, &states),
            "`{query}`"
        );
    }
}

/// Json nesting `depth` arrays and objects deep (alternating, innermost a number).
pub fn nested_json(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |inner, level| match level % 2 {
        0 => serde_json::json!([inner]),
        _ => serde_json::json!({ "k": inner }),
    })
}

/// A property holding Json nested [`Limits::DEPTH_CEILING`] deep is stored, indexed and
/// found (by equality, which engines answer from an index, and in ORDER BY); a state or a
/// query value nesting one level deeper is refused with [`StorageError::LimitExceeded`]
/// before the engine encodes it, and nothing of a refused commit is stored.
pub async fn nesting_depth(engine: &dyn StorageEngine) {
    let name = fresh("depth");
    let collection = open(engine, &name).await;
    let ceiling = Limits::DEPTH_CEILING;
    let deepest = genesis(
        &name,
        &props(&[("doc", nested_json(ceiling).into())]),
        false,
    );
    commit(engine, std::slice::from_ref(&deepest)).await;
    let equal_to = |depth: usize| Selection {
        predicate: Predicate::Comparison {
            path: Path::simple("doc"),
            op: ComparisonOp::Eq,
            value: nested_json(depth).into(),
        },
        order_by: vec![OrderItem {
            path: Path::simple("doc"),
            direction: Direction::Asc,
        }],
        limit: None,
    };
    let found = collection.fetch_states(&equal_to(ceiling)).await;
    assert_eq!(
        found.expect("a query at the ceiling"),
        vec![deepest.1.state.clone()],
        "Json at the ceiling is stored and found"
    );
    let refused = collection.fetch_states(&equal_to(ceiling + 1)).await;
    assert!(
        matches!(refused, Err(StorageError::LimitExceeded(_))),
        "a query value past the ceiling: {refused:?}"
    );

    // Only states a node never makes can be deeper: their values are set by hand.
    let (event, mut deeper) = genesis(&name, &props(&[("n", 1.into())]), false);
    deeper
        .values
        .insert("doc".into(), nested_json(ceiling + 1).into());
    let batch = CommitBatch {
        events: vec![event.clone()],
        states: vec![deeper.clone()],
    };
    let refused = engine.commit(batch).await;
    assert!(
        matches!(refused, Err(StorageError::LimitExceeded(_))),
        "a commit of a value past the ceiling: {refused:?}"
    );
    let refused = collection.set_state(&deeper).await;
    assert!(
        matches!(refused, Err(StorageError::LimitExceeded(_))),
        "set_state of a value past the ceiling: {refused:?}"
    );
    let id = deeper.state.entity_id;
    assert_eq!(collection.get_state(id).await.expect("get_state"), None);
    assert_eq!(
        collection.dump_entity_events(id).await.expect("dump"),
        vec![],
        "nothing of a refused commit is stored"
    );
}

/// `set_system_id` then `system_id` returns it.
pub async fn system_id_round_trip(engine: &dyn StorageEngine) {
    let id = SystemId::new();
    engine.set_system_id(id).await.expect("set_system_id");
    assert_eq!(engine.system_id().await.expect("system_id"), Some(id));
}

/// Odd collection and property names are either rejected with
/// [`StorageError::InvalidName`] or stored and queried like any other, and never disturb
/// other collections; a commit rejected for a name stores nothing of its batch.
pub async fn names(engine: &dyn StorageEngine) {
    let bystander_name = fresh("bystander");
    let bystander = genesis(&bystander_name, &props(&[("n", 1.into())]), false);
    commit(engine, std::slice::from_ref(&bystander)).await;
    let suffix = EntityId::new();
    let mut neighbours_expected = vec![bystander.1.state.entity_id];
    let odd = [
        "x'; DROP TABLE y; --",
        "with space",
        "Ünï ✓",
        "a/b\\c",
        "nul\0byte",
        "",
        "%",
        "\u{1}",
    ];
    for name in odd
        .iter()
        .map(|n| format!("{n}{suffix}"))
        .chain([String::new(), bystander_name.clone() + "\0"])
    {
        let (event, state) = genesis(&name, &props(&[("n", 1.into())]), false);
        let neighbour = genesis(&bystander_name, &props(&[("n", 2.into())]), false);
        let batch = CommitBatch {
            events: vec![event, neighbour.0.clone()],
            states: vec![state.clone(), neighbour.1.clone()],
        };
        let committed = match engine.commit(batch).await {
            Ok(()) => true,
            Err(StorageError::InvalidName { .. }) => false,
            Err(e) => panic!("committing into collection {name:?}: unexpected error {e}"),
        };
        let neighbours = open(engine, &bystander_name).await;
        let stored = neighbours
            .get_state(neighbour.1.state.entity_id)
            .await
            .expect("get_state");
        assert_eq!(
            stored.is_some(),
            committed,
            "collection {name:?}: a commit is all or nothing"
        );
        match engine.collection(&CollectionId::from(name.as_str())).await {
            Err(StorageError::InvalidName { .. }) => assert!(
                !committed,
                "collection {name:?} was committed into but is rejected"
            ),
            Err(e) => panic!("collection {name:?}: unexpected error {e}"),
            Ok(collection) => {
                collection
                    .set_state(&state)
                    .await
                    .unwrap_or_else(|e| panic!("set_state in collection {name:?}: {e}"));
                let found = fetch(&*collection, "n = 1").await;
                assert!(
                    found.contains(&state.state),
                    "collection {name:?} holds its entity"
                );
                assert!(
                    found.iter().all(|s| s.collection == *name.as_str()),
                    "collection {name:?} holds its entities only"
                );
            }
        }
        if committed {
            neighbours_expected.push(neighbour.1.state.entity_id);
            neighbours_expected.sort();
        }
        assert_eq!(
            ids(&fetch(&*neighbours, "n >= 1").await),
            neighbours_expected,
            "collection {name:?} left its neighbour alone"
        );
    }

    let name = fresh("properties");
    let odd_properties = ["x'; --", "sp ace", "ü", "nul\0byte", "id2", "\u{1}"];
    let made: Vec<_> = odd_properties
        .iter()
        .map(|p| {
            genesis(
                &name,
                &props(&[(*p, 1.into()), ("tag", (*p).into())]),
                false,
            )
        })
        .collect();
    commit(engine, &made).await;
    let collection = open(engine, &name).await;
    for ((_, state), property) in made.iter().zip(odd_properties) {
        let quoted = property.replace('"', "\"\"");
        for query in [
            format!("\"{quoted}\" = 1"),
            format!("\"{quoted}\" >= 1 ORDER BY \"{quoted}\" DESC LIMIT 1"),
        ] {
            assert_eq!(
                fetch(&*collection, &query).await,
                vec![state.state.clone()],
                "property {property:?}: `{query}`"
            );
        }
    }
    let all: BTreeSet<EntityId> = made.iter().map(|(_, s)| s.state.entity_id).collect();
    assert_eq!(
        ids(&fetch(&*collection, "tag IS NOT NULL ORDER BY tag").await)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        all
    );
}

/// A [`write`](StorageEngine::write) (buffered commits, an ephemeral node's cache) is
/// visible at once, all of it, and a [`sync`](StorageEngine::sync) afterwards succeeds;
/// then a durable [`commit`](StorageEngine::commit) on top is too.
pub async fn buffered_writes(engine: &dyn StorageEngine) {
    let name = fresh("buffered");
    let made: Vec<_> = (0..3)
        .map(|i| genesis(&name, &props(&[("n", i.into())]), false))
        .collect();
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    engine.write(batch).await.expect("write");
    let collection = open(engine, &name).await;
    assert_eq!(
        fetch(&*collection, "").await.len(),
        3,
        "written is readable"
    );
    engine.sync().await.expect("sync");
    let edited = edit(&made[0].1, &props(&[("n", 10.into())]));
    commit(engine, std::slice::from_ref(&edited)).await;
    // In entity id order: every entity matches once the first is edited.
    let mut all = ids(made.iter().map(|(_, s)| &s.state));
    all.sort();
    assert_eq!(
        ids(&fetch(&*collection, "n >= 1").await),
        all,
        "a commit builds on what was written"
    );
}

/// Writes entities without waiting for the disk ([`write`](StorageEngine::write), and the
/// outbox), [syncs](StorageEngine::sync), drops the engine and opens it again with `open`:
/// everything synced is there.
pub async fn reopen_after_sync<F, Fut>(mut open_engine: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn StorageEngine>>,
{
    let name = fresh("synced");
    let made: Vec<_> = (0..5)
        .map(|i| genesis(&name, &props(&[("n", i.into())]), false))
        .collect();
    {
        let engine = open_engine().await;
        let batch = CommitBatch {
            events: made.iter().map(|(e, _)| e.clone()).collect(),
            states: made.iter().map(|(_, s)| s.clone()).collect(),
        };
        engine.write(batch).await.expect("write");
        engine.sync().await.expect("sync");
    }
    let engine = open_engine().await;
    let collection = open(&*engine, &name).await;
    for (event, state) in &made {
        let id = state.state.entity_id;
        assert_eq!(
            collection.get_state(id).await.expect("get_state").as_ref(),
            Some(&state.state),
            "a synced write survives"
        );
        assert_eq!(
            collection.dump_entity_events(id).await.expect("dump"),
            vec![event.clone()]
        );
    }
}

/// Commits entities (with edits, a deletion, and a query run before the restart so that
/// engines with lazily built indexes have them), drops the engine, opens it again with
/// `open`, and checks that everything is there and queries answer as before; then
/// [`reopen_after_sync`]. `open` must open the same storage each time.
pub async fn reopen_durability<F, Fut>(mut open_engine: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn StorageEngine>>,
{
    let name = fresh("durable");
    let system = SystemId::new();
    let made: Vec<_> = (0..12)
        .map(|i| {
            genesis(
                &name,
                &props(&[("n", i.into()), ("s", format!("v{i}").into())]),
                i % 3 == 0,
            )
        })
        .collect();
    let edited = edit(&made[2].1, &props(&[("n", 100.into())]));
    let deleted = delete(&made[5].1);
    let queries = [
        "",
        "n > 3 ORDER BY n DESC",
        "n >= 100",
        "s = 'v5'",
        "ORDER BY s LIMIT 4",
    ];
    {
        let engine = open_engine().await;
        engine.set_system_id(system).await.expect("set_system_id");
        commit(&*engine, &made).await;
        let collection = open(&*engine, &name).await;
        for query in queries {
            fetch(&*collection, query).await;
        }
        commit(&*engine, &[edited.clone(), deleted.clone()]).await;
    }
    let engine = open_engine().await;
    assert_eq!(
        engine.system_id().await.expect("system_id"),
        Some(system),
        "the system id survives"
    );
    let collection = open(&*engine, &name).await;
    let mut states: Vec<StoredState> = made.iter().map(|(_, s)| s.clone()).collect();
    states[2] = edited.1.clone();
    states[5] = deleted.1.clone();
    for (i, state) in states.iter().enumerate() {
        let id = state.state.entity_id;
        assert_eq!(
            collection.get_state(id).await.expect("get_state").as_ref(),
            Some(&state.state),
            "state {i} survives"
        );
        let mut history = vec![made[i].0.clone()];
        history.extend(
            [&edited, &deleted]
                .into_iter()
                .filter(|(e, _)| e.entity_id == id)
                .map(|(e, _)| e.clone()),
        );
        assert_eq!(
            collection.dump_entity_events(id).await.expect("dump"),
            history,
            "events of entity {i} survive"
        );
    }
    for query in queries {
        let selection = parse_selection(query, &[]).expect("a valid query");
        assert_eq!(
            ids(&fetch(&*collection, query).await),
            reference(&selection, &states),
            "`{query}` after reopening"
        );
    }
    drop((collection, engine));
    reopen_after_sync(&mut open_engine).await;
}

/// Declares the conformance suite as tests of the calling crate: one `#[tokio::test]` per
/// check (except [`reopen_durability`], which needs a way to reopen), plus
/// `run_all_on_one_engine`. `$engine` is an expression giving a fresh engine; it is evaluated
/// once per test, and the tests borrow it. The calling crate needs `tokio` with `macros`.
///
/// ```ignore
/// ankurah_core::storage_conformance_tests!(SledStorage::new_test().expect("a temporary database"));
/// ```
#[macro_export]
macro_rules! storage_conformance_tests {
    ($engine:expr) => {
        $crate::storage_conformance_tests!(@each $engine;
            states_round_trip,
            events,
            atomic_commit,
            deleted_entities,
            scans,
            ankql_cases,
            property_types,
            ordering_and_limits,
            system_id_round_trip,
            names,
            outbox,
            nesting_depth,
            buffered_writes,
        );

        #[tokio::test]
        async fn run_all_on_one_engine() {
            $crate::testing::conformance::run_all(&$engine).await;
        }
    };
    (@each $engine:expr; $($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            $crate::testing::conformance::$check(&$engine).await;
        }
    )*};
}
