//! # ankurah-storage-sled
//!
//! The embedded storage engine of Ankurah: a [`StorageEngine`](ankurah_core::storage::StorageEngine)
//! on [sled](https://docs.rs/sled), a pure-Rust embedded database. Use it for servers that keep
//! their data on local disk and for desktop or mobile clients that keep a cache across runs.
//!
//! ```
//! use std::sync::Arc;
//! use ankurah_core::{Node, PermissiveAgent};
//! use ankurah_storage_sled::SledStorage;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("data");
//! // A server: durable node whose data lives in `path` (created if needed).
//! let node = Node::new_durable(Arc::new(SledStorage::open(&path)?), PermissiveAgent::new());
//! let system = node.system.create().await?;
//! drop(node);
//!
//! // The next run finds the same system: everything a commit wrote was on disk.
//! let node = Node::new_durable(Arc::new(SledStorage::open(&path)?), PermissiveAgent::new());
//! assert_eq!(node.system.create().await?, system);
//!
//! // Tests: a database in a temporary directory, deleted on drop.
//! let scratch = SledStorage::new_test()?;
//! # drop(scratch);
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! 1. **Atomic commits.** The events and states of one transaction (`commit`), together with
//!    the index entries they change, are written all or nothing: after a crash, once the store
//!    is opened again, either all of them are there or none (the write is journaled under
//!    one key first and completed on open if a crash cut it short).
//! 2. **Durable on return, or after the next sync.** `commit`, `set_state`, `add_event` and
//!    `set_system_id` wait for sled to flush before they return; `write` (buffered commits,
//!    an ephemeral node's cache) and the outbox are on disk after the next `sync`, which
//!    flushes everything written before it. A crash loses a suffix of the unflushed writes,
//!    never part of one. A flush that fails is [`StorageError::Flush`]: what it covered
//!    may or may not survive a crash.
//! 3. **No panics on bad data.** Stored bytes that do not decode give
//!    [`StorageError::Decode`]; a directory written with
//!    another layout version is refused with
//!    [`StorageError::FormatVersion`] naming both
//!    versions; collection names that cannot be part of a key (empty, or containing NUL) give
//!    [`StorageError::InvalidName`].
//!
//! ## Queries and indexes
//!
//! Each entity is stored with its property values, so a query never loads property backends.
//! The first query that compares a property directly (`year > 1990`, `artist IN (..)`,
//! `name LIKE 'Ab%'`, `rating IS NULL`) or sorts by it first (`ORDER BY year`) creates an
//! index on that property of that collection; from then on every write keeps it current. An
//! index orders entities by value exactly as ORDER BY does (numbers of both types together,
//! strings by code point, NULL last), so the planner reads only the keys a predicate can
//! match, and for `ORDER BY .. LIMIT n` walks the index in order and stops after `n` matches.
//! Whatever the plan, each candidate is checked against the whole predicate and the results
//! are sorted by the full ORDER BY, so indexes change the speed of a query, never its answer:
//! it is always the answer of [`Selection::apply`](ankurah_core::ankql::Selection::apply)
//! over the live entities, as [`MemoryStorage`](ankurah_core::storage::MemoryStorage) gives.
//!
//! The on-disk layout, key by key, is documented in [`layout`].
//!
//! ## Concurrency
//!
//! Reads and unflushed writes run on the caller's thread, as on `MemoryStorage`: sled
//! answers them from its memory (a page it does not hold is read from the file, as a rule
//! from the OS's cache), and handing each call to a blocking thread cost more than the call
//! (with it, a commit took 2.7 to 3 times as long to reach 1,000 clients on sled). The engine never
//! makes a sled batch or transaction (see the journal in `journal.rs`), so its calls never
//! wait for sled's lock shared by all databases of the process, which a batch takes
//! exclusively behind running flushes; an application that makes sled batches of its own in
//! the same process brings that wait back. Flushes and index builds wait for the disk or
//! take long, so they run where blocking stalls no async worker: on a multi-thread Tokio
//! runtime the calling thread becomes a blocking one for the call, on a current-thread
//! runtime the call goes to a blocking thread. Flushes use sled's blocking `flush`: its
//! `flush_async` can hang with several databases in one process (sled issues 1241 and 1308).
//!
//! Each collection has its own lock: a commit holds the locks of the collections it writes,
//! a query holds its collection's shared, so neither waits for work on other collections.
//! The first query that needs an index builds it in steps of a thousand states, each
//! holding the collection's lock only for its step, while the writes in between keep the
//! entries of the entities they change current; queries use the index once it is complete.
//!
//! A store opened at a path runs sled's own background thread, which flushes and compacts
//! the log every half second. [`SledStorage::new_test`] runs without it, so that a process
//! with many temporary stores (the clients of a test) does not run a thread for each.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod collection;
mod engine;
mod index;
mod journal;
pub mod layout;

pub use engine::{open_database, SledStorage, LOCK_WAIT};

use std::sync::Arc;

use ankurah_core::StorageError;

/// The engine's name in its errors.
const ENGINE: &str = "sled";

/// A failed sled call, keeping sled's error.
fn engine_error(error: sled::Error) -> StorageError {
    StorageError::engine(ENGINE, error)
}

/// A failed flush: what it covered may or may not be on disk.
fn flush_error(error: sled::Error) -> StorageError {
    StorageError::Flush {
        engine: ENGINE,
        earlier: false,
        source: Arc::new(error),
    }
}
