//! Index builds that take several steps (a step reads about a thousand states), with
//! commits going on between the steps: the finished index answers as the reference engine
//! does and holds one entry per live entity.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ankurah_core::ankql::Selection;
use ankurah_core::event::Event;
use ankurah_core::id::EntityId;
use ankurah_core::storage::{CommitBatch, MemoryStorage, StorageEngine, StoredState};
use ankurah_core::testing::{delete, edit, genesis};
use ankurah_core::value::Value;
use ankurah_core::CollectionId;
use ankurah_storage_redb::layout::Stage;
use ankurah_storage_redb::RedbStorage;

const COLLECTION: &str = "numbers";

/// Entities whose `n` is their number modulo 50.
fn numbers(count: i64) -> Vec<(Event, StoredState)> {
    (0..count)
        .map(|i| genesis(COLLECTION, &[("n".to_owned(), Value::I64(i % 50))], false))
        .collect()
}

async fn commit(engines: &[&dyn StorageEngine], made: &[(Event, StoredState)]) {
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    for engine in engines {
        engine.commit(batch.clone()).await.expect("commit");
    }
}

async fn answer(engine: &dyn StorageEngine, query: &str) -> Vec<EntityId> {
    let selection: Selection = query.parse().expect("a valid query");
    let collection = engine
        .collection(&CollectionId::from(COLLECTION))
        .await
        .expect("collection");
    let states = collection.fetch_states(&selection).await.expect("fetch");
    states.into_iter().map(|state| state.entity_id).collect()
}

const QUERIES: [&str; 4] = [
    "n = 7",
    "n >= 45 ORDER BY n DESC LIMIT 30",
    "n < 3 LIMIT 100",
    "n IN (1, 2) ORDER BY n",
];

/// The index on `n` is complete and holds exactly one entry for each of `live`.
fn assert_index_holds(path: &Path, live: &BTreeSet<EntityId>) {
    let (stage, entries) = common::index_entries(path, &CollectionId::from(COLLECTION), "n");
    assert_eq!(stage, Some(Stage::Ready), "the index is complete");
    assert_eq!(entries.len(), live.len(), "one entry per live entity");
    assert_eq!(&entries.into_iter().collect::<BTreeSet<_>>(), live);
}

#[tokio::test]
async fn an_index_of_several_steps_is_complete() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ankurah.redb");
    let storage = RedbStorage::open(&path).expect("open");
    let memory = MemoryStorage::new();
    let made = numbers(2_500);
    for chunk in made.chunks(500) {
        commit(&[&storage, &memory], chunk).await;
    }
    for query in QUERIES {
        assert_eq!(
            answer(&storage, query).await,
            answer(&memory, query).await,
            "`{query}`"
        );
    }
    drop(storage);
    let live = made.iter().map(|(_, s)| s.state.entity_id).collect();
    assert_index_holds(&path, &live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_during_a_build_are_indexed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ankurah.redb");
    let storage = Arc::new(RedbStorage::open(&path).expect("open"));
    let memory = MemoryStorage::new();
    let made = numbers(10_000);
    for chunk in made.chunks(2_000) {
        commit(&[&*storage, &memory], chunk).await;
    }
    let build = tokio::spawn({
        let storage = storage.clone();
        async move { answer(&*storage, "n = 7").await }
    });
    // While the first query builds the index, edit and delete the entities of lowest id,
    // which the first step of the build indexes: every such commit after that step must
    // maintain the entries the build wrote. Bounded, in case the build is quick.
    let mut current: Vec<StoredState> = made[..1_000].iter().map(|(_, s)| s.clone()).collect();
    for i in 0..3_000 {
        if build.is_finished() {
            break;
        }
        let state = &current[i % current.len()];
        if state.is_deleted() {
            continue;
        }
        let change = match i % 5 {
            4 => delete(state),
            _ => edit(state, &[("n".to_owned(), Value::I64((i % 50) as i64))]),
        };
        commit(&[&*storage, &memory], std::slice::from_ref(&change)).await;
        let at = i % current.len();
        current[at] = change.1;
    }
    build.await.expect("the building query");
    for query in QUERIES {
        assert_eq!(
            answer(&*storage, query).await,
            answer(&memory, query).await,
            "`{query}`"
        );
    }
    drop(storage);
    let deleted: BTreeSet<EntityId> = current
        .iter()
        .filter(|s| s.is_deleted())
        .map(|s| s.state.entity_id)
        .collect();
    let live = made
        .iter()
        .map(|(_, s)| s.state.entity_id)
        .filter(|id| !deleted.contains(id))
        .collect();
    assert_index_holds(&path, &live);
}
