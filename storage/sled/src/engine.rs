//! [`SledStorage`]: opening, the write path (atomic, durable, index-maintaining) and the
//! engine-wide entries (system id, index catalog).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah_core::event::Event;
use ankurah_core::id::SystemId;
use ankurah_core::storage::ordered::record::Record;
use ankurah_core::storage::{self, CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::{CollectionId, StorageError};
use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use tempfile::TempDir;

use crate::collection::SledCollection;
use crate::journal::{Journal, Writes};
use crate::{engine_error, flush_error, index, layout, ENGINE};

/// How long [`SledStorage::open`] waits for the lock of a directory that is in use.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens the sled database at `path` as [`SledStorage::open`] does, for tools and tests that
/// read the raw tree. Waits up to [`LOCK_WAIT`] while the directory's lock is held, as it is
/// for a moment after a handle of this process is dropped (sled lets go once its background
/// work on that handle ends); then fails with [`StorageError::Engine`].
pub fn open_database(path: impl AsRef<Path>) -> Result<sled::Db, StorageError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::open(path.as_ref()) {
            Err(sled::Error::Io(error))
                if Instant::now() < deadline
                    && error.to_string().contains("could not acquire lock") =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened.map_err(engine_error),
        }
    }
}

/// How many states one step of an index build reads while it holds its collection's lock.
const BUILD_STEP: usize = 1024;

/// The indexes of one collection, by the stage of their life.
#[derive(Debug, Default)]
pub(crate) struct Indexes {
    /// Complete and maintained by every write: queries use them.
    ready: BTreeSet<String>,
    /// Being filled: writes maintain them, queries do not use them yet.
    filling: BTreeSet<String>,
    /// Claimed by a build that is clearing what a build cut short by a crash left behind:
    /// neither writes nor queries touch them.
    clearing: BTreeSet<String>,
}

impl Indexes {
    /// Whether queries may use the index on `property`.
    pub(crate) fn is_ready(&self, property: &str) -> bool {
        self.ready.contains(property)
    }

    /// The indexes that writes maintain.
    fn maintained(&self) -> impl Iterator<Item = &str> + '_ {
        self.ready.iter().chain(&self.filling).map(String::as_str)
    }

    fn is_claimed(&self, property: &str) -> bool {
        self.ready.contains(property)
            || self.filling.contains(property)
            || self.clearing.contains(property)
    }

    /// Of `properties`, those with an index nobody has begun to build (and whose names can
    /// be part of a key).
    fn unclaimed(&self, properties: &BTreeSet<&str>) -> Vec<String> {
        properties
            .iter()
            .filter(|p| !self.is_claimed(p))
            .filter(|p| match layout::validate_name(p) {
                Ok(()) => true,
                Err(error) => {
                    tracing::debug!(%error, "property not indexed; its queries scan");
                    false
                }
            })
            .map(|p| p.to_string())
            .collect()
    }
}

/// A collection's indexes behind the lock that orders its reads and writes: writes (commits,
/// steps of an index build) hold it exclusively, so index upkeep reads the very values it
/// replaces, and queries hold it shared, so they see whole commits only.
pub(crate) type Guarded = Arc<RwLock<Indexes>>;

/// Whether the events of a write may be stored already.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum EventsAre {
    /// Each is looked up first: skipped if stored, counted if not.
    Unchecked,
    /// A commit's, which the node checked: written without a lookup, and counted. (One
    /// stored already would be written again with the same bytes: ids name immutable
    /// events.)
    New,
}

/// Embedded storage on [sled](https://docs.rs/sled): see the [crate docs](crate).
///
/// Cloning is cheap and shares the database.
#[derive(Clone)]
pub struct SledStorage {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    /// Every collection's [`Guarded`] indexes. This lock is shared by all collections, so it
    /// is held only to find or add an entry, never across a sled call.
    collections: Mutex<HashMap<CollectionId, Guarded>>,
    /// Every write of several keys goes through it.
    journal: Journal,
    /// Kept open until the tree is dropped (fields drop in order).
    _db: sled::Db,
    /// The directory of [`SledStorage::new_test`], deleted last.
    _temp: Option<TempDir>,
}

impl fmt::Debug for SledStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut collections: Vec<_> = self.inner.collections.lock().keys().cloned().collect();
        collections.sort();
        f.debug_struct("SledStorage")
            .field("collections", &collections)
            .finish_non_exhaustive()
    }
}

