//! [`PostgresCollection`]: one collection's tables, and the statements that read and write
//! them (shared with [`commit`](crate::PostgresStorage)).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ankurah_core::ankql::Selection;
use ankurah_core::storage::{QueryPlan, StorageCollection, StoredState};
use ankurah_core::{encoding, Clock, EntityId, EntityState, Event, EventId, Limits, StorageError};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use parking_lot::Mutex;
use tokio_postgres::IsolationLevel;

use crate::engine::{commit_writes, engine_error, execute, query, Shared};
use crate::layout::{quote, Columns, Table, CATALOG_COLUMNS};
use crate::merge::{self, Resolution};
use crate::sql;
use crate::types::{Row, RowSet};

/// Statements each connection keeps prepared. Every query shape is one; past this many the
/// cache starts over, so ad-hoc queries cannot grow it, or the server's memory, without bound.
const CACHED_STATEMENTS: usize = 256;

/// A collection's tables and what this process knows of them.
#[derive(Debug)]
pub(crate) struct Collection {
    pub(crate) table: Table,
    /// Property columns known to exist. Columns are never dropped, so this can only be
    /// incomplete (another process added one), never wrong; it only decides when to add.
    pub(crate) columns: Mutex<Columns>,
    /// Names of the indexes known to exist.
    pub(crate) indexes: Mutex<HashSet<String>>,
}

/// A handle on one collection of a [`PostgresStorage`](crate::PostgresStorage).
pub(crate) struct PostgresCollection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) collection: Arc<Collection>,
}

#[async_trait]
impl StorageCollection for PostgresCollection {
    async fn set_state(&self, state: &StoredState) -> Result<(), StorageError> {
        let row = Row::new(state)?;
        self.shared
            .ensure_columns(&self.collection, &row.columns())
            .await?;
        let mut client = self.shared.client().await?;
        let txn = client.transaction().await.map_err(engine_error)?;
        write_states(&txn, &self.collection.table, &[row], None).await?;
        commit_writes(txn).await
    }

    async fn get_state(&self, id: EntityId) -> Result<Option<EntityState>, StorageError> {
        let client = self.shared.client().await?;
        let sql = format!(
            "SELECT state FROM {} WHERE id = $1",
            self.collection.table.states
        );
        let rows = query(&client, &sql, &[&id.to_bytes().as_slice()]).await?;
        rows.first().map(decode_state).transpose()
    }

