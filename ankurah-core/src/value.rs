//! [`Value`]: the query-time representation of a property value, and the comparison rules
//! of AnkQL (DESIGN §4) that every evaluator and every storage pushdown must share.
//!
//! # How property types become query values
//!
//! Every stored property is one `Value`, the same on every engine: what the evaluator
//! compares, what an ordered engine's index key encodes, and what fills a Postgres column.
//!
//! | Rust type                                   | `Value`                      | compares with                         |
//! |---------------------------------------------|------------------------------|---------------------------------------|
//! | `bool`                                      | `Bool`                       | booleans (a string never equals one)  |
//! | integers, `f32`, `f64`                      | `I64`, `F64`                 | numbers, strings that parse as one    |
//! | `String`                                    | `String`                     | strings; numbers, ids, dates by parsing the stored text |
//! | `Vec<u8>`                                   | `Bytes`                      | bytes                                 |
//! | `EntityId`, `Ref<M>`                        | `EntityId`                   | ids, strings that parse as one        |
//! | `chrono::NaiveDate` (feature `chrono`)      | `Date`                       | dates, ISO-8601 date strings          |
//! | `chrono::DateTime<Utc>`                     | `Timestamp`                  | timestamps, RFC 3339 strings          |
//! | `chrono::TimeDelta`                         | `Duration`                   | durations, ISO-8601 duration strings  |
//! | `Json`                                      | `Json`                       | by path, dynamically                  |
//! | `#[derive(Property)]` type                  | its serde JSON form, scalars unwrapped (below) | as that value           |
//! | `Option<T>`                                 | as `T`, `None` is `Null`     |                                       |
//!
//! A `#[derive(Property)]` type is serialized with serde to JSON, and a JSON scalar becomes
//! the plain value it spells ([`Value::from_json`]): a unit enum variant is its (serde) name,
//! `Value::String("Open")`, so `status = 'Open'` selects it; a newtype is its inner value
//! (`struct Year(i32)` is an `I64`, ordered and ranged as numbers; a newtype of a string is
//! a `String`); structs, data enums (`{"Closed": {"reason": …}}`) and sequences stay `Json`,
//! compared structurally (equal or not) and reachable by dotted paths. The same rule makes
//! a `Json` property holding a scalar compare as that scalar: everywhere a value is compared,
//! encoded or sorted, a `Json` scalar is first replaced by its plain value
//! ([`Value::canonical`]), so `Json("Open")` and `String("Open")` are one value on every engine.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::EntityId;
use crate::limits::LimitExceeded;

/// A property value as queries and storage engines see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// Absent or `None`.
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    String(String),
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    EntityId(EntityId),
    Json(serde_json::Value),
    /// A calendar date: days since 1970-01-01 (proleptic Gregorian), see [`crate::temporal`].
    Date(i32),
    /// An instant: microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// A length of time in microseconds.
    Duration(i64),
}

/// The type of a [`Value`], used in descriptors and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Bool,
    I64,
    F64,
    String,
    Bytes,
    EntityId,
    Json,
    /// [`Value::Date`].
    Date,
    /// [`Value::Timestamp`].
    Timestamp,
    /// [`Value::Duration`].
    Duration,
}

