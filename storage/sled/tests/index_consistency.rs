//! The model-based test of indexes from `ankurah-core` on `SledStorage` (random commits,
//! edits, deletions and restarts against `MemoryStorage`); afterwards every index must hold
//! exactly one entry per live entity.

use std::collections::BTreeSet;
use std::path::Path as FsPath;
use std::sync::Arc;

use ankurah_core::id::EntityId;
use ankurah_core::testing::index_model::{self, COLLECTION, PROPERTIES};
use ankurah_core::CollectionId;
use ankurah_storage_sled::{layout, open_database, SledStorage};

#[tokio::test]
async fn indexed_queries_match_the_reference_engine() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    index_model::run_seeds(
        dir.path(),
        |path| Arc::new(SledStorage::open(path).expect("open")),
        check_index_entries,
    )
    .await;
}

/// Every property was queried, so each has an index; each index holds one entry per live
/// entity (NULL for those without the property) and none for deleted entities.
fn check_index_entries(path: &FsPath, live: &BTreeSet<EntityId>) {
    let db = open_database(path).expect("open the raw database");
    let tree = db.open_tree(layout::TREE).expect("the data tree");
    let collection = CollectionId::from(COLLECTION);
    for property in PROPERTIES {
        assert!(
            tree.contains_key(layout::catalog_key(&collection, property))
                .expect("read"),
            "index on `{property}` is catalogued"
        );
        let entries: Vec<EntityId> = tree
            .scan_prefix(layout::index_prefix(&collection, property))
            .map(|item| {
                let (key, _) = item.expect("read");
                EntityId::from_slice(&key[key.len() - 16..]).expect("an id")
            })
            .collect();
        let distinct: BTreeSet<EntityId> = entries.iter().copied().collect();
        assert_eq!(
            entries.len(),
            distinct.len(),
            "index on `{property}`: one entry per entity"
        );
        assert_eq!(
            &distinct, live,
            "index on `{property}`: exactly the live entities"
        );
    }
}
