//! The database layout, in one place: every table, column and index name, their types, and
//! the naming rules that keep user-chosen names from colliding with ours.
//!
//! Everything lives in one schema (`public` unless [`PostgresStorage::open_in_schema`] names
//! another):
//!
//! | table                 | columns                                                            |
//! |-----------------------|--------------------------------------------------------------------|
//! | `"ankurah:meta"`      | `key text PRIMARY KEY, value text` — rows `format` (the layout version), `system_id`, and `flushed` (rewritten synchronously by `sync`) |
//! | `"{collection}"`      | `id bytea PRIMARY KEY, state bytea, head bytea, deleted boolean`, then one column per property and kind of value |
//! | `"{collection}:events"` | `id bytea PRIMARY KEY, entity_id bytea, event bytea`, indexed on `(entity_id, id)` |
//!
//! Ids are the 16 big-endian ULID bytes, so `bytea` order is id order. `state` is
//! [`EntityState::encode`](ankurah_core::EntityState::encode), `head` the encoded head clock,
//! `event` [`Event::encode`](ankurah_core::Event::encode): the core's versioned envelope.
//!
//! **Property columns.** A property gets one column per kind of value it has held, named
//! `"{property}:{kind}"` in the kind's native type: `"year:int" bigint`,
//! `"rating:float" double precision`, `"name:text" text COLLATE "C"`, `"due:date" date`,
//! `"at:timestamp" timestamptz`, `"took:duration" interval` (microseconds only, no days or
//! months, so intervals order as their lengths), ... Postgres stores dates and instants from
//! 4714 BC on (dates to 5874897 AD): committing a value outside fails with Postgres' error,
//! while a query literal outside compares with every stored value as the evaluator says. A typed model gives
//! each property one kind, hence one column; a property whose type changed over time (an
//! `i32` field that became `f64`) gets a second column, and each row fills at most one of
//! them. Keeping kinds apart lets every comparison run on a native column with the
//! evaluator's exact rules (see [`crate::sql`]). Columns are added when a kind first appears
//! and never dropped.
//!
//! **Names.** Every identifier is double-quoted, so any name is safe SQL. Names are escaped
//! like all stored text (U+0000 → U+0001 U+0001, U+0001 → U+0001 U+0002), which makes NUL
//! representable. `:` separates a collection or property name from the suffix we append, so
//! collection names may not contain `:` (property names may: the kind is after the *last*
//! `:`). Postgres silently truncates identifiers to 63 bytes, which could merge two names, so
//! longer names are rejected with [`StorageError::InvalidName`], as are empty ones. Indexes
//! are named `"{table}:{column}"`, or by a hash when that is too long.
//!
//! **DDL** (schema, tables, columns, indexes) runs in short transactions of its own, serialized
//! across processes by an advisory lock, never inside a data transaction: an `ALTER TABLE`
//! there would hold an exclusive table lock while rows are locked. Indexes on `(column, id)`
//! are created the first time a query filters or sorts on a column; building one on a large
//! table blocks writes to it meanwhile.
//!
//! [`PostgresStorage::open_in_schema`]: crate::PostgresStorage::open_in_schema

use std::collections::BTreeMap;

use ankurah_core::{StorageError, ValueType};

use crate::types::escape;

/// Version of this layout, stored in the meta table and checked on open.
pub(crate) const FORMAT_VERSION: &str = "1";

/// The table of engine-wide settings.
pub(crate) const META_TABLE: &str = "ankurah:meta";

/// Serializes DDL of all processes sharing a database (`pg_advisory_xact_lock` argument).
pub(crate) const DDL_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('ankurah:ddl'))";

/// Longest identifier Postgres keeps intact (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// Every kind of property value, in the order their columns are listed.
const KINDS: [ValueType; 10] = [
    ValueType::Bool,
    ValueType::I64,
    ValueType::F64,
    ValueType::String,
    ValueType::Bytes,
    ValueType::EntityId,
    ValueType::Json,
    ValueType::Date,
    ValueType::Timestamp,
    ValueType::Duration,
];

/// The suffix naming a kind's column.
fn suffix(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Bool => "bool",
        ValueType::I64 => "int",
        ValueType::F64 => "float",
        ValueType::String => "text",
        ValueType::Bytes => "bytes",
        ValueType::EntityId => "id",
        ValueType::Json => "json",
        ValueType::Date => "date",
        ValueType::Timestamp => "timestamp",
        ValueType::Duration => "duration",
    }
}