impl ValueType {
    /// A lowercase name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::I64 => "integer",
            ValueType::F64 => "float",
            ValueType::String => "string",
            ValueType::Bytes => "bytes",
            ValueType::EntityId => "entity id",
            ValueType::Json => "json",
            ValueType::Date => "date",
            ValueType::Timestamp => "timestamp",
            ValueType::Duration => "duration",
        }
    }

    /// Whether some value of this type can compare with `literal` under [`Value::compare`]
    /// (NULL aside, which compares with nothing): `false` means a comparison of a property
    /// of this type with `literal` can never be true. `Json` holds anything, so always.
    pub fn compares_with(&self, literal: &Value) -> bool {
        let literal = literal.canonical();
        match (self, &*literal) {
            (ValueType::Json, _) | (_, Value::Null) => true,
            (ValueType::Bool, Value::Bool(_)) => true,
            (ValueType::I64 | ValueType::F64, _) => literal.as_number().is_some(),
            // A stored string is parsed to compare with numbers, ids, dates and times.
            (
                ValueType::String,
                Value::String(_)
                | Value::I64(_)
                | Value::F64(_)
                | Value::EntityId(_)
                | Value::Date(_)
                | Value::Timestamp(_)
                | Value::Duration(_),
            ) => true,
            (ValueType::Bytes, Value::Bytes(_)) => true,
            (ValueType::EntityId, Value::EntityId(_)) => true,
            (ValueType::EntityId, Value::String(s)) => s.parse::<EntityId>().is_ok(),
            (ValueType::Date, _) => literal.as_date().is_some(),
            (ValueType::Timestamp, _) => literal.as_timestamp().is_some(),
            (ValueType::Duration, _) => literal.as_duration().is_some(),
            _ => false,
        }
    }

    /// How a literal of this type is written in AnkQL text, for error messages.
    pub fn literal_hint(&self) -> &'static str {
        match self {
            ValueType::Bool => "TRUE or FALSE (no quotes)",
            ValueType::I64 | ValueType::F64 => {
                "a number such as 42 or 1.5, or a string holding one"
            }
            ValueType::String => "a single-quoted string such as 'text'",
            ValueType::Bytes => "a bytes value bound as an argument (`?`)",
            ValueType::EntityId => "an entity id as a string such as '01J...' (26 characters)",
            ValueType::Json => "any value",
            ValueType::Date => "an ISO-8601 date such as '2026-12-04'",
            ValueType::Timestamp => "an RFC 3339 timestamp such as '2026-12-01T10:00:00Z'",
            ValueType::Duration => "an ISO-8601 duration such as 'PT1H30M' or 'P2D'",
        }
    }
}

