//! [`IndexedDbStorage`]: opening the database, commits, the system id and the outbox.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ankurah_core::error::StorageError;
use ankurah_core::event::Event;
use ankurah_core::id::{EntityId, EventId, SystemId};
use ankurah_core::storage::ordered::record::{entry_change, Record};
use ankurah_core::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::CollectionId;
use async_trait::async_trait;
use js_sys::Array;
use send_wrapper::SendWrapper;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStore, IdbOpenDbRequest, IdbTransaction};
use web_sys::{IdbKeyRange, IdbTransactionMode};

use crate::collection::IndexedDbCollection;
use crate::error::{js_error, IndexedDbError};
use crate::idb::{self, bytes, items, key_part, request, to_bytes};
use crate::layout::{self, Part};

/// A storage engine on one IndexedDB database of the page's origin.
///
/// The browser runs everything on one thread, so the engine's handles are `Send` and `Sync`
/// by [`SendWrapper`], as the [`StorageEngine`] trait asks: nothing can move them elsewhere.
#[derive(Clone)]
pub struct IndexedDbStorage {
    db: SendWrapper<IdbDatabase>,
}

impl std::fmt::Debug for IndexedDbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbStorage")
            .field("name", &self.db.name())
            .finish()
    }
}

/// The page's (or worker's) `indexedDB`.
fn factory() -> Result<IdbFactory, StorageError> {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|factory| factory.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| IndexedDbError::Unavailable.into())
}

impl IndexedDbStorage {
    /// Opens (creating if needed) the database `name` of this origin. Its data survives
    /// reloads and browser restarts.
    pub async fn open(name: &str) -> Result<Self, StorageError> {
        SendWrapper::new(Self::open_local(name)).await
    }

