//! Commit on one ephemeral node → live-query callback on another, both connected to a
//! durable node in process (`LocalConnector`): the sync path without sockets, for profiling.
//! Runs with every node on `MemoryStorage`, then on sled (the durable node flushes each
//! commit before it acknowledges it; the clients flush nothing on the way).
//!
//! `cargo run --release -p ankurah-bench --bin local_sync -- [commits]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::changes::ChangeSet;
use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::signals::Subscribe;
use ankurah::storage::MemoryStorage;
use ankurah::{LocalConnector, Node, NodeConfig, PermissiveAgent};
use ankurah_bench::{album, AlbumView};
use ankurah_storage_sled::SledStorage;
use tokio::sync::mpsc;

/// A node on a fresh store of the engine `label` names.
fn node(label: &str, durable: bool) -> Node {
    let (agent, config) = (PermissiveAgent::new(), NodeConfig::default());
    match label {
        "sled" => {
            let storage = SledStorage::new_test().expect("a temporary sled");
            Node::with_config(Arc::new(storage), agent, durable, config)
        }
        _ => Node::with_config(Arc::new(MemoryStorage::new()), agent, durable, config),
    }
}

#[tokio::main]
async fn main() {
    let commits: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    for label in ["memory", "sled"] {
        run(label, commits).await;
    }
}

async fn run(label: &str, commits: usize) {
    let server = node(label, true);
    server.system.create().await.expect("system");
    let (writer, reader) = (node(label, false), node(label, false));
    let _links = (
        LocalConnector::new(&server, &writer),
        LocalConnector::new(&server, &reader),
    );
    writer.wait_durable_peer().await;
    reader.wait_durable_peer().await;

    let wctx = writer.context(DEFAULT_CONTEXT).expect("context");
    let trx = wctx.begin();
    let id = trx.create(&album(1)).await.expect("create").id();
    trx.commit().await.expect("commit");
    let view = wctx.get::<AlbumView>(id).await.expect("get");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let live = reader
        .context(DEFAULT_CONTEXT)
        .expect("context")
        .query_wait::<AlbumView>(("id = ?", [id]))
        .await
        .expect("query");
    let _guard = live.subscribe(move |_: ChangeSet<AlbumView>| {
        let _ = tx.send(Instant::now());
    });
    while rx.try_recv().is_ok() {}

    let mut samples: Vec<Duration> = Vec::with_capacity(commits);
    let mut commit_times: Vec<Duration> = Vec::with_capacity(commits);
    for year in 0..commits as i32 {
        let start = Instant::now();
        let trx = wctx.begin();
        view.edit(&trx)
            .expect("edit")
            .year()
            .set(&year)
            .expect("set");
        trx.commit().await.expect("commit");
        commit_times.push(start.elapsed());
        let arrived = rx.recv().await.expect("a change set");
        samples.push(arrived - start);
        while rx.try_recv().is_ok() {}
    }
    samples.sort();
    commit_times.sort();
    println!(
        "{label}: commit → callback over LocalConnector: p50 {:?}, p99 {:?} ({commits} commits)",
        samples[commits / 2],
        samples[commits * 99 / 100]
    );
    println!(
        "{label}: commit until the durable node acknowledged: p50 {:?}",
        commit_times[commits / 2]
    );
}
