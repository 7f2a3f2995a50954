//! # ankurah-storage-redb
//!
//! An embedded storage engine for Ankurah on [redb](https://docs.rs/redb), a maintained
//! pure-Rust embedded database with ACID transactions: a
//! [`StorageEngine`](ankurah_core::storage::StorageEngine) for servers that keep their data on
//! local disk and for desktop or mobile clients that keep a cache across runs. The database
//! is one file.
//!
//! ```
//! use std::sync::Arc;
//! use ankurah_core::{Node, PermissiveAgent};
//! use ankurah_storage_redb::RedbStorage;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("data.redb");
//! // A server: durable node whose data lives in the file `path` (created if needed).
//! let node = Node::new_durable(Arc::new(RedbStorage::open(&path)?), PermissiveAgent::new());
//! let system = node.system.create().await?;
//! drop(node);
//!
//! // The next run finds the same system: everything a commit wrote was on disk.
//! let node = Node::new_durable(Arc::new(RedbStorage::open(&path)?), PermissiveAgent::new());
//! assert_eq!(node.system.create().await?, system);
//!
//! // Tests: a database in a temporary directory, deleted on drop.
//! let scratch = RedbStorage::new_test()?;
//! # drop(scratch);
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! 1. **Atomic commits.** The events and states of one transaction (`commit`), together with
//!    the index entries they change, are one redb write transaction: after a crash, either
//!    all of them are there or none.
//! 2. **Durable on return, or after the next sync.** `commit`, `set_state`, `add_event` and
//!    `set_system_id` commit with `Durability::Immediate`: on disk when they return. `write`
//!    (buffered commits, an ephemeral node's cache) and the outbox commit with
//!    `Durability::None` and are on disk after the next `sync`, a durable commit; a crash
//!    loses a suffix of them, never part of one. A commit that fails is [`StorageError::Flush`]: it may or may not survive a
//!    crash.
//! 3. **No panics on bad data.** Stored bytes that do not decode, and tables whose key or
//!    value types are not those of [`layout`], give [`StorageError::Decode`]; a database
//!    written with another layout version is refused with [`StorageError::FormatVersion`]
//!    naming both versions. Every collection and property name is accepted.
//! 4. **Off the async workers.** redb's calls block, so every call runs where blocking
//!    stalls no async worker ([`ankurah_core::storage::blocking`]: on a multi-thread runtime
//!    the calling thread becomes a blocking one for the call, on a current-thread runtime the
//!    call goes to a blocking thread).
//! 5. **Bounded nesting.** States and query values nested deeper than
//!    [`Limits::DEPTH_CEILING`](ankurah_core::Limits::DEPTH_CEILING) are refused with
//!    [`StorageError::LimitExceeded`] before anything encodes them.
//!
//! ## Queries and indexes
//!
//! Each entity is stored with its property values, so a query never loads property backends.
//! The first query that compares a property directly (`year > 1990`, `artist IN (..)`,
//! `name LIKE 'Ab%'`, `rating IS NULL`) or sorts by it first (`ORDER BY year`) creates an
//! index on that property of that collection; from then on every write keeps it current. An
//! index orders entities by value exactly as ORDER BY does (numbers of both types together,
//! strings by code point, NULL last), so a query reads only the entries a predicate can
//! match, and for `ORDER BY .. LIMIT n` walks the index in order and stops after `n` matches.
//! Planning and execution are shared with the sled engine
//! ([`ankurah_core::storage::ordered`]): whatever the plan, the answer is that of
//! [`Selection::apply`](ankurah_core::ankql::Selection::apply) over the live entities, as
//! [`MemoryStorage`](ankurah_core::storage::MemoryStorage) gives.
//!
//! A query runs in one read transaction, a consistent snapshot that takes no lock: it sees
//! whole commits only, and writers never wait for it. An index is built in steps of a
//! thousand states, each its own write transaction, so commits (which keep a half-built
//! index current too) go on between steps; queries use the index once it is complete.
//!
//! The on-disk layout, table by table, is documented in [`layout`].

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod collection;
mod engine;
pub mod layout;

pub use engine::RedbStorage;

use std::sync::Arc;

use ankurah_core::{DecodeError, StorageError};
use redb::TableError;

/// The engine's name in its errors.
const ENGINE: &str = "redb";

/// A failed call of redb (or of the file system under it), keeping its error.
fn engine_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::engine(ENGINE, error)
}

/// A commit that failed: redb may have failed while making it durable, so whether it
/// survives a crash is unknown.
fn flush_error(error: redb::CommitError) -> StorageError {
    StorageError::Flush {
        engine: ENGINE,
        earlier: false,
        source: Arc::new(error),
    }
}

/// A table that could not be opened. One that exists with other key or value types than
/// [`layout`] gives it holds data this build cannot read: a decode error, like other bytes
/// that do not decode.
fn table_error(error: TableError) -> StorageError {
    match error {
        TableError::TableTypeMismatch { .. }
        | TableError::TableIsMultimap(_)
        | TableError::TableIsNotMultimap(_)
        | TableError::TypeDefinitionChanged { .. } => DecodeError::Malformed {
            what: "redb table",
            reason: error.to_string(),
        }
        .into(),
        error => engine_error(error),
    }
}