    async fn fetch_states(&self, selection: &Selection) -> Result<Vec<EntityState>, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let table = &self.collection.table;
        let mut client = self.shared.client().await?;
        // One snapshot for the column list and the rows: a column another process adds is
        // seen together with the rows that use it, or not at all.
        let txn = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(engine_error)?;
        let columns = catalog_columns(&txn, table).await?;
        let select = sql::select(table, &columns, selection);
        if txn.statement_cache.size() >= CACHED_STATEMENTS {
            txn.statement_cache.clear();
        }
        let rows = query(&txn, &select.statement.text, &select.statement.params()).await?;
        // Read-only: ending it by dropping queues a ROLLBACK on the connection instead of
        // waiting a round trip for COMMIT; the next user of the connection runs after it.
        drop(txn);
        drop(client);
        let states = rows
            .iter()
            .map(decode_state)
            .collect::<Result<Vec<_>, _>>()?;
        let states = if select.exact {
            states
        } else {
            // A superset, unordered: the core evaluator filters, sorts and limits it.
            let stored = states
                .into_iter()
                .map(StoredState::from_state)
                .collect::<Result<Vec<_>, _>>()?;
            selection
                .apply(stored)
                .into_iter()
                .map(|s| s.state)
                .collect()
        };
        self.shared
            .ensure_indexes(&self.collection, &select.columns)
            .await?;
        Ok(states)
    }

    /// Asks PostgreSQL: the statement `fetch_states` would run, through `EXPLAIN`, after
    /// creating the indexes that query would create. The index is the first one the plan
    /// uses, the candidates the planner's row estimate for the table scan.
    async fn explain(&self, selection: &Selection) -> Result<QueryPlan, StorageError> {
        selection.check_depth(Limits::DEPTH_CEILING)?;
        let table = &self.collection.table;
        let client = self.shared.client().await?;
        let columns = catalog_columns(&client, table).await?;
        let select = sql::select(table, &columns, selection);
        self.shared
            .ensure_indexes(&self.collection, &select.columns)
            .await?;
        let params = select.statement.params();
        let explain = |format: &str| format!("EXPLAIN {format}{}", select.statement.text);
        let json = client
            .query(explain("(FORMAT JSON) ").as_str(), &params)
            .await
            .map_err(engine_error)?;
        let json: serde_json::Value = match json.first() {
            Some(row) => row.try_get(0).map_err(engine_error)?,
            None => serde_json::Value::Null,
        };
        let text = client
            .query(explain("").as_str(), &params)
            .await
            .map_err(engine_error)?
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(engine_error)?;
        let mut detail = text.join("\n");
        if !select.exact {
            detail.push_str(
                "\n(a superset: Ankurah filters, sorts and limits the rows, as the predicate is not all SQL)",
            );
        }
        let (index, candidates) = plan_summary(&json[0]["Plan"]);
        Ok(QueryPlan {
            engine: "postgres",
            index,
            candidates,
            estimated: true,
            detail,
        })
    }

    async fn add_event(&self, event: &Event) -> Result<bool, StorageError> {
        let client = self.shared.client().await?;
        Ok(insert_events(&client, &self.collection.table, std::slice::from_ref(event)).await? == 1)
    }

    async fn get_events(
        &self,
        entity: EntityId,
        ids: &[EventId],
    ) -> Result<Vec<Event>, StorageError> {
        let client = self.shared.client().await?;
        get_events(&client, &self.collection.table, entity, ids).await
    }

    async fn dump_entity_events(&self, id: EntityId) -> Result<Vec<Event>, StorageError> {
        let client = self.shared.client().await?;
        let sql = format!(
            "SELECT event FROM {} WHERE entity_id = $1 ORDER BY id",
            self.collection.table.events
        );
        query(&client, &sql, &[&id.to_bytes().as_slice()])
            .await?
            .iter()
            .map(decode_event)
            .collect()
    }

    async fn scan_states(
        &self,
        after: Option<EntityId>,
        limit: usize,
    ) -> Result<Vec<EntityState>, StorageError> {
        let client = self.shared.client().await?;
        let table = &self.collection.table.states;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            Some(after) => {
                let sql = format!("SELECT state FROM {table} WHERE id > $1 ORDER BY id LIMIT $2");
                query(&client, &sql, &[&after.to_bytes().as_slice(), &limit]).await?
            }
            None => {
                let sql = format!("SELECT state FROM {table} ORDER BY id LIMIT $1");
                query(&client, &sql, &[&limit]).await?
            }
        };
        rows.iter().map(decode_state).collect()
    }
}

/// From a node of `EXPLAIN (FORMAT JSON)`: the first index the plan uses, and the estimated
/// rows of its deepest scan of a table (what the scan hands up before any sort or limit).
fn plan_summary(node: &serde_json::Value) -> (Option<String>, u64) {
    let children = node["Plans"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let below = children
        .iter()
        .map(plan_summary)
        .find(|(index, _)| index.is_some());
    let deepest = children
        .iter()
        .map(plan_summary)
        .find(|(_, rows)| *rows > 0);
    let index = node["Index Name"].as_str().map(str::to_owned);
    let rows = node["Plan Rows"].as_u64().unwrap_or(0);
    let scan_rows = if node["Relation Name"].is_string() {
        rows
    } else {
        deepest.map_or(rows, |(_, rows)| rows)
    };
    (index.or(below.and_then(|(index, _)| index)), scan_rows)
}

fn bytes(row: &tokio_postgres::Row, column: usize) -> Result<&[u8], StorageError> {
    row.try_get(column).map_err(engine_error)
}

fn decode_state(row: &tokio_postgres::Row) -> Result<EntityState, StorageError> {
    Ok(EntityState::decode(bytes(row, 0)?)?)
}

fn decode_event(row: &tokio_postgres::Row) -> Result<Event, StorageError> {
    Ok(Event::decode(bytes(row, 0)?)?)
}

/// The property columns of a table, as the catalog has them now.
pub(crate) async fn catalog_columns(
    client: &impl GenericClient,
    table: &Table,
) -> Result<Columns, StorageError> {
    let rows = query(client, CATALOG_COLUMNS, &[&table.schema, &table.name]).await?;
    let names = rows
        .iter()
        .map(|r| r.try_get::<_, &str>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine_error)?;
    Ok(Columns::from_names(names))
}

/// Stores events, skipping those already stored; returns how many were new.
pub(crate) async fn insert_events(
    client: &impl GenericClient,
    table: &Table,
    events: &[Event],
) -> Result<u64, StorageError> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Vec<u8>> = events.iter().map(|e| e.id.to_bytes().to_vec()).collect();
    let entities: Vec<Vec<u8>> = events
        .iter()
        .map(|e| e.entity_id.to_bytes().to_vec())
        .collect();
    let encoded: Vec<Vec<u8>> = events.iter().map(Event::encode).collect();
    let sql = format!(
        "INSERT INTO {} (id, entity_id, event) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])
         ON CONFLICT (id) DO NOTHING",
        table.events
    );
    execute(client, &sql, &[&ids, &entities, &encoded]).await
}

