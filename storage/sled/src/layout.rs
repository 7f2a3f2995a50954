//! The on-disk layout: every key and value [`SledStorage`](crate::SledStorage) writes, in one
//! place. Change anything here and bump [`FORMAT_VERSION`].
//!
//! # One tree
//!
//! Everything lives in the sled tree named [`TREE`] (`"ankurah"`); sled's default tree is
//! unused. Keys start with a one-byte *kind* tag, so the kinds are disjoint key ranges:
//!
//! | kind      | key                                                        | value                        |
//! |-----------|------------------------------------------------------------|------------------------------|
//! | meta      | `M` name                                                   | see below                    |
//! | catalog   | `C` collection `00` property                               | empty                        |
//! | state     | `S` collection `00` entity id                              | state record (below)         |
//! | event     | `E` collection `00` entity id event id                     | [`Event::encode`] bytes      |
//! | index     | `X` collection `00` property `00` encoded value entity id  | empty                        |
//! | outbox    | `O` event id                                               | [`Event::encode`] bytes      |
//! | journal   | `J`                                                        | the last write of several keys |
//!
//! - Ids are the 16 big-endian bytes of the ULID, so key order is id order: a scan of a
//!   collection's states yields them by entity id (the result order of a query without
//!   ORDER BY), and a scan of an entity's event keys yields its history in id (causal)
//!   order. Events are filed under their entity because they are always asked for with it
//!   (see `StorageCollection::get_events`): one key per event, no separate history list.
//! - Collection and property names are UTF-8 without NUL ([`validate_name`]), so the `00`
//!   separator makes every name prefix-free: collection `a` never sees the keys of `ab`.
//!   (Property names only enter keys as index names; a property named with NUL is simply
//!   never indexed, and queries on it scan.)
//! - Meta entries: `M format_version` holds [`FORMAT_VERSION`] as 4 big-endian bytes, written
//!   when the tree is created and checked on every open; `M system_id` holds the 16 bytes of
//!   the system id once one is set.
//! - A catalog key says that the index on (collection, property) exists and is complete: it
//!   is written once the index's entries are, and every write of a state maintains the
//!   entries of every catalogued property of its collection (and of an index being built).
//!   A build that a crash cut short leaves entries without a catalog key; the next build of
//!   that index removes them first.
//! - A state record is a [`Record`] (the core envelope of the entity state and its property
//!   values, so queries filter without loading property backends).
//! - The outbox holds the events an ephemeral node committed that no durable peer has
//!   acknowledged yet, by id, so a scan yields them in causal order.
//! - An index key is the index prefix followed by an index entry: the order-preserving,
//!   prefix-free encoding of the value ([`value_key`], shared with the other ordered engines)
//!   and the entity id, so an index walk yields ORDER BY order with ties by entity id. An
//!   index has one entry per **live** entity of the collection (deleted ones have none), NULL
//!   for an entity without the property, so walking an index visits every candidate.
//! - The journal key holds the last write of several keys, from before it is applied until
//!   the next write (see `journal.rs`): a store opened with one present applies it again
//!   first, completing it if a crash cut it short.
//!
//! # Why one tree
//!
//! A commit writes events, states and index entries of several collections. With everything
//! in one tree, one journal record makes them atomic, also across a crash. Multi-tree transactions would give the same
//! guarantee at the cost of closures that sled may retry and of opening a tree per collection.
//!
//! [`Event::encode`]: ankurah_core::event::Event::encode
//! [`Record`]: ankurah_core::storage::ordered::record::Record
//! [`value_key`]: ankurah_core::storage::ordered::value_key

use ankurah_core::error::{DecodeError, StorageError};
use ankurah_core::id::{EntityId, EventId};
use ankurah_core::CollectionId;

use crate::engine_error;

/// Version of this layout. Stored under `M format_version`; an engine refuses to open a tree
/// written with another version. Version 2 files events under their entity (version 1 kept
/// a separate history key per event). Version 3 has the index value encoding with dates,
/// times and durations, and Json scalars keyed as plain values.
pub const FORMAT_VERSION: u32 = 3;

/// The sled tree holding all of Ankurah's data.
pub const TREE: &str = "ankurah";

const META: u8 = b'M';
const CATALOG: u8 = b'C';
const STATE: u8 = b'S';
const EVENT: u8 = b'E';
const INDEX: u8 = b'X';
const OUTBOX: u8 = b'O';
const JOURNAL: u8 = b'J';

/// Ends a name inside a key.
const SEPARATOR: u8 = 0;

/// Meta entry holding [`FORMAT_VERSION`].
pub const META_FORMAT_VERSION: &str = "format_version";
/// Meta entry holding the system id.
pub const META_SYSTEM_ID: &str = "system_id";

