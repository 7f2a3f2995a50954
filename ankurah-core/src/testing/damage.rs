//! Checks of how an engine answers when its stored bytes are damaged, shared by the engines
//! that store bytes: each engine tampers with its own files (it alone knows its layout), then
//! runs the check that names the damage. Every damaged read must give
//! [`StorageError::Decode`], never a panic or a wrong answer, and intact data stays readable.

use std::fmt::Debug;
use std::sync::Arc;

use super::genesis;
use crate::ankql::Selection;
use crate::collection::CollectionId;
use crate::error::StorageError;
use crate::event::Event;
use crate::id::EntityId;
use crate::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use crate::value::Value;

/// The collection [`populate`] writes.
pub const COLLECTION: &str = "albums";

/// The property [`populate`] indexes.
pub const INDEXED: &str = "year";

/// A damaged entry in the index on [`INDEXED`], each kind with a query that reads it.
#[derive(Clone, Copy, Debug)]
pub enum BadEntry {
    /// Too short to hold an entity id, in the number space of the encoded values (tag `02`)
    /// and above every number `year > 0` could match.
    Short,
    /// For an entity without a stored state: NULL (tag `08`, which sorts last), then an id
    /// nobody has.
    Orphan,
    /// Value bytes no encoding produces (a bool, tag `01`, of two bytes), then an id: answers
    /// from the index alone, which read the values, fail.
    Undecodable,
}

impl BadEntry {
    /// Every kind.
    pub const ALL: [BadEntry; 3] = [BadEntry::Short, BadEntry::Orphan, BadEntry::Undecodable];

    /// The entry's bytes, as an engine's index holds entries (without any key prefix).
    pub fn bytes(self) -> Vec<u8> {
        let stranger = EntityId::from_bytes([1; 16]).to_bytes();
        match self {
            BadEntry::Short => vec![0x02, 0xFF],
            BadEntry::Orphan => [&[0x08][..], &stranger].concat(),
            BadEntry::Undecodable => [&[0x01, 0x05, 0x06][..], &stranger].concat(),
        }
    }
}

/// The id of [`COLLECTION`].
pub fn collection_id() -> CollectionId {
    CollectionId::from(COLLECTION)
}

/// The handle on [`COLLECTION`].
pub async fn albums(engine: &dyn StorageEngine) -> Arc<dyn StorageCollection> {
    engine
        .collection(&collection_id())
        .await
        .expect("collection")
}

/// Stores three entities with their events and builds an index on [`INDEXED`].
pub async fn populate(engine: &dyn StorageEngine) -> Vec<(Event, StoredState)> {
    let made: Vec<_> = (0..3)
        .map(|i| {
            genesis(
                COLLECTION,
                &[(INDEXED.to_owned(), Value::I64(2000 + i))],
                false,
            )
        })
        .collect();
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    engine.commit(batch).await.expect("commit");
    let albums = albums(engine).await;
    let found = albums
        .fetch_states(&query("year > 0"))
        .await
        .expect("fetch");
    assert_eq!(found.len(), 3, "the populated entities");
    made
}

fn query(text: &str) -> Selection {
    text.parse().expect("a valid query")
}

/// Asserts that `result` is a [`StorageError::Decode`].
pub fn assert_decode<T: Debug>(result: Result<T, StorageError>, what: &str) {
    assert!(
        matches!(result, Err(StorageError::Decode(_))),
        "{what}: expected a decode error, got {result:?}"
    );
}

/// The state of `made[broken]` is garbage: reading it, any query over it and overwriting it
/// (its index entries are unknown) fail; other states read as before.
pub async fn garbage_state(
    engine: &dyn StorageEngine,
    made: &[(Event, StoredState)],
    broken: usize,
) {
    let albums = albums(engine).await;
    let broken_id = made[broken].1.state.entity_id;
    assert_decode(albums.get_state(broken_id).await, "get_state");
    let intact = made[(broken + 1) % made.len()].1.state.entity_id;
    assert_eq!(
        albums
            .get_state(intact)
            .await
            .expect("an intact state")
            .map(|s| s.entity_id),
        Some(intact)
    );
    for text in [
        "",
        "year > 0",
        "year = 2001",
        "ORDER BY year LIMIT 3",
        "artist = 'x'",
    ] {
        assert_decode(albums.fetch_states(&query(text)).await, text);
    }
    let mut overwrite = genesis(COLLECTION, &[], false).1;
    overwrite.state.entity_id = broken_id;
    assert_decode(
        albums.set_state(&overwrite).await,
        "set_state over a corrupt state (its index entries are unknown)",
    );
}

/// The event `made[broken].0` is garbage: reading it fails, other events read as before.
pub async fn garbage_event(
    engine: &dyn StorageEngine,
    made: &[(Event, StoredState)],
    broken: usize,
) {
    let albums = albums(engine).await;
    let event = &made[broken].0;
    assert_decode(
        albums.get_events(event.entity_id, &[event.id]).await,
        "get_events",
    );
    assert_decode(
        albums.dump_entity_events(event.entity_id).await,
        "dump_entity_events",
    );
    let intact = &made[(broken + 1) % made.len()].0;
    assert_eq!(
        albums
            .get_events(intact.entity_id, &[intact.id])
            .await
            .expect("an intact event"),
        vec![intact.clone()]
    );
}

/// The index on [`INDEXED`] holds `entry`: the query that reads it fails.
pub async fn bad_index_entry(engine: &dyn StorageEngine, entry: BadEntry) {
    let albums = albums(engine).await;
    let result = match entry {
        BadEntry::Short => albums.fetch_states(&query("year > 0")).await.map(drop),
        BadEntry::Orphan => albums
            .fetch_states(&query("ORDER BY year LIMIT 10"))
            .await
            .map(drop),
        BadEntry::Undecodable => albums.fetch_ids(&query("year IS NOT NULL")).await.map(drop),
    };
    assert_decode(result, &format!("{entry:?} index entry"));
}

/// Asserts that opening storage failed with [`StorageError::FormatVersion`] naming the
/// version `found` (when it was readable), this build's version `expected`, and `hint`.
pub fn assert_format_version_refused<T: Debug>(
    result: Result<T, StorageError>,
    found: Option<u32>,
    expected: u32,
    hint: &str,
) {
    let error = match result {
        Err(error @ StorageError::FormatVersion { .. }) => error,
        other => panic!("expected a format version error, got {other:?}"),
    };
    let message = error.to_string();
    assert!(message.contains(&expected.to_string()), "{message}");
    assert!(
        found.is_none_or(|found| message.contains(&found.to_string())),
        "{message}"
    );
    assert!(message.contains(hint), "{message}");
}

/// The stored system id is garbage.
pub async fn garbage_system_id(engine: &dyn StorageEngine) {
    assert_decode(engine.system_id().await, "system_id");
}
