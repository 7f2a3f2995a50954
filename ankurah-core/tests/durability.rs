//! Durability levels, on an engine whose flush the test holds back: local listeners and reads
//! see a commit before it is durable, a `Flushed` commit returns only after the flush, a
//! `Buffered` one at once and is flushed by the node in the background, the per-commit
//! override beats the node's level, a peer never sees a buffered commit before it is durable,
//! and an ephemeral node flushes nothing while its commits are acknowledged but makes its
//! outbox durable before an offline commit returns.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ankurah_core::collection::CollectionId;
use ankurah_core::event::Event;
use ankurah_core::id::{EventId, SystemId};
use ankurah_core::signals::Peek;
use ankurah_core::storage::{CommitBatch, MemoryStorage, StorageCollection, StorageEngine};
use ankurah_core::{
    Context, Durability, LocalConnector, Node, NodeConfig, PermissiveAgent, StorageError,
    DEFAULT_CONTEXT,
};
use async_trait::async_trait;
use common::{album, eventually, AlbumView};
use tokio::sync::watch;

/// [`MemoryStorage`] with group commit whose `sync` waits until the test opens the gate;
/// it counts the syncs that completed.
struct Gated {
    inner: MemoryStorage,
    open: watch::Sender<bool>,
    syncs: AtomicUsize,
}

impl Gated {
    fn new() -> Arc<Self> {
        Arc::new(Gated {
            inner: MemoryStorage::new(),
            open: watch::Sender::new(false),
            syncs: AtomicUsize::new(0),
        })
    }

    fn open(&self) {
        self.open.send_replace(true);
    }

    fn syncs(&self) -> usize {
        self.syncs.load(Ordering::Acquire)
    }
}

#[async_trait]
impl StorageEngine for Gated {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        self.inner.collection(id).await
    }
    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.write(batch).await?;
        self.sync().await
    }
    fn group_commit(&self) -> bool {
        true
    }
    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.inner.commit(batch).await
    }
    async fn sync(&self) -> Result<(), StorageError> {
        let mut open = self.open.subscribe();
        // The sender lives in `self`.
        let _ = open.wait_for(|open| *open).await;
        self.syncs.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        self.inner.system_id().await
    }
    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        self.inner.set_system_id(id).await
    }
    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        self.inner.collections().await
    }
    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        self.inner.outbox_add(events).await
    }
    async fn outbox_remove(&self, ids: &[EventId]) -> Result<(), StorageError> {
        self.inner.outbox_remove(ids).await
    }
    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        self.inner.outbox().await
    }
}

/// A durable node of a new system on a [`Gated`] engine, flushing in the background after
/// 20 ms.
async fn durable_node(durability: Durability) -> (Node, Arc<Gated>) {
    let storage = Gated::new();
    let config = NodeConfig {
        durability,
        flush_delay: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let node = Node::with_config(storage.clone(), PermissiveAgent::new(), true, config);
    node.system.create().await.unwrap();
    (node, storage)
}

fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT).unwrap()
}

/// A commit of one album at `durability` (or the node's), running in a task.
fn spawn_commit(
    ctx: &Context,
    name: &'static str,
    durability: Option<Durability>,
) -> tokio::task::JoinHandle<()> {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let trx = ctx.begin();
        trx.create(&album(name, "artist", 2000)).await.unwrap();
        match durability {
            Some(durability) => trx.commit_with(durability).await.unwrap(),
            None => trx.commit().await.unwrap(),
        }
    })
}

/// Whether `task` is still running after a while (long enough for a commit that does not
/// wait for the disk to have returned many times over).
async fn still_running(task: &tokio::task::JoinHandle<()>) -> bool {
    tokio::time::sleep(Duration::from_millis(200)).await;
    !task.is_finished()
}

