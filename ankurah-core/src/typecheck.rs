//! The check of a query (or of an access rule, see [`crate::rules`]) against a model's
//! property descriptors, run by [`Context::fetch`](crate::Context::fetch) and the live-query
//! calls before anything is read.
//!
//! A query that the model proves can never match is refused with
//! [`RetrievalError::InvalidQuery`] instead of answering nothing, naming the property, its
//! type and the fix:
//!
//! - a property the model does not have ([`RetrievalError::UnknownProperty`]);
//! - a dotted path into a property that has no inner values: only `Json` properties and
//!   `#[derive(Property)]` types stored as Json have them. `owner.name` on a `Ref<User>`
//!   is refused: queries compare the reference (an entity id), they do not follow it;
//! - a literal that never compares with the property's type under
//!   [`Value::compare`](crate::value::Value::compare) (see
//!   [`ValueType::compares_with`]): `done = 'false'` on a `bool` (a string never equals a
//!   bool; write `done = false`), `year > 'abc'` on an integer. A string that *parses* as the
//!   property's type is fine, as the evaluator compares it that way on every engine:
//!   `year > '2000'`, `due < '2026-12-04'`, `at >= '2026-12-01T10:00:00Z'`;
//! - `LIKE` on a property that is never a string.
//!
//! Values inside Json are typed only when the query runs, so paths into Json and properties
//! declared Json are not checked. The check walks the predicate with an explicit stack, so it
//! needs no depth limit of its own.

use crate::ankql::{Path, Predicate, Selection};
use crate::model::PropertyDescriptor;
use crate::node_error::RetrievalError;
use crate::value::{Value, ValueType};

/// The entity id, which every model has as the path `id`.
const ID: PropertyDescriptor = PropertyDescriptor {
    name: "id",
    backend: "",
    value_type: ValueType::EntityId,
    optional: false,
    type_name: "EntityId",
};

/// Checks `selection` against the descriptors of collection `collection` (see the module
/// docs).
pub(crate) fn check_selection(
    collection: &str,
    properties: &[PropertyDescriptor],
    selection: &Selection,
) -> Result<(), RetrievalError> {
    let checker = Checker {
        collection,
        properties,
        prefix: "",
    };
    checker.predicate(&selection.predicate)?;
    selection
        .order_by
        .iter()
        .try_for_each(|item| checker.path(&item.path).map(drop))
}

/// Checks an access rule's predicate as a query's, where property names may carry `prefix`
/// (a write rule's `$old.` names the same property before the change).
pub(crate) fn check_rule(
    collection: &str,
    properties: &[PropertyDescriptor],
    predicate: &Predicate,
    prefix: &str,
) -> Result<(), RetrievalError> {
    Checker {
        collection,
        properties,
        prefix,
    }
    .predicate(predicate)
}

struct Checker<'a> {
    collection: &'a str,
    properties: &'a [PropertyDescriptor],
    /// Stripped from property names before they are looked up.
    prefix: &'a str,
}

/// A property as messages name it, with its article: `an integer property (i32)`.
fn described(property: &PropertyDescriptor) -> String {
    format!(
        "{} property ({})",
        a(property.value_type.name()),
        property.type_name
    )
}

/// A literal as AnkQL text, cut after [`Shown::MAX`] characters (a Json document in a query
/// may be large).
struct Shown<'a>(&'a Value);

impl Shown<'_> {
    const MAX: usize = 60;
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        match text.char_indices().nth(Self::MAX) {
            Some((at, _)) => write!(f, "{}…", &text[..at]),
            None => f.write_str(&text),
        }
    }
}

/// `word` with its indefinite article.
fn a(word: &str) -> String {
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}

