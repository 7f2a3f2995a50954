//! Printing queries back as AnkQL text that parses to an equal value, so that a [`Selection`]
//! can be logged, shown to users, or sent to anything that speaks AnkQL.
//!
//! Values are printed with [`Value`]'s `Display`. A few values have no AnkQL literal and do
//! not survive the trip: `Bytes` print as `X'..'` (not parseable), `EntityId` and `Json` print
//! as strings (parsed back as `String`, which compares the same way for ids but not for Json),
//! non-finite floats print as `inf`/`NaN`, and an empty `IN` list prints as `()`. None of these
//! can come out of the parser.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{Direction, Path, Predicate, Selection};
use super::lexer::{is_bare_name, is_word_char};

impl Display for Selection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.predicate)?;
        for (i, item) in self.order_by.iter().enumerate() {
            write!(
                f,
                "{}{}",
                if i == 0 { " ORDER BY " } else { ", " },
                item.path
            )?;
            if item.direction == Direction::Desc {
                f.write_str(" DESC")?;
            }
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        Ok(())
    }
}

/// Segments are written bare when the lexer would read them back as the same name, and
/// double-quoted otherwise (keywords, spaces, non-ASCII, ...).
impl Display for Path {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            let bare = if i == 0 {
                is_bare_name(segment)
            } else {
                f.write_char('.')?;
                !segment.is_empty() && segment.chars().all(is_word_char)
            };
            if bare {
                f.write_str(segment)?;
            } else {
                write_quoted(f, segment, '"')?;
            }
        }
        Ok(())
    }
}

/// Printed with the fewest parentheses that keep the tree's shape, as the parser reads text:
/// AND binds tighter than OR, and a chain of ANDs (or ORs) reads as a balanced tree, so a
/// chain is written flat wherever that balanced reading gives back the same tree.
impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write(f, Binding::Or)
    }
}

/// How tightly an expression binds, loosest first.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Binding {
    Or,
    And,
    Unary,
}

impl Predicate {
    fn binding(&self) -> Binding {
        match self {
            Predicate::Or(..) => Binding::Or,
            Predicate::And(..) => Binding::And,
            _ => Binding::Unary,
        }
    }

    /// Writes the predicate where at least `context` binding is needed, parenthesized if looser.
    fn write(&self, f: &mut Formatter<'_>, context: Binding) -> fmt::Result {
        if self.binding() < context {
            return write!(f, "({self})");
        }
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            Predicate::True => f.write_str("TRUE"),
            Predicate::False => f.write_str("FALSE"),
            Predicate::Or(..) => self.write_chain(f, Binding::Or),
            Predicate::And(..) => self.write_chain(f, Binding::And),
            Predicate::Not(inner) => {
                f.write_str("NOT ")?;
                inner.write(f, Binding::Unary)
            }
            Predicate::Comparison { path, op, value } => {
                write!(f, "{path} {} {value}", op.symbol())
            }
            Predicate::Like {
                path,
                pattern,
                negated,
            } => {
                write!(f, "{path} {}LIKE ", not(*negated))?;
                write_quoted(f, pattern, '\'')
            }
            Predicate::In {
                path,
                values,
                negated,
            } => {
                write!(f, "{path} {}IN (", not(*negated))?;
                for (i, value) in values.iter().enumerate() {
                    write!(f, "{}{value}", if i == 0 { "" } else { ", " })?;
                }
                f.write_char(')')
            }
            Predicate::IsNull { path, negated } => write!(f, "{path} IS {}NULL", not(*negated)),
        }
    }

    /// Writes an OR (`binding` is `Or`) or AND node. If it is the balanced tree the parser
    /// builds from the chain of its operands, the chain is written flat; otherwise its two
    /// sides are written as a chain of two, a side of the same kind in parentheses, which the
    /// parser reads back as exactly this node.
    fn write_chain(&self, f: &mut Formatter<'_>, binding: Binding) -> fmt::Result {
        let (separator, operand_binding) = match binding {
            Binding::Or => (" OR ", Binding::And),
            _ => (" AND ", Binding::Unary),
        };
        let mut operands = Vec::new();
        match self.balanced_operands(binding) {
            Some(_) => self.flatten(binding, &mut operands),
            None => operands.extend(self.sides(binding).into_iter().flat_map(|(l, r)| [l, r])),
        }
        for (i, operand) in operands.into_iter().enumerate() {
            if i > 0 {
                f.write_str(separator)?;
            }
            operand.write(f, operand_binding)?;
        }
        Ok(())
    }

    /// The two sides, if this is a node of the chain kind `binding` (OR or AND).
    fn sides(&self, binding: Binding) -> Option<(&Predicate, &Predicate)> {
        match self {
            Predicate::Or(left, right) if binding == Binding::Or => Some((left, right)),
            Predicate::And(left, right) if binding == Binding::And => Some((left, right)),
            _ => None,
        }
    }

    /// How many operands the chain of `binding` nodes rooted here joins, if the tree is the
    /// balanced one the parser builds from them (the first half, rounded up, on the left).
    fn balanced_operands(&self, binding: Binding) -> Option<usize> {
        let Some((left, right)) = self.sides(binding) else {
            return Some(1);
        };
        let left = left.balanced_operands(binding)?;
        let all = left + right.balanced_operands(binding)?;
        (left == all.div_ceil(2)).then_some(all)
    }

    /// The operands of the chain of `binding` nodes rooted here, in order.
    fn flatten<'p>(&'p self, binding: Binding, out: &mut Vec<&'p Predicate>) {
        match self.sides(binding) {
            Some((left, right)) => {
                left.flatten(binding, out);
                right.flatten(binding, out);
            }
            None => out.push(self),
        }
    }
}

