//! [`RedbStorage`]: opening, the write path (one write transaction per commit, index
//! upkeep inside it), index builds, and the engine-wide entries (system id, outbox).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ankurah_core::event::Event;
use ankurah_core::id::{EventId, SystemId};
use ankurah_core::storage::ordered::record::{entry_change, Record};
use ankurah_core::storage::{self, CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::{CollectionId, EntityId, StorageError};
use async_trait::async_trait;
use parking_lot::{FairMutex, FairMutexGuard, Mutex};
use redb::{
    Database, Durability, Key, ReadOnlyTable, ReadTransaction, ReadableTable, Table,
    TableDefinition, TableError, Value, WriteTransaction,
};
use tempfile::TempDir;

use crate::collection::RedbCollection;
use crate::layout::{self, Stage};
use crate::{engine_error, flush_error, table_error, ENGINE};

/// How many states one step of an index build reads inside one write transaction: other
/// writers wait for a step at most, never for a whole build.
const BUILD_STEP: usize = 1024;

/// Embedded storage on [redb](https://docs.rs/redb): see the [crate docs](crate).
///
/// Cloning is cheap and shares the database.
#[derive(Clone)]
pub struct RedbStorage {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    /// Taken by every write transaction before redb's own writer lock, which hands over
    /// unfairly: the step of an index build that just committed would take it again at once,
    /// and commits would wait for the whole build. This one hands over to the longest waiter.
    turn: FairMutex<()>,
    path: PathBuf,
    /// The indexes (collection, property) this process is building, so that two queries do
    /// not build one index twice. Held only to claim or release a build.
    building: Mutex<HashSet<(CollectionId, String)>>,
    /// The directory of [`RedbStorage::new_test`], deleted after the database is closed
    /// (fields drop in order).
    _temp: Option<TempDir>,
}

impl fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStorage")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Whether a write waits until it is on disk.
///
/// Flushed commits are durable at once. The core's group commit (non-durable writes, then
/// one sync for many) does not pay off on redb and is left off: redb holds its writer lock
/// through the fsync of a durable commit, so no write proceeds during a sync and writes and
/// syncs alternate. Measured with the `load` bench, single-entity commits were slower with
/// it, one at a time and 32 at once. Buffered commits, an ephemeral node's cache and the
/// outbox are written `Later` and made durable by the next `sync` (an empty durable commit).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Durable {
    /// `Durability::Immediate`: on disk when the commit returns.
    Now,
    /// `Durability::None`: on disk with the next durable commit; a crash before it loses
    /// this commit and every later one, never an earlier one. For index builds, which a
    /// crash merely makes start over, and for writes the node syncs when it needs them.
    Later,
}

