//! Evaluation of predicates against items, with SQL's three-valued logic, and application of a
//! whole [`Selection`] (filter, order, limit) to a list. Storage engines that push queries down
//! must agree with this file; `testing::ankql_cases` checks that they do.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::ast::{ComparisonOp, Direction, Path, Predicate, Selection};
use crate::id::EntityId;
use crate::value::Value;

/// Anything a query can be evaluated against: an entity, a stored state, a test record.
pub trait Filterable {
    /// The entity's id: the value of the path `id`, and the final ORDER BY tie-breaker.
    fn entity_id(&self) -> EntityId;
    /// The current value of `property`, or `None` if the item has no such property
    /// (queries treat that as NULL).
    fn value(&self, property: &str) -> Option<Value>;
}

/// Lets borrowed items be filtered and sorted without cloning them.
impl<T: Filterable + ?Sized> Filterable for &T {
    fn entity_id(&self) -> EntityId {
        (**self).entity_id()
    }

    fn value(&self, property: &str) -> Option<Value> {
        (**self).value(property)
    }
}

impl Path {
    /// The value this path denotes in `item`: the entity id for `id`, else the property's
    /// value, followed into Json by the remaining segments; NULL wherever something is missing.
    pub fn resolve(&self, item: &(impl Filterable + ?Sized)) -> Value {
        let root = match self.property() {
            "id" => Some(Value::EntityId(item.entity_id())),
            property => item.value(property),
        };
        root.and_then(|value| value.json_path(self.json_keys()))
            .unwrap_or(Value::Null)
    }
}

impl ComparisonOp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            ComparisonOp::Eq => ordering.is_eq(),
            ComparisonOp::NotEq => ordering.is_ne(),
            ComparisonOp::Lt => ordering.is_lt(),
            ComparisonOp::LtEq => ordering.is_le(),
            ComparisonOp::Gt => ordering.is_gt(),
            ComparisonOp::GtEq => ordering.is_ge(),
        }
    }
}

impl Predicate {
    /// Evaluates the predicate with SQL's three-valued logic: `None` is *unknown*, the result
    /// of any comparison, LIKE or IN involving NULL (or incomparable values). `NOT` keeps
    /// unknown unknown, `AND`/`OR` follow Kleene logic, and `IS [NOT] NULL` is never unknown.
    pub fn evaluate(&self, item: &(impl Filterable + ?Sized)) -> Option<bool> {
        match self {
            Predicate::True => Some(true),
            Predicate::False => Some(false),
            Predicate::And(left, right) => match left.evaluate(item) {
                Some(false) => Some(false),
                l => match right.evaluate(item) {
                    Some(true) => l,
                    r => r,
                },
            },
            Predicate::Or(left, right) => match left.evaluate(item) {
                Some(true) => Some(true),
                l => match right.evaluate(item) {
                    Some(false) => l,
                    r => r,
                },
            },
            Predicate::Not(inner) => inner.evaluate(item).map(|b| !b),
            Predicate::Comparison { path, op, value } => {
                path.resolve(item).compare(value).map(|o| op.holds(o))
            }
            Predicate::Like {
                path,
                pattern,
                negated,
            } => match path.resolve(item) {
                Value::String(text) => Some(like(&text, pattern) != *negated),
                _ => None,
            },
            Predicate::In {
                path,
                values,
                negated,
            } => in_list(&path.resolve(item), values).map(|found| found != *negated),
            Predicate::IsNull { path, negated } => Some(path.resolve(item).is_null() != *negated),
        }
    }

    /// Whether the item is selected: only a definite true counts, unknown does not.
    pub fn matches(&self, item: &(impl Filterable + ?Sized)) -> bool {
        self.evaluate(item) == Some(true)
    }

    fn collect_properties(&self, out: &mut BTreeSet<String>) {
        match self {
            Predicate::True | Predicate::False => {}
            Predicate::And(left, right) | Predicate::Or(left, right) => {
                left.collect_properties(out);
                right.collect_properties(out);
            }
            Predicate::Not(inner) => inner.collect_properties(out),
            Predicate::Comparison { path, .. }
            | Predicate::Like { path, .. }
            | Predicate::In { path, .. }
            | Predicate::IsNull { path, .. } => insert_property(path, out),
        }
    }
}

fn insert_property(path: &Path, out: &mut BTreeSet<String>) {
    if path.property() != "id" {
        out.insert(path.property().to_owned());
    }
}

