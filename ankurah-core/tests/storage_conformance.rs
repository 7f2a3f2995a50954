//! The storage conformance suite on the reference engine, `MemoryStorage`, one test per
//! check.
//!
//! The suite lives behind the `testing` feature, which this crate's dev-dependency on itself
//! turns on for its tests.

use ankurah_core::storage::MemoryStorage;

ankurah_core::storage_conformance_tests!(MemoryStorage::new());
