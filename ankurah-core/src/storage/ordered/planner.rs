//! Query planning: which index, if any, narrows a [`Selection`] best.
//!
//! A plan only chooses the *candidates*: the executor re-checks the whole predicate on every
//! candidate, then sorts and cuts the survivors as [`Selection::apply`] does. A plan can
//! therefore change how fast a query runs, never what it returns, and every rule here obeys
//! one invariant: the ranges of a plan contain the index entry of every entity that can match.
//!
//! Ranges are derived per property from the predicate, following
//! [`Value::compare`]: `year > 1999` becomes the numbers above 1999 *and all strings* (a
//! string compares numerically when it parses as a number, whatever its byte order);
//! `year > '2000'` becomes the strings above `'2000'` and the numbers above 2000; `IN` is a
//! union of points; `LIKE 'Ab%'` the strings starting with `Ab`; `AND` intersects, `OR` unites
//! when both sides constrain the property, and anything else (`NOT`, JSON sub-paths, other
//! properties) leaves it unconstrained.
//!
//! Preference, without statistics: an equality (or `IN`, `IS NULL`) on the first ORDER BY
//! property; any equality; any range on the first ORDER BY property; with a LIMIT, a walk of
//! the first ORDER BY property's whole index (stopping early); any range; else a scan.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::ankql::{ComparisonOp, Direction, Path, Predicate, Selection};
use crate::id::EntityId;
use crate::value::{Number, Value};

use super::value_key::{encode_string_prefix, encode_value};

/// A half-open range of encoded values (see [`super::value_key`]).
pub type KeyRange = Range<Vec<u8>>;

/// How to find the candidates of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Read every state of the collection, in entity id order.
    Scan,
    /// Read the entities whose entries in the index of `property` lie in `ranges` (sorted,
    /// disjoint). `order` is set when `property` is the first ORDER BY key: the ranges are
    /// walked in that direction, so a LIMIT can stop the walk early.
    Index {
        property: String,
        ranges: Vec<KeyRange>,
        order: Option<Direction>,
    },
}

/// Encoded values that cannot match, by property.
struct Constraint {
    ranges: Vec<KeyRange>,
    /// Only equality-like leaves (`=`, `IN`, `IS NULL`): probably few candidates.
    equality: bool,
}

/// The property a path reads directly, if an index on it can serve the path: a single
/// segment other than `id`.
fn indexable(path: &Path) -> Option<&str> {
    (path.0.len() == 1 && path.property() != "id").then(|| path.property())
}

fn leaf_properties<'s>(predicate: &'s Predicate, out: &mut BTreeSet<&'s str>) {
    match predicate {
        Predicate::True | Predicate::False => {}
        Predicate::And(left, right) | Predicate::Or(left, right) => {
            leaf_properties(left, out);
            leaf_properties(right, out);
        }
        Predicate::Not(inner) => leaf_properties(inner, out),
        Predicate::Comparison { path, .. }
        | Predicate::Like { path, .. }
        | Predicate::In { path, .. }
        | Predicate::IsNull { path, .. } => out.extend(indexable(path)),
    }
}

/// The properties a query compares directly or sorts by first: those the planner can use an
/// index on, and so those whose indexes a query creates.
pub fn indexable_properties(selection: &Selection) -> BTreeSet<&str> {
    let mut properties = BTreeSet::new();
    leaf_properties(&selection.predicate, &mut properties);
    properties.extend(
        selection
            .order_by
            .first()
            .and_then(|item| indexable(&item.path)),
    );
    properties
}

/// Whether the predicate and the sort keys read nothing but `property` (directly, not
/// inside Json) and the entity id.
pub fn reads_only(selection: &Selection, property: &str) -> bool {
    fn allowed(path: &Path, property: &str) -> bool {
        path.0.len() == 1 && (path.property() == property || path.property() == "id")
    }
    fn predicate_reads_only(predicate: &Predicate, property: &str) -> bool {
        match predicate {
            Predicate::True | Predicate::False => true,
            Predicate::And(left, right) | Predicate::Or(left, right) => {
                predicate_reads_only(left, property) && predicate_reads_only(right, property)
            }
            Predicate::Not(inner) => predicate_reads_only(inner, property),
            Predicate::Comparison { path, .. }
            | Predicate::Like { path, .. }
            | Predicate::In { path, .. }
            | Predicate::IsNull { path, .. } => allowed(path, property),
        }
    }
    predicate_reads_only(&selection.predicate, property)
        && selection
            .order_by
            .iter()
            .all(|item| allowed(&item.path, property))
}