/// Writes `text` between `quote`s, doubling any `quote` inside (AnkQL's only escape).
fn write_quoted(f: &mut Formatter<'_>, text: &str, quote: char) -> fmt::Result {
    f.write_char(quote)?;
    for c in text.chars() {
        if c == quote {
            f.write_char(c)?;
        }
        f.write_char(c)?;
    }
    f.write_char(quote)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ankql::ast::{ComparisonOp, OrderItem};
    use crate::ankql::parse_selection;
    use crate::value::Value;

    fn round_trip(text: &str) -> String {
        let selection: Selection = text.parse().unwrap();
        let printed = selection.to_string();
        assert_eq!(printed.parse::<Selection>(), Ok(selection), "{printed}");
        printed
    }

    #[test]
    fn prints_canonical_text() {
        for (input, printed) in [
            ("", "TRUE"),
            (
                "year>1985 and NOT name like 'A%'",
                "year > 1985 AND NOT name LIKE 'A%'",
            ),
            ("a = 1 OR b = 2 AND c = 3", "a = 1 OR b = 2 AND c = 3"),
            ("(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"),
            ("a = 1 AND (b = 2 AND c = 3)", "a = 1 AND (b = 2 AND c = 3)"),
            ("((a = 1) AND b = 2) AND c = 3", "a = 1 AND b = 2 AND c = 3"),
            (
                "(a = 1 AND b = 2) AND (c = 3 AND d = 4)",
                "a = 1 AND b = 2 AND c = 3 AND d = 4",
            ),
            (
                "(a = 1 AND b = 2 AND c = 3) AND d = 4",
                "(a = 1 AND b = 2 AND c = 3) AND d = 4",
            ),
            (
                "a = 1 OR b = 2 AND c = 3 OR d = 4 OR e = 5",
                "a = 1 OR b = 2 AND c = 3 OR d = 4 OR e = 5",
            ),
            ("NOT (a <> 1 OR b == 2)", "NOT (a != 1 OR b = 2)"),
            ("NOT NOT a IS NOT NULL", "NOT NOT a IS NOT NULL"),
            (
                "x not in (1, 'it''s', null, true, -2.5)",
                "x NOT IN (1, 'it''s', NULL, TRUE, -2.5)",
            ),
            (
                r#""order" = 1.0 ORDER BY "weird ""x""".y asc, meta.0.in DESC LIMIT 3"#,
                r#""order" = 1.0 ORDER BY "weird ""x""".y, meta.0.in DESC LIMIT 3"#,
            ),
            ("n LIKE 'it''s\\%'", "n LIKE 'it''s\\%'"),
            ("limit 0", "TRUE LIMIT 0"),
        ] {
            assert_eq!(round_trip(input), printed);
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("order".to_string()),
            Just("0".to_string()),
            "[a-z_][a-z0-9_]{0,4}",
            any::<String>()
        ]
    }

    fn path() -> impl Strategy<Value = Path> {
        prop::collection::vec(name(), 1..4).prop_map(Path)
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(Value::F64),
            any::<String>().prop_map(Value::String),
        ]
    }

    fn leaf() -> impl Strategy<Value = Predicate> {
        let op = prop::sample::select(vec![
            ComparisonOp::Eq,
            ComparisonOp::NotEq,
            ComparisonOp::Lt,
            ComparisonOp::LtEq,
            ComparisonOp::Gt,
            ComparisonOp::GtEq,
        ]);
        // A pattern may not end in a lone `\` (the parser refuses it).
        let pattern = any::<String>().prop_filter("no lone trailing \\", |p| {
            p.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0
        });
        prop_oneof![
            Just(Predicate::True),
            Just(Predicate::False),
            (path(), op, value()).prop_map(|(path, op, value)| Predicate::Comparison {
                path,
                op,
                value
            }),
            (path(), pattern, any::<bool>()).prop_map(|(path, pattern, negated)| Predicate::Like {
                path,
                pattern,
                negated
            }),
            (path(), prop::collection::vec(value(), 1..4), any::<bool>()).prop_map(
                |(path, values, negated)| Predicate::In {
                    path,
                    values,
                    negated
                }
            ),
            (path(), any::<bool>()).prop_map(|(path, negated)| Predicate::IsNull { path, negated }),
        ]
    }

    fn predicate() -> impl Strategy<Value = Predicate> {
        leaf().prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Predicate::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Predicate::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|p| Predicate::Not(Box::new(p))),
            ]
        })
    }

    fn selection() -> impl Strategy<Value = Selection> {
        let direction = prop_oneof![Just(Direction::Asc), Just(Direction::Desc)];
        let order_by = prop::collection::vec(
            (path(), direction).prop_map(|(path, direction)| OrderItem { path, direction }),
            0..3,
        );
        let limit = prop::option::of(0..=i64::MAX as u64);
        (predicate(), order_by, limit).prop_map(|(predicate, order_by, limit)| Selection {
            predicate,
            order_by,
            limit,
        })
    }

    proptest! {
        #[test]
        fn display_parses_back_to_an_equal_selection(selection in selection()) {
            let printed = selection.to_string();
            prop_assert_eq!(parse_selection(&printed, &[]), Ok(selection), "{}", printed);
        }
    }
}
