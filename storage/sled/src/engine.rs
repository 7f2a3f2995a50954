//! [`SledStorage`]: opening, the write path (atomic, durable, index-maintaining) and the
//! engine-wide entries (system id, index catalog).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ankurah_core::event::Event;
use ankurah_core::id::SystemId;
use ankurah_core::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::{CollectionId, StorageError};
use async_trait::async_trait;
use parking_lot::RwLock;
use tempfile::TempDir;

use crate::collection::SledCollection;
use crate::layout::{self, Record};
use crate::{backend_error, index};

/// The indexed properties of each collection.
pub(crate) type Catalog = HashMap<CollectionId, BTreeSet<String>>;

/// Embedded storage on [sled](https://docs.rs/sled): see the [crate docs](crate).
///
/// Cloning is cheap and shares the database.
#[derive(Clone)]
pub struct SledStorage {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    /// The index catalog. Its lock also orders reads and writes: writers (commits, index
    /// builds) hold it exclusively, so index upkeep reads the very values it replaces, and
    /// queries hold it shared, so they see whole commits only.
    catalog: RwLock<Catalog>,
    /// Kept open until the tree is dropped (fields drop in order).
    _db: sled::Db,
    /// The directory of [`SledStorage::new_test`], deleted last.
    _temp: Option<TempDir>,
}

impl fmt::Debug for SledStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStorage")
            .field("catalog", &*self.inner.catalog.read())
            .finish_non_exhaustive()
    }
}

impl SledStorage {
    /// Opens (or creates, with its parent directories) the database at `path`.
    ///
    /// Fails with [`StorageError::FormatVersion`] when the directory was written by a build
    /// with another [`layout::FORMAT_VERSION`], and with [`StorageError::Backend`] when sled
    /// cannot open it (for instance while another process holds it).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::with_db(sled::open(path).map_err(backend_error)?, None)
    }

    /// A database in a fresh temporary directory, deleted when the last clone is dropped.
    pub fn new_test() -> Result<Self, StorageError> {
        let dir = tempfile::tempdir().map_err(|e| {
            StorageError::Backend(format!("cannot create a temporary directory: {e}"))
        })?;
        let db = sled::open(dir.path()).map_err(backend_error)?;
        Self::with_db(db, Some(dir))
    }

    fn with_db(db: sled::Db, temp: Option<TempDir>) -> Result<Self, StorageError> {
        let tree = db.open_tree(layout::TREE).map_err(backend_error)?;
        layout::check_format_version(&tree)?;
        let mut catalog = Catalog::new();
        for item in tree.scan_prefix(layout::catalog_prefix()) {
            let (key, _) = item.map_err(backend_error)?;
            let (collection, property) = layout::parse_catalog_key(&key)?;
            catalog.entry(collection).or_default().insert(property);
        }
        Ok(SledStorage {
            inner: Arc::new(Inner {
                tree,
                catalog: RwLock::new(catalog),
                _db: db,
                _temp: temp,
            }),
        })
    }

    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.inner.tree
    }

    /// Runs `read` with the catalog, excluding writers meanwhile.
    pub(crate) fn read<R>(&self, read: impl FnOnce(&Catalog) -> R) -> R {
        read(&self.inner.catalog.read())
    }

    /// Writes events and states in one atomic batch, with the index entries of the states,
    /// and returns once they are durable. Events already stored are skipped (ids name
    /// immutable events); the result is the number of events that were new. A state replaces
    /// the entity's previous one; of several states of one entity, the last wins.
    /// `collection` overrides the collection that states and events name (a collection
    /// handle writes into its own).
    pub(crate) async fn store(
        &self,
        collection: Option<&CollectionId>,
        events: &[Event],
        states: &[StoredState],
    ) -> Result<usize, StorageError> {
        let added = self.write_batch(collection, events, states)?;
        self.inner.tree.flush_async().await.map_err(backend_error)?;
        Ok(added)
    }

    fn write_batch(
        &self,
        collection: Option<&CollectionId>,
        events: &[Event],
        states: &[StoredState],
    ) -> Result<usize, StorageError> {
        states.iter().try_for_each(StoredState::check_depth)?;
        let events: Vec<_> = events
            .iter()
            .map(|e| (collection.unwrap_or(&e.collection), e))
            .collect();
        let states: BTreeMap<_, _> = states
            .iter()
            .map(|s| (collection.unwrap_or(&s.state.collection), s))
            .map(|(c, s)| (layout::state_key(c, s.state.entity_id), (c, s)))
            .collect();
        for name in events
            .iter()
            .map(|(c, _)| c)
            .chain(states.values().map(|(c, _)| c))
        {
            layout::validate_name(name.as_str())?;
        }
        let tree = &self.inner.tree;
        let catalog = self.inner.catalog.write();
        let mut batch = sled::Batch::default();
        let mut added = BTreeSet::new();
        for (collection, event) in events {
            let key = layout::event_key(collection, event.entity_id, event.id);
            if !tree.contains_key(&key).map_err(backend_error)? && added.insert(key.clone()) {
                batch.insert(key, event.encode());
            }
        }
        for (key, (collection, stored)) in states {
            let new = Record::of(stored);
            // The record being replaced matters only for the index entries it leaves behind.
            if let Some(properties) = catalog.get(collection).filter(|p| !p.is_empty()) {
                let old = tree
                    .get(&key)
                    .map_err(backend_error)?
                    .map(|bytes| Record::decode(&bytes))
                    .transpose()?;
                let properties = properties.iter().map(String::as_str);
                index::update(
                    &mut batch,
                    collection,
                    properties,
                    stored.state.entity_id,
                    old.as_ref(),
                    Some(&new),
                );
            }
            batch.insert(key, new.encode());
        }
        tree.apply_batch(batch).map_err(backend_error)?;
        Ok(added.len())
    }

    /// Creates the indexes of `properties` in `collection` that do not exist yet. Not
    /// flushed: entries and catalog key are one batch, so a crash loses the index whole and
    /// the next query builds it again.
    pub(crate) fn ensure_indexes(
        &self,
        collection: &CollectionId,
        properties: &BTreeSet<&str>,
    ) -> Result<(), StorageError> {
        let missing = |catalog: &Catalog| -> Vec<String> {
            let known = catalog.get(collection);
            properties
                .iter()
                .filter(|p| {
                    layout::validate_name(p).is_ok()
                        && !known.is_some_and(|known| known.contains(**p))
                })
                .map(|p| p.to_string())
                .collect()
        };
        if self.read(missing).is_empty() {
            return Ok(());
        }
        let mut catalog = self.inner.catalog.write();
        for property in missing(&catalog) {
            self.inner
                .tree
                .apply_batch(index::build(&self.inner.tree, collection, &property)?)
                .map_err(backend_error)?;
            catalog
                .entry(collection.clone())
                .or_default()
                .insert(property);
        }
        Ok(())
    }
}

