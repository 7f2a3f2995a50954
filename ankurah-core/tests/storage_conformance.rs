//! The storage conformance suite on the reference engine, `MemoryStorage`.
//!
//! The suite lives behind the `testing` feature; `cargo test --workspace` enables it (the
//! storage crates' dev-dependencies ask for it), `cargo test -p ankurah-core --features testing`
//! does so for this crate alone.
#![cfg(feature = "testing")]

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