impl RedbStorage {
    /// Opens (or creates, with its parent directories) the database file at `path`.
    ///
    /// Fails with [`StorageError::FormatVersion`] when the file was written by a build with
    /// another [`layout::FORMAT_VERSION`], and with an engine error when redb cannot open it
    /// (for instance while another process or handle holds it, or when it is not a redb file).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(engine_error)?;
        }
        Self::with_file(path.to_owned(), None)
    }

    /// A database in a fresh temporary directory, deleted when the last clone is dropped.
    pub fn new_test() -> Result<Self, StorageError> {
        let dir = tempfile::tempdir().map_err(engine_error)?;
        Self::with_file(dir.path().join("ankurah.redb"), Some(dir))
    }

    fn with_file(path: PathBuf, temp: Option<TempDir>) -> Result<Self, StorageError> {
        let db = Database::create(&path).map_err(engine_error)?;
        layout::check_format_version(&db)?;
        Ok(RedbStorage {
            inner: Arc::new(Inner {
                db,
                turn: FairMutex::new(()),
                path,
                building: Mutex::new(HashSet::new()),
                _temp: temp,
            }),
        })
    }

    /// Runs `work` where blocking is allowed ([`storage::blocking`]): redb calls block on the
    /// disk and on redb's single writer, and must not stall the async workers.
    pub(crate) async fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&RedbStorage) -> Result<R, StorageError> + Send + 'static,
    ) -> Result<R, StorageError> {
        let storage = self.clone();
        storage::blocking(ENGINE, move || work(&storage)).await
    }

    /// A read transaction: a consistent snapshot of the whole database.
    pub(crate) fn read(&self) -> Result<ReadTransaction, StorageError> {
        self.inner.db.begin_read().map_err(engine_error)
    }

    /// A write transaction, once it is this thread's turn.
    fn begin_write(&self, durable: Durable) -> Result<Write<'_>, StorageError> {
        let turn = self.inner.turn.lock();
        let mut txn = self.inner.db.begin_write().map_err(engine_error)?;
        txn.set_durability(match durable {
            Durable::Now => Durability::Immediate,
            Durable::Later => Durability::None,
        });
        Ok(Write { txn, _turn: turn })
    }

    /// Writes events and states in one write transaction, with the index entries of the
    /// states. Events already stored are skipped (ids name immutable events); the result is
    /// the number of events that were new. A state replaces the entity's previous one; of
    /// several states of one entity, the last wins. `collection` overrides the collection
    /// that states and events name (a collection handle writes into its own). Blocks.
    pub(crate) fn store(
        &self,
        collection: Option<&CollectionId>,
        events: &[Event],
        states: &[StoredState],
        durable: Durable,
    ) -> Result<usize, StorageError> {
        // Encoding a value for an index recurses into it.
        states.iter().try_for_each(StoredState::check_depth)?;
        let mut touched: BTreeMap<&CollectionId, Touched<'_>> = BTreeMap::new();
        for event in events {
            let name = collection.unwrap_or(&event.collection);
            touched.entry(name).or_default().events.push(event);
        }
        for stored in states {
            let name = collection.unwrap_or(&stored.state.collection);
            let entity = stored.state.entity_id;
            touched
                .entry(name)
                .or_default()
                .states
                .insert(entity, stored);
        }
        let txn = self.begin_write(durable)?;
        let mut added = 0;
        {
            let catalog = txn.open_table(layout::CATALOG).map_err(table_error)?;
            for (name, touched) in &touched {
                added += write_events(&txn, name, &touched.events)?;
                if !touched.states.is_empty() {
                    let maintained = layout::catalogued(&catalog, name)?;
                    write_states(&txn, name, &maintained, touched.states.values())?;
                }
            }
        }
        txn.commit()?;
        Ok(added)
    }

    /// Creates the indexes of `properties` in `collection` that are not complete, unless
    /// this process is building them already (the query then goes on without them). Blocks
    /// for as long as the builds take, in steps of [`BUILD_STEP`] states, so commits go on
    /// meanwhile. Build steps are not durable on their own: a crash loses a suffix of them,
    /// and the next query fills the index again.
    pub(crate) fn ensure_indexes(
        &self,
        collection: &CollectionId,
        properties: &BTreeSet<&str>,
    ) -> Result<(), StorageError> {
        let stages: BTreeMap<String, Stage> = match open_read(&self.read()?, layout::CATALOG)? {
            Some(catalog) => layout::catalogued(&catalog, collection)?
                .into_iter()
                .collect(),
            None => BTreeMap::new(),
        };
        for property in properties {
            if stages.get(*property) == Some(&Stage::Ready) {
                continue;
            }
            if let Some(_claim) = Claim::take(&self.inner.building, collection, property) {
                self.build_index(collection, property)?;
            }
        }
        Ok(())
    }

    /// Builds the index on `property`: catalogs it as filling, so that every later write
    /// maintains it, then adds the entries of the states one step at a time, then catalogs
    /// it as ready. A write between two steps maintains the entry of the state it replaces
    /// whether or not a step has added it yet: adding an entry twice is harmless.
    fn build_index(&self, collection: &CollectionId, property: &str) -> Result<(), StorageError> {
        let index = layout::index_table(collection, property);
        let txn = self.begin_write(Durable::Later)?;
        {
            let mut catalog = txn.open_table(layout::CATALOG).map_err(table_error)?;
            let stage = catalog
                .get(index.as_bytes())
                .map_err(engine_error)?
                .map(|stage| Stage::decode(stage.value()))
                .transpose()?;
            // Built meanwhile by a claim released just now.
            if stage == Some(Stage::Ready) {
                return Ok(());
            }
            catalog
                .insert(index.as_bytes(), Stage::Filling as u8)
                .map_err(engine_error)?;
        }
        txn.commit()?;
        let states = layout::states_table(collection);
        let mut from = Some(0u128);
        while let Some(start) = from {
            let txn = self.begin_write(Durable::Later)?;
            from = {
                let states = txn
                    .open_table(layout::States::new(&states))
                    .map_err(table_error)?;
                let mut entries = txn
                    .open_table(layout::Index::new(&index))
                    .map_err(table_error)?;
                let mut last = None;
                let mut read = 0;
                for item in states
                    .range(start..)
                    .map_err(engine_error)?
                    .take(BUILD_STEP)
                {
                    let (key, bytes) = item.map_err(engine_error)?;
                    let record = Record::decode(bytes.value())?;
                    if let Some(entry) = record.index_entry(property) {
                        entries.insert(entry.as_slice(), ()).map_err(engine_error)?;
                    }
                    last = Some(key.value());
                    read += 1;
                }
                last.filter(|_| read == BUILD_STEP)
                    .and_then(|last| last.checked_add(1))
            };
            txn.commit()?;
        }
        let txn = self.begin_write(Durable::Later)?;
        txn.open_table(layout::CATALOG)
            .map_err(table_error)?
            .insert(index.as_bytes(), Stage::Ready as u8)
            .map_err(engine_error)?;
        txn.commit()
    }

    /// Writes `change` to the outbox in one durable transaction.
    async fn change_outbox(
        &self,
        change: impl FnOnce(&mut Table<'_, u128, &'static [u8]>) -> Result<(), redb::StorageError>
            + Send
            + 'static,
    ) -> Result<(), StorageError> {
        self.blocking(move |storage| {
            let txn = storage.begin_write(Durable::Later)?;
            change(&mut txn.open_table(layout::OUTBOX).map_err(table_error)?)
                .map_err(engine_error)?;
            txn.commit()
        })
        .await
    }
}

