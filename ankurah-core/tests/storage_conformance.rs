//! The storage conformance suite on the reference engine, `MemoryStorage`.
//!
//! The suite lives behind the `testing` feature, which this crate's dev-dependency on itself
//! turns on for its tests.

use ankurah_core::storage::MemoryStorage;
use ankurah_core::testing::conformance;

#[tokio::test]
async fn memory_storage_conforms() {
    conformance::run_all(&MemoryStorage::new()).await;
}

#[tokio::test]
async fn memory_storage_keeps_an_outbox() {
    conformance::outbox(&MemoryStorage::new()).await;
}