#[async_trait]
impl StorageEngine for SledStorage {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        layout::validate_name(id.as_str())?;
        Ok(Arc::new(SledCollection::new(self.clone(), id.clone())))
    }

    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.store(None, &batch.events, &batch.states)
            .await
            .map(drop)
    }

    /// A flush costs a few times a commit's writes, and sled's flush covers everything
    /// written before it, so concurrent commits share one.
    fn group_commit(&self) -> bool {
        true
    }

    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.write_batch(None, &batch.events, &batch.states)
            .map(drop)
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.inner.tree.flush_async().await.map_err(backend_error)?;
        Ok(())
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        let bytes = self
            .inner
            .tree
            .get(layout::meta_key(layout::META_SYSTEM_ID))
            .map_err(backend_error)?;
        Ok(bytes
            .map(|bytes| SystemId::from_slice(&bytes))
            .transpose()?)
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        let tree = &self.inner.tree;
        tree.insert(layout::meta_key(layout::META_SYSTEM_ID), &id.to_bytes())
            .map_err(backend_error)?;
        tree.flush_async().await.map_err(backend_error)?;
        Ok(())
    }

    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for event in events {
            batch.insert(layout::outbox_key(event.id), event.encode());
        }
        self.apply_and_flush(batch).await
    }

    async fn outbox_remove(&self, ids: &[ankurah_core::EventId]) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.remove(layout::outbox_key(*id));
        }
        self.apply_and_flush(batch).await
    }

    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        self.inner
            .tree
            .scan_prefix(layout::outbox_prefix())
            .map(|entry| {
                let (_, bytes) = entry.map_err(backend_error)?;
                Ok(Event::decode(&bytes)?)
            })
            .collect()
    }
}

impl SledStorage {
    /// Applies a batch atomically and returns once it is on disk.
    async fn apply_and_flush(&self, batch: sled::Batch) -> Result<(), StorageError> {
        self.inner.tree.apply_batch(batch).map_err(backend_error)?;
        self.inner.tree.flush_async().await.map_err(backend_error)?;
        Ok(())
    }
}
