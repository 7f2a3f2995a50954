//! The on-disk layout: every table [`RedbStorage`](crate::RedbStorage) writes and what its
//! keys and values hold, in one place. Change anything here and bump [`FORMAT_VERSION`].
//!
//! # Tables
//!
//! | table                               | key                               | value                 |
//! |-------------------------------------|-----------------------------------|-----------------------|
//! | `meta`                              | entry name (bytes)                | see below             |
//! | `catalog`                           | an index table's name (bytes)     | [`Stage`] (`u8`)      |
//! | `outbox`                            | event id (`u128`)                 | [`Event::encode`]     |
//! | `states:` collection                | entity id (`u128`)                | [`Record`] bytes      |
//! | `events:` collection                | (entity id, event id) (`u128`s)   | [`Event::encode`]     |
//! | `index:` len `:` collection `:` property | index entry (bytes)          | nothing (`()`)        |
//!
//! - Ids are `u128`s read from the 16 bytes of the ULID as a big-endian number, so key order
//!   is id order: a scan of a collection's states yields them by entity id (the result order
//!   of a query without ORDER BY), and a range of an entity's event keys yields its history
//!   in id (causal) order. Events are filed under their entity because they are always asked
//!   for with it (see `StorageCollection::get_events`).
//! - A table per collection (and per index) keeps a collection's scan to its own B-tree and a
//!   commit's page writes to the collections it touches. Table names hold the collection name
//!   whole; an index table's name gives the collection's length in bytes first, so
//!   (collection, property) pairs never share a name and every name is allowed.
//! - Meta entries: `format_version` holds [`FORMAT_VERSION`] as 4 big-endian bytes, written
//!   when the database is created and checked on every open; `system_id` holds the 16 bytes
//!   of the system id once one is set.
//! - Keys and values of the shared tables are bytes or fixed-width integers, never `&str`:
//!   whatever bytes a damaged file holds, decoding them is this crate's job, with typed
//!   errors.
//! - An index entry is the shared order-preserving encoding of the property's value followed
//!   by the entity id ([`ankurah_core::storage::ordered::record`]); an index has one entry
//!   per live entity, NULL for those without the property.
//! - The catalog says which indexes exist. A [`Stage::Filling`] index is maintained by every
//!   write but not yet complete; a [`Stage::Ready`] one is also used by queries. A commit
//!   reads the catalog inside its write transaction and a query inside its read transaction,
//!   so both see the catalog of exactly the data they see.
//!
//! [`Event::encode`]: ankurah_core::event::Event::encode
//! [`Record`]: ankurah_core::storage::ordered::record::Record

use ankurah_core::error::{DecodeError, StorageError};
use ankurah_core::CollectionId;
use redb::{Database, ReadableTable, TableDefinition};

use crate::{engine_error, table_error};

/// Version of this layout. Stored under `format_version` in [`META`]; an engine refuses to
/// open a database written with another version. Version 2 has the index value encoding
/// with dates, times and durations, and Json scalars keyed as plain values.
pub const FORMAT_VERSION: u32 = 2;

/// Engine-wide entries, by name.
pub const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
/// Which indexes exist and whether they are complete: index table name → [`Stage`].
pub const CATALOG: TableDefinition<&[u8], u8> = TableDefinition::new("catalog");
/// Events committed on an ephemeral node and not yet acknowledged, by event id.
pub const OUTBOX: TableDefinition<u128, &[u8]> = TableDefinition::new("outbox");

/// Meta entry holding [`FORMAT_VERSION`].
pub const META_FORMAT_VERSION: &[u8] = b"format_version";
/// Meta entry holding the system id.
pub const META_SYSTEM_ID: &[u8] = b"system_id";

/// The states of one collection: entity id → [`Record`](ankurah_core::storage::ordered::record::Record).
pub type States<'a> = TableDefinition<'a, u128, &'static [u8]>;
/// The events of one collection: (entity id, event id) → encoded event.
pub type Events<'a> = TableDefinition<'a, (u128, u128), &'static [u8]>;
/// The entries of one index.
pub type Index<'a> = TableDefinition<'a, &'static [u8], ()>;

