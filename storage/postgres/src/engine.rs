//! [`PostgresStorage`]: the connection pool, DDL, and the engine-wide operations (`commit`,
//! the system id).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use ankurah_core::storage::{CommitBatch, StorageCollection, StorageEngine, StoredState};
use ankurah_core::{CollectionId, EntityId, Event, StorageError, SystemId};
use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Transaction,
};
use parking_lot::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

use crate::collection::{
    catalog_columns, insert_events, write_states, Collection, PostgresCollection,
};
use crate::layout::{
    self, add_column, check_schema, create_index, quote, Columns, Table, DDL_LOCK, FORMAT_VERSION,
    META_TABLE,
};
use crate::types::Row;

/// A [`StorageEngine`] on PostgreSQL. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PostgresStorage {
    shared: Arc<Shared>,
}

/// What every collection handle of one [`PostgresStorage`] shares.
pub(crate) struct Shared {
    pool: Pool,
    schema: String,
    /// Collections opened by this process, by id.
    collections: tokio::sync::Mutex<HashMap<CollectionId, Arc<Collection>>>,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("schema", &self.shared.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or the key=value
    /// form) and keeps the tables in the `public` schema. The connection uses no TLS.
    ///
    /// Errors if the server is unreachable, the database is not UTF-8 (AnkQL's LIKE counts
    /// characters), or it holds a layout written by another version of this engine.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        Self::open_in_schema(url, "public").await
    }

    /// Like [`open`](Self::open), with every table in `schema` (created if missing). Several
    /// engines can share a database this way; tests use a schema each and drop it after.
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<Self, StorageError> {
        check_schema(schema)?;
        let config: tokio_postgres::Config = url.parse().map_err(engine_error)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).build().map_err(engine_error)?;
        let shared = Shared {
            pool,
            schema: schema.to_owned(),
            collections: Default::default(),
        };
        shared.prepare().await?;
        Ok(PostgresStorage {
            shared: Arc::new(shared),
        })
    }

    /// The schema holding this engine's tables.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }
}

impl Shared {
    pub(crate) async fn client(&self) -> Result<Object, StorageError> {
        self.pool.get().await.map_err(engine_error)
    }

