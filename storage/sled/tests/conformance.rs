//! The storage conformance suite of `ankurah-core` on `SledStorage`, one test per check, and
//! durability across closing and reopening a database directory.

use std::sync::Arc;

use ankurah_core::storage::StorageEngine;
use ankurah_core::testing::conformance;
use ankurah_storage_sled::SledStorage;

ankurah_core::storage_conformance_tests!(SledStorage::new_test().expect("a temporary database"));

#[tokio::test]
async fn reopen_durability() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("db");
    conformance::reopen_durability(|| {
        let storage = SledStorage::open(&path).expect("the database opens");
        async move { Arc::new(storage) as Arc<dyn StorageEngine> }
    })
    .await;
}
