//! What each durability level survives, on the engines that keep data on disk: a child
//! process commits on sled or redb, reports what it may count on, and aborts without closing
//! anything. Reopened, the store holds every flushed commit reported right after `commit`
//! returned, every buffered commit reported once the flush delay had passed, and, on an
//! ephemeral node without a peer, every offline commit in the outbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ankurah::storage::StorageEngine;
use ankurah::{Durability, EntityId, Model, Node, NodeConfig, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_core::testing::child;
use ankurah_storage_redb::RedbStorage;
use ankurah_storage_sled::SledStorage;

#[derive(Model, Debug, Clone)]
pub struct Album {
    pub name: String,
    pub year: i32,
}

const FLUSH_DELAY: Duration = Duration::from_millis(50);
/// Where the child of `test` keeps its store: a path the parent chose, handed down in the
/// environment (a variable per test, as tests run side by side).
fn child_path(test: &str) -> String {
    format!("ANKURAH_DURABILITY_CRASH_PATH_{test}")
}

#[derive(Clone, Copy)]
enum Engine {
    Sled,
    Redb,
}

impl Engine {
    fn path(self, dir: &Path) -> PathBuf {
        match self {
            Engine::Sled => dir.join("sled"),
            Engine::Redb => dir.join("ankurah.redb"),
        }
    }
}

fn config() -> NodeConfig {
    NodeConfig {
        flush_delay: FLUSH_DELAY,
        ..NodeConfig::default()
    }
}

fn report(kind: &str, ids: &[EntityId]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for id in ids {
        writeln!(out, "{kind} {id}").expect("stdout");
    }
    out.flush().expect("stdout");
}

/// What the child reported of `kind`.
fn reported(output: &str, kind: &str) -> Vec<EntityId> {
    let marker = format!("{kind} ");
    output
        .lines()
        // The harness may have begun a line ("test ... ") that the child's first report ends.
        .filter_map(|line| line.split_once(marker.as_str()).map(|(_, id)| id.trim()))
        .map(|id| id.parse().expect("an entity id"))
        .collect()
}

async fn create(node: &Node, year: i32, durability: Durability) -> EntityId {
    let ctx = node.context(DEFAULT_CONTEXT).expect("context");
    let trx = ctx.begin();
    let id = trx
        .create(&Album {
            name: format!("album {year}"),
            year,
        })
        .await
        .expect("create")
        .id();
    trx.commit_with(durability).await.expect("commit");
    id
}

/// The child on a durable node: flushed commits reported as each returns, buffered ones once
/// the flush delay has passed; then an abort.
async fn durable_commits<S: StorageEngine>(storage: Arc<S>) -> ! {
    let node = Node::with_config(storage, PermissiveAgent::new(), true, config());
    node.system.create().await.expect("system");
    for year in 0..10 {
        let id = create(&node, year, Durability::Flushed).await;
        report("flushed", &[id]);
    }
    let mut buffered = Vec::new();
    for year in 10..20 {
        buffered.push(create(&node, year, Durability::Buffered).await);
    }
    // Well past the delay, so that a slow disk still finishes the background flush.
    tokio::time::sleep(FLUSH_DELAY * 20).await;
    report("buffered", &buffered);
    std::process::abort()
}

/// The child on an ephemeral node with no peer: each commit reported as it returns.
async fn offline_commits<S: StorageEngine>(storage: Arc<S>) -> ! {
    let node = Node::with_config(storage, PermissiveAgent::new(), false, config());
    for year in 0..10 {
        let id = create(&node, year, Durability::Flushed).await;
        report("offline", &[id]);
    }
    std::process::abort()
}

/// The runtime of parent and child: two workers, as on the machine the figures come from.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn child(engine: Engine, durable: bool, path: &Path) -> ! {
    let runtime = runtime();
    runtime.block_on(async {
        match (engine, durable) {
            (Engine::Sled, true) => {
                durable_commits(Arc::new(SledStorage::open(path).expect("open"))).await
            }
            (Engine::Redb, true) => {
                durable_commits(Arc::new(RedbStorage::open(path).expect("open"))).await
            }
            (Engine::Sled, false) => {
                offline_commits(Arc::new(SledStorage::open(path).expect("open"))).await
            }
            (Engine::Redb, false) => {
                offline_commits(Arc::new(RedbStorage::open(path).expect("open"))).await
            }
        }
    })
}

