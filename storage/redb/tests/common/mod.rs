//! What the tests read from a closed database file directly.

use std::path::Path;

use ankurah_core::id::EntityId;
use ankurah_core::storage::ordered::record::split_entry;
use ankurah_core::CollectionId;
use ankurah_storage_redb::layout::{self, Stage};
use redb::{Database, ReadableTable};

/// The catalogued stage of the index on (collection, property) of the closed database at
/// `path`, and the entity ids of its entries in entry order.
pub fn index_entries(
    path: &Path,
    collection: &CollectionId,
    property: &str,
) -> (Option<Stage>, Vec<EntityId>) {
    let db = Database::open(path).expect("open the raw database");
    let txn = db.begin_read().expect("read");
    let name = layout::index_table(collection, property);
    let stage = txn
        .open_table(layout::CATALOG)
        .expect("the catalog")
        .get(name.as_bytes())
        .expect("read")
        .map(|stage| Stage::decode(stage.value()).expect("a stage"));
    let entries = txn
        .open_table(layout::Index::new(&name))
        .expect("the index table")
        .iter()
        .expect("read")
        .map(|item| {
            let (key, _) = item.expect("read");
            split_entry(key.value()).expect("an entry").1
        })
        .collect();
    (stage, entries)
}
