//! The storage conformance suite of `ankurah-core` on `RedbStorage`, one test per check, and
//! durability across closing and reopening a database file.

use std::sync::Arc;

use ankurah_core::storage::StorageEngine;
use ankurah_core::testing::conformance;
use ankurah_storage_redb::RedbStorage;

ankurah_core::storage_conformance_tests!(RedbStorage::new_test().expect("a temporary database"));

#[tokio::test]
async fn reopen_durability() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("nested").join("ankurah.redb");
    conformance::reopen_durability(|| {
        let storage = RedbStorage::open(&path).expect("the database opens");
        async move { Arc::new(storage) as Arc<dyn StorageEngine> }
    })
    .await;
}