/// Checks that a collection or property name can be part of a key.
pub fn validate_name(name: &str) -> Result<(), StorageError> {
    let reason = if name.is_empty() {
        "names must not be empty"
    } else if name.as_bytes().contains(&SEPARATOR) {
        "names must not contain NUL, the separator of sled storage keys"
    } else {
        return Ok(());
    };
    Err(StorageError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(tag);
    parts.iter().for_each(|part| key.extend_from_slice(part));
    key
}

fn named(collection: &CollectionId) -> [&[u8]; 2] {
    [collection.as_str().as_bytes(), &[SEPARATOR]]
}

/// `M name`
pub fn meta_key(name: &str) -> Vec<u8> {
    key(META, &[name.as_bytes()])
}

/// `C collection 00 property`
pub fn catalog_key(collection: &CollectionId, property: &str) -> Vec<u8> {
    key(CATALOG, &[&named(collection).concat(), property.as_bytes()])
}

/// The first byte of every catalog key.
pub(crate) fn catalog_prefix() -> [u8; 1] {
    [CATALOG]
}

/// Splits a catalog key into collection and property.
pub(crate) fn parse_catalog_key(key: &[u8]) -> Result<(CollectionId, String), DecodeError> {
    let malformed = |reason: &str| DecodeError::Malformed {
        what: "index catalog key",
        reason: reason.to_owned(),
    };
    let body = key
        .strip_prefix(&[CATALOG])
        .ok_or_else(|| malformed("wrong kind tag"))?;
    let split = body
        .iter()
        .position(|&b| b == SEPARATOR)
        .ok_or_else(|| malformed("no separator"))?;
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec()).map_err(|_| malformed("name is not UTF-8"))
    };
    Ok((
        CollectionId::from(text(&body[..split])?),
        text(&body[split + 1..])?,
    ))
}

/// `S collection 00`: the prefix of a collection's states.
pub fn state_prefix(collection: &CollectionId) -> Vec<u8> {
    key(STATE, &named(collection))
}

/// The keys of a collection's states after entity `after` (all of them when `None`), as a
/// range: what a paged walk over the collection reads.
pub fn states_after(
    collection: &CollectionId,
    after: Option<EntityId>,
) -> std::ops::Range<Vec<u8>> {
    let start = match after {
        // The smallest key above `after`'s: its key with one more byte.
        Some(id) => [state_key(collection, id), vec![0]].concat(),
        None => state_prefix(collection),
    };
    start..key(STATE, &[collection.as_str().as_bytes(), &[SEPARATOR + 1]])
}

/// The collections with a state or an event in `tree`, in name order: one seek per
/// collection, each skipping past every key of the one before.
pub(crate) fn collections(tree: &sled::Tree) -> Result<Vec<CollectionId>, StorageError> {
    let mut names = std::collections::BTreeSet::new();
    for tag in [STATE, EVENT] {
        let mut from = vec![tag];
        while let Some(item) = tree.range(from.clone()..).next() {
            let (found, _) = item.map_err(engine_error)?;
            let Some((&found_tag, body)) = found.split_first() else {
                break;
            };
            if found_tag != tag {
                break;
            }
            let name = body
                .iter()
                .position(|&b| b == SEPARATOR)
                .and_then(|end| std::str::from_utf8(&body[..end]).ok())
                .ok_or_else(|| DecodeError::Malformed {
                    what: "state or event key",
                    reason: "no UTF-8 collection name before a separator".to_owned(),
                })?;
            from = key(tag, &[name.as_bytes(), &[SEPARATOR + 1]]);
            names.insert(name.to_owned());
        }
    }
    Ok(names.into_iter().map(CollectionId::from).collect())
}

/// `S collection 00 entity id`
pub fn state_key(collection: &CollectionId, id: EntityId) -> Vec<u8> {
    key(STATE, &[&named(collection).concat(), &id.to_bytes()])
}

/// `E collection 00 entity id`: the prefix of an entity's events.
pub fn history_prefix(collection: &CollectionId, entity: EntityId) -> Vec<u8> {
    key(EVENT, &[&named(collection).concat(), &entity.to_bytes()])
}

/// `E collection 00 entity id event id`
pub fn event_key(collection: &CollectionId, entity: EntityId, event: EventId) -> Vec<u8> {
    key(
        EVENT,
        &[
            &named(collection).concat(),
            &entity.to_bytes(),
            &event.to_bytes(),
        ],
    )
}

/// `O event id`
pub fn outbox_key(id: EventId) -> Vec<u8> {
    key(OUTBOX, &[&id.to_bytes()])
}

/// `J`: the write being applied.
pub(crate) fn journal_key() -> [u8; 1] {
    [JOURNAL]
}

/// The first byte of every outbox key.
pub(crate) fn outbox_prefix() -> [u8; 1] {
    [OUTBOX]
}

/// `X collection 00 property 00`: the prefix of one index.
pub fn index_prefix(collection: &CollectionId, property: &str) -> Vec<u8> {
    key(
        INDEX,
        &[
            &named(collection).concat(),
            property.as_bytes(),
            &[SEPARATOR],
        ],
    )
}

/// Writes [`FORMAT_VERSION`] into a new tree, or checks the one an existing tree holds.
pub(crate) fn check_format_version(tree: &sled::Tree) -> Result<(), StorageError> {
    let key = meta_key(META_FORMAT_VERSION);
    let found = match tree.get(&key).map_err(engine_error)? {
        Some(bytes) => match <[u8; 4]>::try_from(bytes.as_ref()) {
            Ok(version) if u32::from_be_bytes(version) == FORMAT_VERSION => return Ok(()),
            Ok(version) => u32::from_be_bytes(version).to_string(),
            Err(_) => format!("unreadable ({} bytes instead of 4)", bytes.len()),
        },
        None if tree.is_empty() => {
            tree.insert(key, &FORMAT_VERSION.to_be_bytes())
                .map_err(engine_error)?;
            return Ok(());
        }
        None => "none (the tree holds data without a version)".to_owned(),
    };
    Err(StorageError::FormatVersion {
        found,
        expected: FORMAT_VERSION.to_string(),
        hint:
            "open this directory with the ankurah-storage-sled release that wrote it, \
               or move it aside and start from an empty directory (then resync from a durable peer)",
    })
}
