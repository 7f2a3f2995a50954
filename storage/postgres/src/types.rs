//! Property values → SQL: how a [`StoredState`] becomes a row of its collection's table, how
//! many rows travel in one statement as typed arrays (`unnest($1::bytea[], ...)`), and how
//! text is escaped.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ankurah_core::storage::StoredState;
use ankurah_core::temporal::MICROS_PER_DAY;
use ankurah_core::{encoding, EntityId, StorageError, Value, ValueType};
use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::layout::{property_column, quote, sql_type, Columns};
use crate::sql::{Param, Params};

/// Postgres text cannot hold U+0000, so every text this engine stores (string columns, JSON
/// strings and object keys, table and column names) is escaped: U+0000 becomes U+0001 U+0001
/// and U+0001 becomes U+0001 U+0002. The escape is injective and keeps code-point order (at
/// the first difference of two texts, the escaped forms differ the same way, and U+0001 pairs
/// sort below every other character as U+0000 and U+0001 did), so comparing and sorting
/// escaped texts gives the answers the originals would. Literals are escaped the same way.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['\0', '\u{1}']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => escaped.push_str("\u{1}\u{1}"),
            '\u{1}' => escaped.push_str("\u{1}\u{2}"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// The text [`escape`] was given; `None` for text it cannot have produced.
pub(crate) fn unescape(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('\u{1}') {
        return Some(Cow::Borrowed(text));
    }
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        plain.push(match c {
            '\u{1}' => match chars.next()? {
                '\u{1}' => '\0',
                '\u{2}' => '\u{1}',
                _ => return None,
            },
            c => c,
        });
    }
    Some(Cow::Owned(plain))
}

