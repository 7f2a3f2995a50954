//! Shared fixtures of the benchmarks: the models and data sets they run on.

use std::sync::Arc;

use ankurah::storage::StorageEngine;
use ankurah::{Context, Model, Node, NodeConfig, PermissiveAgent, DEFAULT_CONTEXT};
// Every benchmark program runs on the allocator a program on sled should link.
use ankurah_jemalloc as _;
use ankurah_storage_sled::SledStorage;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

/// A sled store opened at a path, as a deployed node opens one (with sled's flusher
/// thread, which `SledStorage::new_test` goes without), in a fresh temporary directory
/// deleted when the guard drops.
pub fn sled_at_path() -> (Arc<SledStorage>, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage = SledStorage::open(dir.path().join("store")).expect("a sled store");
    (Arc::new(storage), dir)
}

/// A context on a new durable node (with `config`) of a new system on `storage`.
pub async fn durable_context<S: StorageEngine>(storage: Arc<S>, config: NodeConfig) -> Context {
    let node = Node::with_config(storage, PermissiveAgent::new(), true, config);
    node.system.create().await.expect("a system");
    node.context(DEFAULT_CONTEXT).expect("permissive")
}

/// The album of the documentation: a collaborative-text title and LWW fields.
#[derive(Model, Debug, Clone, Serialize, Deserialize)]
pub struct Album {
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

/// A record with only last-writer-wins fields, to measure the storage path without text CRDTs.
#[derive(Model, Debug, Clone, Serialize, Deserialize)]
pub struct Track {
    #[active_type(LWW)]
    pub title: String,
    pub album: i64,
    pub seconds: i64,
}

/// The `i`-th album of a data set: years cycle through 110 values, so an equality query on
/// one year returns 1/110 of the set and a range of ten years about 1/11.
pub fn album(i: usize) -> Album {
    Album {
        name: format!("Album {i}"),
        artist: format!("Artist {}", i % 97),
        year: 1900 + (i % 110) as i32,
    }
}
