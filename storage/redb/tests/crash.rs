//! Durability across a crash: a child process commits (one by one, then from several tasks at
//! once), reports each commit once it returned, and aborts without closing anything, with
//! index builds left unfinished. Reopened, the database holds every commit reported.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ankurah_core::event::Event;
use ankurah_core::id::EntityId;
use ankurah_core::storage::{CommitBatch, StorageEngine, StoredState};
use ankurah_core::testing::{child, genesis};
use ankurah_core::value::Value;
use ankurah_core::CollectionId;
use ankurah_storage_redb::RedbStorage;

const COLLECTION: &str = "crash";

fn batch(made: &[(Event, StoredState)]) -> CommitBatch {
    CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    }
}

fn entity(i: i64) -> (Event, StoredState) {
    genesis(COLLECTION, &[("n".to_owned(), Value::I64(i))], false)
}

/// Reports entities as durable on stdout, one id a line.
fn report(made: &[(Event, StoredState)]) {
    let mut out = std::io::stdout().lock();
    for (_, state) in made {
        writeln!(out, "durable {}", state.state.entity_id).expect("stdout");
    }
    out.flush().expect("stdout");
}

/// The child: commits, reports, aborts.
fn crash_after_commits(path: &Path) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let storage = RedbStorage::open(path).expect("open");
        for i in 0..20 {
            let made = [entity(i)];
            storage.commit(batch(&made)).await.expect("commit");
            report(&made);
        }
        let committers: Vec<_> = (0..8)
            .map(|task| {
                let storage = storage.clone();
                tokio::spawn(async move {
                    for i in 0..8 {
                        let made = [entity(100 + task * 8 + i)];
                        storage.commit(batch(&made)).await.expect("commit");
                        report(&made);
                    }
                })
            })
            .collect();
        // Meanwhile a query builds an index, whose steps are not durable on their own.
        let query = "n >= 0".parse().expect("a query");
        let collection = storage
            .collection(&CollectionId::from(COLLECTION))
            .await
            .expect("collection");
        collection.fetch_states(&query).await.expect("fetch");
        for committer in committers {
            committer.await.expect("a committer");
        }
        // With the database still open: nothing is closed or flushed on the way out.
        std::process::abort()
    })
}

/// Where the child keeps its database: a path the parent chose, handed down in the
/// environment.
const CHILD_PATH: &str = "ANKURAH_REDB_CRASH_PATH";

#[test]
fn reported_commits_survive_an_abort() {
    const TEST: &str = "reported_commits_survive_an_abort";
    if child::is_child(TEST) {
        let path = std::env::var_os(CHILD_PATH).expect("the parent names the database");
        crash_after_commits(Path::new(&path));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ankurah.redb");
    std::env::set_var(CHILD_PATH, &path);
    let outcome = child::run(TEST, Duration::from_secs(120));
    assert!(
        outcome.status.is_some_and(|status| !status.success()),
        "the child aborts: {}",
        outcome.output
    );
    let reported: Vec<EntityId> = outcome
        .output
        .lines()
        // The harness may have begun a line ("test ... ") that the child's first report ends.
        .filter_map(|line| line.split_once("durable ").map(|(_, id)| id.trim()))
        .map(|id| id.parse().expect("an entity id"))
        .collect();
    assert_eq!(reported.len(), 20 + 64, "the child reported every commit");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let storage = RedbStorage::open(&path).expect("the crashed database opens");
        let collection = storage
            .collection(&CollectionId::from(COLLECTION))
            .await
            .expect("collection");
        for id in &reported {
            let state = collection.get_state(*id).await.expect("get_state");
            assert!(state.is_some(), "entity {id} was reported durable");
            let events = collection.dump_entity_events(*id).await.expect("events");
            assert_eq!(events.len(), 1, "the event of entity {id}");
        }
        // The index, built or not before the crash, answers like a scan.
        let query = "n >= 0".parse().expect("a query");
        let states = collection.fetch_states(&query).await.expect("fetch");
        let found: BTreeSet<EntityId> = states.iter().map(|state| state.entity_id).collect();
        assert_eq!(found, reported.iter().copied().collect());
    });
}