/// Whether the predicate compares the entity id anywhere.
pub fn reads_id(predicate: &Predicate) -> bool {
    match predicate {
        Predicate::True | Predicate::False => false,
        Predicate::And(left, right) | Predicate::Or(left, right) => {
            reads_id(left) || reads_id(right)
        }
        Predicate::Not(inner) => reads_id(inner),
        Predicate::Comparison { path, .. }
        | Predicate::Like { path, .. }
        | Predicate::In { path, .. }
        | Predicate::IsNull { path, .. } => path.property() == "id",
    }
}

/// Plans `selection`, using only the properties for which `indexed` holds.
pub fn plan(selection: &Selection, indexed: impl Fn(&str) -> bool) -> Plan {
    let mut properties = BTreeSet::new();
    leaf_properties(&selection.predicate, &mut properties);
    let constraints: Vec<(&str, Constraint)> = properties
        .into_iter()
        .filter(|property| indexed(property))
        .filter_map(|property| Some((property, constrain(&selection.predicate, property)?)))
        .collect();
    let sort_key = selection.order_by.first().and_then(|item| {
        Some((
            indexable(&item.path).filter(|property| indexed(property))?,
            item.direction,
        ))
    });
    let on_sort_key = |property: &str| sort_key.is_some_and(|(key, _)| key == property);
    let find = |wanted: &dyn Fn(&str, &Constraint) -> bool| {
        constraints
            .iter()
            .find(|(property, c)| wanted(property, c))
            .map(|(property, c)| (*property, c.ranges.clone()))
    };
    let choice = find(&|property, c| c.equality && on_sort_key(property))
        .or_else(|| find(&|_, c| c.equality))
        .or_else(|| find(&|property, _| on_sort_key(property)))
        .or_else(|| {
            sort_key
                .filter(|_| selection.limit.is_some())
                .map(|(property, _)| (property, vec![everything()]))
        })
        .or_else(|| find(&|_, _| true));
    match choice {
        None => Plan::Scan,
        Some((property, ranges)) => Plan::Index {
            property: property.to_owned(),
            ranges,
            order: sort_key
                .filter(|(key, _)| *key == property)
                .map(|(_, direction)| direction),
        },
    }
}

/// The encoded values of `property` that can satisfy `predicate`; `None` when the predicate
/// does not constrain the property.
fn constrain(predicate: &Predicate, property: &str) -> Option<Constraint> {
    let on = |path: &Path| indexable(path) == Some(property);
    match predicate {
        Predicate::False => Some(Constraint {
            ranges: Vec::new(),
            equality: true,
        }),
        Predicate::And(left, right) => {
            match (constrain(left, property), constrain(right, property)) {
                (Some(a), Some(b)) => {
                    let ranges = a
                        .ranges
                        .iter()
                        .flat_map(|x| b.ranges.iter().map(move |y| overlap(x, y)))
                        .collect();
                    Some(Constraint {
                        ranges: normalize(ranges),
                        equality: a.equality || b.equality,
                    })
                }
                (one, None) | (None, one) => one,
            }
        }
        Predicate::Or(left, right) => {
            let (a, b) = (constrain(left, property)?, constrain(right, property)?);
            Some(Constraint {
                ranges: normalize([a.ranges, b.ranges].concat()),
                equality: a.equality && b.equality,
            })
        }
        Predicate::Comparison { path, op, value } if on(path) => Some(Constraint {
            ranges: compared(*op, value),
            equality: *op == ComparisonOp::Eq,
        }),
        Predicate::In {
            path,
            values,
            negated: false,
        } if on(path) => {
            let ranges = values
                .iter()
                .flat_map(|value| compared(ComparisonOp::Eq, value))
                .collect();
            Some(Constraint {
                ranges: normalize(ranges),
                equality: true,
            })
        }
        Predicate::IsNull { path, negated } if on(path) => {
            let null = encode_value(&Value::Null);
            let ranges = if *negated {
                vec![Vec::new()..null]
            } else {
                vec![starting_with(null)]
            };
            Some(Constraint {
                ranges,
                equality: !negated,
            })
        }
        Predicate::Like {
            path,
            pattern,
            negated: false,
        } if on(path) => Some(Constraint {
            ranges: vec![starting_with(encode_string_prefix(&like_prefix(pattern)))],
            equality: false,
        }),
        _ => None,
    }
}

