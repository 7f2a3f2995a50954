//! AnkQL, the query language of Ankurah.
//!
//! AnkQL is the `WHERE … ORDER BY … LIMIT …` tail of SQL, over the properties of one
//! collection's entities. `ctx.fetch("year > 1985 ORDER BY year DESC LIMIT 10")` parses text
//! with [`parse_selection`] into a [`Selection`]; the same `Selection` is then evaluated in
//! memory ([`Predicate::evaluate`], [`Selection::apply`]), pushed down by storage engines, and
//! sent to peers, who must all select, order and cut the same entities.
//!
//! # Grammar
//!
//! ```text
//! query      := [predicate] [ORDER BY item {, item}] [LIMIT n]
//! predicate  := or ;  or := and {OR and} ;  and := unary {AND unary}
//! unary      := NOT unary | '(' predicate ')' | TRUE | FALSE | comparison
//! comparison := path op value | path [NOT] LIKE string | path [NOT] IN '(' value {, value} ')'
//!             | path IS [NOT] NULL
//! op         := = | == | != | <> | < | <= | > | >=
//! path       := ident {. segment}   -- `id` is the entity id; later segments reach into Json
//! value      := 'string' | integer | float | TRUE | FALSE | NULL | ?
//! item       := path [ASC | DESC]
//! ```
//!
//! - Keywords are case-insensitive. Identifiers are `[A-Za-z_][A-Za-z0-9_]*`, or any text in
//!   double quotes (`"weird name"`, `""` for a quote) — needed for names that are keywords.
//!   A segment after a dot may also be all digits (`meta.list.0`, an array index) or a keyword.
//! - Strings are single-quoted with `''` for a quote (double quotes are for names); integers
//!   are `i64` and may carry a `-`;
//!   floats are written `1.5`, `-0.25` or `1e3`.
//! - `?` is replaced by the next of the arguments given to [`parse_selection`]; `LIMIT` takes a
//!   non-negative integer or a `?` bound to one, `LIKE` a string or a `?` bound to one.
//! - An empty query selects everything. `NOT` binds tighter than `AND`, `AND` than `OR`.
//!   Predicates nest at most 128 levels deep (use `IN` rather than long `OR` chains).
//!
//! # Meaning
//!
//! Comparisons follow [`Value::compare`](crate::value::Value::compare): numbers compare
//! numerically across integer and float; a string compared with a number compares as a number
//! when it parses as one and is unknown otherwise; strings compare by code point. A missing
//! property, or a path that does not exist inside a Json value, is NULL, and SQL's three-valued
//! logic applies: comparisons, LIKE and IN involving NULL are *unknown*, `NOT unknown` is
//! unknown, and only a definite true selects an entity. `IS [NOT] NULL` is the test for NULL.
//! `LIKE` is case-sensitive, `%` matches any run of characters, `_` one character, and `\`
//! makes the next character literal. ORDER BY puts NULL last ascending and first descending;
//! ties, and queries without ORDER BY, are ordered by entity id.
//!
//! Dates, timestamps and durations (the `chrono` property types) are written as ISO-8601
//! strings and compare as the value they spell, as numeric strings do with numbers:
//! `due < '2026-12-04'`, `at >= '2026-12-01T10:00:00Z'`, `took > 'PT1H'` (see
//! [`crate::temporal`]). A string that does not parse is not a match. How each property type
//! becomes a query value, `#[derive(Property)]` enums and newtypes included, is tabled in the
//! [`crate::value`] module docs.
//!
//! # Typed checks
//!
//! Text is parsed without a model, but `Context::fetch` and the live-query calls check it
//! against the model before running it: an unknown property, a dotted path into a property
//! without inner values (a `Ref`, a number), or a literal that never compares with the
//! property's type (`done = 'false'` on a `bool`, `year > 'abc'`) is an error naming the
//! property, its type and the fix, never an empty answer. Paths into Json stay dynamic.
//!
//! # Example
//!
//! ```
//! use ankurah_core::ankql::{parse_selection, Filterable, Selection};
//! use ankurah_core::{id::EntityId, value::Value};
//!
//! struct Album { id: EntityId, name: &'static str, year: i64 }
//!
//! impl Filterable for Album {
//!     fn entity_id(&self) -> EntityId { self.id }
//!     fn value(&self, property: &str) -> Option<Value> {
//!         match property {
//!             "name" => Some(self.name.into()),
//!             "year" => Some(self.year.into()),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let albums = vec![
//!     Album { id: EntityId::new(), name: "Origin of Symmetry", year: 2001 },
//!     Album { id: EntityId::new(), name: "Absolution", year: 2003 },
//!     Album { id: EntityId::new(), name: "Showbiz", year: 1999 },
//! ];
//! let query = parse_selection("name LIKE ? AND year > '2000' ORDER BY year DESC", &["%o%".into()])?;
//! let names: Vec<_> = query.apply(albums).into_iter().map(|a| a.name).collect();
//! assert_eq!(names, ["Absolution", "Origin of Symmetry"]);
//!
//! // Printing gives AnkQL back, and the error of a malformed query points into the text.
//! assert_eq!(query.to_string(), "name LIKE '%o%' AND year > '2000' ORDER BY year DESC");
//! let error = "year > ORDER BY name".parse::<Selection>().unwrap_err();
//! assert_eq!(error.to_string(), "expected a value after `>` at 7");
//! # Ok::<(), ankurah_core::ankql::ParseError>(())
//! ```

mod ast;
mod display;
mod eval;
mod lexer;
mod parser;

pub use ast::*;
pub use eval::Filterable;
pub use parser::{
    parse_rule, parse_selection, parse_selection_with, Binding, Bindings, ParseError,
};