impl Value {
    /// The type of this value, `None` for `Null`.
    pub fn value_type(&self) -> Option<ValueType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => ValueType::Bool,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
            Value::String(_) => ValueType::String,
            Value::Bytes(_) => ValueType::Bytes,
            Value::EntityId(_) => ValueType::EntityId,
            Value::Json(_) => ValueType::Json,
            Value::Date(_) => ValueType::Date,
            Value::Timestamp(_) => ValueType::Timestamp,
            Value::Duration(_) => ValueType::Duration,
        })
    }

    /// The value as queries compare it: a `Json` scalar becomes the plain value it spells
    /// ([`Value::from_json`]; JSON `null` is NULL), anything else stays. Every comparison,
    /// sort, index key and pushed-down condition goes through this, so a `Json("Open")`
    /// stored by one writer and a `String("Open")` literal are the same value everywhere.
    pub fn canonical(&self) -> Cow<'_, Value> {
        match self {
            Value::Json(json) if !json.is_object() && !json.is_array() => {
                Cow::Owned(Value::from_json(json))
            }
            other => Cow::Borrowed(other),
        }
    }

    /// The date this value compares as against a date: a date, or a string holding an
    /// ISO-8601 date (see [`crate::temporal::parse_date`]).
    pub fn as_date(&self) -> Option<i32> {
        match self {
            Value::Date(days) => Some(*days),
            Value::String(s) => crate::temporal::parse_date(s),
            _ => None,
        }
    }

    /// The instant (microseconds since the epoch) this value compares as against a
    /// timestamp: a timestamp, or a string holding an RFC 3339 / ISO-8601 one.
    pub fn as_timestamp(&self) -> Option<i64> {
        match self {
            Value::Timestamp(micros) => Some(*micros),
            Value::String(s) => crate::temporal::parse_timestamp(s),
            _ => None,
        }
    }

    /// The length (microseconds) this value compares as against a duration: a duration, or
    /// a string holding an ISO-8601 one.
    pub fn as_duration(&self) -> Option<i64> {
        match self {
            Value::Duration(micros) => Some(*micros),
            Value::String(s) => crate::temporal::parse_duration(s),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn type_name(&self) -> &'static str {
        self.value_type().map_or("null", |t| t.name())
    }

    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `Ok` unless the value is Json nesting deeper than `limit` (see [`check_json_depth`]).
    pub fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        match self {
            Value::Json(json) => check_json_depth(json, limit),
            _ => Ok(()),
        }
    }

    /// Converts a JSON scalar to the matching plain value; objects and arrays stay `Json`.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::I64(i),
                None => n.as_f64().map_or(Value::Null, Value::F64),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            other => Value::Json(other.clone()),
        }
    }

    /// Follows a path of keys (or array indices) into a JSON value; `None` when absent.
    pub fn json_path(&self, path: &[String]) -> Option<Value> {
        let Value::Json(root) = self else {
            return if path.is_empty() {
                Some(self.clone())
            } else {
                None
            };
        };
        let mut json = root;
        for key in path {
            json = match json {
                serde_json::Value::Object(map) => map.get(key)?,
                serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(Value::from_json(json))
    }

    /// The number this value compares as against a number: integers, floats other than NaN,
    /// and strings whose trimmed text parses as an `i64`, else as a finite `f64`. Storage
    /// engines pushing comparisons down must apply exactly this rule.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::I64(i) => Some(Number::I64(*i)),
            Value::F64(f) if !f.is_nan() => Some(Number::F64(*f)),
            Value::String(s) => parse_number(s),
            Value::Json(json) if json.is_number() || json.is_string() => {
                Value::from_json(json).as_number()
            }
            _ => None,
        }
    }

    /// AnkQL comparison. `None` means *unknown*: NULL on either side, incomparable types, or
    /// a string that does not parse as a number (a date, a timestamp, a duration, an id)
    /// compared with one. `Json` scalars compare as their plain values ([`Value::canonical`]).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        let (this, other) = (self.canonical(), other.canonical());
        match (&*this, &*other) {
            (Date(a), _) => Some(a.cmp(&other.as_date()?)),
            (_, Date(b)) => Some(this.as_date()?.cmp(b)),
            (Timestamp(a), _) => Some(a.cmp(&other.as_timestamp()?)),
            (_, Timestamp(b)) => Some(this.as_timestamp()?.cmp(b)),
            (Duration(a), _) => Some(a.cmp(&other.as_duration()?)),
            (_, Duration(b)) => Some(this.as_duration()?.cmp(b)),
            _ => this.compare_plain(&other),
        }
    }

    /// [`Value::compare`] of canonical values other than dates and times.
    fn compare_plain(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (String(a), String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (I64(_) | F64(_), _) | (_, I64(_) | F64(_)) => {
                self.as_number()?.compare(&other.as_number()?)
            }
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Bytes(a), Bytes(b)) => Some(a.cmp(b)),
            (EntityId(a), EntityId(b)) => Some(a.cmp(b)),
            (EntityId(a), String(b)) => Some(a.cmp(&b.parse().ok()?)),
            (String(a), EntityId(b)) => Some(a.parse::<crate::id::EntityId>().ok()?.cmp(b)),
            (Json(a), Json(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }

    /// The total order used by ORDER BY: NULL after every value; values of different kinds
    /// ordered by kind (bool, number, string, bytes, id, json, date, timestamp, duration),
    /// numbers numerically; `Json` scalars as their plain values.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Bool(_) => 0,
                Value::I64(_) | Value::F64(_) => 1,
                Value::String(_) => 2,
                Value::Bytes(_) => 3,
                Value::EntityId(_) => 4,
                Value::Json(_) => 5,
                Value::Date(_) => 6,
                Value::Timestamp(_) => 7,
                Value::Duration(_) => 8,
                Value::Null => 9,
            }
        }
        let (this, other) = (self.canonical(), other.canonical());
        let (this, other) = (&*this, &*other);
        match (this, other) {
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b))
            | (Value::Duration(a), Value::Duration(b)) => a.cmp(b),
            (Value::Json(a), Value::Json(b)) => a.to_string().cmp(&b.to_string()),
            (Value::I64(_) | Value::F64(_), Value::I64(_) | Value::F64(_)) => {
                let (a, b) = (this.as_number(), other.as_number());
                match (a, b) {
                    (Some(a), Some(b)) => a.compare(&b).unwrap_or(Ordering::Equal),
                    // NaN sorts after every other number.
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                }
            }
            _ if rank(this) == rank(other) => this.compare(other).unwrap_or(Ordering::Equal),
            _ => rank(this).cmp(&rank(other)),
        }
    }
}

