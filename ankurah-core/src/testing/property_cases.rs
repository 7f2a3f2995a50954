//! The conformance table of typed property values: what `#[derive(Property)]` types, Json
//! scalars, dates, timestamps and durations store (see the [`crate::value`] module docs), and
//! queries over them, written both as AnkQL text and with the values `selection!` binds.
//!
//! Every storage engine must select exactly these results, from its pushdown and from its
//! indexes alike (run by [`conformance::property_types`](super::conformance::property_types)).
//! Expected results were derived by hand from the rules. As in [`super::ankql_cases`], no
//! case depends on entity ids.
//!
//! | name | status (unit enum) | kind (data enum)              | year (newtype)  | due (date)       | at (timestamp, UTC)     | took (duration) |
//! |------|--------------------|-------------------------------|-----------------|------------------|-------------------------|-----------------|
//! | a    | "Open"             | "Open"                        | 2001            | 2026-12-01       | 2026-12-01T10:00:00     | PT30M           |
//! | b    | "Closed"           | {"Closed": {"reason": "dup"}} | 1999            | 2026-12-05       | 2026-12-01T09:59:59.5   | PT2H            |
//! | c    | Json "Open"        | {"Closed": {"reason": "old"}} | Json 2010       | —                | 2026-12-01T23:00:00     | —               |
//! | d    | —                  | —                             | —               | —                | —                       | —               |
//! | e    | —                  | —                             | —               | text "2026-12-03" | —                      | —               |
//!
//! `c` holds Json scalars, as a `Json` property (or an older writer) stores them: they must
//! compare as the plain values they spell. `e` holds a date as text in a schemaless
//! property: text compares with a date literal by parsing, with a string literal as text.
//! Every entity also has `sku` (a newtype of a string: `A-1`, `B-2`, `C-3`, none, none) and
//! `meta` (a struct: `{"label": "x", "n": 1}`, `{"label": "y", "n": 2}`, none ...).

use serde_json::json;

use super::ankql_cases::{Case, Fixture};
use crate::temporal::{parse_date, parse_duration, parse_timestamp};
use crate::value::Value;

fn date(text: &str) -> Value {
    Value::Date(parse_date(text).expect("fixture dates are valid"))
}

fn timestamp(text: &str) -> Value {
    Value::Timestamp(parse_timestamp(text).expect("fixture timestamps are valid"))
}

fn duration(text: &str) -> Value {
    Value::Duration(parse_duration(text).expect("fixture durations are valid"))
}

/// The fixture tabled in the module docs.
#[rustfmt::skip]
pub fn fixture() -> Vec<Fixture> {
    let entity = |name: &str, properties: Vec<(&str, Value)>| Fixture {
        name: name.to_owned(),
        properties: properties.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    vec![
        entity("a", vec![
            ("status", "Open".into()), ("kind", "Open".into()), ("year", 2001.into()),
            ("sku", "A-1".into()), ("meta", json!({"label": "x", "n": 1}).into()),
            ("due", date("2026-12-01")), ("at", timestamp("2026-12-01T10:00:00Z")),
            ("took", duration("PT30M")),
        ]),
        entity("b", vec![
            ("status", "Closed".into()), ("kind", json!({"Closed": {"reason": "dup"}}).into()),
            ("year", 1999.into()), ("sku", "B-2".into()), ("meta", json!({"label": "y", "n": 2}).into()),
            ("due", date("2026-12-05")), ("at", timestamp("2026-12-01T09:59:59.5Z")),
            ("took", duration("PT2H")),
        ]),
        entity("c", vec![
            ("status", json!("Open").into()), ("kind", json!({"Closed": {"reason": "old"}}).into()),
            ("year", json!(2010).into()), ("sku", "C-3".into()),
            ("at", timestamp("2026-12-02T00:00:00+01:00")),
        ]),
        entity("d", vec![]),
        entity("e", vec![("due", "2026-12-03".into())]),
    ]
}

/// A case; ordered when the query has ORDER BY.
fn case(query: &'static str, args: Vec<Value>, expected: &[&'static str]) -> Case {
    Case {
        query,
        args,
        expected: expected.to_vec(),
        ordered: query.contains("ORDER BY"),
    }
}