/// The stored events of `entity` among `ids`, in id order.
pub(crate) async fn get_events(
    client: &impl GenericClient,
    table: &Table,
    entity: EntityId,
    ids: &[EventId],
) -> Result<Vec<Event>, StorageError> {
    let ids: Vec<Vec<u8>> = ids.iter().map(|id| id.to_bytes().to_vec()).collect();
    let sql = format!(
        "SELECT event FROM {} WHERE entity_id = $1 AND id = ANY($2) ORDER BY id",
        table.events
    );
    query(client, &sql, &[&entity.to_bytes().as_slice(), &ids])
        .await?
        .iter()
        .map(decode_event)
        .collect()
}

/// Writes entity rows inside `txn`. A row that exists is replaced, or, when `batch` holds the
/// events of a commit, resolved against the stored state (see [`merge`]).
pub(crate) async fn write_states(
    txn: &Transaction<'_>,
    table: &Table,
    rows: &[Row<'_>],
    batch: Option<&[Event]>,
) -> Result<(), StorageError> {
    if rows.is_empty() {
        return Ok(());
    }
    // Inserts the new rows and locks the existing ones (`DO UPDATE ... WHERE FALSE` locks
    // without updating) in one pass in the caller's id order, so concurrent commits lock in
    // the same order and cannot deadlock. Only inserted rows are returned.
    let set = RowSet::new(&rows.iter().collect::<Vec<_>>());
    let sql = format!(
        "INSERT INTO {} ({}) SELECT * FROM {} ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id WHERE FALSE RETURNING id",
        table.states,
        set.columns.join(", "),
        set.unnest
    );
    let statement = set.params.render(&sql);
    let inserted = query(txn, &statement.text, &statement.params()).await?;
    let inserted = inserted
        .iter()
        .map(|r| bytes(r, 0))
        .collect::<Result<HashSet<_>, _>>()?;
    let existing: Vec<&Row> = rows
        .iter()
        .filter(|r| !inserted.contains(r.id().to_bytes().as_slice()))
        .collect();
    if existing.is_empty() {
        return Ok(());
    }

    let ids: Vec<Vec<u8>> = existing
        .iter()
        .map(|r| r.id().to_bytes().to_vec())
        .collect();
    let sql = format!(
        "SELECT id, head, state FROM {} WHERE id = ANY($1)",
        table.states
    );
    let stored_rows = query(txn, &sql, &[&ids]).await?;
    let mut stored = HashMap::new();
    for row in &stored_rows {
        let head: Clock = encoding::decode("head", bytes(row, 1)?)?;
        stored.insert(
            EntityId::from_slice(bytes(row, 0)?)?,
            (head, bytes(row, 2)?),
        );
    }
    let mut replaced = Vec::new();
    let mut joined = Vec::new();
    for row in existing {
        match (batch, stored.get(&row.id())) {
            (Some(batch), Some((head, state))) => {
                match merge::resolve(txn, table, row.source, head, state, batch).await? {
                    Resolution::Incoming => replaced.push(row),
                    Resolution::Stored => {}
                    Resolution::Joined(state) => joined.push(state),
                }
            }
            _ => replaced.push(row),
        }
    }
    let joined = joined.iter().map(Row::new).collect::<Result<Vec<_>, _>>()?;
    let updates: Vec<&Row> = replaced.into_iter().chain(&joined).collect();
    if updates.is_empty() {
        return Ok(());
    }

    // Every property column is assigned: the row's value, or NULL where the row has none (the
    // property is now NULL or holds another kind). The table is locked against `ALTER` by
    // now, so the catalog's column list cannot change before the commit.
    let set = RowSet::new(&updates);
    let unset = catalog_columns(txn, table)
        .await?
        .into_iter()
        .map(|(c, _)| quote(&c))
        .filter(|c| !set.columns.contains(c));
    let assignments: Vec<String> = set.columns[1..]
        .iter()
        .map(|c| format!("{c} = v.{c}"))
        .chain(unset.map(|c| format!("{c} = NULL")))
        .collect();
    let sql = format!(
        "UPDATE {t} SET {} FROM {} AS v({}) WHERE {t}.id = v.id",
        assignments.join(", "),
        set.unnest,
        set.columns.join(", "),
        t = table.states
    );
    let statement = set.params.render(&sql);
    execute(txn, &statement.text, &statement.params()).await?;
    Ok(())
}