    async fn open_local(name: &str) -> Result<Self, StorageError> {
        let opening: IdbOpenDbRequest = factory()?
            .open_with_u32(name, layout::FORMAT_VERSION)
            .map_err(js_error("open"))?;
        let upgrading = opening.clone();
        let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            create_stores(&upgrading);
        });
        opening.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let opened = request("open", Ok(opening.clone().unchecked_into())).await;
        opening.set_onupgradeneeded(None);
        drop(upgrade);
        let db: IdbDatabase = opened?.unchecked_into();
        // Another tab upgrading the database asks this one to close it.
        let closing = db.clone();
        let on_version_change =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| closing.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        on_version_change.forget();
        Ok(IndexedDbStorage {
            db: SendWrapper::new(db),
        })
    }

    /// Opens a database of a name no other uses (a new ULID), for tests.
    pub async fn new_test() -> Result<Self, StorageError> {
        Self::open(&format!("ankurah-test-{}", EntityId::new())).await
    }

    /// The database's name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// Closes the database; later calls fail. Another handle may open it again.
    pub fn close(&self) {
        self.db.close()
    }

    /// A transaction over `stores`.
    pub(crate) fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<IdbTransaction, StorageError> {
        let names: Array = stores.iter().map(|name| JsValue::from_str(name)).collect();
        self.db
            .transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(js_error("transaction"))
    }

    /// Writes events and states in one transaction and waits until it is durable; returns
    /// how many events were new. A state replaces the entity's previous one; of several
    /// states of one entity, the last wins. `collection` overrides the collection that
    /// states and events name (a collection handle writes into its own).
    pub(crate) async fn store(
        &self,
        collection: Option<&CollectionId>,
        events: &[Event],
        states: &[StoredState],
    ) -> Result<usize, StorageError> {
        // Encoding a value for an index recurses into it.
        states.iter().try_for_each(StoredState::check_depth)?;
        let mut by_collection: BTreeMap<&CollectionId, BTreeMap<EntityId, &StoredState>> =
            BTreeMap::new();
        for stored in states {
            let name = collection.unwrap_or(&stored.state.collection);
            by_collection
                .entry(name)
                .or_default()
                .insert(stored.state.entity_id, stored);
        }
        let tx = self.transaction(
            &[
                layout::CATALOG,
                layout::STATES,
                layout::EVENTS,
                layout::INDEX,
            ],
            IdbTransactionMode::Readwrite,
        )?;
        let written = async {
            let mut added = 0;
            let event_store = object_store(&tx, layout::EVENTS)?;
            for event in events {
                let name = collection.unwrap_or(&event.collection);
                let key = layout::event_key(name, event.entity_id.to_bytes(), event.id.to_bytes());
                let count = request("count event", event_store.count_with_key(&key)).await?;
                if count.as_f64() == Some(0.0) {
                    request(
                        "put event",
                        event_store.put_with_key(&bytes(&event.encode()), &key),
                    )
                    .await?;
                    added += 1;
                }
            }
            let (state_store, index_store) = (
                object_store(&tx, layout::STATES)?,
                object_store(&tx, layout::INDEX)?,
            );
            for (name, states) in &by_collection {
                let indexed = catalogued(&tx, name).await?;
                for (entity, stored) in states {
                    let key = layout::state_key(name, entity.to_bytes());
                    let old = request("get state", state_store.get(&key)).await?;
                    let old = match old.is_undefined() {
                        true => None,
                        false => Some(Record::decode(&to_bytes(&old, "state")?)?),
                    };
                    let new = Record::of(stored);
                    request(
                        "put state",
                        state_store.put_with_key(&bytes(&new.encode()), &key),
                    )
                    .await?;
                    for property in &indexed {
                        let Some(change) = entry_change(property, old.as_ref(), Some(&new)) else {
                            continue;
                        };
                        if let Some(entry) = change.remove {
                            let key = layout::index_key(name, property, &entry);
                            request("delete index entry", index_store.delete(&key)).await?;
                        }
                        if let Some(entry) = change.add {
                            let key = layout::index_key(name, property, &entry);
                            let put = index_store.put_with_key(&JsValue::from(0), &key);
                            request("put index entry", put).await?;
                        }
                    }
                }
            }
            Ok::<_, StorageError>(added)
        }
        .await;
        finish(&tx, "commit", written).await
    }

    /// Builds the indexes on `properties` of `collection` that are not complete yet, in one
    /// transaction that also catalogs them (see [`layout`]).
    pub(crate) async fn ensure_indexes(
        &self,
        collection: &CollectionId,
        properties: &BTreeSet<&str>,
    ) -> Result<(), StorageError> {
        let tx = self.transaction(
            &[layout::CATALOG, layout::STATES, layout::INDEX],
            IdbTransactionMode::Readwrite,
        )?;
        let built = async {
            let indexed = catalogued(&tx, collection).await?;
            let missing: Vec<&str> = properties
                .iter()
                .copied()
                .filter(|property| !indexed.contains(*property))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let states = object_store(&tx, layout::STATES)?;
            let range = layout::starting_with(&[Part::Text(collection.as_str())])?;
            let stored = request("read states", states.get_all_with_key(&range)).await?;
            let records = items(stored, "states")?
                .iter()
                .map(|value| Ok(Record::decode(&to_bytes(value, "state")?)?))
                .collect::<Result<Vec<_>, StorageError>>()?;
            let (index, catalog) = (
                object_store(&tx, layout::INDEX)?,
                object_store(&tx, layout::CATALOG)?,
            );
            for property in missing {
                for entry in records
                    .iter()
                    .filter_map(|record| record.index_entry(property))
                {
                    let key = layout::index_key(collection, property, &entry);
                    request(
                        "put index entry",
                        index.put_with_key(&JsValue::from(0), &key),
                    )
                    .await?;
                }
                let key = layout::catalog_key(collection, property);
                request(
                    "catalog index",
                    catalog.put_with_key(&JsValue::from(1), &key),
                )
                .await?;
            }
            Ok(())
        }
        .await;
        finish(&tx, "build index", built).await
    }

    /// The collections with a state or an event: one `getKey` per collection, each
    /// starting after every key of the one before.
    async fn read_collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        let tx = self.transaction(
            &[layout::STATES, layout::EVENTS],
            IdbTransactionMode::Readonly,
        )?;
        let mut names = BTreeSet::new();
        for store in [layout::STATES, layout::EVENTS] {
            let store = object_store(&tx, store)?;
            let mut range =
                IdbKeyRange::lower_bound(&Array::new()).map_err(js_error("key range"))?;
            loop {
                let found = request("read collections", store.get_key(&range)).await?;
                if found.is_undefined() {
                    break;
                }
                let name = key_part(&found, 0)
                    .as_string()
                    .ok_or(IndexedDbError::Unexpected("collection name in a key"))?;
                range = layout::after_collection(&name)?;
                names.insert(name);
            }
        }
        Ok(names.into_iter().map(CollectionId::from).collect())
    }

    async fn read_system_id(&self) -> Result<Option<SystemId>, StorageError> {
        let tx = self.transaction(&[layout::META], IdbTransactionMode::Readonly)?;
        let meta = object_store(&tx, layout::META)?;
        let stored = request("read system id", meta.get(&layout::META_SYSTEM_ID.into())).await?;
        if stored.is_undefined() {
            return Ok(None);
        }
        Ok(Some(SystemId::from_slice(&to_bytes(
            &stored,
            "system id",
        )?)?))
    }

    /// Runs `change` on the outbox in one transaction and waits until it is durable.
    async fn change_outbox(
        &self,
        operation: &'static str,
        keys_and_values: Vec<(JsValue, Option<JsValue>)>,
    ) -> Result<(), StorageError> {
        let tx = self.transaction(&[layout::OUTBOX], IdbTransactionMode::Readwrite)?;
        let changed = async {
            let outbox = object_store(&tx, layout::OUTBOX)?;
            for (key, value) in &keys_and_values {
                let call = match value {
                    Some(value) => outbox.put_with_key(value, key),
                    None => outbox.delete(key),
                };
                request(operation, call).await?;
            }
            Ok(())
        }
        .await;
        finish(&tx, operation, changed).await
    }

    async fn read_outbox(&self) -> Result<Vec<Event>, StorageError> {
        let tx = self.transaction(&[layout::OUTBOX], IdbTransactionMode::Readonly)?;
        let outbox = object_store(&tx, layout::OUTBOX)?;
        let stored = request("read outbox", outbox.get_all()).await?;
        items(stored, "outbox")?
            .iter()
            .map(|value| Ok(Event::decode(&to_bytes(value, "event")?)?))
            .collect()
    }
}

