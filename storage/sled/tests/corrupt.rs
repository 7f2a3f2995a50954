//! Damaged databases: garbage under state, event, meta and index keys, a foreign format
//! version, unusable names. Every case must give a typed error, never a panic or a wrong
//! answer.

use std::path::Path;
use std::sync::Arc;

use ankurah_core::ankql::Selection;
use ankurah_core::event::Event;
use ankurah_core::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::testing::{edit, genesis};
use ankurah_core::{CollectionId, EntityId, StorageError};
use ankurah_storage_sled::{layout, open_database, SledStorage};

const COLLECTION: &str = "albums";

fn collection_id() -> CollectionId {
    CollectionId::from(COLLECTION)
}

/// Stores three entities with their events and an index on `year` at `path`, then closes.
async fn populate(path: &Path) -> Vec<(Event, StoredState)> {
    let made: Vec<_> = (0..3)
        .map(|i| genesis(COLLECTION, &[("year".to_owned(), (2000 + i).into())], false))
        .collect();
    let storage = SledStorage::open(path).expect("open");
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    storage.commit(batch).await.expect("commit");
    let albums = storage
        .collection(&collection_id())
        .await
        .expect("collection");
    assert_eq!(
        albums
            .fetch_states(&query("year > 0"))
            .await
            .expect("fetch")
            .len(),
        3
    );
    made
}

/// Edits the closed database at `path` with sled directly.
fn tamper(path: &Path, edit: impl FnOnce(&sled::Tree)) {
    let db = open_database(path).expect("open the raw database");
    edit(&db.open_tree(layout::TREE).expect("the data tree"));
    db.flush().expect("flush");
}

async fn reopen(path: &Path) -> (SledStorage, Arc<dyn StorageCollection>) {
    let storage = SledStorage::open(path).expect("reopen");
    let albums = storage
        .collection(&collection_id())
        .await
        .expect("collection");
    (storage, albums)
}

fn query(text: &str) -> Selection {
    text.parse().expect("a valid query")
}

fn assert_decode<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) {
    assert!(
        matches!(result, Err(StorageError::Decode(_))),
        "{what}: expected a decode error, got {result:?}"
    );
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
    let (_storage, albums) = reopen(dir.path()).await;
    assert_decode(albums.get_state(broken).await, "get_state");
    let intact = made[0].1.state.entity_id;
    assert_eq!(
        albums
            .get_state(intact)
            .await
            .expect("an intact state")
            .map(|s| s.entity_id),
        Some(intact)
    );
    for text in [
        "",
        "year > 0",
        "year = 2001",
        "ORDER BY year LIMIT 3",
        "artist = 'x'",
    ] {
        assert_decode(albums.fetch_states(&query(text)).await, text);
    }
    let replacement = genesis(COLLECTION, &[], false).1;
    let mut overwrite = replacement.clone();
    overwrite.state.entity_id = broken;
    assert_decode(
        albums.set_state(&overwrite).await,
        "set_state over a corrupt state (its index entries are unknown)",
    );
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
    let (_storage, albums) = reopen(dir.path()).await;
    assert_decode(
        albums.get_events(event.entity_id, &[event.id]).await,
        "get_events",
    );
    assert_decode(
        albums.dump_entity_events(event.entity_id).await,
        "dump_entity_events",
    );
    assert_eq!(
        albums
            .get_events(made[1].0.entity_id, &[made[1].0.id])
            .await
            .expect("an intact event"),
        vec![made[1].0.clone()]
    );
}

#[tokio::test]
async fn broken_index_entries_give_decode_errors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    let prefix = layout::index_prefix(&collection_id(), "year");
    tamper(dir.path(), |tree| {
        // In the number space (tag 02), above every number `year > 0` could match.
        tree.insert([&prefix[..], &[0x02, 0xFF]].concat(), &[][..])
            .expect("write");
    });
    let (_storage, albums) = reopen(dir.path()).await;
    assert_decode(
        albums.fetch_states(&query("year > 0")).await,
        "an index key too short for an id",
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    tamper(dir.path(), |tree| {
        let stranger = EntityId::from_bytes([1; 16]);
        let null = [0x08]; // the encoded NULL, which sorts last
        tree.insert([&prefix[..], &null, &stranger.to_bytes()].concat(), &[][..])
            .expect("write");
    });
    let (_storage, albums) = reopen(dir.path()).await;
    assert_decode(
        albums.fetch_states(&query("ORDER BY year LIMIT 10")).await,
        "an index entry without a state",
    );
}

/// An index build that a crash cut short leaves entries without a catalog key, which
/// nobody maintains after the restart. The next build removes them first, so an entry of a
/// value since changed does not survive into the new index.
#[tokio::test]
async fn entries_of_an_interrupted_build_are_cleared_by_the_next() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let made = populate(dir.path()).await;
    tamper(dir.path(), |tree| {
        tree.remove(layout::catalog_key(&collection_id(), "year"))
            .expect("write");
    });
    let (storage, albums) = reopen(dir.path()).await;
    let (event, state) = edit(&made[0].1, &[("year".to_owned(), 2010.into())]);
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
    let selection = query("year > 0 ORDER BY year");
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
    let (storage, _) = reopen(dir.path()).await;
    assert_decode(storage.system_id().await, "system_id");
}

#[tokio::test]
async fn another_format_version_is_refused_with_both_versions_and_a_fix() {
    let dir = tempfile::tempdir().expect("temporary directory");
    populate(dir.path()).await;
    let future = layout::FORMAT_VERSION + 1;
    tamper(dir.path(), |tree| {
        tree.insert(
            layout::meta_key(layout::META_FORMAT_VERSION),
            &future.to_be_bytes(),
        )
        .expect("write");
    });
    let error = SledStorage::open(dir.path()).expect_err("a newer format is refused");
    assert!(
        matches!(error, StorageError::FormatVersion { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&future.to_string())
            && message.contains(&layout::FORMAT_VERSION.to_string()),
        "{message}"
    );
    assert!(
        message.contains("ankurah-storage-sled release that wrote it"),
        "{message}"
    );

    tamper(dir.path(), |tree| {
        tree.insert(layout::meta_key(layout::META_FORMAT_VERSION), &b"?"[..])
            .expect("write");
    });
    assert!(
        matches!(
            SledStorage::open(dir.path()),
            Err(StorageError::FormatVersion { .. })
        ),
        "unreadable version"
    );

    tamper(dir.path(), |tree| {
        tree.remove(layout::meta_key(layout::META_FORMAT_VERSION))
            .expect("write");
    });
    assert!(
        matches!(
            SledStorage::open(dir.path()),
            Err(StorageError::FormatVersion { .. })
        ),
        "data without a version"
    );
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
    let albums = storage
        .collection(&collection_id())
        .await
        .expect("collection");
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