/// [`SledStorage::new_test`] found no temporary directory to use.
#[derive(Debug, thiserror::Error)]
#[error("cannot create a temporary directory")]
struct NoTempDir(#[source] std::io::Error);

impl SledStorage {
    /// Opens (or creates, with its parent directories) the database at `path`.
    ///
    /// Fails with [`StorageError::FormatVersion`] when the directory was written by a build
    /// with another [`layout::FORMAT_VERSION`], and with [`StorageError::Engine`] when sled
    /// cannot open it (for instance while another process holds it; see [`open_database`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::with_db(open_database(path)?, None)
    }

    /// A database in a fresh temporary directory, deleted when the last clone is dropped.
    ///
    /// It runs without sled's periodic flusher (a thread per database that also compacts
    /// the log): what a temporary store holds need not reach the disk before a flush asks
    /// for it, and a process with many such stores (tests, benchmarks of many clients)
    /// would otherwise run as many threads. [`sync`](StorageEngine::sync) and durable
    /// commits flush as on any store.
    pub fn new_test() -> Result<Self, StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::engine(ENGINE, NoTempDir(e)))?;
        let db = sled::Config::new()
            .path(dir.path())
            .flush_every_ms(None)
            .open()
            .map_err(engine_error)?;
        Self::with_db(db, Some(dir))
    }

    fn with_db(db: sled::Db, temp: Option<TempDir>) -> Result<Self, StorageError> {
        let tree = db.open_tree(layout::TREE).map_err(engine_error)?;
        layout::check_format_version(&tree)?;
        let journal = Journal::recover(&tree)?;
        let mut collections = HashMap::<CollectionId, Indexes>::new();
        for item in tree.scan_prefix(layout::catalog_prefix()) {
            let (key, _) = item.map_err(engine_error)?;
            let (collection, property) = layout::parse_catalog_key(&key)?;
            collections
                .entry(collection)
                .or_default()
                .ready
                .insert(property);
        }
        let collections = collections
            .into_iter()
            .map(|(id, indexes)| (id, Arc::new(RwLock::new(indexes))))
            .collect();
        Ok(SledStorage {
            inner: Arc::new(Inner {
                tree,
                collections: Mutex::new(collections),
                journal,
                _db: db,
                _temp: temp,
            }),
        })
    }

    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.inner.tree
    }

    /// Runs `work` where blocking is allowed ([`storage::blocking`]): for the calls that wait
    /// for the disk (flushes) or take long (index builds), which must not stall the async
    /// workers. Every other sled call runs on the caller's thread (see the crate docs).
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SledStorage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let storage = self.clone();
        storage::blocking(ENGINE, move || work(&storage)).await
    }

    /// The indexes of `collection`, with the lock that orders its reads and writes.
    pub(crate) fn indexes(&self, collection: &CollectionId) -> Guarded {
        self.inner
            .collections
            .lock()
            .entry(collection.clone())
            .or_default()
            .clone()
    }

    /// Flushes everything written so far with sled's blocking flush (its async flush can
    /// hang with several databases in one process, sled issues 1241 and 1308).
    pub(crate) fn flush(&self) -> Result<(), StorageError> {
        self.inner.tree.flush().map_err(flush_error)?;
        Ok(())
    }

    /// Writes events and states like [`write_batch`](Self::write_batch) and returns once they
    /// are durable.
    pub(crate) async fn store(
        &self,
        collection: Option<CollectionId>,
        events: Vec<Event>,
        states: Vec<StoredState>,
        are: EventsAre,
    ) -> Result<usize, StorageError> {
        self.blocking(move |storage| {
            let added = storage.write_batch(collection.as_ref(), &events, &states, are)?;
            storage.flush()?;
            Ok(added)
        })
        .await
    }

    /// Writes events and states in one atomic batch, with the index entries of the states.
    /// The result is the number of events written (see [`EventsAre`]). A state replaces the
    /// entity's previous one; of several states of one entity, the last wins. `collection`
    /// overrides the collection that states and events name (a collection handle writes into
    /// its own). Blocks.
    fn write_batch(
        &self,
        collection: Option<&CollectionId>,
        events: &[Event],
        states: &[StoredState],
        are: EventsAre,
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
        let touched: BTreeSet<&CollectionId> = events
            .iter()
            .map(|(c, _)| *c)
            .chain(states.values().map(|(c, _)| *c))
            .collect();
        for name in &touched {
            layout::validate_name(name.as_str())?;
        }
        // Locked in name order, the order every writer takes them in.
        let locks: Vec<_> = touched.iter().map(|c| self.indexes(c)).collect();
        let guards: Vec<_> = locks.iter().map(|lock| lock.write()).collect();
        let indexes: HashMap<&CollectionId, &Indexes> = touched
            .into_iter()
            .zip(guards.iter().map(|g| &**g))
            .collect();
        let tree = &self.inner.tree;
        let mut batch = Writes::default();
        let mut added = BTreeSet::new();
        for (collection, event) in events {
            let key = layout::event_key(collection, event.entity_id, event.id);
            let stored =
                are == EventsAre::Unchecked && tree.contains_key(&key).map_err(engine_error)?;
            if !stored && added.insert(key.clone()) {
                batch.insert(key, event.encode());
            }
        }
        for (key, (collection, stored)) in states {
            let new = Record::of(stored);
            let mut maintained = indexes[collection].maintained().peekable();
            // The record being replaced matters only for the index entries it leaves behind.
            if maintained.peek().is_some() {
                let old = tree
                    .get(&key)
                    .map_err(engine_error)?
                    .map(|bytes| Record::decode(&bytes))
                    .transpose()?;
                index::update(&mut batch, collection, maintained, old.as_ref(), Some(&new));
            }
            batch.insert(key, new.encode());
        }
        self.inner.journal.apply(tree, batch)?;
        Ok(added.len())
    }

    /// Whether every index of `properties` in `collection` exists or is being built: then
    /// [`ensure_indexes`](Self::ensure_indexes) has nothing to do.
    pub(crate) fn has_indexes(
        &self,
        collection: &CollectionId,
        properties: &BTreeSet<&str>,
    ) -> bool {
        self.indexes(collection)
            .read()
            .unclaimed(properties)
            .is_empty()
    }

    /// Creates the indexes of `properties` in `collection` that nobody has begun to build.
    /// Blocks for as long as the builds take, but holds the collection's lock only for one
    /// [`BUILD_STEP`] at a time, so commits and queries go on meanwhile (queries use an index
    /// once it is complete). Not flushed: until the catalog key of an index is on disk, a
    /// restart forgets the index and the next query builds it again.
    pub(crate) fn ensure_indexes(
        &self,
        collection: &CollectionId,
        properties: &BTreeSet<&str>,
    ) -> Result<(), StorageError> {
        let lock = self.indexes(collection);
        if lock.read().unclaimed(properties).is_empty() {
            return Ok(());
        }
        let claimed = {
            let mut indexes = lock.write();
            let claimed = indexes.unclaimed(properties);
            indexes.clearing.extend(claimed.iter().cloned());
            claimed
        };
        for (built, property) in claimed.iter().enumerate() {
            if let Err(error) = self.build_index(&lock, collection, property) {
                // Unclaimed, a later query tries again, starting by clearing what this left.
                let mut indexes = lock.write();
                for property in &claimed[built..] {
                    indexes.clearing.remove(property);
                    indexes.filling.remove(property);
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Builds the index on `property`, claimed in `lock`: clears its key range, then has
    /// writes maintain it while it is filled one step at a time, then catalogs it.
    fn build_index(
        &self,
        lock: &RwLock<Indexes>,
        collection: &CollectionId,
        property: &str,
    ) -> Result<(), StorageError> {
        let tree = &self.inner.tree;
        // Nobody reads or writes the range of a claimed index: no lock needed.
        while let Some(batch) = index::clear_step(tree, collection, property, BUILD_STEP)? {
            self.inner.journal.apply(tree, batch)?;
        }
        {
            let mut indexes = lock.write();
            indexes.clearing.remove(property);
            indexes.filling.insert(property.to_owned());
        }
        // Each step holds the lock, so no write changes a state between its read and the
        // entry written for it; writes between steps maintain the index themselves.
        let mut from = layout::state_prefix(collection);
        loop {
            let step = lock.write();
            let (batch, next) = index::fill_step(tree, collection, property, &from, BUILD_STEP)?;
            self.inner.journal.apply(tree, batch)?;
            drop(step);
            match next {
                Some(next) => from = next,
                None => break,
            }
        }
        let mut indexes = lock.write();
        tree.insert(layout::catalog_key(collection, property), &[])
            .map_err(engine_error)?;
        indexes.filling.remove(property);
        indexes.ready.insert(property.to_owned());
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
        (self
            .store(None, batch.events, batch.states, EventsAre::New)
            .await)
            .map(drop)
    }

    /// A flush costs a few times a commit's writes, and sled's flush covers everything
    /// written before it, so concurrent commits share one.
    fn group_commit(&self) -> bool {
        true
    }

    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        (self.write_batch(None, &batch.events, &batch.states, EventsAre::New)).map(drop)
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.blocking(SledStorage::flush).await
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        let bytes = self
            .tree()
            .get(layout::meta_key(layout::META_SYSTEM_ID))
            .map_err(engine_error)?;
        Ok(bytes
            .map(|bytes| SystemId::from_slice(&bytes))
            .transpose()?)
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        self.blocking(move |storage| {
            storage
                .tree()
                .insert(layout::meta_key(layout::META_SYSTEM_ID), &id.to_bytes())
                .map_err(engine_error)?;
            storage.flush()
        })
        .await
    }

    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        layout::collections(self.tree())
    }

    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        let mut batch = Writes::default();
        for event in events {
            batch.insert(layout::outbox_key(event.id), event.encode());
        }
        self.inner.journal.apply(self.tree(), batch)
    }

    async fn outbox_remove(&self, ids: &[ankurah_core::EventId]) -> Result<(), StorageError> {
        let mut batch = Writes::default();
        for id in ids {
            batch.remove(layout::outbox_key(*id));
        }
        self.inner.journal.apply(self.tree(), batch)
    }

    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        self.tree()
            .scan_prefix(layout::outbox_prefix())
            .map(|entry| {
                let (_, bytes) = entry.map_err(engine_error)?;
                Ok(Event::decode(&bytes)?)
            })
            .collect()
    }
}
