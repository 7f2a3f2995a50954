//! [`IndexedDbStorage`]: Ankurah's storage engine on the browser's IndexedDB.
//!
//! For browser clients (`wasm32-unknown-unknown`): an ephemeral node keeps its cache of
//! states, its events and its outbox in IndexedDB, so a page that reloads offline finds its
//! data again. Queries use order-preserving indexes kept as ordered key ranges of one object
//! store, with the planner and query execution that sled and redb share
//! ([`ankurah_core::storage::ordered`]); a commit is one IndexedDB transaction, durable when
//! it completes. [`layout`] documents every object store and key.
//!
//! ```ignore
//! let storage = ankurah_storage_indexeddb::IndexedDbStorage::open("my-app").await?;
//! let node = ankurah::Node::new(std::sync::Arc::new(storage), ankurah::PermissiveAgent::new());
//! ```
//!
//! Natively this crate is empty: IndexedDB exists only in the browser. Build and test it
//! with `scripts/wasm.sh`, which runs the storage conformance suite in headless Chromium.

#![cfg(target_arch = "wasm32")]

#[cfg(feature = "conformance")]
pub mod browser_tests;
mod collection;
#[cfg(feature = "conformance")]
pub mod conformance;
mod engine;
mod error;
mod idb;
pub mod layout;

pub use engine::IndexedDbStorage;
pub use error::IndexedDbError;