/// The SQL type of a kind's column, as used in casts (`$1::bigint[]`).
pub(crate) fn sql_type(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Bool => "boolean",
        ValueType::I64 => "bigint",
        ValueType::F64 => "double precision",
        ValueType::String => "text",
        ValueType::Bytes | ValueType::EntityId => "bytea",
        ValueType::Json => "jsonb",
        ValueType::Date => "date",
        ValueType::Timestamp => "timestamptz",
        ValueType::Duration => "interval",
    }
}

/// Double-quotes an identifier (escaped names hold no NUL).
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn check_identifier(name: &str) -> Result<(), StorageError> {
    let reason = if name.is_empty() {
        "names may not be empty"
    } else if name.contains('\0') {
        "names may not contain NUL"
    } else if name.len() > MAX_IDENTIFIER {
        "Postgres identifiers are limited to 63 bytes (including the engine's suffix)"
    } else {
        return Ok(());
    };
    Err(StorageError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a schema name.
pub(crate) fn check_schema(name: &str) -> Result<(), StorageError> {
    check_identifier(name)
}

/// The column holding values of `kind` for `property`; errors if the name is too long.
pub(crate) fn property_column(property: &str, kind: ValueType) -> Result<String, StorageError> {
    let column = format!("{}:{}", escape(property), suffix(kind));
    check_identifier(&column).map_err(|_| StorageError::InvalidName {
        name: property.to_owned(),
        reason: "property names must fit a 63-byte column name with their `:kind` suffix",
    })?;
    Ok(column)
}

/// The kind a property column holds (the suffix after its last `:`), `None` for the fixed
/// columns.
fn column_kind(column: &str) -> Option<ValueType> {
    let (_, name) = column.rsplit_once(':')?;
    KINDS.into_iter().find(|kind| suffix(*kind) == name)
}

/// `ALTER TABLE` statement adding a property column. Text columns sort by code point, as
/// AnkQL compares strings, and indexes on them inherit that collation.
pub(crate) fn add_column(table: &Table, column: &str, kind: ValueType) -> String {
    let collation = if kind == ValueType::String {
        " COLLATE \"C\""
    } else {
        ""
    };
    format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}{collation}",
        table.states,
        quote(column),
        sql_type(kind)
    )
}

/// `CREATE INDEX` statement for one column of a table. The entity id is the second key, the
/// tie order of every result: an equality (or an ORDER BY on the column) with a LIMIT then
/// reads the index in result order and stops early instead of sorting every match.
pub(crate) fn create_index(table: &Table, column: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({}, id)",
        quote(&index_name(&table.name, column)),
        table.states,
        quote(column)
    )
}

/// `{table}:{column}` when that fits in an identifier, else a stable hash of both (index
/// names share the schema's namespace with tables, and must not be truncated into another).
pub(crate) fn index_name(table: &str, column: &str) -> String {
    let name = format!("{table}:{column}");
    if name.len() <= MAX_IDENTIFIER {
        return name;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("ix:{hash:016x}")
}

/// `CREATE SCHEMA` and the meta table.
pub(crate) fn create_schema(schema: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.{m} (key text PRIMARY KEY, value text NOT NULL);",
        s = quote(schema),
        m = quote(META_TABLE)
    )
}

/// Qualified, quoted names of one collection's tables.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) schema: String,
    /// Unquoted name of the states table (the escaped collection name).
    pub(crate) name: String,
    /// `"schema"."collection"`
    pub(crate) states: String,
    /// `"schema"."collection:events"`
    pub(crate) events: String,
}

impl Table {
    /// The tables of `collection`; errors if the name cannot be a table name.
    pub(crate) fn new(schema: &str, collection: &str) -> Result<Self, StorageError> {
        if collection.contains(':') {
            return Err(StorageError::InvalidName {
                name: collection.to_owned(),
                reason: "collection names may not contain `:` (it separates the engine's table suffixes)",
            });
        }
        let name = escape(collection).into_owned();
        let events = format!("{name}:events");
        check_identifier(&name)
            .and_then(|()| check_identifier(&events))
            .map_err(|_| StorageError::InvalidName {
                name: collection.to_owned(),
                reason: "collection names must be non-empty and at most 56 bytes",
            })?;
        Ok(Table {
            schema: schema.to_owned(),
            states: format!("{}.{}", quote(schema), quote(&name)),
            events: format!("{}.{}", quote(schema), quote(&events)),
            name,
        })
    }

