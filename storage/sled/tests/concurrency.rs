//! Concurrent use: many sled databases in one process committing and flushing at once (the
//! pattern of a fan-out with a store per client, which hung with sled's `flush_async`), and
//! an index built while its collection is being written.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ankurah_core::ankql::Selection;
use ankurah_core::storage::{CommitBatch, StorageEngine, StoredState};
use ankurah_core::testing::{delete, edit, genesis};
use ankurah_core::{CollectionId, EntityId, Value};
use ankurah_storage_sled::SledStorage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::runtime::{Builder, Runtime};

/// Far beyond what the work needs: reaching it means the work hung.
const LIVENESS: Duration = Duration::from_secs(120);

const STORES: usize = 50;
const ROUNDS: i64 = 5;

fn query(text: &str) -> Selection {
    text.parse().expect("a valid query")
}

fn batch(made: Vec<(ankurah_core::Event, StoredState)>) -> CommitBatch {
    let (events, states) = made.into_iter().unzip();
    CommitBatch { events, states }
}

/// Runs `work` on `runtime` in a thread of its own, failing (instead of hanging) when it
/// does not finish within [`LIVENESS`]: a hung sled call may hold the runtime's own thread,
/// so the wait is on another. A hung thread is left behind; the test process ends anyway.
fn within_liveness<F>(runtime: Runtime, what: &'static str, work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        runtime.block_on(work);
        runtime.shutdown_background();
        if done.send(()).is_err() {
            eprintln!("{what} finished after the test gave up on it");
        }
    });
    match finished.recv_timeout(LIVENESS) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {LIVENESS:?}: hung")
        }
        // Finished, or panicked: joining carries its panic here.
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Each round, every store at once commits durably, writes and flushes the way group commit
/// does, and queries (building an index in the first round).
async fn many_stores(stores: Vec<SledStorage>) {
    let collection = CollectionId::from("album");
    for round in 0..ROUNDS {
        let tasks: Vec<_> = stores
            .iter()
            .cloned()
            .map(|store| {
                let collection = collection.clone();
                tokio::spawn(async move {
                    let n = |i: i64| vec![("n".to_owned(), Value::I64(round * 2 + i))];
                    store
                        .commit(batch(vec![genesis("album", &n(0), false)]))
                        .await
                        .expect("commit");
                    store
                        .write(batch(vec![genesis("album", &n(1), false)]))
                        .await
                        .expect("write");
                    store.sync().await.expect("sync");
                    let found = store
                        .collection(&collection)
                        .await
                        .expect("collection")
                        .fetch_states(&query("n >= 0"))
                        .await
                        .expect("fetch");
                    assert_eq!(found.len() as i64, round * 2 + 2);
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a store's round");
        }
    }
}

fn stores() -> Vec<SledStorage> {
    (0..STORES)
        .map(|_| SledStorage::new_test().expect("a temporary store"))
        .collect()
}

#[test]
fn many_stores_commit_and_flush_at_once_on_a_multi_thread_runtime() {
    let runtime = Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let stores = stores();
    within_liveness(runtime, "50 stores committing at once", many_stores(stores));
}

#[test]
fn many_stores_commit_and_flush_at_once_on_a_current_thread_runtime() {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let stores = stores();
    within_liveness(runtime, "50 stores committing at once", many_stores(stores));
}

/// A collection large enough for its index build to take many steps.
const ENTITIES: usize = 6000;

/// While the first query on `n` builds its index, entities of the collection are edited,
/// deleted and created, and another collection is written and read. Afterwards the index
/// answers exactly as a scan would: its entries hold each live entity's current value.
#[test]
fn an_index_built_during_writes_holds_the_current_values() {
    let runtime = Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .expect("a runtime");
    within_liveness(
        runtime,
        "an index build during writes",
        index_during_writes(),
    );
}

async fn index_during_writes() {
    let store = SledStorage::new_test().expect("a temporary store");
    let mut rng = StdRng::seed_from_u64(7);
    let value = |rng: &mut StdRng| vec![("n".to_owned(), Value::I64(rng.random_range(0..1000)))];
    let mut live = BTreeMap::new();
    for _ in 0..ENTITIES / 500 {
        let made: Vec<_> = (0..500)
            .map(|_| genesis("big", &value(&mut rng), false))
            .collect();
        for (_, state) in &made {
            live.insert(state.state.entity_id, state.clone());
        }
        store.commit(batch(made)).await.expect("load");
    }
    let big = store
        .collection(&CollectionId::from("big"))
        .await
        .expect("big");
    let other = store
        .collection(&CollectionId::from("other"))
        .await
        .expect("other");

    let built = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (store, built) = (store.clone(), built.clone());
        async move {
            let mut commits = 0;
            // Writes go on until the build is over, so every step of it runs among them.
            while commits < 50 || !built.load(Ordering::Acquire) {
                let ids: Vec<EntityId> = live.keys().copied().collect();
                let id = ids[rng.random_range(0..ids.len())];
                let made = match rng.random_range(0..10) {
                    0 => delete(&live[&id]),
                    1 => genesis("big", &value(&mut rng), false),
                    _ => edit(&live[&id], &value(&mut rng)),
                };
                match made.1.is_deleted() {
                    true => live.remove(&made.1.state.entity_id),
                    false => live.insert(made.1.state.entity_id, made.1.clone()),
                };
                store.commit(batch(vec![made])).await.expect("a write");
                commits += 1;
            }
            live
        }
    });
    let elsewhere = tokio::spawn({
        let (store, other, built) = (store.clone(), other.clone(), built.clone());
        async move {
            let mut written = 0;
            while written < 20 || !built.load(Ordering::Acquire) {
                let made = genesis("other", &[("m".to_owned(), Value::I64(written))], false);
                store
                    .commit(batch(vec![made]))
                    .await
                    .expect("a write elsewhere");
                written += 1;
                let found = other
                    .fetch_states(&query("m >= 0"))
                    .await
                    .expect("a read elsewhere");
                assert_eq!(found.len() as i64, written);
            }
        }
    });
    tokio::task::yield_now().await;
    big.fetch_states(&query("n >= 0 ORDER BY n LIMIT 10"))
        .await
        .expect("the query that builds the index");
    built.store(true, Ordering::Release);
    let live = writer.await.expect("the writer");
    elsewhere.await.expect("the other collection's writer");

    // The scan order of the reference: by n, ties by id.
    let mut expected: Vec<(i64, EntityId)> = live
        .values()
        .map(|s| match s.values.get("n") {
            Some(Value::I64(n)) => (*n, s.state.entity_id),
            other => panic!("n is an integer, not {other:?}"),
        })
        .collect();
    expected.sort();
    let expected: Vec<EntityId> = expected.into_iter().map(|(_, id)| id).collect();
    let selection = query("n >= 0 ORDER BY n");
    let from_index = big
        .fetch_ids(&selection)
        .await
        .expect("ids")
        .expect("answered from the index alone");
    assert_eq!(
        from_index.len(),
        expected.len(),
        "one entry per live entity"
    );
    assert!(from_index == expected, "index entries hold current values");
    let states: Vec<EntityId> = big
        .fetch_states(&selection)
        .await
        .expect("states")
        .into_iter()
        .map(|s| s.entity_id)
        .collect();
    assert!(states == expected, "the indexed plan answers like a scan");
}
