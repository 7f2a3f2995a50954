//! Group commit, local visibility before durability, and the background flusher.
//!
//! Every change a node stores is written under the node's commit lock, numbered, made
//! visible to later commits, and the lock released. Then, in number order, it is published
//! to local entity subscribers and live queries: **local listeners see a commit once it is
//! written**, not once it is flushed. Only then does a commit wait for the
//! [`Durability`] it asked for:
//!
//! - [`Durability::Flushed`]: until it is durable. With an engine that
//!   [offers group commit](crate::storage::StorageEngine::group_commit) whoever finds no
//!   flush running flushes everything written so far, so commits that arrived meanwhile are
//!   durable without flushing again; other engines wrote it durably under the lock
//!   ([`StorageEngine::commit`]).
//! - [`Durability::Buffered`]: not at all; the node's one background flusher flushes
//!   everything written within [`NodeConfig::flush_delay`](crate::NodeConfig::flush_delay)
//!   of the first write it has not flushed yet.
//! - On an ephemeral node, whose writes fill its cache: not at all, and nothing is
//!   scheduled; the outbox of a commit no durable peer acknowledged is flushed by the commit
//!   ([`Node::forward_commit`](crate::Node)), and with it everything written before.
//!
//! Nothing reaches another node before it is durable: a durable node flushes everything
//! written before it answers a peer or pushes an update ([`GroupCommit::flush_written`]).
//!
//! A flush that fails leaves writes of unknown durability behind; every later commit is then
//! refused, and the node must be restarted on its storage.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{watch, Mutex, Notify};

use crate::durability::Durability;
use crate::entity::Entity;
use crate::error::StorageError;
use crate::node::Node;
use crate::storage::StorageEngine;

/// Where the commits of one node stand.
pub(crate) struct GroupCommit {
    /// Number of the last commit written (commits are numbered under the commit lock).
    written: AtomicU64,
    /// Held by whoever is flushing.
    flushing: Mutex<()>,
    /// Number of the last commit known durable.
    durable: AtomicU64,
    /// Number of the last commit published: commits publish in number order.
    published: watch::Sender<u64>,
    /// The failure of the first flush that failed: every later commit is refused with it.
    failed: OnceLock<Failure>,
    /// Wakes the background flusher.
    flusher: Flusher,
}

/// The state of a node's background flusher, started by the first commit that needs it.
#[derive(Default)]
struct Flusher {
    wake: Notify,
    started: AtomicBool,
    /// Set when the node is gone: the flusher flushes what is left and ends.
    closed: AtomicBool,
}

/// The engine whose flush failed, and its error.
type Failure = (&'static str, Arc<dyn std::error::Error + Send + Sync>);

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            written: AtomicU64::new(0),
            flushing: Mutex::new(()),
            durable: AtomicU64::new(0),
            published: watch::Sender::new(0),
            failed: OnceLock::new(),
            flusher: Flusher::default(),
        }
    }
}

/// A failed `sync` as the failure every later commit is refused with. Engines report a
/// failed flush as [`StorageError::Flush`]; any other error of theirs is taken as one.
fn failure(error: StorageError) -> Failure {
    match error {
        StorageError::Flush { engine, source, .. } => (engine, source),
        StorageError::Engine { engine, source, .. } => (engine, Arc::from(source)),
        other => ("the storage engine", Arc::new(other)),
    }
}