impl Checker<'_> {
    /// Checks every condition of `predicate`, with an explicit stack.
    fn predicate(&self, predicate: &Predicate) -> Result<(), RetrievalError> {
        let mut stack = vec![predicate];
        while let Some(predicate) = stack.pop() {
            match predicate {
                Predicate::True | Predicate::False => {}
                // Right first, so the leftmost mistake is reported.
                Predicate::And(left, right) | Predicate::Or(left, right) => {
                    stack.extend([&**right, &**left]);
                }
                Predicate::Not(inner) => stack.push(inner),
                Predicate::Comparison { path, value, .. } => {
                    self.value(self.path(path)?, path, value)?;
                }
                Predicate::In { path, values, .. } => {
                    let property = self.path(path)?;
                    values
                        .iter()
                        .try_for_each(|value| self.value(property, path, value))?;
                }
                Predicate::Like { path, .. } => self.like(self.path(path)?, path)?,
                Predicate::IsNull { path, .. } => {
                    self.path(path)?;
                }
            }
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> RetrievalError {
        RetrievalError::InvalidQuery {
            collection: self.collection.to_owned(),
            reason,
        }
    }

    /// The descriptor of the property `path` starts at, `None` inside Json (unchecked);
    /// errors for an unknown property or a path into one without inner values.
    fn path(&self, path: &Path) -> Result<Option<&PropertyDescriptor>, RetrievalError> {
        let name = path.property();
        let name = name.strip_prefix(self.prefix).unwrap_or(name);
        let property = match name {
            "id" => &ID,
            _ => self
                .properties
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| RetrievalError::UnknownProperty {
                    collection: self.collection.to_owned(),
                    property: name.to_owned(),
                    known: self
                        .properties
                        .iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
        };
        if property.value_type == ValueType::Json {
            return Ok(None);
        }
        if path.json_keys().is_empty() {
            return Ok(Some(property));
        }
        let dotted = path.0.join(".");
        let fix = if property.value_type == ValueType::EntityId {
            format!(
                "queries do not follow references: compare `{name}` with an entity id, or query \
                 the referenced collection for `{}`",
                path.json_keys().join(".")
            )
        } else {
            format!(
                "only Json properties (`Json`, `#[derive(Property)]` structs) have inner values: \
                 compare `{name}` itself"
            )
        };
        Err(self.invalid(format!(
            "`{dotted}` reaches into `{name}`, {}, which has no inner values; {fix}",
            described(property)
        )))
    }

    /// Errors if `literal` never compares with the property `path` reads.
    fn value(
        &self,
        property: Option<&PropertyDescriptor>,
        path: &Path,
        literal: &Value,
    ) -> Result<(), RetrievalError> {
        let Some(property) = property else {
            return Ok(());
        };
        let kind = property.value_type;
        if kind.compares_with(literal) {
            return Ok(());
        }
        let literal = Shown(literal);
        let why = match &*literal.0.canonical() {
            Value::String(_) if kind == ValueType::Bool => {
                format!("{literal} is a string, which never equals a bool")
            }
            Value::String(_) => format!("{literal} does not parse as {}", a(kind.name())),
            other => format!(
                "{literal} is {}, which never compares with {}",
                a(other.type_name()),
                a(kind.name())
            ),
        };
        Err(self.invalid(format!(
            "`{}` is {}: {why}, so the comparison never matches; write {}",
            path.0.join("."),
            described(property),
            kind.literal_hint()
        )))
    }

    /// Errors if the property `path` reads is never a string.
    fn like(
        &self,
        property: Option<&PropertyDescriptor>,
        path: &Path,
    ) -> Result<(), RetrievalError> {
        match property {
            Some(property) if property.value_type != ValueType::String => {
                Err(self.invalid(format!(
                    "`{}` is {}, and LIKE matches strings only; compare it with \
                     =, <, > or IN instead",
                    path.0.join("."),
                    described(property)
                )))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ankql::parse_selection;

    const fn property(
        name: &'static str,
        value_type: ValueType,
        type_name: &'static str,
    ) -> PropertyDescriptor {
        PropertyDescriptor {
            name,
            backend: "lww",
            value_type,
            optional: false,
            type_name,
        }
    }

    const ITEM: [PropertyDescriptor; 8] = [
        property("title", ValueType::String, "String"),
        property("done", ValueType::Bool, "bool"),
        property("year", ValueType::I64, "i32"),
        property("owner", ValueType::EntityId, "Ref<User>"),
        property("meta", ValueType::Json, "Json"),
        property("due", ValueType::Date, "NaiveDate"),
        property("at", ValueType::Timestamp, "DateTime<Utc>"),
        property("took", ValueType::Duration, "TimeDelta"),
    ];

    fn check(query: &str) -> Result<(), String> {
        let selection = parse_selection(query, &[]).expect("the test queries parse");
        check_selection("item", &ITEM, &selection).map_err(|e| e.to_string())
    }

    #[test]
    fn queries_that_can_match_pass() {
        for query in [
            "year > '2000'",
            "year > 1999.5 AND year IN (1, '2')",
            "title = 'x' AND title > 5 AND title LIKE 'a%'",
            "done = true AND done IS NOT NULL",
            "meta.a.b = 'x' AND meta = 5 AND meta LIKE '%'",
            "due < '2026-12-04' AND at >= '2026-12-01T10:00:00Z' AND took > 'PT1H'",
            "owner = '01ARZ3NDEKTSV4RRFFQ69G5FAV' AND id != '01ARZ3NDEKTSV4RRFFQ69G5FAV'",
            "year = NULL OR year IN (NULL)",
            "ORDER BY meta.x, year",
        ] {
            assert_eq!(check(query), Ok(()), "{query}");
        }
    }

    #[test]
    fn queries_that_never_match_are_refused_with_the_fix() {
        for (query, expected) in [
            ("owner.nme = 'bob'", "queries do not follow references"),
            ("owner.nme = 'bob'", "Ref<User>"),
            ("year.x = 1", "only Json properties"),
            ("id.x = 1", "entity id"),
            (
                "done = 'false'",
                "never equals a bool, so the comparison never matches; write TRUE",
            ),
            ("year > 'abc'", "'abc' does not parse as an integer"),
            ("year IN (1, TRUE)", "TRUE is a bool"),
            ("due < '2026-13-01'", "ISO-8601 date such as '2026-12-04'"),
            ("at > 'noon'", "RFC 3339"),
            (
                "took > 5",
                "5 is an integer, which never compares with a duration",
            ),
            ("owner = 5", "entity id"),
            ("year LIKE '1%'", "LIKE matches strings only"),
            ("ORDER BY owner.name", "queries do not follow references"),
            ("nope = 1", "unknown property `nope`"),
            (
                "nope = 1 AND zilch = 2 OR done = 'x'",
                "unknown property `nope`",
            ),
        ] {
            let error = check(query).expect_err(query);
            assert!(error.contains(expected), "{query}: {error}");
        }
        let long = format!("done = '{}'", "x".repeat(500));
        let error = check(&long).expect_err("a string is not a bool");
        assert!(error.len() < 300 && error.contains("xxx…"), "{error}");
    }
}