/// Ranges holding every stored value `v` for which `v op literal` can be true under
/// [`Value::compare`].
fn compared(op: ComparisonOp, literal: &Value) -> Vec<KeyRange> {
    let mut ranges = Vec::new();
    let literal = &*literal.canonical();
    match literal {
        Value::Null => {}
        Value::F64(f) if f.is_nan() => {}
        Value::I64(_)
        | Value::F64(_)
        | Value::EntityId(_)
        | Value::Date(_)
        | Value::Timestamp(_)
        | Value::Duration(_) => {
            ranges.extend(around(op, literal));
            // A stored string compares with a number, an id or a date by parsing, so its
            // byte order says nothing about the outcome: every string is a candidate.
            let string = encode_string_prefix("");
            ranges.push(starting_with(string));
        }
        Value::String(text) => {
            ranges.extend(around(op, literal));
            if let Some(number) = literal.as_number() {
                ranges.extend(around(op, &number_value(number)));
            }
            if let Ok(id) = text.parse::<EntityId>() {
                ranges.extend(around(op, &Value::EntityId(id)));
            }
            // ISO-8601 text also compares with the dates, timestamps and durations it spells.
            let parsed = [
                literal.as_date().map(Value::Date),
                literal.as_timestamp().map(Value::Timestamp),
                literal.as_duration().map(Value::Duration),
            ];
            for value in parsed.iter().flatten() {
                ranges.extend(around(op, value));
            }
        }
        Value::Bool(_) | Value::Bytes(_) => ranges.extend(around(op, literal)),
        // JSON values compare only for equality.
        Value::Json(_) => {
            if matches!(
                op,
                ComparisonOp::Eq | ComparisonOp::LtEq | ComparisonOp::GtEq
            ) {
                ranges.extend(around(ComparisonOp::Eq, literal));
            }
        }
    }
    normalize(ranges)
}

/// The values of the literal's own type that stand in relation `op` to it.
fn around(op: ComparisonOp, literal: &Value) -> Vec<KeyRange> {
    let key = encode_value(literal);
    // Encodings start with a type tag, so these bound the type's values.
    let (first, past) = (vec![key[0]], vec![key[0] + 1]);
    let after = successor(&key);
    match op {
        ComparisonOp::Eq => vec![key..after],
        ComparisonOp::NotEq => vec![first..key, after..past],
        ComparisonOp::Lt => vec![first..key],
        ComparisonOp::LtEq => vec![first..after],
        ComparisonOp::Gt => vec![after..past],
        ComparisonOp::GtEq => vec![key..past],
    }
}

/// A number as a value, to look it up in an index.
fn number_value(number: Number) -> Value {
    match number {
        Number::I64(i) => Value::I64(i),
        Number::F64(f) => Value::F64(f),
    }
}

/// The literal text every match of a LIKE pattern starts with: up to the first wildcard,
/// with `\` escapes resolved as the evaluator does.
fn like_prefix(pattern: &str) -> String {
    let mut prefix = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => break,
            '\\' => prefix.push(chars.next().unwrap_or('\\')),
            c => prefix.push(c),
        }
    }
    prefix
}

/// Every encoded value.
fn everything() -> KeyRange {
    Vec::new()..vec![0xFF]
}

/// Every key starting with `prefix`.
fn starting_with(prefix: Vec<u8>) -> KeyRange {
    let end = successor(&prefix);
    prefix..end
}

/// The least key greater than every key starting with `key`. Encoded values start with a tag
/// below `FF`, so one exists.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    while next.last() == Some(&0xFF) {
        next.pop();
    }
    if let Some(last) = next.last_mut() {
        *last += 1;
    }
    next
}