/// The cases, by kind of property. `?` arguments are the values `selection!` binds for the
/// Rust values (a unit variant, a data variant, a `NaiveDate`, ...).
#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    vec![
        // Unit enums: the variant name, whether stored as a string or as a Json scalar.
        case("status = 'Open'", vec![], &["a", "c"]),
        case("status = ?", vec!["Open".into()], &["a", "c"]),
        case("status = ?", vec![json!("Open").into()], &["a", "c"]),
        case("status != 'Open'", vec![], &["b"]),
        case("status IN ('Closed', 'Gone')", vec![], &["b"]),
        case("status > 'Closed'", vec![], &["a", "c"]),
        case("status = 'Open' ORDER BY year DESC", vec![], &["c", "a"]),
        case("status LIKE 'O%'", vec![], &["a", "c"]),
        case("status IS NOT NULL ORDER BY status, year DESC", vec![], &["b", "c", "a"]),
        // Data enums: unit variants as names, data variants as Json, compared structurally.
        case("kind = 'Open'", vec![], &["a"]),
        case("kind = ?", vec![json!({"Closed": {"reason": "dup"}}).into()], &["b"]),
        // Json compares for equality only: an unequal document is unknown, so `!=` never holds.
        case("kind != ?", vec![json!({"Closed": {"reason": "dup"}}).into()], &[]),
        case("kind.Closed.reason = 'old'", vec![], &["c"]),
        // Newtypes: the inner value, ordered as it.
        case("year > 2000", vec![], &["a", "c"]),
        case("year > '2000'", vec![], &["a", "c"]),
        case("year >= 1999 AND year < 2005", vec![], &["a", "b"]),
        case("year = 2010", vec![], &["c"]),
        case("year IS NOT NULL ORDER BY year", vec![], &["b", "a", "c"]),
        case("sku LIKE 'A%' OR sku = 'C-3'", vec![], &["a", "c"]),
        case("sku > 'B'", vec![], &["b", "c"]),
        // Structs: Json, whole or by path.
        case("meta = ?", vec![json!({"label": "x", "n": 1}).into()], &["a"]),
        case("meta.label = 'y'", vec![], &["b"]),
        case("meta.n >= 1 ORDER BY meta.n DESC", vec![], &["b", "a"]),
        // Dates, with ISO-8601 text or a date value.
        case("due < '2026-12-04'", vec![], &["a", "e"]),
        case("due < ?", vec![date("2026-12-04")], &["a", "e"]),
        case("due >= '2026-12-05'", vec![], &["b"]),
        case("due = '2026-12-01'", vec![], &["a"]),
        case("due IN ('2026-12-05', '2026-12-03')", vec![], &["b", "e"]),
        case("due IS NULL", vec![], &["c", "d"]),
        case("due > 'soon'", vec![], &[]),
        case("due IS NOT NULL ORDER BY due", vec![], &["e", "a", "b"]),
        // Literals beyond what an engine can store still compare with every stored date.
        case("due < '+1000000-01-01'", vec![], &["a", "b"]),
        // `e` holds text, compared with the text literal as text.
        case("due > '-5000-01-01'", vec![], &["a", "b", "e"]),
        case("due = '+1000000-01-01'", vec![], &[]),
        // Timestamps: RFC 3339 with any offset, a date alone is midnight UTC.
        case("at >= '2026-12-01T10:00:00Z'", vec![], &["a", "c"]),
        case("at < '2026-12-01T11:00:00+01:00'", vec![], &["b"]),
        case("at = '2026-12-01T09:59:59.500Z'", vec![], &["b"]),
        case("at > '2026-12-01'", vec![], &["a", "b", "c"]),
        case("at > ?", vec![timestamp("2026-12-01T12:00:00Z")], &["c"]),
        case("at > '-5000-01-01T00:00:00Z'", vec![], &["a", "b", "c"]),
        case("at IS NOT NULL ORDER BY at DESC", vec![], &["c", "a", "b"]),
        // Durations: ISO-8601 lengths.
        case("took > 'PT1H'", vec![], &["b"]),
        case("took <= ?", vec![duration("PT30M")], &["a"]),
        case("took IN ('PT30M', 'P1D')", vec![], &["a"]),
        case("took IS NOT NULL ORDER BY took DESC", vec![], &["b", "a"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_selects_its_expected_entities() {
        super::super::ankql_cases::check_table(&fixture(), &cases());
    }
}