/// A write transaction holding the writers' turn until it is committed or dropped.
struct Write<'a> {
    /// Dropped (aborted) before the turn is released: fields drop in order.
    txn: WriteTransaction,
    _turn: FairMutexGuard<'a, ()>,
}

impl Write<'_> {
    /// Commits, then hands the turn to the next writer.
    fn commit(self) -> Result<(), StorageError> {
        self.txn.commit().map_err(flush_error)
    }
}

impl std::ops::Deref for Write<'_> {
    type Target = WriteTransaction;

    fn deref(&self) -> &WriteTransaction {
        &self.txn
    }
}

/// Opens a table of a read transaction; `None` when nothing was ever written into it.
pub(crate) fn open_read<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    definition: TableDefinition<'_, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, StorageError> {
    match txn.open_table(definition) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(error) => Err(table_error(error)),
    }
}

/// What one commit writes into one collection.
#[derive(Default)]
struct Touched<'a> {
    events: Vec<&'a Event>,
    /// By entity: the last state of an entity wins.
    states: BTreeMap<EntityId, &'a StoredState>,
}

/// Inserts the events not stored yet, never replacing a stored one (an event of a known id
/// is kept as first stored); returns how many were new.
fn write_events(
    txn: &WriteTransaction,
    collection: &CollectionId,
    events: &[&Event],
) -> Result<usize, StorageError> {
    if events.is_empty() {
        return Ok(0);
    }
    let name = layout::events_table(collection);
    let mut table = txn
        .open_table(layout::Events::new(&name))
        .map_err(table_error)?;
    let mut added = 0;
    for event in events {
        let key = (
            layout::id_key(event.entity_id.to_bytes()),
            layout::id_key(event.id.to_bytes()),
        );
        if table.get(key).map_err(engine_error)?.is_none() {
            table
                .insert(key, event.encode().as_slice())
                .map_err(engine_error)?;
            added += 1;
        }
    }
    Ok(added)
}