/// Runs test `test` in a child that crashes, then checks on the reopened store with `check`.
fn crash_and_reopen(
    test: &str,
    engine: Engine,
    durable: bool,
    check: impl AsyncFnOnce(&str, &Path),
) {
    if child::is_child(test) {
        let path = std::env::var_os(child_path(test)).expect("the parent names the store");
        child(engine, durable, Path::new(&path));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = engine.path(dir.path());
    std::env::set_var(child_path(test), &path);
    let outcome = child::run(test, Duration::from_secs(120));
    assert!(
        outcome.status.is_some_and(|status| !status.success()),
        "the child aborts: {}",
        outcome.output
    );
    let runtime = runtime();
    runtime.block_on(check(&outcome.output, &path));
}

/// Every reported commit of a durable node is there after the crash.
async fn check_durable<S: StorageEngine>(output: &str, storage: Arc<S>) {
    let (flushed, buffered) = (reported(output, "flushed"), reported(output, "buffered"));
    assert_eq!(
        (flushed.len(), buffered.len()),
        (10, 10),
        "the child reported: {output}"
    );
    let node = Node::new_durable(storage, PermissiveAgent::new());
    let ctx = node.context(DEFAULT_CONTEXT).expect("context");
    for id in flushed.iter().chain(&buffered) {
        let album: AlbumView = ctx.get(*id).await.expect("a reported commit survives");
        assert!(album.year().expect("year") < 20);
    }
}

/// Every reported offline commit is in the outbox after the crash.
async fn check_outbox<S: StorageEngine>(output: &str, storage: Arc<S>) {
    let offline = reported(output, "offline");
    assert_eq!(offline.len(), 10, "the child reported: {output}");
    let outbox: Vec<EntityId> = storage
        .outbox()
        .await
        .expect("outbox")
        .iter()
        .map(|event| event.entity_id)
        .collect();
    for id in &offline {
        assert!(outbox.contains(id), "offline commit {id} is in the outbox");
    }
}

#[test]
fn sled_keeps_flushed_and_flushed_buffered_commits_across_a_crash() {
    crash_and_reopen(
        "sled_keeps_flushed_and_flushed_buffered_commits_across_a_crash",
        Engine::Sled,
        true,
        async |output, path| {
            check_durable(output, Arc::new(SledStorage::open(path).expect("reopen"))).await
        },
    );
}

#[test]
fn redb_keeps_flushed_and_flushed_buffered_commits_across_a_crash() {
    crash_and_reopen(
        "redb_keeps_flushed_and_flushed_buffered_commits_across_a_crash",
        Engine::Redb,
        true,
        async |output, path| {
            check_durable(output, Arc::new(RedbStorage::open(path).expect("reopen"))).await
        },
    );
}

#[test]
fn sled_keeps_offline_commits_in_the_outbox_across_a_crash() {
    crash_and_reopen(
        "sled_keeps_offline_commits_in_the_outbox_across_a_crash",
        Engine::Sled,
        false,
        async |output, path| {
            check_outbox(output, Arc::new(SledStorage::open(path).expect("reopen"))).await
        },
    );
}

#[test]
fn redb_keeps_offline_commits_in_the_outbox_across_a_crash() {
    crash_and_reopen(
        "redb_keeps_offline_commits_in_the_outbox_across_a_crash",
        Engine::Redb,
        false,
        async |output, path| {
            check_outbox(output, Arc::new(RedbStorage::open(path).expect("reopen"))).await
        },
    );
}
