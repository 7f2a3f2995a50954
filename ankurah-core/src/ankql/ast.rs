//! The syntax tree of AnkQL. Values are already bound: `?` placeholders are replaced by
//! their arguments when the text is parsed.

use serde::{Deserialize, Serialize};

use crate::limits::LimitExceeded;
use crate::value::Value;

/// A whole query: which entities, in what order, how many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Which entities match. `Predicate::True` when the query has no predicate.
    pub predicate: Predicate,
    /// Sort keys, most significant first. Ties (and an empty list) fall back to entity id.
    pub order_by: Vec<OrderItem>,
    /// At most this many results.
    pub limit: Option<u64>,
}

impl Selection {
    /// `Ok` if the predicate is within `limit` (see [`Predicate::check_depth`]): a selection
    /// from outside (a peer's request) is vetted with this before anything recurses into it.
    pub fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        self.predicate.check_depth(limit)
    }
}

/// A property path: `year`, or `meta.tags.first` reaching into a Json property.
/// The first segment names the property; `id` is the entity id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Path(pub Vec<String>);

impl Path {
    /// The property the path starts at.
    pub fn property(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or_default()
    }

    /// The keys after the property (empty unless the path reaches into Json).
    pub fn json_keys(&self) -> &[String] {
        self.0.get(1..).unwrap_or_default()
    }

    /// A single-segment path.
    pub fn simple(name: impl Into<String>) -> Self {
        Path(vec![name.into()])
    }
}

/// A boolean expression over an entity's properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Predicate {
    True,
    False,
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
    /// `path op value`
    Comparison {
        path: Path,
        op: ComparisonOp,
        value: Value,
    },
    /// `path [NOT] LIKE 'pattern'`
    Like {
        path: Path,
        pattern: String,
        negated: bool,
    },
    /// `path [NOT] IN (v1, v2, ...)`
    In {
        path: Path,
        values: Vec<Value>,
        negated: bool,
    },
    /// `path IS [NOT] NULL`
    IsNull {
        path: Path,
        negated: bool,
    },
}

/// What [`Predicate::check_depth`] measures, as its errors name it.
pub const QUERY_DEPTH: &str = "query nesting depth";

impl Predicate {
    /// `Ok` if the tree is at most `limit` deep — a condition, `TRUE` or `FALSE` is depth 1,
    /// each `NOT`, `AND` and `OR` adds one above its deepest operand — and no Json value in
    /// it nests deeper than `limit`. Walks with an explicit stack, so a predicate of any depth
    /// can be vetted before evaluating, printing or pushing it down (all recursive) runs.
    pub fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        let mut stack = vec![(self, 1)];
        while let Some((predicate, depth)) = stack.pop() {
            LimitExceeded::check(QUERY_DEPTH, depth, limit)?;
            match predicate {
                Predicate::And(left, right) | Predicate::Or(left, right) => {
                    stack.extend([(&**left, depth + 1), (&**right, depth + 1)]);
                }
                Predicate::Not(inner) => stack.push((inner, depth + 1)),
                Predicate::Comparison { value, .. } => value.check_depth(limit)?,
                Predicate::In { values, .. } => {
                    values
                        .iter()
                        .try_for_each(|value| value.check_depth(limit))?;
                }
                Predicate::True
                | Predicate::False
                | Predicate::Like { .. }
                | Predicate::IsNull { .. } => {}
            }
        }
        Ok(())
    }
}

/// A binary comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ComparisonOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl ComparisonOp {
    /// The canonical spelling.
    pub fn symbol(&self) -> &'static str {
        match self {
            ComparisonOp::Eq => "=",
            ComparisonOp::NotEq => "!=",
            ComparisonOp::Lt => "<",
            ComparisonOp::LtEq => "<=",
            ComparisonOp::Gt => ">",
            ComparisonOp::GtEq => ">=",
        }
    }
}

/// One ORDER BY key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub path: Path,
    pub direction: Direction,
}

/// Sort direction. NULL sorts last ascending and first descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    Asc,
    Desc,
}