/// `value IN list`: true if an element equals the value; otherwise unknown if any comparison
/// was unknown (NULL or incomparable), else false.
fn in_list(value: &Value, list: &[Value]) -> Option<bool> {
    let mut unknown = false;
    for candidate in list {
        match value.compare(candidate) {
            Some(Ordering::Equal) => return Some(true),
            Some(_) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(false)
}

#[derive(PartialEq)]
enum LikeItem {
    /// `%`: any sequence of characters.
    Any,
    /// `_`: exactly one character.
    One,
    Char(char),
}

/// SQL LIKE over Unicode characters, case-sensitive, `\` escaping the next character (a
/// trailing `\` matches itself). Backtracks only to the latest `%`, so it runs in
/// O(text × pattern) time whatever the input.
fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let mut chars = pattern.chars();
    let pattern: Vec<LikeItem> = std::iter::from_fn(|| {
        Some(match chars.next()? {
            '%' => LikeItem::Any,
            '_' => LikeItem::One,
            '\\' => LikeItem::Char(chars.next().unwrap_or('\\')),
            c => LikeItem::Char(c),
        })
    })
    .collect();
    let (mut t, mut p) = (0, 0);
    // After a `%`: the pattern position following it and the text position it resumes from.
    let mut backtrack = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some(LikeItem::Any) => {
                p += 1;
                backtrack = Some((p, t));
            }
            Some(LikeItem::One) => (p, t) = (p + 1, t + 1),
            Some(LikeItem::Char(expected)) if *expected == c => (p, t) = (p + 1, t + 1),
            _ => match backtrack {
                // Let the last `%` swallow one more character and retry from there.
                Some((after_any, from)) => {
                    (p, t) = (after_any, from + 1);
                    backtrack = Some((after_any, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|item| *item == LikeItem::Any)
}

/// ORDER BY values of an item, then its id.
type SortKey = (Vec<Value>, EntityId);

impl Selection {
    /// The property names (first path segments, excluding `id`) the query reads, e.g. for
    /// checking them against a model or choosing indexes.
    pub fn properties(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.predicate.collect_properties(&mut out);
        self.order_by
            .iter()
            .for_each(|item| insert_property(&item.path, &mut out));
        out
    }

    /// The result order: ORDER BY keys by [`Value::sort_cmp`] (NULL last ascending, first
    /// descending), then entity id ascending, so that every engine returns the same order
    /// and LIMIT keeps the same items.
    pub fn compare(
        &self,
        a: &(impl Filterable + ?Sized),
        b: &(impl Filterable + ?Sized),
    ) -> Ordering {
        self.compare_keys(&self.sort_key(a), &self.sort_key(b))
    }

    /// Sorts items into result order (see [`Selection::compare`]), reading each value once.
    pub fn sort<T: Filterable>(&self, items: &mut Vec<T>) {
        let mut keyed: Vec<(SortKey, T)> = items
            .drain(..)
            .map(|item| (self.sort_key(&item), item))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| self.compare_keys(a, b));
        items.extend(keyed.into_iter().map(|(_, item)| item));
    }

    /// The query's result over `items`: those that match, in result order, at most `limit`.
    pub fn apply<T: Filterable>(&self, items: Vec<T>) -> Vec<T> {
        let mut selected: Vec<T> = items
            .into_iter()
            .filter(|item| self.predicate.matches(item))
            .collect();
        self.sort(&mut selected);
        if let Some(limit) = self.limit {
            selected.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        selected
    }

    fn sort_key(&self, item: &(impl Filterable + ?Sized)) -> SortKey {
        (
            self.order_by.iter().map(|o| o.path.resolve(item)).collect(),
            item.entity_id(),
        )
    }

    fn compare_keys(&self, (a, a_id): &SortKey, (b, b_id): &SortKey) -> Ordering {
        self.order_by
            .iter()
            .zip(a.iter().zip(b))
            .map(|(order, (x, y))| match order.direction {
                Direction::Asc => x.sort_cmp(y),
                Direction::Desc => y.sort_cmp(x),
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| a_id.cmp(b_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ankql::parse_selection;

    struct Item {
        id: EntityId,
        values: Vec<(&'static str, Value)>,
    }

    impl Filterable for Item {
        fn entity_id(&self) -> EntityId {
            self.id
        }

        fn value(&self, property: &str) -> Option<Value> {
            self.values
                .iter()
                .find(|(name, _)| *name == property)
                .map(|(_, v)| v.clone())
        }
    }

    fn item(n: u8, values: Vec<(&'static str, Value)>) -> Item {
        Item {
            id: EntityId::from_bytes([n; 16]),
            values,
        }
    }

    fn eval(query: &str, item: &Item) -> Option<bool> {
        query.parse::<Selection>().unwrap().predicate.evaluate(item)
    }

    #[test]
    fn three_valued_logic() {
        let it = item(1, vec![("a", 1.into()), ("n", Value::Null)]);
        let unknown = "missing = 1";
        let cases = [
            (unknown, None),
            ("n = 1", None),
            ("a = 'x'", None),
            ("NOT missing = 1", None),
            ("missing = 1 AND a = 1", None),
            ("missing = 1 AND a = 2", Some(false)),
            ("a = 2 AND missing = 1", Some(false)),
            ("missing = 1 OR a = 1", Some(true)),
            ("a = 1 OR missing = 1", Some(true)),
            ("missing = 1 OR a = 2", None),
            ("missing IS NULL", Some(true)),
            ("n IS NULL", Some(true)),
            ("a IS NOT NULL", Some(true)),
            ("NOT (missing = 1 OR a = 2)", None),
            ("NOT (missing = 1 AND a = 2)", Some(true)),
            ("missing LIKE '%'", None),
            ("a LIKE '%'", None),
            ("missing IN (1)", None),
            ("a IN (2, NULL)", None),
            ("a IN (1, NULL)", Some(true)),
            ("a NOT IN (2, NULL)", None),
            ("a NOT IN (2, 3)", Some(true)),
            ("a != NULL", None),
        ];
        for (query, expected) in cases {
            assert_eq!(eval(query, &it), expected, "{query}");
        }
        assert!(!"missing = 1"
            .parse::<Selection>()
            .unwrap()
            .predicate
            .matches(&it));
    }

    #[test]
    fn like_patterns() {
        for (text, pattern, expected) in [
            ("abc", "abc", true),
            ("abc", "ABC", false),
            ("abc", "a%", true),
            ("abc", "%c", true),
            ("abc", "%b%", true),
            ("abc", "a_c", true),
            ("abc", "a_", false),
            ("", "%", true),
            ("", "_", false),
            ("Zoë", "Zo_", true),
            ("Zoë", "___", true),
            ("a%b", r"a\%b", true),
            ("axb", r"a\%b", false),
            ("a_b", r"a\_b", true),
            ("axb", r"a\_b", false),
            (r"a\b", r"a\\b", true),
            (r"a\", r"a\", true),
            ("aXbXc", "a%b%c", true),
            ("mississippi", "%iss%ppi", true),
            ("mississippi", "%iss%ppx", false),
            ("abab", "%ab", true),
            ("aaa", "%%a%%", true),
        ] {
            assert_eq!(like(text, pattern), expected, "{text:?} LIKE {pattern:?}");
        }
        // Exponential for naive backtracking; linear-ish here.
        let text = "a".repeat(10_000);
        assert!(!like(&text, &format!("{}b", "%a".repeat(50))));
    }

    #[test]
    fn paths_reach_into_json_and_id() {
        let id = EntityId::from_bytes([7; 16]);
        let meta = serde_json::json!({"tags": {"first": "rock"}, "list": [10, {"x": true}]});
        let it = Item {
            id,
            values: vec![("meta", meta.into()), ("name", "n".into())],
        };
        let resolve = |p: &str| Path(p.split('.').map(String::from).collect()).resolve(&it);
        assert_eq!(resolve("id"), Value::EntityId(id));
        assert_eq!(resolve("meta.tags.first"), "rock".into());
        assert_eq!(resolve("meta.list.0"), 10.into());
        assert_eq!(resolve("meta.list.1.x"), true.into());
        assert_eq!(resolve("meta.list.2"), Value::Null);
        assert_eq!(resolve("meta.nope.deeper"), Value::Null);
        assert_eq!(resolve("name.x"), Value::Null);
        assert_eq!(eval(&format!("id = '{id}'"), &it), Some(true));
    }

    #[test]
    fn apply_filters_orders_with_nulls_and_limits() {
        let items = || {
            vec![
                item(3, vec![("r", 2.into())]),
                item(1, vec![("r", 1.5.into())]),
                item(2, vec![]),
                item(4, vec![("r", 2.into())]),
                item(5, vec![("r", 9.into())]),
            ]
        };
        let ids = |query: &str| -> Vec<u8> {
            query
                .parse::<Selection>()
                .unwrap()
                .apply(items())
                .iter()
                .map(|i| i.id.to_bytes()[0])
                .collect()
        };
        assert_eq!(ids("ORDER BY r"), vec![1, 3, 4, 5, 2]);
        assert_eq!(ids("ORDER BY r DESC"), vec![2, 5, 3, 4, 1]);
        assert_eq!(ids(""), vec![1, 2, 3, 4, 5]);
        assert_eq!(ids("r < 5 ORDER BY r DESC LIMIT 2"), vec![3, 4]);
        assert_eq!(ids("LIMIT 2"), vec![1, 2]);
        let owned = items();
        let borrowed: Vec<&Item> = parse_selection("r >= ?", &[2.into()])
            .unwrap()
            .apply(owned.iter().collect());
        assert_eq!(
            borrowed
                .iter()
                .map(|i| i.id.to_bytes()[0])
                .collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn properties_lists_first_segments_without_id() {
        let selection: Selection =
            "NOT (a = 1 OR b.c IN (2)) AND id IS NOT NULL AND d LIKE 'x' ORDER BY e.f, a"
                .parse()
                .unwrap();
        let expected: BTreeSet<String> = ["a", "b", "d", "e"].map(String::from).into();
        assert_eq!(selection.properties(), expected);
    }
}
