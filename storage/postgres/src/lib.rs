//! # ankurah-storage-postgres
//!
//! [`PostgresStorage`], the production storage engine of Ankurah: a durable node's entities,
//! their states and their full event history in PostgreSQL, with AnkQL queries running as SQL.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use ankurah_core::{Node, PermissiveAgent};
//! use ankurah_storage_postgres::PostgresStorage;
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = PostgresStorage::open("postgres://postgres@127.0.0.1:5432/app").await?;
//! let server = Node::new_durable(Arc::new(storage), PermissiveAgent::new());
//! server.system.create().await?;
//! # Ok(()) }
//! ```
//!
//! ## What is stored where
//!
//! One table per collection holds each entity's encoded state and head, plus one column per
//! property in its native SQL type (`"year:int" bigint`, `"name:text" text`, ...), so that
//! queries and indexes work on plain columns; a second table per collection holds the events.
//! [`layout`] describes every table, column and naming rule. Tables and columns appear as
//! collections and properties are first written; nothing needs migrating by hand.
//!
//! ## Queries
//!
//! `fetch_states` turns a [`Selection`](ankurah_core::ankql::Selection) into one `SELECT`
//! whose values are all bound parameters and whose identifiers are all quoted, so no
//! property name, collection name or value can change the statement. The SQL reproduces the
//! evaluator's rules exactly (numbers across integer and float columns, `year > '2000'`,
//! code-point string order, LIKE with `\` escapes, three-valued NULL logic, NULLs last); for
//! the few comparisons SQL cannot decide exactly (a text compared with a number, say), it
//! selects a superset and the engine re-checks those rows with the core evaluator before
//! ordering and limiting them. [`sql`] explains how. The first query filtering or sorting
//! on a property creates an index on its column.
//!
//! ## Commits and concurrent servers
//!
//! `commit` writes a transaction's events and states in one SQL transaction. Several server
//! processes may share one database: their commits lock the rows they write, and when a
//! commit finds that another process changed an entity since this one read it, it stores
//! the join of both states, so no event's effect is lost. [`merge`] tells how.
//!
//! ## Errors
//!
//! What the server or the driver reports is a [`StorageError::Engine`] keeping the driver's
//! error, with the server's SQLSTATE in [`StorageError::code`]. A data commit whose COMMIT
//! got no answer (the connection broke) may or may not have happened: that is a
//! [`StorageError::Flush`].
//!
//! [`StorageError::Engine`]: ankurah_core::StorageError::Engine
//! [`StorageError::code`]: ankurah_core::StorageError::code
//! [`StorageError::Flush`]: ankurah_core::StorageError::Flush
//!
//! ## Testing
//!
//! The tests of this crate need a server: they read `ANKURAH_POSTGRES_URL` and print why
//! they skip when it is unset, except in CI (`CI` set), where an unset URL fails them. Each test opens its own schema with
//! [`PostgresStorage::open_in_schema`] and drops it, so tests run in parallel and leave
//! nothing behind.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod collection;
mod engine;
pub mod layout;
pub mod merge;
pub mod sql;
mod types;

pub use engine::PostgresStorage;