/// Name of the table of a collection's states.
pub fn states_table(collection: &CollectionId) -> String {
    format!("states:{collection}")
}

/// Name of the table of a collection's events.
pub fn events_table(collection: &CollectionId) -> String {
    format!("events:{collection}")
}

/// The collection a table of states or events belongs to, from the table's name.
pub fn table_collection(table: &str) -> Option<CollectionId> {
    let name = table
        .strip_prefix("states:")
        .or_else(|| table.strip_prefix("events:"))?;
    Some(CollectionId::from(name))
}

/// What every index table name of `collection` starts with.
pub fn index_table_prefix(collection: &CollectionId) -> String {
    format!("index:{}:{collection}:", collection.as_str().len())
}

/// Name of the table of the index on (collection, property); also its catalog key.
pub fn index_table(collection: &CollectionId, property: &str) -> String {
    index_table_prefix(collection) + property
}

/// An id as a key: its 16 bytes as a big-endian number, so key order is id order.
pub fn id_key(bytes: [u8; 16]) -> u128 {
    u128::from_be_bytes(bytes)
}

/// How far an index is built, as the catalog records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Being filled: writes maintain it, queries do not use it yet.
    Filling = 0,
    /// Complete: writes maintain it and queries use it.
    Ready = 1,
}

impl Stage {
    /// Reads a stored stage.
    pub fn decode(byte: u8) -> Result<Stage, DecodeError> {
        match byte {
            0 => Ok(Stage::Filling),
            1 => Ok(Stage::Ready),
            other => Err(DecodeError::Malformed {
                what: "index catalog entry",
                reason: format!("unknown stage {other}"),
            }),
        }
    }
}

/// The indexes of `collection` in a catalog, with their stages.
pub(crate) fn catalogued(
    catalog: &impl ReadableTable<&'static [u8], u8>,
    collection: &CollectionId,
) -> Result<Vec<(String, Stage)>, StorageError> {
    let prefix = index_table_prefix(collection);
    let mut indexes = Vec::new();
    for item in catalog.range(prefix.as_bytes()..).map_err(engine_error)? {
        let (key, stage) = item.map_err(engine_error)?;
        let Some(property) = key.value().strip_prefix(prefix.as_bytes()) else {
            break;
        };
        let property =
            String::from_utf8(property.to_vec()).map_err(|_| DecodeError::Malformed {
                what: "index catalog entry",
                reason: "property name is not UTF-8".to_owned(),
            })?;
        indexes.push((property, Stage::decode(stage.value())?));
    }
    Ok(indexes)
}

/// Writes [`FORMAT_VERSION`] into a new database, or checks the one an existing database
/// holds.
pub(crate) fn check_format_version(db: &Database) -> Result<(), StorageError> {
    let txn = db.begin_write().map_err(engine_error)?;
    let holds_tables = txn.list_tables().map_err(engine_error)?.next().is_some();
    let stored = {
        let meta = txn.open_table(META).map_err(table_error)?;
        let stored = meta.get(META_FORMAT_VERSION).map_err(engine_error)?;
        stored.map(|bytes| bytes.value().to_vec())
    };
    let found = match stored {
        Some(bytes) => match <[u8; 4]>::try_from(bytes.as_slice()) {
            Ok(version) if u32::from_be_bytes(version) == FORMAT_VERSION => return Ok(()),
            Ok(version) => u32::from_be_bytes(version).to_string(),
            Err(_) => format!("unreadable ({} bytes instead of 4)", bytes.len()),
        },
        None if !holds_tables => {
            {
                let mut meta = txn.open_table(META).map_err(table_error)?;
                meta.insert(META_FORMAT_VERSION, FORMAT_VERSION.to_be_bytes().as_slice())
                    .map_err(engine_error)?;
            }
            return txn.commit().map_err(engine_error);
        }
        None => "none (the database holds data without a version)".to_owned(),
    };
    Err(StorageError::FormatVersion {
        found,
        expected: FORMAT_VERSION.to_string(),
        hint: "open this database with the ankurah-storage-redb release that wrote it, \
               or move it aside and start from an empty file (then resync from a durable peer)",
    })
}
