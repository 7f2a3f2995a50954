//! The storage conformance suite of `ankurah-core` on `SledStorage`, one test per check, and
//! durability across closing and reopening a database directory.

use std::sync::Arc;

use ankurah_core::storage::StorageEngine;
use ankurah_core::testing::conformance;
use ankurah_storage_sled::SledStorage;

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            conformance::$check(&SledStorage::new_test().expect("a temporary database")).await;
        }
    )*};
}

conformance_tests!(
    states_round_trip,
    events,
    atomic_commit,
    deleted_entities,
    ankql_cases,
    ordering_and_limits,
    system_id_round_trip,
    names,
    outbox,
    nesting_depth,
);

#[tokio::test]
async fn run_all_on_one_engine() {
    conformance::run_all(&SledStorage::new_test().expect("a temporary database")).await;
}

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