fn overlap(a: &KeyRange, b: &KeyRange) -> KeyRange {
    a.start.clone().max(b.start.clone())..a.end.clone().min(b.end.clone())
}

/// Sorts ranges, drops empty ones and merges those that touch.
fn normalize(mut ranges: Vec<KeyRange>) -> Vec<KeyRange> {
    ranges.retain(|range| range.start < range.end);
    ranges.sort_by(|a, b| a.start.cmp(&b.start));
    let mut merged: Vec<KeyRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.clone().max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn planned(query: &str) -> Plan {
        plan(&query.parse().unwrap(), |_| true)
    }

    fn index_on(plan: &Plan) -> Option<(&str, Option<Direction>)> {
        match plan {
            Plan::Scan => None,
            Plan::Index {
                property, order, ..
            } => Some((property, *order)),
        }
    }

    #[test]
    fn prefers_equality_then_sort_key_then_ranges() {
        assert_eq!(
            index_on(&planned("year > 1990 AND artist = 'x'")),
            Some(("artist", None))
        );
        assert_eq!(
            index_on(&planned("year > 1990 ORDER BY year DESC")),
            Some(("year", Some(Direction::Desc)))
        );
        assert_eq!(
            index_on(&planned("year > 1990 ORDER BY name LIMIT 3")),
            Some(("name", Some(Direction::Asc)))
        );
        assert_eq!(
            index_on(&planned("year > 1990 ORDER BY name")),
            Some(("year", None))
        );
        assert_eq!(index_on(&planned("ORDER BY name")), None);
        assert_eq!(index_on(&planned("NOT year = 1 OR name = 'x'")), None);
        assert_eq!(
            index_on(&planned("meta.plays > 3 ORDER BY meta.plays LIMIT 1")),
            None
        );
        assert_eq!(index_on(&planned("id = 'x' ORDER BY id LIMIT 1")), None);
        assert_eq!(
            plan(&"year > 1".parse().unwrap(), |p| p != "year"),
            Plan::Scan
        );
    }

    #[test]
    fn and_intersects_or_unites() {
        let Plan::Index { ranges, .. } = planned("year > 1990 AND year <= 2000") else {
            panic!()
        };
        // The numbers in (1990, 2000] and, from both sides, every string.
        assert_eq!(ranges.len(), 2);
        let Plan::Index { ranges, .. } = planned("year = 1 OR year = 2 OR year IN (2, 3)") else {
            panic!()
        };
        assert_eq!(ranges.len(), 4); // three points and the strings
        let Plan::Index { ranges, .. } = planned("year = 1 AND year = 2") else {
            panic!()
        };
        assert_eq!(ranges.len(), 1); // the strings only
        let Plan::Index { ranges, .. } = planned("name = 'a' AND FALSE") else {
            panic!()
        };
        assert!(ranges.is_empty());
    }

    #[test]
    fn string_numbers_parse_as_the_evaluator_parses_them() {
        for text in [
            "42", " 42 ", "-5", "+7", "0042", "12.5", "1e3", "042.0", "abc", "", "x9", "inf",
            "NaN", "1e999", "0x10",
        ] {
            let string = Value::String(text.to_owned());
            let comparable = Value::I64(0).compare(&string).is_some();
            assert_eq!(string.as_number().is_some(), comparable, "{text:?}");
            if let Some(number) = string.as_number() {
                assert_eq!(
                    number_value(number).compare(&string),
                    Some(Ordering::Equal),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn like_prefixes() {
        assert_eq!(like_prefix("Abbey%"), "Abbey");
        assert_eq!(like_prefix(r"100\%%"), "100%");
        assert_eq!(like_prefix("a_c"), "a");
        assert_eq!(like_prefix(r"ab\"), r"ab\");
        assert_eq!(like_prefix("%x"), "");
    }

    #[test]
    fn normalize_merges_touching_ranges() {
        let r = |a: u8, b: u8| vec![a]..vec![b];
        assert_eq!(
            normalize(vec![r(5, 7), r(1, 3), r(3, 4), r(6, 9), r(2, 2)]),
            vec![r(1, 4), r(5, 9)]
        );
    }
}
