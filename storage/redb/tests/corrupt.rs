//! Damaged databases: garbage in the state, event, meta, catalog and index tables, tables of
//! the wrong types, a foreign format version, a file that is not a database. Every case must
//! give a typed error, never a panic or a wrong answer.

use std::path::{Path, PathBuf};

use ankurah_core::event::Event;
use ankurah_core::storage::StoredState;
use ankurah_core::testing::damage::{self, assert_decode, collection_id, BadEntry, INDEXED};
use ankurah_storage_redb::{layout, RedbStorage};
use redb::{Database, TableDefinition, WriteTransaction};

/// A database file in a fresh directory, populated by [`damage::populate`] and closed.
async fn populated() -> (tempfile::TempDir, PathBuf, Vec<(Event, StoredState)>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ankurah.redb");
    let made = damage::populate(&RedbStorage::open(&path).expect("open")).await;
    (dir, path, made)
}

/// Edits the closed database at `path` with redb directly, in one transaction.
fn tamper(path: &Path, edit: impl FnOnce(&WriteTransaction)) {
    let db = Database::open(path).expect("open the raw database");
    let txn = db.begin_write().expect("write");
    edit(&txn);
    txn.commit().expect("commit");
}

fn insert<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &WriteTransaction,
    table: TableDefinition<'_, K, V>,
    key: K::SelfType<'_>,
    value: V::SelfType<'_>,
) {
    txn.open_table(table)
        .expect("open")
        .insert(key, value)
        .expect("write");
}

fn reopen(path: &Path) -> RedbStorage {
    RedbStorage::open(path).expect("reopen")
}

fn index_name() -> String {
    layout::index_table(&collection_id(), INDEXED)
}

fn states_name() -> String {
    layout::states_table(&collection_id())
}

#[tokio::test]
async fn garbage_state_gives_decode_errors() {
    let (_dir, path, made) = populated().await;
    let broken = layout::id_key(made[1].1.state.entity_id.to_bytes());
    tamper(&path, |txn| {
        let name = states_name();
        insert(txn, layout::States::new(&name), broken, b"\x01\xc1garbage");
    });
    damage::garbage_state(&reopen(&path), &made, 1).await;
}

#[tokio::test]
async fn garbage_event_gives_decode_errors() {
    let (_dir, path, made) = populated().await;
    let event = &made[0].0;
    let key = (
        layout::id_key(event.entity_id.to_bytes()),
        layout::id_key(event.id.to_bytes()),
    );
    tamper(&path, |txn| {
        let name = layout::events_table(&collection_id());
        insert(txn, layout::Events::new(&name), key, &[9u8, 9, 9]);
    });
    damage::garbage_event(&reopen(&path), &made, 0).await;
}

/// A populated database whose index on `year` also holds `entry`, reopened.
async fn with_index_entry(entry: &[u8]) -> (tempfile::TempDir, RedbStorage) {
    let (dir, path, _) = populated().await;
    tamper(&path, |txn| {
        let name = index_name();
        insert(txn, layout::Index::new(&name), entry, ());
    });
    (dir, reopen(&path))
}

#[tokio::test]
async fn broken_index_entries_give_decode_errors() {
    for entry in BadEntry::ALL {
        let (_dir, storage) = with_index_entry(&entry.bytes()).await;
        damage::bad_index_entry(&storage, entry).await;
    }
}

#[tokio::test]
async fn garbage_system_id_gives_a_decode_error() {
    let (_dir, path, _) = populated().await;
    tamper(&path, |txn| {
        insert(txn, layout::META, layout::META_SYSTEM_ID, b"short");
    });
    damage::garbage_system_id(&reopen(&path)).await;
}

#[tokio::test]
async fn garbage_in_the_catalog_gives_decode_errors() {
    let (_dir, path, made) = populated().await;
    tamper(&path, |txn| {
        insert(txn, layout::CATALOG, index_name().as_bytes(), 7);
    });
    let storage = reopen(&path);
    let albums = damage::albums(&storage).await;
    assert_decode(
        albums
            .fetch_states(&"year > 0".parse().expect("query"))
            .await,
        "a query reading an unknown stage",
    );
    assert_decode(
        albums.set_state(&made[0].1).await,
        "a write reading an unknown stage",
    );
    drop((albums, storage));

    let (_dir, path, _) = populated().await;
    tamper(&path, |txn| {
        let key = [
            layout::index_table_prefix(&collection_id()).as_bytes(),
            &[0xFF],
        ]
        .concat();
        insert(txn, layout::CATALOG, key.as_slice(), 1);
    });
    let albums = damage::albums(&reopen(&path)).await;
    assert_decode(
        albums.fetch_states(&"".parse().expect("query")).await,
        "a catalogued property name that is not UTF-8",
    );
}

#[tokio::test]
async fn tables_of_other_types_give_decode_errors() {
    let (_dir, path, made) = populated().await;
    tamper(&path, |txn| {
        let name = states_name();
        txn.delete_table(layout::States::new(&name))
            .expect("delete");
        let other: TableDefinition<&[u8], u64> = TableDefinition::new(&name);
        insert(txn, other, b"not an id".as_slice(), 1);
    });
    let storage = reopen(&path);
    let albums = damage::albums(&storage).await;
    assert_decode(
        albums.get_state(made[0].1.state.entity_id).await,
        "get_state",
    );
    assert_decode(
        albums
            .fetch_states(&"year > 0".parse().expect("query"))
            .await,
        "fetch_states",
    );
    assert_decode(albums.set_state(&made[0].1).await, "set_state");
}

#[tokio::test]
async fn another_format_version_is_refused_with_both_versions_and_a_fix() {
    let (_dir, path, _) = populated().await;
    let refused = |found| {
        let hint = "ankurah-storage-redb release that wrote it";
        damage::assert_format_version_refused(
            RedbStorage::open(&path),
            found,
            layout::FORMAT_VERSION,
            hint,
        );
    };
    let future = layout::FORMAT_VERSION + 1;
    let version = future.to_be_bytes();
    tamper(&path, |txn| {
        insert(txn, layout::META, layout::META_FORMAT_VERSION, &version);
    });
    refused(Some(future));
    tamper(&path, |txn| {
        insert(txn, layout::META, layout::META_FORMAT_VERSION, b"?");
    });
    refused(None);
    tamper(&path, |txn| {
        txn.open_table(layout::META)
            .expect("open")
            .remove(layout::META_FORMAT_VERSION)
            .expect("write");
    });
    refused(None);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ankurah.redb");
    std::fs::write(&path, vec![0xA5; 64 * 1024]).expect("write");
    let result = RedbStorage::open(&path);
    assert!(result.is_err(), "garbage opened as a database: {result:?}");
}