    fn meta(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(META_TABLE))
    }

    /// Checks the server and creates or checks the schema and its format version.
    async fn prepare(&self) -> Result<(), StorageError> {
        let client = self.client().await?;
        let rows = query(&client, "SELECT current_setting('server_encoding')", &[]).await?;
        let encoding: &str = rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(engine_error)?
            .unwrap_or_default();
        if encoding != "UTF8" {
            return Err(StorageError::engine(ENGINE, NotUtf8(encoding.to_owned())));
        }
        self.ddl(&layout::create_schema(&self.schema)).await?;
        let insert = format!(
            "INSERT INTO {} (key, value) VALUES ('format', $1) ON CONFLICT (key) DO NOTHING",
            self.meta()
        );
        execute(&client, &insert, &[&FORMAT_VERSION]).await?;
        let found = self
            .meta_value(&client, "format")
            .await?
            .unwrap_or_default();
        if found != FORMAT_VERSION {
            return Err(StorageError::FormatVersion {
                found,
                expected: FORMAT_VERSION.to_owned(),
                hint: "open it with the version of ankurah-storage-postgres that wrote it, or use another schema",
            });
        }
        Ok(())
    }

    async fn meta_value(
        &self,
        client: &impl GenericClient,
        key: &str,
    ) -> Result<Option<String>, StorageError> {
        let rows = query(
            client,
            &format!("SELECT value FROM {} WHERE key = $1", self.meta()),
            &[&key],
        )
        .await?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(engine_error)
    }

    /// Runs DDL statements in a transaction holding the cross-process DDL lock.
    async fn ddl(&self, statements: &str) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(engine_error)?;
        txn.batch_execute(&format!("{DDL_LOCK}; {statements}"))
            .await
            .map_err(engine_error)?;
        txn.commit().await.map_err(engine_error)
    }

    /// The collection's tables, created on first use.
    pub(crate) async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<Collection>, StorageError> {
        let mut collections = self.collections.lock().await;
        if let Some(collection) = collections.get(id) {
            return Ok(collection.clone());
        }
        let table = Table::new(&self.schema, id.as_str())?;
        self.ddl(&table.create()).await?;
        let client = self.client().await?;
        let columns = catalog_columns(&client, &table).await?;
        let sql = "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2";
        let indexes = query(&client, sql, &[&table.schema, &table.name]).await?;
        let indexes = indexes
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(engine_error)?;
        let collection = Arc::new(Collection {
            table,
            columns: Mutex::new(columns),
            indexes: Mutex::new(indexes),
        });
        collections.insert(id.clone(), collection.clone());
        Ok(collection)
    }

    /// Adds the columns `needed` that this process does not know to exist.
    pub(crate) async fn ensure_columns(
        &self,
        collection: &Collection,
        needed: &Columns,
    ) -> Result<(), StorageError> {
        let missing: Columns = {
            let known = collection.columns.lock();
            needed
                .iter()
                .filter(|(column, _)| !known.contains(column))
                .map(|(c, k)| (c.to_owned(), k))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let statements: Vec<String> = missing
            .iter()
            .map(|(column, kind)| add_column(&collection.table, column, kind))
            .collect();
        self.ddl(&statements.join(";\n")).await?;
        collection.columns.lock().extend(missing);
        Ok(())
    }

    /// Creates the indexes of `columns` that do not exist yet (indexes on first use).
    pub(crate) async fn ensure_indexes(
        &self,
        collection: &Collection,
        columns: &BTreeSet<String>,
    ) -> Result<(), StorageError> {
        let table = &collection.table;
        let missing: Vec<(String, &String)> = {
            let known = collection.indexes.lock();
            columns
                .iter()
                .map(|c| (layout::index_name(&table.name, c), c))
                .filter(|(name, _)| !known.contains(name))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let statements: Vec<String> = missing
            .iter()
            .map(|(_, column)| create_index(table, column))
            .collect();
        self.ddl(&statements.join(";\n")).await?;
        collection
            .indexes
            .lock()
            .extend(missing.into_iter().map(|(name, _)| name));
        Ok(())
    }
}

#[async_trait]
impl StorageEngine for PostgresStorage {
    async fn collection(
        &self,
        id: &CollectionId,
    ) -> Result<Arc<dyn StorageCollection>, StorageError> {
        let collection = self.shared.collection(id).await?;
        Ok(Arc::new(PostgresCollection {
            shared: self.shared.clone(),
            collection,
        }))
    }

    /// One SQL transaction for the whole batch. Events are inserted first, then states, each
    /// in (collection, id) order so that concurrent commits take row locks in one order. A
    /// state whose row another process changed concurrently is joined with it (see
    /// [`merge`](crate::merge)).
    async fn commit(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.commit_batch(batch, Flush::Now).await
    }

    /// Like [`commit`](Self::commit) with `SET LOCAL synchronous_commit = off`: the server
    /// answers before its WAL reaches the disk (its WAL writer flushes it within three times
    /// `wal_writer_delay`). Only an OS crash or power loss of the database host loses it.
    async fn write(&self, batch: CommitBatch) -> Result<(), StorageError> {
        self.commit_batch(batch, Flush::Later).await
    }

    /// A synchronous commit of a marker row in the meta table: the server flushes its WAL
    /// through that commit, and with it every asynchronous commit before it.
    async fn sync(&self) -> Result<(), StorageError> {
        let mut client = self.shared.client().await?;
        let txn = client.transaction().await.map_err(engine_error)?;
        let sql = format!(
            "INSERT INTO {} (key, value) VALUES ('flushed', now()::text) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            self.shared.meta()
        );
        execute(&txn, &sql, &[]).await?;
        commit_writes(txn).await
    }

    /// The schema's tables without a `:` in their name: collection names may not hold one,
    /// and the engine's own tables all do.
    async fn collections(&self) -> Result<Vec<CollectionId>, StorageError> {
        let client = self.shared.client().await?;
        let sql = "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 AND strpos(tablename, ':') = 0 ORDER BY tablename";
        let rows = query(&client, sql, &[&self.shared.schema]).await?;
        let mut names = Vec::with_capacity(rows.len());
        for row in &rows {
            let table: String = row.try_get(0).map_err(engine_error)?;
            let name = crate::types::unescape(&table).ok_or_else(|| {
                StorageError::Decode(ankurah_core::DecodeError::Malformed {
                    what: "collection table name",
                    reason: format!("{table:?} is not an escaped name"),
                })
            })?;
            names.push(CollectionId::from(name.into_owned()));
        }
        // Table names sort by the escaped text; the engines list collections by name.
        names.sort();
        Ok(names)
    }

    async fn system_id(&self) -> Result<Option<SystemId>, StorageError> {
        let client = self.shared.client().await?;
        Ok(self
            .shared
            .meta_value(&client, "system_id")
            .await?
            .map(|id| id.parse())
            .transpose()?)
    }

    async fn set_system_id(&self, id: SystemId) -> Result<(), StorageError> {
        let client = self.shared.client().await?;
        let sql = format!(
            "INSERT INTO {} (key, value) VALUES ('system_id', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            self.shared.meta()
        );
        execute(&client, &sql, &[&id.to_string()]).await?;
        Ok(())
    }
}

/// Whether a commit waits for the server's WAL flush.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    Now,
    Later,
}