/// `Ok` if `json` nests at most `limit` arrays and objects (a scalar has depth 0, `[1]` and
/// `{}` depth 1). Walks with an explicit stack and stops one level past the limit, so a value
/// of any depth can be vetted before anything recursive (printing, comparing, storing) runs.
pub fn check_json_depth(json: &serde_json::Value, limit: usize) -> Result<(), LimitExceeded> {
    let mut stack = vec![(json, 0)];
    while let Some((json, depth)) = stack.pop() {
        let depth = depth + 1;
        match json {
            serde_json::Value::Array(items) => {
                LimitExceeded::check(JSON_DEPTH, depth, limit)?;
                stack.extend(items.iter().map(|item| (item, depth)));
            }
            serde_json::Value::Object(map) => {
                LimitExceeded::check(JSON_DEPTH, depth, limit)?;
                stack.extend(map.values().map(|item| (item, depth)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// What [`check_json_depth`] measures, as its errors name it.
pub const JSON_DEPTH: &str = "Json nesting depth";

/// A value read as a number by [`Value::as_number`]; integers keep their exact value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    I64(i64),
    F64(f64),
}

impl Number {
    /// Exact numeric comparison across integers and floats.
    pub fn compare(&self, other: &Number) -> Option<Ordering> {
        match (*self, *other) {
            (Number::I64(a), Number::I64(b)) => Some(a.cmp(&b)),
            (Number::I64(a), Number::F64(b)) => cmp_int_float(a, b),
            (Number::F64(a), Number::I64(b)) => cmp_int_float(b, a).map(Ordering::reverse),
            (Number::F64(a), Number::F64(b)) => a.partial_cmp(&b),
        }
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        match *self {
            Number::I64(i) => i as f64,
            Number::F64(f) => f,
        }
    }
}

/// 2^63: every `i64` lies in `[-2^63, 2^63)`, and both bounds are exact as `f64`.
pub(crate) const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Exact comparison of an integer with a float (no precision loss for large integers).
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    let truncated = f.trunc();
    match i.cmp(&(truncated as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - truncated)),
        other => Some(other),
    }
}

fn parse_number(s: &str) -> Option<Number> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Number::I64(i));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(Number::F64(f)),
        _ => None,
    }
}

impl fmt::Display for Value {
    /// Formats the value as an AnkQL literal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Value::I64(i) => write!(f, "{i}"),
            Value::F64(x) if x.fract() == 0.0 && x.is_finite() => write!(f, "{x:.1}"),
            Value::F64(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Bytes(b) => {
                f.write_str("X'")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))?;
                f.write_str("'")
            }
            Value::EntityId(id) => write!(f, "'{id}'"),
            Value::Json(j) => write!(f, "'{}'", j.to_string().replace('\'', "''")),
            Value::Date(days) => write!(f, "'{}'", crate::temporal::format_date(*days)),
            Value::Timestamp(micros) => {
                write!(f, "'{}'", crate::temporal::format_timestamp(*micros))
            }
            Value::Duration(micros) => {
                write!(f, "'{}'", crate::temporal::format_duration(*micros))
            }
        }
    }
}

