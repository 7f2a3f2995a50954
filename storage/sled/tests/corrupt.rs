//! Damaged databases: garbage under state, event, meta and index keys, a foreign format
//! version, unusable names. Every case must give a typed error, never a panic or a wrong
//! answer.

use std::path::Path;

use ankurah_core::event::Event;
use ankurah_core::storage::{CommitBatch, StorageEngine, StoredState};
use ankurah_core::testing::damage::{self, collection_id, BadEntry, COLLECTION, INDEXED};
use ankurah_core::testing::{edit, genesis};
use ankurah_core::{CollectionId, EntityId, StorageError};
use ankurah_storage_sled::{layout, open_database, SledStorage};

/// Edits the closed database at `path` with sled directly.
fn tamper(path: &Path, edit: impl FnOnce(&sled::Tree)) {
    let db = open_database(path).expect("open the raw database");
    edit(&db.open_tree(layout::TREE).expect("the data tree"));
    db.flush().expect("flush");
}

fn reopen(path: &Path) -> SledStorage {
    SledStorage::open(path).expect("reopen")
}

async fn populate(path: &Path) -> Vec<(Event, StoredState)> {
    damage::populate(&SledStorage::open(path).expect("open")).await
}

#[tokio::test]
async fn garbage_state_gives_decode_errors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let made = populate(dir.path()).await;
    let broken = made[1].1.state.entity_id;
    tamper(dir.path(), |tree| {
        tree.insert(
            layout::state_key(&collection_id(), broken),
            &b"\x01\xc1garbage"[..],
        )
        .expect("write");
    });
    damage::garbage_state(&reopen(dir.path()), &made, 1).await;
}

#[tokio::test]
async fn garbage_event_gives_decode_errors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let made = populate(dir.path()).await;
    let (event, _) = &made[0];
    tamper(dir.path(), |tree| {
        tree.insert(
            layout::event_key(&collection_id(), event.entity_id, event.id),
            &[9u8, 9, 9][..],
        )
        .expect("write");
    });
    damage::garbage_event(&reopen(dir.path()), &made, 0).await;
}

/// A populated database whose index on `year` also holds `entry`, reopened.
async fn with_index_entry(entry: &[u8]) -> (tempfile::TempDir, SledStorage) {
    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    let prefix = layout::index_prefix(&collection_id(), INDEXED);
    tamper(dir.path(), |tree| {
        tree.insert([&prefix[..], entry].concat(), &[][..])
            .expect("write");
    });
    let storage = reopen(dir.path());
    (dir, storage)
}

#[tokio::test]
async fn broken_index_entries_give_decode_errors() {
    for entry in BadEntry::ALL {
        let (_dir, storage) = with_index_entry(&entry.bytes()).await;
        damage::bad_index_entry(&storage, entry).await;
    }
}

/// An index build that a crash cut short leaves entries without a catalog key, which
/// nobody maintains after the restart. The next build removes them first, so an entry of a
/// value since changed does not survive into the new index.
#[tokio::test]
async fn entries_of_an_interrupted_build_are_cleared_by_the_next() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let made = populate(dir.path()).await;
    tamper(dir.path(), |tree| {
        tree.remove(layout::catalog_key(&collection_id(), INDEXED))
            .expect("write");
    });
    let storage = reopen(dir.path());
    let albums = damage::albums(&storage).await;
    let (event, state) = edit(&made[0].1, &[(INDEXED.to_owned(), 2010.into())]);
    storage
        .commit(CommitBatch {
            events: vec![event],
            states: vec![state],
        })
        .await
        .expect("an edit the leftover entries miss");
    let ids: Vec<EntityId> = [1, 2, 0]
        .iter()
        .map(|&i| made[i].1.state.entity_id)
        .collect();
    let selection = "year > 0 ORDER BY year".parse().expect("a query");
    assert_eq!(
        albums.fetch_ids(&selection).await.expect("ids"),
        Some(ids.clone()),
        "from the rebuilt index"
    );
    let states = albums.fetch_states(&selection).await.expect("states");
    assert_eq!(states.iter().map(|s| s.entity_id).collect::<Vec<_>>(), ids);
}

/// A directory that stays in use is refused once the wait for its lock is over, with sled's
/// error kept.
#[tokio::test]
async fn a_directory_in_use_is_refused_after_the_lock_wait() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let _holder = SledStorage::open(dir.path()).expect("open");
    match SledStorage::open(dir.path()) {
        Err(error @ StorageError::Engine { engine: "sled", .. }) => {
            let source = std::error::Error::source(&error).expect("sled's error");
            assert!(source.is::<sled::Error>(), "{source:?}");
            assert!(error.to_string().contains("lock"), "{error}");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_system_id_gives_a_decode_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    tamper(dir.path(), |tree| {
        tree.insert(layout::meta_key(layout::META_SYSTEM_ID), &b"short"[..])
            .expect("write");
    });
    damage::garbage_system_id(&reopen(dir.path())).await;
}

#[tokio::test]
async fn another_format_version_is_refused_with_both_versions_and_a_fix() {
    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    let refused = |found| {
        let hint = "ankurah-storage-sled release that wrote it";
        damage::assert_format_version_refused(
            SledStorage::open(dir.path()),
            found,
            layout::FORMAT_VERSION,
            hint,
        );
    };
    let key = layout::meta_key(layout::META_FORMAT_VERSION);
    let future = layout::FORMAT_VERSION + 1;
    tamper(dir.path(), |tree| {
        tree.insert(&key, &future.to_be_bytes()).expect("write");
    });
    refused(Some(future));
    tamper(dir.path(), |tree| {
        tree.insert(&key, &b"?"[..]).expect("write");
    });
    refused(None);
    tamper(dir.path(), |tree| {
        tree.remove(&key).expect("write");
    });
    refused(None);
}

#[tokio::test]
async fn names_that_cannot_be_keys_are_refused_without_writing() {
    let storage = SledStorage::new_test().expect("temporary database");
    for name in ["", "nul\0inside"] {
        let error = storage.collection(&CollectionId::from(name)).await.err();
        assert!(
            matches!(error, Some(StorageError::InvalidName { .. })),
            "{name:?}: {error:?}"
        );
    }
    let good = genesis(COLLECTION, &[], false);
    let bad = genesis("nul\0inside", &[], false);
    let batch = CommitBatch {
        events: vec![good.0.clone(), bad.0],
        states: vec![good.1.clone(), bad.1],
    };
    assert!(matches!(
        storage.commit(batch).await,
        Err(StorageError::InvalidName { .. })
    ));
    let albums = damage::albums(&storage).await;
    assert_eq!(
        albums
            .get_state(good.1.state.entity_id)
            .await
            .expect("get_state"),
        None,
        "nothing of the batch was written"
    );
    assert_eq!(
        albums
            .get_events(good.0.entity_id, &[good.0.id])
            .await
            .expect("get_events"),
        vec![]
    );
}
