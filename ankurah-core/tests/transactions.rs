//! Transactions are atomic: all of their changes become visible together or none does.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ankurah_core::model::{Mutable, View};
use ankurah_core::storage::{CommitBatch, MemoryStorage, StorageCollection, StorageEngine};
use ankurah_core::{
    CollectionId, EntityId, MutationError, Node, PermissiveAgent, PropertyError, RetrievalError,
    StorageError, SystemId, DEFAULT_CONTEXT,
};
use async_trait::async_trait;
use common::{album, stored_events, stored_state, Album, AlbumView, NoNickelback};

async fn node() -> (Node, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    node.system.create().await.unwrap();
    (node, storage)
}

async fn event_count(storage: &dyn StorageEngine, id: EntityId) -> usize {
    stored_events(storage, id).await.len()
}

#[tokio::test]
async fn many_entities_become_visible_together() {
    let (node, storage) = node().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            trx.create(&album(&format!("album {i}"), "a", 2000 + i))
                .await
                .unwrap()
                .id(),
        );
    }
    for id in &ids {
        assert!(matches!(
            ctx.get::<AlbumView>(*id).await,
            Err(RetrievalError::NotFound { .. })
        ));
    }
    trx.commit().await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let view = ctx.get::<AlbumView>(*id).await.unwrap();
        assert_eq!(view.name().unwrap(), format!("album {i}"));
        assert_eq!(view.year().unwrap(), 2000 + i as i32);
        assert_eq!(event_count(storage.as_ref(), *id).await, 1);
    }
}

#[tokio::test]
async fn edits_are_invisible_until_commit_and_dropped_transactions_vanish() {
    let (node, _) = node().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx
        .create(&album("Origin of Symmetry", "Muse", 2001))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();

    let trx = ctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    edit.year().set(&2002).unwrap();
    edit.name().insert(0, "The ").unwrap();
    assert_eq!(
        edit.year().get().unwrap(),
        2002,
        "the transaction sees its own write"
    );
    assert_eq!(view.year().unwrap(), 2001, "nobody else does");
    drop(trx);
    assert_eq!(view.year().unwrap(), 2001);
    assert_eq!(view.name().unwrap(), "Origin of Symmetry");

    let trx = ctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    edit.name().insert(0, "The ").unwrap();
    let handle = edit.year();
    handle.set(&2002).unwrap();
    trx.commit().await.unwrap();
    assert_eq!(view.year().unwrap(), 2002, "views are live");
    assert_eq!(view.name().unwrap(), "The Origin of Symmetry");
    assert!(
        matches!(handle.set(&1), Err(PropertyError::NotEditable(_))),
        "the transaction has ended"
    );
}

#[tokio::test]
async fn views_are_read_only() {
    let (node, _) = node().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx.create(&album("x", "y", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let handle: ankurah_core::LWW<i32> =
        ankurah_core::ActiveType::bind(view.entity().clone(), "year");
    assert!(matches!(handle.set(&5), Err(PropertyError::NotEditable(_))));
}

#[tokio::test]
async fn a_refused_change_stores_nothing_of_the_transaction() {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), NoNickelback);
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let ok = trx.create(&album("Fine", "Muse", 2001)).await.unwrap().id();
    let bad = trx
        .create(&album("Bad", "Nickelback", 2001))
        .await
        .unwrap()
        .id();
    assert!(matches!(
        trx.commit().await,
        Err(MutationError::AccessDenied(_))
    ));
    for id in [ok, bad] {
        assert!(ctx.get::<AlbumView>(id).await.is_err());
        assert_eq!(event_count(storage.as_ref(), id).await, 0);
    }
}

/// The real memory engine, group-committing, with switches that make commits or flushes
/// fail (fault injection).
#[derive(Debug, Default)]
struct Failing {
    inner: MemoryStorage,
    fail: AtomicBool,
    fail_flush: AtomicBool,
}

#[async_trait]
impl StorageEngine for Failing {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        self.inner.collection(id).await
    }
    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::engine("test", "disk full"));
        }
        self.inner.commit(batch).await
    }
    fn group_commit(&self) -> bool {
        true
    }
    async fn sync(&self) -> Result<(), StorageError> {
        match self.fail_flush.load(Ordering::SeqCst) {
            true => Err(StorageError::engine(
                "test",
                std::io::Error::other("device removed"),
            )),
            false => Ok(()),
        }
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
}

#[tokio::test]
async fn a_failed_storage_commit_changes_nothing() {
    let storage = Arc::new(Failing::default());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx
        .create(&album("Showbiz", "Muse", 1999))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let state_before = view.entity().to_state();

    storage.fail.store(true, Ordering::SeqCst);
    let trx = ctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&2020).unwrap();
    let created = trx
        .create(&album("Never", "Muse", 2020))
        .await
        .unwrap()
        .id();
    assert!(matches!(trx.commit().await, Err(MutationError::Storage(_))));
    assert_eq!(view.year().unwrap(), 1999);
    assert_eq!(view.entity().to_state(), state_before);
    assert!(ctx.get::<AlbumView>(created).await.is_err());
    assert_eq!(event_count(storage.as_ref(), id).await, 1);
    assert_eq!(stored_state(storage.as_ref(), id).await, state_before);
}

/// A flush that fails leaves writes of unknown durability: that commit and every later one
/// fail with [`StorageError::Flush`], carrying the engine and the flush's own error.
#[tokio::test]
async fn a_failed_flush_refuses_every_later_commit_with_its_cause() {
    let storage = Arc::new(Failing::default());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    trx.create(&album("Showbiz", "Muse", 1999)).await.unwrap();
    trx.commit().await.unwrap();

    storage.fail_flush.store(true, Ordering::SeqCst);
    let flush_error = |result: Result<(), MutationError>| match result {
        Err(MutationError::Storage(StorageError::Flush {
            engine,
            earlier,
            source,
        })) => {
            assert_eq!(engine, "test");
            let cause = source
                .downcast_ref::<std::io::Error>()
                .expect("the io error");
            assert_eq!(cause.to_string(), "device removed");
            earlier
        }
        other => panic!("expected a flush error, got {other:?}"),
    };
    let trx = ctx.begin();
    trx.create(&album("Absolution", "Muse", 2003))
        .await
        .unwrap();
    assert!(!flush_error(trx.commit().await), "the failed flush itself");

    // Flushes work again, but what the failed one wrote may be lost: the node stays stopped.
    storage.fail_flush.store(false, Ordering::SeqCst);
    let trx = ctx.begin();
    trx.create(&album("Drones", "Muse", 2015)).await.unwrap();
    let refused = trx.commit().await;
    let message = format!("{}", refused.as_ref().unwrap_err());
    assert!(flush_error(refused), "a refusal after it");
    assert!(
        message.contains("restart the node") && message.contains("device removed"),
        "{message}"
    );
}

#[tokio::test]
async fn deleted_entities_stay_deleted_and_refuse_edits() {
    let (node, storage) = node().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx.create(&album("Gone", "X", 1990)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    trx.delete(&view).unwrap();
    trx.commit().await.unwrap();
    assert!(view.entity().is_deleted());
    assert!(matches!(
        ctx.get::<AlbumView>(id).await,
        Err(RetrievalError::Deleted { .. })
    ));
    let trx = ctx.begin();
    assert!(matches!(
        trx.edit::<Album>(&view),
        Err(MutationError::Deleted { .. })
    ));
    assert_eq!(
        event_count(storage.as_ref(), id).await,
        2,
        "the tombstone is an event"
    );
}