impl PostgresStorage {
    async fn commit_batch(&self, batch: CommitBatch, flush: Flush) -> Result<(), StorageError> {
        let mut groups: BTreeMap<CollectionId, (Vec<Event>, BTreeMap<EntityId, StoredState>)> =
            BTreeMap::new();
        for event in batch.events {
            groups
                .entry(event.collection.clone())
                .or_default()
                .0
                .push(event);
        }
        for state in batch.states {
            groups
                .entry(state.state.collection.clone())
                .or_default()
                .1
                .insert(state.state.entity_id, state);
        }
        for (events, _) in groups.values_mut() {
            events.sort_by_key(|e| e.id);
            events.dedup_by_key(|e| e.id);
        }
        let mut prepared = Vec::new();
        for (id, (events, states)) in &groups {
            let collection = self.shared.collection(id).await?;
            let rows = states
                .values()
                .map(Row::new)
                .collect::<Result<Vec<_>, _>>()?;
            let needed: Columns = rows.iter().flat_map(Row::columns).collect();
            self.shared.ensure_columns(&collection, &needed).await?;
            prepared.push((collection, events, rows));
        }
        let mut client = self.shared.client().await?;
        let txn = client.transaction().await.map_err(engine_error)?;
        if flush == Flush::Later {
            execute(&txn, "SET LOCAL synchronous_commit = off", &[]).await?;
        }
        for (collection, events, _) in &prepared {
            insert_events(&txn, &collection.table, events).await?;
        }
        for (collection, events, rows) in &prepared {
            write_states(&txn, &collection.table, rows, Some(events)).await?;
        }
        commit_writes(txn).await
    }
}

/// The engine's name in its errors.
const ENGINE: &str = "postgres";

/// A driver or pool error as [`StorageError::Engine`], with the SQLSTATE of the server's
/// error when there is one anywhere in its chain (a pool error wraps the driver's).
pub(crate) fn engine_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    let code = sqlstate(&error).map(str::to_owned);
    StorageError::Engine {
        engine: ENGINE,
        code,
        source: Box::new(error),
    }
}

/// The SQLSTATE the server answered with, if `error` or one of its causes is its answer.
fn sqlstate<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a str> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(code) = error
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
        {
            return Some(code.code());
        }
        next = error.source();
    }
    None
}

/// Commits a transaction that writes data. When the server refused the COMMIT it says why
/// (a SQLSTATE) and nothing was written: an [`StorageError::Engine`] error. When it never
/// answered (the connection broke), the transaction may or may not be durable: a
/// [`StorageError::Flush`].
pub(crate) async fn commit_writes(txn: Transaction<'_>) -> Result<(), StorageError> {
    match txn.commit().await {
        Ok(()) => Ok(()),
        Err(error) if error.code().is_some() => Err(engine_error(error)),
        Err(error) => Err(StorageError::Flush {
            engine: ENGINE,
            earlier: false,
            source: Arc::new(error),
        }),
    }
}

/// The database's encoding is not one Ankurah can work with.
#[derive(Debug, thiserror::Error)]
#[error("the database encoding is {0}; Ankurah needs UTF8 (LIKE's `_` is one character, strings compare by code point)")]
struct NotUtf8(String);

/// Runs a statement, prepared once per connection.
pub(crate) async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StorageError> {
    let statement = client.prepare_cached(sql).await.map_err(engine_error)?;
    client.query(&statement, params).await.map_err(engine_error)
}

/// Runs a statement, prepared once per connection; returns the number of rows affected.
pub(crate) async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StorageError> {
    let statement = client.prepare_cached(sql).await.map_err(engine_error)?;
    client
        .execute(&statement, params)
        .await
        .map_err(engine_error)
}
