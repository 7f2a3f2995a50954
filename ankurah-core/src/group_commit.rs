//! Group commit: concurrent commits share one flush.
//!
//! With an engine that [offers it](crate::storage::StorageEngine::group_commit), a commit is
//! written and made visible to later commits under the node's commit lock, numbered, and the
//! lock released; then it waits until it is durable and publishes (entity subscribers, live
//! queries, peers) in number order. Whoever finds no flush running flushes everything written
//! so far, so commits that arrived meanwhile are durable without flushing again. A commit
//! still returns only once it is durable, and nothing reaches another node before that (a
//! peer's read first makes everything written durable, see [`GroupCommit::flush_written`]).
//!
//! A flush that fails leaves writes of unknown durability behind; every later commit is then
//! refused, and the node must be restarted on its storage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{watch, Mutex};

use crate::entity::Entity;
use crate::error::StorageError;
use crate::node::Node;
use crate::storage::StorageEngine;

/// Where the commits of one node stand.
pub(crate) struct GroupCommit {
    /// Number of the last commit written (commits are numbered under the commit lock).
    written: AtomicU64,
    /// Number of the last commit known durable; held by the commit that is flushing.
    durable: Mutex<u64>,
    /// The same number, readable without waiting for a flush in progress.
    durable_now: AtomicU64,
    /// Number of the last commit published: commits publish in number order.
    published: watch::Sender<u64>,
    /// The failure of the first flush that failed: every later commit is refused with it.
    failed: OnceLock<Failure>,
}

/// The engine whose flush failed, and its error.
type Failure = (&'static str, Arc<dyn std::error::Error + Send + Sync>);

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            written: AtomicU64::new(0),
            durable: Mutex::new(0),
            durable_now: AtomicU64::new(0),
            published: watch::Sender::new(0),
            failed: OnceLock::new(),
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

    /// Makes commit `number` durable, with every commit written before the flush starts.
    async fn make_durable(
        &self,
        storage: &dyn StorageEngine,
        number: u64,
    ) -> Result<(), StorageError> {
        if self.durable_now.load(Ordering::Acquire) >= number {
            return Ok(());
        }
        let mut durable = self.durable.lock().await;
        if *durable >= number {
            return Ok(());
        }
        self.check()?;
        let target = self.written.load(Ordering::Acquire);
        match storage.sync().await {
            Ok(()) => {
                *durable = target;
                self.durable_now.store(target, Ordering::Release);
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
        let number = self.written.load(Ordering::Acquire);
        self.make_durable(storage, number).await
    }
}

/// A commit written under the lock and not yet durable and published. Later commits publish
/// only after it, so it must finish: if its future is dropped, a task finishes it.
pub(crate) struct WrittenCommit {
    node: Node,
    number: u64,
    entities: Vec<Arc<Entity>>,
    finished: bool,
}

impl WrittenCommit {
    pub(crate) fn new(node: &Node, number: u64, entities: Vec<Arc<Entity>>) -> Self {
        WrittenCommit {
            node: node.clone(),
            number,
            entities,
            finished: false,
        }
    }

    /// Waits until the commit is durable, then publishes it in its turn. A commit that could
    /// not be made durable is not published.
    pub(crate) async fn finish(mut self) -> Result<(), StorageError> {
        self.run().await
    }

    async fn run(&mut self) -> Result<(), StorageError> {
        let commits = &self.node.inner.group_commit;
        let durable = commits
            .make_durable(self.node.inner.storage.as_ref(), self.number)
            .await;
        let mut published = commits.published.subscribe();
        // Fails only if the sender is gone, and it lives in the node `self` holds.
        let _ = published.wait_for(|last| *last + 1 >= self.number).await;
        if durable.is_ok() {
            self.node.notify(&self.entities).await;
        }
        commits
            .published
            .send_modify(|last| *last = (*last).max(self.number));
        self.finished = true;
        durable
    }
}

impl Drop for WrittenCommit {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut rest = WrittenCommit {
            node: self.node.clone(),
            number: self.number,
            entities: std::mem::take(&mut self.entities),
            finished: false,
        };
        self.finished = true;
        match crate::runtime::can_spawn() {
            true => {
                crate::runtime::spawn(async move {
                    if let Err(error) = rest.run().await {
                        // Its caller is gone; the node refuses later commits (see above).
                        tracing::error!(%error, "a dropped commit could not be made durable");
                    }
                });
            }
            // No runtime left to publish in: at least let later commits go on.
            false => {
                rest.finished = true;
                rest.node
                    .inner
                    .group_commit
                    .published
                    .send_modify(|last| *last = (*last).max(rest.number));
            }
        }
    }
}