    /// `CREATE TABLE` statements for both tables and the events index.
    pub(crate) fn create(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {states} (
                 id bytea PRIMARY KEY, state bytea NOT NULL, head bytea NOT NULL, deleted boolean NOT NULL);
             CREATE TABLE IF NOT EXISTS {events} (id bytea PRIMARY KEY, entity_id bytea NOT NULL, event bytea NOT NULL);
             CREATE INDEX IF NOT EXISTS {index} ON {events} (entity_id, id);",
            states = self.states,
            events = self.events,
            index = quote(&index_name(&format!("{}:events", self.name), "entity_id")),
        )
    }
}

/// Reads the column names of a table (arguments: schema, table).
pub(crate) const CATALOG_COLUMNS: &str = "SELECT a.attname FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped";

/// The property columns of a table, by name, with the kind each holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Columns(BTreeMap<String, ValueType>);

impl IntoIterator for Columns {
    type Item = (String, ValueType);
    type IntoIter = std::collections::btree_map::IntoIter<String, ValueType>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, ValueType)> for Columns {
    fn from_iter<I: IntoIterator<Item = (String, ValueType)>>(columns: I) -> Self {
        Columns(columns.into_iter().collect())
    }
}

impl Extend<(String, ValueType)> for Columns {
    fn extend<I: IntoIterator<Item = (String, ValueType)>>(&mut self, columns: I) {
        self.0.extend(columns);
    }
}

impl Columns {
    /// Reads catalog column names; the fixed columns are skipped.
    pub(crate) fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Columns(
            names
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), column_kind(name)?)))
                .collect(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn contains(&self, column: &str) -> bool {
        self.0.contains_key(column)
    }

    /// Every column with its kind, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, ValueType)> + '_ {
        self.0.iter().map(|(name, kind)| (name.as_str(), *kind))
    }

    /// The columns `property` has, with their kinds, in a fixed kind order.
    pub(crate) fn of(&self, property: &str) -> Vec<(ValueType, String)> {
        KINDS
            .into_iter()
            .filter_map(|kind| match property_column(property, kind) {
                Ok(column) => self.contains(&column).then_some((kind, column)),
                // Never written either (writes refuse such names): it reads as missing.
                Err(error) => {
                    tracing::debug!(%error, ?kind, "no column can hold this property");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_property_even_with_colons_and_nul() {
        assert_eq!(property_column("a:b", ValueType::F64).unwrap(), "a:b:float");
        assert_eq!(
            property_column("nul\0", ValueType::I64).unwrap(),
            "nul\u{1}\u{1}:int"
        );
        let columns = Columns::from_names([
            "id",
            "state",
            "year:int",
            "year:float",
            "a:b:text",
            "nul\u{1}\u{1}:int",
            "x:unknown",
        ]);
        assert_eq!(
            columns.of("year"),
            [
                (ValueType::I64, "year:int".into()),
                (ValueType::F64, "year:float".into())
            ]
        );
        assert_eq!(columns.of("a:b"), [(ValueType::String, "a:b:text".into())]);
        assert_eq!(
            columns.of("nul\0"),
            [(ValueType::I64, "nul\u{1}\u{1}:int".into())]
        );
        assert_eq!(columns.iter().count(), 4);
    }

    #[test]
    fn names_are_quoted_and_checked() {
        assert_eq!(
            quote(r#"a"; DROP TABLE x; --"#),
            r#""a""; DROP TABLE x; --""#
        );
        assert!(property_column(&"p".repeat(59), ValueType::I64).is_ok());
        assert!(property_column(&"p".repeat(60), ValueType::I64).is_err());
        assert!(Table::new("s", "a:b").is_err());
        assert!(Table::new("s", &"c".repeat(56)).is_ok());
        assert!(Table::new("s", &"c".repeat(57)).is_err());
        assert!(Table::new("s", "").is_err());
    }

    #[test]
    fn long_index_names_are_hashed_not_truncated() {
        let long = "c".repeat(56);
        let a = index_name(&long, "property_a:int");
        let b = index_name(&long, "property_b:int");
        assert!(a.len() <= MAX_IDENTIFIER && a != b);
        assert_eq!(index_name("album", "year:int"), "album:year:int");
    }
}