/// Creates the stores a new database lacks (in its upgrade transaction). If one cannot be
/// created the upgrade is aborted, so opening fails with the browser's error.
fn create_stores(opening: &IdbOpenDbRequest) {
    let Ok(db) = opening
        .result()
        .and_then(|db| db.dyn_into::<IdbDatabase>().map_err(JsValue::from))
    else {
        return;
    };
    let existing = db.object_store_names();
    for name in layout::STORES {
        if !existing.contains(name) && db.create_object_store(name).is_err() {
            if let Some(upgrade) = opening.transaction() {
                // Already aborting, if this fails.
                let _ = upgrade.abort();
            }
            return;
        }
    }
}

/// The store `name` of `tx`.
pub(crate) fn object_store(
    tx: &IdbTransaction,
    name: &str,
) -> Result<IdbObjectStore, StorageError> {
    tx.object_store(name).map_err(js_error("object store"))
}

/// The properties of `collection` with a complete index.
pub(crate) async fn catalogued(
    tx: &IdbTransaction,
    collection: &CollectionId,
) -> Result<BTreeSet<String>, StorageError> {
    let catalog = object_store(tx, layout::CATALOG)?;
    let range = layout::starting_with(&[Part::Text(collection.as_str())])?;
    let keys = request("read catalog", catalog.get_all_keys_with_key(&range)).await?;
    items(keys, "catalog")?
        .iter()
        .map(|key| {
            key_part(key, 1)
                .as_string()
                .ok_or_else(|| IndexedDbError::Unexpected("catalog key").into())
        })
        .collect()
}

/// Waits for a read-write transaction after its requests ran: durable when they succeeded,
/// aborted (nothing written) when one failed.
async fn finish<T>(
    tx: &IdbTransaction,
    operation: &'static str,
    outcome: Result<T, StorageError>,
) -> Result<T, StorageError> {
    match outcome {
        Ok(value) => idb::complete(operation, tx).await.map(|()| value),
        Err(error) => {
            // Already aborted by the failed request, if this fails.
            let _ = tx.abort();
            Err(error)
        }
    }
}

#[async_trait]
impl StorageEngine for IndexedDbStorage {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        Ok(Arc::new(IndexedDbCollection::new(self.clone(), id.clone())))
    }

    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        SendWrapper::new(self.store(None, &batch.events, &batch.states))
            .await
            .map(drop)
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        SendWrapper::new(self.read_system_id()).await
    }

    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        SendWrapper::new(self.read_collections()).await
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        SendWrapper::new(async move {
            let tx = self.transaction(&[layout::META], IdbTransactionMode::Readwrite)?;
            let written = async {
                let meta = object_store(&tx, layout::META)?;
                let key = JsValue::from_str(layout::META_SYSTEM_ID);
                request(
                    "write system id",
                    meta.put_with_key(&bytes(&id.to_bytes()), &key),
                )
                .await
                .map(drop)
            }
            .await;
            finish(&tx, "write system id", written).await
        })
        .await
    }

    async fn outbox_add(&self, events: &[Event]) -> Result<(), StorageError> {
        let changes = events
            .iter()
            .map(|event| (bytes(&event.id.to_bytes()), Some(bytes(&event.encode()))))
            .collect();
        SendWrapper::new(self.change_outbox("add to outbox", changes)).await
    }

    async fn outbox_remove(&self, ids: &[EventId]) -> Result<(), StorageError> {
        let changes = ids.iter().map(|id| (bytes(&id.to_bytes()), None)).collect();
        SendWrapper::new(self.change_outbox("remove from outbox", changes)).await
    }

    async fn outbox(&self) -> Result<Vec<Event>, StorageError> {
        SendWrapper::new(self.read_outbox()).await
    }
}