impl GroupCommit {
    /// Errors once a flush failed.
    pub(crate) fn check(&self) -> Result<(), StorageError> {
        match self.failed.get() {
            Some((engine, source)) => Err(StorageError::Flush {
                engine,
                earlier: true,
                source: source.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Numbers a commit that was just written (under the commit lock).
    pub(crate) fn written(&self) -> u64 {
        self.written.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The number of the last commit written.
    pub(crate) fn written_so_far(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Records that commits up to `number` are durable: an engine's
    /// [`commit`](StorageEngine::commit) made them so.
    pub(crate) fn durable_through(&self, number: u64) {
        self.durable.fetch_max(number, Ordering::AcqRel);
    }

    /// Makes commit `number` durable, with every commit written before the flush starts.
    pub(crate) async fn make_durable(
        &self,
        storage: &dyn StorageEngine,
        number: u64,
    ) -> Result<(), StorageError> {
        if self.durable.load(Ordering::Acquire) >= number {
            return Ok(());
        }
        let _flushing = self.flushing.lock().await;
        if self.durable.load(Ordering::Acquire) >= number {
            return Ok(());
        }
        self.check()?;
        let target = self.written.load(Ordering::Acquire);
        match storage.sync().await {
            Ok(()) => {
                self.durable_through(target);
                Ok(())
            }
            Err(error) => {
                let (engine, source) = self.failed.get_or_init(|| failure(error)).clone();
                Err(StorageError::Flush {
                    engine,
                    earlier: false,
                    source,
                })
            }
        }
    }

    /// Makes everything written so far durable: called before data leaves for a peer.
    pub(crate) async fn flush_written(
        &self,
        storage: &dyn StorageEngine,
    ) -> Result<(), StorageError> {
        self.make_durable(storage, self.written_so_far()).await
    }

    /// Has the background flusher flush everything written within `delay`, starting it on
    /// first use. It holds the storage, not the node, and ends when the node is gone.
    pub(crate) fn flush_later(self: &Arc<Self>, storage: &Arc<dyn StorageEngine>, delay: Duration) {
        if !self.flusher.started.load(Ordering::Acquire) {
            // A commit's future dropped as its runtime shuts down may end up here without one.
            if !crate::runtime::can_spawn() {
                tracing::warn!("no runtime to flush in: written commits wait for the next flush");
                return;
            }
            if !self.flusher.started.swap(true, Ordering::AcqRel) {
                crate::runtime::spawn(flusher(self.clone(), storage.clone(), delay));
            }
        }
        self.flusher.wake.notify_one();
    }

    /// Tells the flusher the node is gone: it flushes what is left, then ends.
    pub(crate) fn close(&self) {
        self.flusher.closed.store(true, Ordering::Release);
        self.flusher.wake.notify_one();
    }
}

/// The background flusher of one node: woken by a write that is not flushed, it waits
/// `delay` (so the writes of that time share the flush) and flushes everything written.
async fn flusher(commits: Arc<GroupCommit>, storage: Arc<dyn StorageEngine>, delay: Duration) {
    loop {
        commits.flusher.wake.notified().await;
        let closed = commits.flusher.closed.load(Ordering::Acquire);
        if !closed {
            crate::runtime::sleep(delay).await;
        }
        if let Err(error) = commits.flush_written(storage.as_ref()).await {
            // Every later commit of the node is refused with it (see above).
            tracing::error!(%error, "background flush failed");
        }
        if closed || commits.flusher.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

/// What a written commit waits for once it is published.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wait {
    /// Until it is durable ([`Durability::Flushed`] on a durable node).
    Durable,
    /// Nothing; the background flusher flushes it within the flush delay
    /// ([`Durability::Buffered`] on a durable node).
    Flusher,
    /// Nothing at all: an ephemeral node's cache, flushed only when an outbox entry must be
    /// durable (or when the engine flushes on its own). What it holds is on a durable peer
    /// or comes from one, and is read again from there if a crash loses it.
    Nothing,
}

impl From<Durability> for Wait {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Flushed => Wait::Durable,
            Durability::Buffered => Wait::Flusher,
        }
    }
}

/// How far a [`WrittenCommit`] has come.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Written, not yet published.
    Written,
    /// Published, waiting for its durability.
    Published,
    /// Done.
    Finished,
}

/// A commit written under the lock and not yet published and durable. Later commits publish
/// only after it, so it must finish: if its future is dropped, a task finishes it.
pub(crate) struct WrittenCommit {
    node: Node,
    number: u64,
    entities: Vec<Arc<Entity>>,
    wait: Wait,
    stage: Stage,
}

impl WrittenCommit {
    pub(crate) fn new(node: &Node, number: u64, entities: Vec<Arc<Entity>>, wait: Wait) -> Self {
        WrittenCommit {
            node: node.clone(),
            number,
            entities,
            wait,
            stage: Stage::Written,
        }
    }

    /// Publishes the commit locally in its turn, then waits for its durability.
    pub(crate) async fn finish(mut self) -> Result<(), StorageError> {
        self.run().await
    }

    async fn run(&mut self) -> Result<(), StorageError> {
        let inner = &self.node.inner;
        let commits = &inner.group_commit;
        if self.stage == Stage::Written {
            let mut published = commits.published.subscribe();
            // Fails only if the sender is gone, and it lives in the node `self` holds.
            let _ = published.wait_for(|last| *last + 1 >= self.number).await;
            self.node.notify(&self.entities).await;
            commits
                .published
                .send_modify(|last| *last = (*last).max(self.number));
            self.stage = Stage::Published;
        }
        let durable = match self.wait {
            Wait::Durable => {
                commits
                    .make_durable(inner.storage.as_ref(), self.number)
                    .await
            }
            Wait::Flusher => {
                self.node.flush_later();
                Ok(())
            }
            Wait::Nothing => Ok(()),
        };
        self.stage = Stage::Finished;
        durable
    }
}

impl Drop for WrittenCommit {
    fn drop(&mut self) {
        match self.stage {
            Stage::Finished => return,
            // Its caller is gone; the flusher makes it durable in time.
            Stage::Published => {
                self.stage = Stage::Finished;
                if self.wait != Wait::Nothing {
                    self.node.flush_later();
                }
                return;
            }
            Stage::Written => {}
        }
        let mut rest = WrittenCommit {
            node: self.node.clone(),
            number: self.number,
            entities: std::mem::take(&mut self.entities),
            wait: match self.wait {
                Wait::Nothing => Wait::Nothing,
                _ => Wait::Flusher,
            },
            stage: Stage::Written,
        };
        self.stage = Stage::Finished;
        match crate::runtime::can_spawn() {
            true => {
                crate::runtime::spawn(async move {
                    if let Err(error) = rest.run().await {
                        tracing::error!(%error, "a dropped commit could not be made durable");
                    }
                });
            }
            // No runtime left to publish in: at least let later commits go on.
            false => {
                rest.stage = Stage::Finished;
                rest.node
                    .inner
                    .group_commit
                    .published
                    .send_modify(|last| *last = (*last).max(rest.number));
            }
        }
    }
}
