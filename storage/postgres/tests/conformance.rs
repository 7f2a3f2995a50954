//! The core's storage conformance suite, unchanged, against Postgres: one test per check, each
//! in a schema of its own.

mod common;

use std::sync::Arc;

use ankurah_core::storage::StorageEngine;
use ankurah_core::testing::conformance;
use common::Scratch;

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let Some(scratch) = Scratch::new(stringify!($check)) else { return };
            conformance::$check(&scratch.open().await).await;
        }
    )*};
}

conformance_tests!(
    states_round_trip,
    events,
    atomic_commit,
    deleted_entities,
    scans,
    ankql_cases,
    property_types,
    ordering_and_limits,
    system_id_round_trip,
    names,
    nesting_depth,
    buffered_writes,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_durability() {
    let Some(scratch) = Scratch::new("reopen_durability") else {
        return;
    };
    conformance::reopen_durability(|| async {
        Arc::new(scratch.open().await) as Arc<dyn StorageEngine>
    })
    .await;
}