fn names(query: &ankurah_core::LiveQuery<AlbumView>) -> Vec<String> {
    query
        .peek()
        .iter()
        .map(|album| album.name().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_commit_is_seen_locally_before_it_is_durable_and_returns_after() {
    let (node, storage) = durable_node(Durability::Flushed).await;
    let ctx = ctx(&node);
    let live = ctx.query_wait::<AlbumView>("year = 2000").await.unwrap();
    let commit = spawn_commit(&ctx, "flushed", None);
    eventually("the live query holds the written commit", || {
        names(&live) == ["flushed"]
    })
    .await;
    assert_eq!(
        ctx.fetch::<AlbumView>("year = 2000").await.unwrap().len(),
        1
    );
    assert!(still_running(&commit).await, "commit waits for the flush");
    assert_eq!(storage.syncs(), 0);
    storage.open();
    commit.await.unwrap();
    assert!(storage.syncs() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_commit_returns_at_once_and_is_flushed_in_the_background() {
    let (node, storage) = durable_node(Durability::Buffered).await;
    let ctx = ctx(&node);
    let live = ctx.query_wait::<AlbumView>("year = 2000").await.unwrap();
    spawn_commit(&ctx, "buffered", None).await.unwrap();
    eventually("the live query holds it", || names(&live) == ["buffered"]).await;
    assert_eq!(storage.syncs(), 0, "the flush is held back");
    // Nobody asks for a flush: the node's flusher does it once it may.
    storage.open();
    eventually("the background flusher flushed it", || storage.syncs() >= 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_commit_level_overrides_the_nodes() {
    // A buffered node: a commit asking for `Flushed` waits for the flush.
    let (node, storage) = durable_node(Durability::Buffered).await;
    let commit = spawn_commit(&ctx(&node), "flushed", Some(Durability::Flushed));
    assert!(still_running(&commit).await, "waits for the flush");
    storage.open();
    commit.await.unwrap();

    // A flushed node: a commit asking for `Buffered` does not.
    let (node, storage) = durable_node(Durability::Flushed).await;
    spawn_commit(&ctx(&node), "buffered", Some(Durability::Buffered))
        .await
        .unwrap();
    assert_eq!(storage.syncs(), 0);
    storage.open();
    // `flush` makes it durable on demand.
    node.flush().await.unwrap();
    assert!(storage.syncs() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_never_sees_a_buffered_commit_before_it_is_durable() {
    let (server, storage) = durable_node(Durability::Buffered).await;
    storage.open();
    let client = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let _link = LocalConnector::new(&server, &client);
    client.wait_durable_peer().await;
    let remote = ctx(&client)
        .query_wait::<AlbumView>("year = 2000")
        .await
        .unwrap();
    let local = ctx(&server)
        .query_wait::<AlbumView>("year = 2000")
        .await
        .unwrap();

    storage.open.send_replace(false);
    let flushed_before = storage.syncs();
    spawn_commit(&ctx(&server), "buffered", None).await.unwrap();
    eventually("the server's own live query holds it", || {
        names(&local) == ["buffered"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        names(&remote).is_empty(),
        "the client got an undurable commit"
    );

    storage.open();
    eventually("the client holds it once it is durable", || {
        names(&remote) == ["buffered"]
    })
    .await;
    assert!(storage.syncs() > flushed_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_node_flushes_only_the_outbox_of_commits_not_acknowledged() {
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    server.system.create().await.unwrap();
    let storage = Gated::new();
    // It schedules no flush of its cache: every sync below is one a commit waited for.
    let client = Node::new(storage.clone(), PermissiveAgent::new());
    let link = LocalConnector::new(&server, &client);
    client.wait_durable_peer().await;

    // Acknowledged by the durable peer: returns without any local flush.
    spawn_commit(&ctx(&client), "acknowledged", None)
        .await
        .unwrap();
    assert_eq!(storage.syncs(), 0);
    assert!(storage.outbox().await.unwrap().is_empty());
    let on_server = ctx(&server)
        .fetch::<AlbumView>("year = 2000")
        .await
        .unwrap();
    assert_eq!(on_server.len(), 1);

    // Offline: the commit waits until its outbox entry is durable.
    link.disconnect();
    eventually("the client knows it is offline", || {
        client.peer_count() == 0
    })
    .await;
    let commit = spawn_commit(&ctx(&client), "offline", None);
    assert!(still_running(&commit).await, "waits for the outbox flush");
    storage.open();
    commit.await.unwrap();
    assert_eq!(storage.syncs(), 1);
    assert_eq!(storage.outbox().await.unwrap().len(), 1);
}
