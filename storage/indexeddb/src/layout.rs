//! The database layout: every object store [`IndexedDbStorage`](crate::IndexedDbStorage)
//! writes and what its keys and values hold, in one place. Change anything here and bump
//! [`FORMAT_VERSION`].
//!
//! # Object stores
//!
//! | store     | key                                          | value                   |
//! |-----------|----------------------------------------------|-------------------------|
//! | `meta`    | entry name (string)                          | bytes, see below        |
//! | `catalog` | `[collection, property]`                     | `1` (the index is complete) |
//! | `states`  | `[collection, entity id]`                    | [`Record`] bytes        |
//! | `events`  | `[collection, entity id, event id]`          | [`Event::encode`] bytes |
//! | `index`   | `[collection, property, index entry]`        | nothing (`0`)           |
//! | `outbox`  | event id                                     | [`Event::encode`] bytes |
//!
//! - Ids and entries are binary keys (`Uint8Array`), which IndexedDB compares byte by byte:
//!   the 16 bytes of a ULID sort in id order, so a key range over `[collection]` yields a
//!   collection's states by entity id, and one over `[collection, entity]` an entity's
//!   history in id (causal) order.
//! - An index entry is the shared order-preserving encoding of the property's value followed
//!   by the entity id ([`ankurah_core::storage::ordered::record`]), one per live entity (NULL
//!   for those without the property), so an equality or range query reads one key range.
//! - An index is built on first use, in one transaction that reads the collection's states,
//!   writes their entries and catalogs the index; from then on every commit maintains it in
//!   the commit's own transaction, so the catalog and the entries always agree.
//! - `meta` holds `system_id` (16 bytes) once a system is set. [`FORMAT_VERSION`] is the
//!   IndexedDB database version: opening a database of a newer version fails with the
//!   browser's `VersionError`.
//! - A key range over every key that starts with `[a, b]` runs from `[a, b]` to
//!   `[a, b, []]`: arrays sort after every string and binary key.
//!
//! [`Record`]: ankurah_core::storage::ordered::record::Record
//! [`Event::encode`]: ankurah_core::event::Event::encode

use ankurah_core::error::StorageError;
use ankurah_core::CollectionId;
use js_sys::Array;
use wasm_bindgen::JsValue;
use web_sys::IdbKeyRange;

use crate::error::js_error;
use crate::idb::bytes;

/// Version of this layout, and the IndexedDB version of the database.
pub const FORMAT_VERSION: u32 = 1;

/// Engine-wide entries, by name.
pub const META: &str = "meta";
/// The complete indexes.
pub const CATALOG: &str = "catalog";
/// Entity states by collection and entity.
pub const STATES: &str = "states";
/// Events by collection, entity and event.
pub const EVENTS: &str = "events";
/// Index entries by collection and property.
pub const INDEX: &str = "index";
/// Events committed on an ephemeral node and not yet acknowledged, by event id.
pub const OUTBOX: &str = "outbox";
/// Every store, created when the database is.
pub const STORES: [&str; 6] = [META, CATALOG, STATES, EVENTS, INDEX, OUTBOX];

/// Meta entry holding the system id.
pub const META_SYSTEM_ID: &str = "system_id";

/// A key of strings and byte strings.
pub enum Part<'a> {
    /// A string (collection, property).
    Text(&'a str),
    /// Bytes (ids, index entries).
    Bytes(&'a [u8]),
}

/// The array key of `parts`.
pub fn key(parts: &[Part<'_>]) -> JsValue {
    parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => JsValue::from_str(text),
            Part::Bytes(data) => bytes(data),
        })
        .collect::<Array>()
        .into()
}

/// The key of an entity's state.
pub fn state_key(collection: &CollectionId, entity: [u8; 16]) -> JsValue {
    key(&[Part::Text(collection.as_str()), Part::Bytes(&entity)])
}

/// The key of an event, filed under its entity.
pub fn event_key(collection: &CollectionId, entity: [u8; 16], event: [u8; 16]) -> JsValue {
    key(&[
        Part::Text(collection.as_str()),
        Part::Bytes(&entity),
        Part::Bytes(&event),
    ])
}

/// The key of an entry of the index on `property`.
pub fn index_key(collection: &CollectionId, property: &str, entry: &[u8]) -> JsValue {
    key(&[
        Part::Text(collection.as_str()),
        Part::Text(property),
        Part::Bytes(entry),
    ])
}

/// The key of a catalog entry.
pub fn catalog_key(collection: &CollectionId, property: &str) -> JsValue {
    key(&[Part::Text(collection.as_str()), Part::Text(property)])
}

/// Every key that starts with `prefix`.
pub fn starting_with(prefix: &[Part<'_>]) -> Result<IdbKeyRange, StorageError> {
    let lower = key(prefix);
    let upper = Array::from(&lower);
    upper.push(&Array::new());
    IdbKeyRange::bound(&lower, &upper).map_err(js_error("key range"))
}

/// The keys of a collection's states after entity `after` (all of them when `None`).
pub fn states_after(
    collection: &CollectionId,
    after: Option<[u8; 16]>,
) -> Result<IdbKeyRange, StorageError> {
    let name = Part::Text(collection.as_str());
    let upper = Array::from(&key(&[Part::Text(collection.as_str())]));
    upper.push(&Array::new());
    let (lower, open) = match &after {
        Some(id) => (key(&[name, Part::Bytes(id)]), true),
        None => (key(&[name]), false),
    };
    IdbKeyRange::bound_with_lower_open_and_upper_open(&lower, &upper, open, false)
        .map_err(js_error("states key range"))
}

/// The keys after every key that starts with `[collection]`: where the next collection's
/// keys begin.
pub fn after_collection(collection: &str) -> Result<IdbKeyRange, StorageError> {
    let bound = Array::from(&key(&[Part::Text(collection)]));
    bound.push(&Array::new());
    IdbKeyRange::lower_bound_with_open(&bound, true).map_err(js_error("key range"))
}

/// The keys of the index on `property` from entry `start` (included) to `end` (excluded).
pub fn index_range(
    collection: &CollectionId,
    property: &str,
    start: &[u8],
    end: &[u8],
) -> Result<IdbKeyRange, StorageError> {
    IdbKeyRange::bound_with_lower_open_and_upper_open(
        &index_key(collection, property, start),
        &index_key(collection, property, end),
        false,
        true,
    )
    .map_err(js_error("index key range"))
}