/// Replaces the states of `collection`, keeping the indexes in `maintained` current.
fn write_states<'s>(
    txn: &WriteTransaction,
    collection: &CollectionId,
    maintained: &[(String, Stage)],
    states: impl Iterator<Item = &'s &'s StoredState>,
) -> Result<(), StorageError> {
    let name = layout::states_table(collection);
    let mut table = txn
        .open_table(layout::States::new(&name))
        .map_err(table_error)?;
    let names: Vec<String> = maintained
        .iter()
        .map(|(property, _)| layout::index_table(collection, property))
        .collect();
    let mut indexes = names
        .iter()
        .map(|name| txn.open_table(layout::Index::new(name)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(table_error)?;
    for stored in states {
        let new = Record::of(stored);
        let key = layout::id_key(stored.state.entity_id.to_bytes());
        let old = table
            .insert(key, new.encode().as_slice())
            .map_err(engine_error)?;
        // The record being replaced matters only for the index entries it leaves behind.
        if indexes.is_empty() {
            continue;
        }
        let old = old.map(|bytes| Record::decode(bytes.value())).transpose()?;
        for ((property, _), index) in maintained.iter().zip(&mut indexes) {
            let Some(change) = entry_change(property, old.as_ref(), Some(&new)) else {
                continue;
            };
            if let Some(entry) = change.remove {
                index.remove(entry.as_slice()).map_err(engine_error)?;
            }
            if let Some(entry) = change.add {
                index.insert(entry.as_slice(), ()).map_err(engine_error)?;
            }
        }
    }
    Ok(())
}

/// A claim on building one index in this process, released on drop.
struct Claim<'a> {
    building: &'a Mutex<HashSet<(CollectionId, String)>>,
    index: (CollectionId, String),
}

impl<'a> Claim<'a> {
    /// The claim, unless another build of the index holds it.
    fn take(
        building: &'a Mutex<HashSet<(CollectionId, String)>>,
        collection: &CollectionId,
        property: &str,
    ) -> Option<Self> {
        let index = (collection.clone(), property.to_owned());
        let mut claims = building.lock();
        claims
            .insert(index.clone())
            .then_some(Claim { building, index })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.building.lock().remove(&self.index);
    }
}

#[async_trait]
impl StorageEngine for RedbStorage {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        Ok(Arc::new(RedbCollection::new(self.clone(), id.clone())))
    }

    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.blocking(move |storage| {
            storage.store(None, &batch.events, &batch.states, Durable::Now)
        })
        .await
        .map(drop)
    }

    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.blocking(move |storage| {
            storage.store(None, &batch.events, &batch.states, Durable::Later)
        })
        .await
        .map(drop)
    }

    /// A durable commit that changes nothing: redb writes and fsyncs a new root, which makes
    /// every commit before it durable.
    async fn sync(&self) -> Result<(), StorageError> {
        self.blocking(|storage| storage.begin_write(Durable::Now)?.commit())
            .await
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        self.blocking(|storage| {
            let Some(meta) = open_read(&storage.read()?, layout::META)? else {
                return Ok(None);
            };
            let bytes = meta.get(layout::META_SYSTEM_ID).map_err(engine_error)?;
            Ok(bytes
                .map(|bytes| SystemId::from_slice(bytes.value()))
                .transpose()?)
        })
        .await
    }

    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        self.blocking(|storage| {
            let txn = storage.read()?;
            let tables = txn.list_tables().map_err(engine_error)?;
            let names: std::collections::BTreeSet<CollectionId> = tables
                .filter_map(|table| layout::table_collection(redb::TableHandle::name(&table)))
                .collect();
            Ok(names.into_iter().collect())
        })
        .await
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        self.blocking(move |storage| {
            let txn = storage.begin_write(Durable::Now)?;
            txn.open_table(layout::META)
                .map_err(table_error)?
                .insert(layout::META_SYSTEM_ID, id.to_bytes().as_slice())
                .map_err(engine_error)?;
            txn.commit()
        })
        .await
    }

    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        let encoded: Vec<(u128, Vec<u8>)> = events
            .iter()
            .map(|event| (layout::id_key(event.id.to_bytes()), event.encode()))
            .collect();
        self.change_outbox(move |outbox| {
            for (key, bytes) in &encoded {
                outbox.insert(key, bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn outbox_remove(&self, ids: &[EventId]) -> Result<(), StorageError> {
        let keys: Vec<u128> = ids.iter().map(|id| layout::id_key(id.to_bytes())).collect();
        self.change_outbox(move |outbox| {
            for key in &keys {
                outbox.remove(key)?;
            }
            Ok(())
        })
        .await
    }

    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        self.blocking(|storage| {
            let Some(outbox) = open_read(&storage.read()?, layout::OUTBOX)? else {
                return Ok(Vec::new());
            };
            let events = outbox.iter().map_err(engine_error)?;
            events
                .map(|item| {
                    let (_, bytes) = item.map_err(engine_error)?;
                    Ok(Event::decode(bytes.value())?)
                })
                .collect()
        })
        .await
    }
}
