//! The model-based test of indexes from `ankurah-core` on `RedbStorage` (random commits,
//! edits, deletions and restarts against `MemoryStorage`); afterwards every index must be
//! catalogued as complete and hold exactly one entry per live entity.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

mod common;

use ankurah_core::id::EntityId;
use ankurah_core::testing::index_model::{self, COLLECTION, PROPERTIES};
use ankurah_core::CollectionId;
use ankurah_storage_redb::layout::Stage;
use ankurah_storage_redb::RedbStorage;

#[tokio::test]
async fn indexed_queries_match_the_reference_engine() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    index_model::run_seeds(
        dir.path(),
        |path| Arc::new(RedbStorage::open(path).expect("open")),
        check_index_entries,
    )
    .await;
}

/// Every property was queried, so each has a complete index; each index holds one entry per
/// live entity (NULL for those without the property) and none for deleted entities.
fn check_index_entries(path: &Path, live: &BTreeSet<EntityId>) {
    let collection = CollectionId::from(COLLECTION);
    for property in PROPERTIES {
        let (stage, entries) = common::index_entries(path, &collection, property);
        assert_eq!(
            stage,
            Some(Stage::Ready),
            "index on `{property}` is complete"
        );
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