/// [`escape`] applied to every string and object key of a JSON document.
pub(crate) fn escape_json(json: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match json {
        Json::String(s) => Json::String(escape(s).into_owned()),
        Json::Array(items) => Json::Array(items.iter().map(escape_json).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (escape(k).into_owned(), escape_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One entity as a row: the fixed columns and the value of each non-NULL property.
pub(crate) struct Row<'a> {
    pub(crate) source: &'a StoredState,
    state: Vec<u8>,
    head: Vec<u8>,
    /// Column name → value (of the column's kind).
    values: Vec<(String, &'a Value)>,
}

impl<'a> Row<'a> {
    /// Checks that every property fits a column (and nests no deeper than converting it to
    /// `jsonb` may recurse) and flattens the state.
    pub(crate) fn new(source: &'a StoredState) -> Result<Self, StorageError> {
        source.check_depth()?;
        let mut values = Vec::new();
        for (property, value) in &source.values {
            if let Some(kind) = value.value_type() {
                values.push((property_column(property, kind)?, value));
            }
        }
        Ok(Row {
            source,
            state: source.state.encode(),
            head: encoding::encode(&source.state.state.head),
            values,
        })
    }

    pub(crate) fn id(&self) -> EntityId {
        self.source.state.entity_id
    }

    /// The property columns this row fills.
    pub(crate) fn columns(&self) -> Columns {
        let mut columns = Columns::default();
        for (column, value) in &self.values {
            columns.extend(value.value_type().map(|kind| (column.clone(), kind)));
        }
        columns
    }

    fn value(&self, column: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| *v)
    }
}

/// Several rows as one typed array per column, NULL where a row has no value.
pub(crate) struct RowSet {
    /// Quoted column names, fixed columns first.
    pub(crate) columns: Vec<String>,
    /// The arrays, bound; render the statement using [`Self::unnest`] with them.
    pub(crate) params: Params,
    /// `unnest($1::bytea[], ...)`, producing one row per entity with `columns`.
    pub(crate) unnest: String,
}

impl RowSet {
    pub(crate) fn new(rows: &[&Row<'_>]) -> Self {
        let mut params = Params::default();
        let mut columns = Vec::new();
        let mut arrays = Vec::new();
        let mut add = |name: &str, sql_type: &str, array: Param| {
            columns.push(quote(name));
            arrays.push(format!("{}::{sql_type}[]", params.bind_boxed(array)));
        };
        add("id", "bytea", each(rows, |r| r.id().to_bytes().to_vec()));
        add("state", "bytea", each(rows, |r| r.state.clone()));
        add("head", "bytea", each(rows, |r| r.head.clone()));
        add("deleted", "boolean", each(rows, |r| r.source.is_deleted()));
        let kinds: BTreeMap<&str, ValueType> = rows
            .iter()
            .flat_map(|r| r.values.iter())
            .filter_map(|(column, value)| Some((column.as_str(), value.value_type()?)))
            .collect();
        for (name, kind) in kinds {
            add(name, sql_type(kind), array(kind, rows, name));
        }
        let unnest = format!("unnest({})", arrays.join(", "));
        RowSet {
            columns,
            params,
            unnest,
        }
    }
}

/// One value per row, as an SQL array.
fn each<T: ToSql + Sync + Send + 'static>(
    rows: &[&Row<'_>],
    value: impl Fn(&Row<'_>) -> T,
) -> Param {
    Box::new(rows.iter().map(|r| value(r)).collect::<Vec<T>>())
}

/// The values of one property column as a typed array, NULL for rows without one (a column
/// only ever receives values of its kind).
fn array(kind: ValueType, rows: &[&Row<'_>], column: &str) -> Param {
    macro_rules! typed {
        ($variant:ident, $convert:expr) => {
            each(rows, |r| match r.value(column) {
                Some(Value::$variant(value)) => Some($convert(value)),
                _ => None,
            })
        };
    }
    match kind {
        ValueType::Bool => typed!(Bool, |b: &bool| *b),
        ValueType::I64 => typed!(I64, |i: &i64| *i),
        ValueType::F64 => typed!(F64, |f: &f64| *f),
        ValueType::String => typed!(String, |s: &String| escape(s).into_owned()),
        ValueType::Bytes => typed!(Bytes, |b: &Vec<u8>| b.clone()),
        ValueType::EntityId => typed!(EntityId, |id: &EntityId| id.to_bytes().to_vec()),
        ValueType::Json => typed!(Json, escape_json),
        ValueType::Date => typed!(Date, |d: &i32| PgDate(*d)),
        ValueType::Timestamp => typed!(Timestamp, |t: &i64| PgTimestamp(*t)),
        ValueType::Duration => typed!(Duration, |d: &i64| PgInterval(*d)),
    }
}

/// Days from 1970-01-01, where [`Value::Date`] counts from, to 2000-01-01, where Postgres does.
const PG_EPOCH_DAYS: i32 = 10_957;

type SqlError = Box<dyn std::error::Error + Sync + Send>;

/// A value bound as a Postgres type in its binary format, written by `$write`.
macro_rules! binary_param {
    ($(#[$doc:meta])* $name:ident($inner:ty) as $pg:ident, |$value:ident, $out:ident| $write:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name(pub(crate) $inner);

        impl ToSql for $name {
            fn to_sql(&self, _: &Type, $out: &mut BytesMut) -> Result<IsNull, SqlError> {
                let $value = self.0;
                $write;
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            to_sql_checked!();
        }
    };
}

binary_param!(
    /// A [`Value::Date`] bound as a Postgres `date` (binary: days since 2000-01-01).
    PgDate(i32) as DATE,
    |days, out| out.put_i32(days.checked_sub(PG_EPOCH_DAYS).ok_or("date out of range")?)
);

binary_param!(
    /// A [`Value::Timestamp`] bound as a Postgres `timestamptz` (binary: microseconds since
    /// 2000-01-01T00:00:00Z). Postgres refuses instants outside its range (4713 BC to
    /// 294276 AD).
    PgTimestamp(i64) as TIMESTAMPTZ,
    |micros, out| {
        let offset = i64::from(PG_EPOCH_DAYS) * MICROS_PER_DAY;
        out.put_i64(micros.checked_sub(offset).ok_or("timestamp out of range")?)
    }
);

binary_param!(
    /// A [`Value::Duration`] bound as a Postgres `interval` of microseconds only (binary:
    /// microseconds, days, months), which Postgres orders by length.
    PgInterval(i64) as INTERVAL,
    |micros, out| {
        out.put_i64(micros);
        out.put_i32(0);
        out.put_i32(0)
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_injective_and_keeps_order() {
        let texts = [
            "", "\0", "\0\0", "\0a", "\u{1}", "\u{1}\0", "\u{2}", "a", "a\0", "a\u{1}", "a\u{1}b",
            "ab", "é",
        ];
        for a in texts {
            assert!(!escape(a).contains('\0'));
            for b in texts {
                assert_eq!(
                    escape(a).as_bytes().cmp(escape(b).as_bytes()),
                    a.as_bytes().cmp(b.as_bytes()),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }
}
