//! Two `PostgresStorage` instances on one database (two pools, as two server processes would
//! have) committing to the same entities at the same time.

mod common;

use std::sync::Arc;

use ankurah_core::ankql::parse_selection;
use ankurah_core::storage::{CommitBatch, MemoryStorage, StorageEngine, StoredState};
use ankurah_core::testing::{delete, edit, genesis};
use ankurah_core::{CollectionId, Event, Node, PermissiveAgent, Value, DEFAULT_CONTEXT};
use common::Scratch;

const ENTITIES: usize = 12;
const ROUNDS: i64 = 6;

fn batch(made: &[(Event, StoredState)]) -> CommitBatch {
    CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    }
}

fn props(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

/// Each engine edits every entity once per round on top of its own view, which never includes
/// the other engine's edits, and both commit at once; engine B also deletes one entity midway.
/// Afterwards every event is stored and every state equals the one a single replica reaches by
/// applying all the events (the core's own join), also as seen through queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_lose_no_events_and_store_the_join() {
    let Some(scratch) = Scratch::new("concurrent_commits_lose_no_events_and_store_the_join") else {
        return;
    };
    let (a, b) = (scratch.open().await, scratch.open().await);
    let created: Vec<_> = (0..ENTITIES)
        .map(|i| {
            genesis(
                "album",
                &props(&[("title", format!("t{i}").into()), ("n", 0.into())]),
                true,
            )
        })
        .collect();
    a.commit(batch(&created)).await.expect("creating");
    let mut events: Vec<Event> = created.iter().map(|(e, _)| e.clone()).collect();
    let mut view_a: Vec<StoredState> = created.iter().map(|(_, s)| s.clone()).collect();
    let mut view_b = view_a.clone();

    for round in 0..ROUNDS {
        let edits_a: Vec<_> = view_a
            .iter()
            .map(|s| {
                edit(
                    s,
                    &props(&[("a", round.into()), ("shared", format!("a{round}").into())]),
                )
            })
            .collect();
        let edits_b: Vec<_> = view_b
            .iter()
            .filter(|s| !s.is_deleted())
            .enumerate()
            .map(|(i, s)| match (round, i) {
                (2, 0) => delete(s),
                _ => edit(
                    s,
                    &props(&[("b", round.into()), ("shared", format!("b{round}").into())]),
                ),
            })
            .collect();
        let (committed_a, committed_b) =
            tokio::join!(a.commit(batch(&edits_a)), b.commit(batch(&edits_b)));
        committed_a.expect("commit through A");
        committed_b.expect("commit through B");
        events.extend(edits_a.iter().chain(&edits_b).map(|(e, _)| e.clone()));
        view_a = edits_a.into_iter().map(|(_, s)| s).collect();
        for (_, state) in edits_b {
            let slot = view_b
                .iter_mut()
                .find(|s| s.state.entity_id == state.state.entity_id)
                .expect("an entity of B's view");
            *slot = state;
        }
    }

    // The reference: one replica applying every event, in any order, through the core.
    let memory = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(memory.clone(), PermissiveAgent::new());
    node.system.create().await.expect("a system");
    node.apply_events(DEFAULT_CONTEXT, events.clone())
        .await
        .expect("the reference applies every event");
    let album = CollectionId::from("album");
    let (expected, stored) = (
        memory.collection(&album).await.expect("reference"),
        b.collection(&album).await.expect("album"),
    );
    for (_, created) in &created {
        let id = created.state.entity_id;
        let mut history: Vec<Event> = events
            .iter()
            .filter(|e| e.entity_id == id)
            .cloned()
            .collect();
        history.sort_by_key(|e| e.id);
        assert_eq!(
            stored.dump_entity_events(id).await.expect("dump"),
            history,
            "every event of {id} is stored"
        );
        let state = stored.get_state(id).await.expect("get_state");
        assert_eq!(
            state,
            expected.get_state(id).await.expect("reference state"),
            "the state of {id} is the join"
        );
        assert_eq!(
            state.map(|s| s.state.head.len()),
            Some(2),
            "{id} ends with both engines' last events as head"
        );
    }
    let last = ROUNDS - 1;
    let query = parse_selection(&format!("a = {last} AND b = {last}"), &[]).expect("query");
    let live: Vec<_> = stored
        .fetch_states(&query)
        .await
        .expect("fetch")
        .into_iter()
        .map(|s| s.entity_id)
        .collect();
    let mut expected_live: Vec<_> = created
        .iter()
        .map(|(_, s)| s.state.entity_id)
        .filter(|id| *id != view_b[0].state.entity_id)
        .collect();
    expected_live.sort();
    assert_eq!(
        live, expected_live,
        "queries see both engines' edits, and not the deleted entity"
    );
}

/// The same new entity committed through both engines at once (a creation delivered to two
/// servers): both commits succeed and one copy of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_of_one_entity_both_succeed() {
    let Some(scratch) = Scratch::new("concurrent_creations_of_one_entity_both_succeed") else {
        return;
    };
    let (a, b) = (scratch.open().await, scratch.open().await);
    for _ in 0..10 {
        let created = [genesis("album", &props(&[("n", 1.into())]), false)];
        let (from_a, from_b) = tokio::join!(a.commit(batch(&created)), b.commit(batch(&created)));
        from_a.expect("commit through A");
        from_b.expect("commit through B");
        let stored = a
            .collection(&CollectionId::from("album"))
            .await
            .expect("album");
        let id = created[0].1.state.entity_id;
        assert_eq!(
            stored.get_state(id).await.expect("get_state"),
            Some(created[0].1.state.clone())
        );
        assert_eq!(
            stored.dump_entity_events(id).await.expect("dump"),
            vec![created[0].0.clone()]
        );
    }
}