macro_rules! from_for_value {
    ($($t:ty => $variant:ident $(as $cast:ty)?),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v $(as $cast)?) }
        })*
    };
}
from_for_value!(
    bool => Bool, i8 => I64 as i64, i16 => I64 as i64, i32 => I64 as i64, i64 => I64,
    u8 => I64 as i64, u16 => I64 as i64, u32 => I64 as i64, f32 => F64 as f64, f64 => F64,
    String => String, Vec<u8> => Bytes, EntityId => EntityId, serde_json::Value => Json,
);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_rules() {
        assert_eq!(
            Value::I64(2001).compare(&Value::String("2000".into())),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::I64(2001).compare(&Value::String("abc".into())), None);
        assert_eq!(
            Value::F64(2.5).compare(&Value::I64(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::I64(i64::MAX).compare(&Value::F64(TWO_POW_63)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Null.compare(&Value::Null), None);
        assert_eq!(
            Value::String("é".into()).compare(&Value::String("z".into())),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn json_scalars_compare_as_plain_values() {
        let open = Value::Json(serde_json::json!("Open"));
        assert_eq!(open.compare(&"Open".into()), Some(Ordering::Equal));
        assert_eq!(Value::from("Open").compare(&open), Some(Ordering::Equal));
        assert_eq!(
            Value::Json(serde_json::json!(2010)).compare(&Value::String("2000".into())),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Json(serde_json::Value::Null).compare(&Value::Null),
            None
        );
        assert_eq!(open.sort_cmp(&"Open".into()), Ordering::Equal);
        let object = Value::Json(serde_json::json!({"a": 1}));
        assert_eq!(object.canonical().as_ref(), &object);
    }

    #[test]
    fn dates_and_times_compare_with_iso_text() {
        let due = Value::Date(crate::temporal::parse_date("2026-12-04").unwrap());
        assert_eq!(due.compare(&"2026-12-05".into()), Some(Ordering::Less));
        assert_eq!(
            Value::from(" 2026-12-04").compare(&due),
            Some(Ordering::Equal)
        );
        assert_eq!(due.compare(&"soon".into()), None);
        assert_eq!(due.compare(&Value::I64(1)), None);
        let at = Value::Timestamp(0);
        assert_eq!(
            at.compare(&"1970-01-01T01:00:00+01:00".into()),
            Some(Ordering::Equal)
        );
        assert_eq!(at.compare(&due), None);
        assert_eq!(
            Value::Duration(3_600_000_000).compare(&"PT1H".into()),
            Some(Ordering::Equal)
        );
        assert_eq!(due.to_string(), "'2026-12-04'");
    }

    /// `ValueType::compares_with` is exactly "some value of the type compares": checked over
    /// sample values of every type against sample literals of every kind.
    #[test]
    fn compares_with_agrees_with_compare() {
        let id = EntityId::from_bytes([1; 16]);
        let samples: Vec<(ValueType, Vec<Value>)> = vec![
            (ValueType::Bool, vec![true.into()]),
            (ValueType::I64, vec![1.into()]),
            (ValueType::F64, vec![1.5.into()]),
            (
                ValueType::String,
                vec![
                    "x".into(),
                    "1".into(),
                    id.to_string().into(),
                    "2026-12-04".into(),
                    "PT1H".into(),
                ],
            ),
            (ValueType::Bytes, vec![vec![1u8].into()]),
            (ValueType::EntityId, vec![id.into()]),
            (ValueType::Date, vec![Value::Date(5)]),
            (ValueType::Timestamp, vec![Value::Timestamp(5)]),
            (ValueType::Duration, vec![Value::Duration(5)]),
        ];
        let literals: Vec<Value> = vec![
            true.into(),
            2.into(),
            2.5.into(),
            "x".into(),
            "7".into(),
            id.to_string().into(),
            "2026-12-04".into(),
            "2026-12-04T10:00:00Z".into(),
            "PT1H".into(),
            vec![1u8].into(),
            id.into(),
            serde_json::json!({"a": 1}).into(),
            serde_json::json!("x").into(),
            Value::Date(1),
            Value::Timestamp(1),
            Value::Duration(1),
        ];
        for (kind, values) in &samples {
            for literal in &literals {
                let some = values.iter().any(|v| v.compare(literal).is_some());
                assert_eq!(kind.compares_with(literal), some, "{kind:?} vs {literal:?}");
            }
        }
    }

    #[test]
    fn null_sorts_last() {
        let mut v = vec![Value::Null, Value::I64(3), Value::F64(1.5)];
        v.sort_by(Value::sort_cmp);
        assert_eq!(v, vec![Value::F64(1.5), Value::I64(3), Value::Null]);
    }
}
