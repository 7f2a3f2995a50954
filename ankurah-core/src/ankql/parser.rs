//! Recursive-descent parser from AnkQL text to a [`Selection`], binding `?` placeholders.

use std::ops::Range;
use std::str::FromStr;

use super::ast::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use super::lexer::{Keyword, Lexer, Token, TokenKind};
use crate::limits::Limits;
use crate::value::Value;

/// Why a query text was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {offset}")]
pub struct ParseError {
    /// Byte offset into the query text (always a char boundary) of the offending token.
    pub offset: usize,
    /// What was expected or wrong, e.g. "expected a value after `>`".
    pub message: String,
}

/// Parses `text` into a [`Selection`], replacing each `?` by the next element of `args`,
/// under the default [`Limits`] (see [`parse_selection_with`]).
///
/// Arguments are values rather than text, so they need no quoting and cannot change the
/// structure of the query. Empty (or blank) text selects everything.
pub fn parse_selection(text: &str, args: &[Value]) -> Result<Selection, ParseError> {
    parse_selection_with(text, args, &Limits::default())
}

/// [`parse_selection`] under a node's configured limits: a predicate nesting deeper than
/// [`Limits::depth_limit`] (through parentheses, `NOT` or the tree it builds), or an argument
/// holding Json nested deeper, is refused before the parser recurses that deep, so the
/// query can be evaluated, printed, sent and pushed down without exhausting a stack.
pub fn parse_selection_with(
    text: &str,
    args: &[Value],
    limits: &Limits,
) -> Result<Selection, ParseError> {
    let mut lexer = Lexer::new(text);
    let token = lexer.next_token()?;
    Parser {
        text,
        lexer,
        token,
        prev: None,
        args,
        used_args: 0,
        nesting: 0,
        max_depth: limits.depth_limit(),
        bindings: None,
    }
    .selection()
}

/// What a `$` reference of an access rule stands for (see [`parse_rule`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// A value, e.g. `$user.id`.
    Value(Value),
    /// A list of values, e.g. `$user.roles`: after `IN`, or on the right of `'x' IN`.
    List(Vec<Value>),
    /// A property of the entity, e.g. `$new.owner` (the rule then reads that path).
    Path(Path),
}

/// Resolves the `$` references of a rule while it is parsed.
pub trait Bindings {
    /// What `$reference` (e.g. `["user", "id"]`) stands for, or why it is not allowed.
    fn bind(&self, reference: &Path) -> Result<Binding, String>;
}

/// Parses an access rule: an AnkQL predicate that may also use `$` references, which
/// `bindings` resolves as they are read, so the result is an ordinary [`Predicate`] (to
/// evaluate, or to AND into a selection that storage pushes down). Beyond a query's
/// predicate, a rule may compare a value on the left (`'editor' IN $user.roles`,
/// `$user.id = owner`); a condition between values only is decided at once (`TRUE` or
/// `FALSE`).
pub fn parse_rule(
    text: &str,
    bindings: &dyn Bindings,
    limits: &Limits,
) -> Result<Predicate, ParseError> {
    let mut lexer = Lexer::new(text);
    let token = lexer.next_token()?;
    let mut parser = Parser {
        text,
        lexer,
        token,
        prev: None,
        args: &[],
        used_args: 0,
        nesting: 0,
        max_depth: limits.depth_limit(),
        bindings: Some(bindings),
    };
    let predicate = parser.or()?.0;
    match parser.token.kind {
        TokenKind::End => Ok(predicate),
        _ => Err(parser.expected("`AND`, `OR` or the end of the rule")),
    }
}

impl FromStr for Selection {
    type Err = ParseError;

    /// Parses a query without placeholder arguments.
    fn from_str(text: &str) -> Result<Self, ParseError> {
        parse_selection(text, &[])
    }
}

impl TryFrom<&str> for Selection {
    type Error = ParseError;

    fn try_from(text: &str) -> Result<Self, ParseError> {
        text.parse()
    }
}

type Result<T, E = ParseError> = std::result::Result<T, E>;

/// A parsed predicate and the depth of its tree.
type Parsed = (Predicate, usize);

struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    /// The token being looked at (one token of lookahead is all the grammar needs).
    token: Token,
    /// Where the previous token was, to quote it in "expected … after `…`".
    prev: Option<Range<usize>>,
    args: &'a [Value],
    used_args: usize,
    /// Current recursion depth through parentheses and `NOT`.
    nesting: usize,
    /// Deepest nesting and tree depth accepted.
    max_depth: usize,
    /// In a rule: what `$` references stand for (`None` in a query, which has none).
    bindings: Option<&'a dyn Bindings>,
}

impl Parser<'_> {
    /// `query := [predicate] [ORDER BY item {, item}] [LIMIT n]`
    fn selection(&mut self) -> Result<Selection> {
        let predicate = match self.token.kind {
            TokenKind::End | TokenKind::Keyword(Keyword::Order | Keyword::Limit) => Predicate::True,
            _ => self.or()?.0,
        };
        let mut order_by = Vec::new();
        if self.eat(Keyword::Order)? {
            self.expect(Keyword::By, "`BY`")?;
            loop {
                let path = self.path()?;
                let direction = if self.eat(Keyword::Desc)? {
                    Direction::Desc
                } else {
                    self.eat(Keyword::Asc)?;
                    Direction::Asc
                };
                order_by.push(OrderItem { path, direction });
                if !self.eat(TokenKind::Comma)? {
                    break;
                }
            }
        }
        let limit = if self.eat(Keyword::Limit)? {
            Some(self.value_as("a non-negative integer", |v| match v {
                Value::I64(n) => u64::try_from(n).ok(),
                _ => None,
            })?)
        } else {
            None
        };
        if self.token.kind != TokenKind::End {
            let found = self.source(self.token.span.clone());
            return Err(ParseError {
                offset: self.token.span.start,
                message: format!("unexpected `{found}`"),
            });
        }
        if self.used_args < self.args.len() {
            let message = format!(
                "too many arguments: argument {} has no `?`",
                self.used_args + 1
            );
            return Err(ParseError {
                offset: self.text.len(),
                message,
            });
        }
        Ok(Selection {
            predicate,
            order_by,
            limit,
        })
    }

    /// `or := and {OR and}`
    fn or(&mut self) -> Result<Parsed> {
        self.chain(Keyword::Or, Self::and, Predicate::Or)
    }

    /// `and := unary {AND unary}`
    fn and(&mut self) -> Result<Parsed> {
        self.chain(Keyword::And, Self::unary, Predicate::And)
    }

    /// A chain of `operand`s joined by the keyword `op`, as a balanced tree (see [`balance`]),
    /// refused if that tree is deeper than the limit.
    fn chain(
        &mut self,
        op: Keyword,
        operand: fn(&mut Self) -> Result<Parsed>,
        join: Join,
    ) -> Result<Parsed> {
        let start = self.token.span.start;
        let mut operands = vec![operand(self)?];
        while self.eat(op)? {
            operands.push(operand(self)?);
        }
        let (predicate, depth) = balance(operands, join);
        if depth > self.max_depth {
            return Err(self.too_deep(start));
        }
        Ok((predicate, depth))
    }

    /// `unary := NOT unary | '(' predicate ')' | TRUE | FALSE | comparison`
    fn unary(&mut self) -> Result<Parsed> {
        let at = self.token.span.start;
        match self.token.kind {
            TokenKind::Keyword(Keyword::Not) => {
                self.advance()?;
                let (inner, depth) = self.nested(at, Self::unary)?;
                if depth >= self.max_depth {
                    return Err(self.too_deep(at));
                }
                Ok((Predicate::Not(Box::new(inner)), depth + 1))
            }
            TokenKind::LParen => {
                self.advance()?;
                let inner = self.nested(at, Self::or)?;
                self.expect(TokenKind::RParen, "`)`")?;
                Ok(inner)
            }
            TokenKind::Keyword(Keyword::True) => self.advance().map(|_| (Predicate::True, 1)),
            TokenKind::Keyword(Keyword::False) => self.advance().map(|_| (Predicate::False, 1)),
            TokenKind::Ident(_) => Ok((self.comparison()?, 1)),
            TokenKind::Dollar
            | TokenKind::String(_)
            | TokenKind::Integer(_)
            | TokenKind::Float(_)
                if self.bindings.is_some() =>
            {
                Ok((self.rule_condition()?, 1))
            }
            _ => Err(self.expected("a condition")),
        }
    }

    /// Runs `parse` one recursion level deeper, refusing to go past the depth limit.
    fn nested<T>(&mut self, at: usize, parse: fn(&mut Self) -> Result<T>) -> Result<T> {
        if self.nesting >= self.max_depth {
            return Err(self.too_deep(at));
        }
        self.nesting += 1;
        let result = parse(self);
        self.nesting -= 1;
        result
    }

    /// `path op value | path [NOT] LIKE string | path [NOT] IN (values) | path IS [NOT] NULL`
    fn comparison(&mut self) -> Result<Predicate> {
        let path = self.path()?;
        self.condition_on(path)
    }

    /// A rule's condition starting with a `$` reference or a literal.
    fn rule_condition(&mut self) -> Result<Predicate> {
        let at = self.token.span.start;
        let left = match self.token.kind {
            TokenKind::Dollar => match self.reference()? {
                Binding::Path(path) => return self.condition_on(path),
                Binding::Value(value) => value,
                Binding::List(_) => {
                    return Err(ParseError {
                        offset: at,
                        message: "a list can only follow `IN`".into(),
                    })
                }
            },
            _ => self.value()?,
        };
        let negated = self.eat(Keyword::Not)?;
        let holds = match self.token.kind {
            TokenKind::Keyword(Keyword::In) => {
                self.advance()?;
                let values = self.in_values()?;
                values.contains(&left) != negated
            }
            TokenKind::Op(op) if !negated => {
                self.advance()?;
                let right = match self.token.kind {
                    TokenKind::Ident(_) => Binding::Path(self.path()?),
                    TokenKind::Dollar => self.reference()?,
                    _ => Binding::Value(self.value()?),
                };
                match (right, op) {
                    (Binding::Path(path), op) => {
                        return Ok(Predicate::Comparison {
                            path,
                            op: mirrored(op),
                            value: left,
                        })
                    }
                    (Binding::Value(right), ComparisonOp::Eq) => left == right,
                    (Binding::Value(right), ComparisonOp::NotEq) => left != right,
                    _ => {
                        return Err(ParseError {
                            offset: at,
                            message: "two values can only be compared with `=` or `!=`".into(),
                        })
                    }
                }
            }
            TokenKind::Keyword(Keyword::Is) if !negated => {
                self.advance()?;
                let negated = self.eat(Keyword::Not)?;
                self.expect(Keyword::Null, "`NULL`")?;
                (left == Value::Null) != negated
            }
            _ if negated => return Err(self.expected("`IN`")),
            _ => return Err(self.expected("an operator")),
        };
        Ok(if holds {
            Predicate::True
        } else {
            Predicate::False
        })
    }

    /// `$name {. key}`, resolved by the rule's bindings.
    fn reference(&mut self) -> Result<Binding> {
        let at = self.token.span.start;
        self.expect(TokenKind::Dollar, "`$`")?;
        let reference = self.path()?;
        let bindings = self.bindings.ok_or_else(|| ParseError {
            offset: at,
            message: "`$` references are allowed in access rules only".into(),
        })?;
        bindings.bind(&reference).map_err(|message| ParseError {
            offset: at,
            message,
        })
    }

    /// The values after `IN`: `(v1, v2, ...)`, or a `$` reference to a list in a rule.
    fn in_values(&mut self) -> Result<Vec<Value>> {
        if self.token.kind == TokenKind::Dollar && self.bindings.is_some() {
            let at = self.token.span.start;
            return match self.reference()? {
                Binding::List(values) => Ok(values),
                _ => Err(ParseError {
                    offset: at,
                    message: "`IN` needs a list here".into(),
                }),
            };
        }
        self.expect(TokenKind::LParen, "`(`")?;
        let mut values = vec![self.value()?];
        while self.eat(TokenKind::Comma)? {
            values.push(self.value()?);
        }
        self.expect(TokenKind::RParen, "`,` or `)`")?;
        Ok(values)
    }

    /// The rest of a condition on `path`.
    fn condition_on(&mut self, path: Path) -> Result<Predicate> {
        let negated = self.eat(Keyword::Not)?;
        Ok(match self.token.kind {
            TokenKind::Keyword(Keyword::Like) => {
                self.advance()?;
                Predicate::Like {
                    path,
                    pattern: self.pattern()?,
                    negated,
                }
            }
            TokenKind::Keyword(Keyword::In) => {
                self.advance()?;
                let values = self.in_values()?;
                // An empty list (a user without roles) matches nothing; SQL has no `IN ()`.
                if values.is_empty() {
                    return Ok(if negated {
                        Predicate::True
                    } else {
                        Predicate::False
                    });
                }
                Predicate::In {
                    path,
                    values,
                    negated,
                }
            }
            TokenKind::Keyword(Keyword::Is) if !negated => {
                self.advance()?;
                let negated = self.eat(Keyword::Not)?;
                self.expect(Keyword::Null, "`NULL`")?;
                Predicate::IsNull { path, negated }
            }
            TokenKind::Op(op) if !negated => {
                self.advance()?;
                Predicate::Comparison {
                    path,
                    op,
                    value: self.value()?,
                }
            }
            _ if negated => return Err(self.expected("`LIKE` or `IN`")),
            _ => return Err(self.expected("an operator")),
        })
    }

    /// `path := ident {. ident}`; segments after a dot may also be array indices.
    fn path(&mut self) -> Result<Path> {
        let mut segments = vec![self.ident("a property name")?];
        while self.eat(TokenKind::Dot)? {
            segments.push(self.ident("a key")?);
        }
        Ok(Path(segments))
    }

    fn ident(&mut self, what: &str) -> Result<String> {
        match &mut self.token.kind {
            TokenKind::Ident(name) => {
                let name = std::mem::take(name);
                self.advance()?;
                Ok(name)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A LIKE pattern: a string literal or a `?` bound to a string.
    fn pattern(&mut self) -> Result<String> {
        let at = self.token.span.start;
        let pattern = self.value_as("a string pattern", |v| match v {
            Value::String(pattern) => Some(pattern),
            _ => None,
        })?;
        // A trailing lone `\` escapes nothing; SQL databases reject it, so AnkQL does too.
        if pattern.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
            return Err(ParseError {
                offset: at,
                message: "LIKE pattern ends with a lone `\\`".into(),
            });
        }
        Ok(pattern)
    }

    fn value(&mut self) -> Result<Value> {
        if self.token.kind == TokenKind::Dollar && self.bindings.is_some() {
            let at = self.token.span.start;
            return match self.reference()? {
                Binding::Value(value) => Ok(value),
                _ => Err(ParseError {
                    offset: at,
                    message: "expected a value; this reference is not one".into(),
                }),
            };
        }
        self.value_as("a value", Some)
    }

    /// Reads a literal or `?` that `accept` converts, failing with "expected {what}" otherwise.
    fn value_as<T>(&mut self, what: &str, accept: impl FnOnce(Value) -> Option<T>) -> Result<T> {
        let value = match &mut self.token.kind {
            TokenKind::String(s) => Some(Value::String(std::mem::take(s))),
            TokenKind::Integer(i) => Some(Value::I64(*i)),
            TokenKind::Float(x) => Some(Value::F64(*x)),
            TokenKind::Keyword(Keyword::True) => Some(Value::Bool(true)),
            TokenKind::Keyword(Keyword::False) => Some(Value::Bool(false)),
            TokenKind::Keyword(Keyword::Null) => Some(Value::Null),
            TokenKind::Question => Some(self.next_arg()?),
            _ => None,
        };
        match value.and_then(accept) {
            Some(accepted) => self.advance().map(|_| accepted),
            None => {
                let mut error = self.expected(what);
                // `"t"` lexes as a quoted name, as in SQL; the user most likely meant a string.
                let quoted = self.source(self.token.span.clone()).starts_with('"');
                if quoted && matches!(self.token.kind, TokenKind::Ident(_)) {
                    error.message.push_str(
                        " (strings use single quotes, 'like this'; double quotes are for names)",
                    );
                }
                Err(error)
            }
        }
    }

    /// The argument of the current `?`, refused if it holds Json nested past the limit.
    fn next_arg(&mut self) -> Result<Value> {
        let number = self.used_args + 1;
        let error = |message: String| ParseError {
            offset: self.token.span.start,
            message,
        };
        let arg = self.args.get(self.used_args).ok_or_else(|| {
            error(format!(
                "too few arguments: no argument for `?` number {number}"
            ))
        })?;
        arg.check_depth(self.max_depth)
            .map_err(|e| error(format!("argument {number}: {e}")))?;
        self.used_args = number;
        Ok(arg.clone())
    }

    /// Consumes the current token if it is `kind`.
    fn eat(&mut self, kind: impl Into<TokenKind>) -> Result<bool> {
        let found = self.token.kind == kind.into();
        if found {
            self.advance()?;
        }
        Ok(found)
    }

    fn expect(&mut self, kind: impl Into<TokenKind>, what: &str) -> Result<()> {
        if self.eat(kind)? {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn advance(&mut self) -> Result<()> {
        let next = self.lexer.next_token()?;
        self.prev = Some(std::mem::replace(&mut self.token, next).span);
        Ok(())
    }

    fn expected(&self, what: &str) -> ParseError {
        let message = match &self.prev {
            Some(prev) => format!("expected {what} after `{}`", self.source(prev.clone())),
            None => format!("expected {what}"),
        };
        ParseError {
            offset: self.token.span.start,
            message,
        }
    }

    fn too_deep(&self, at: usize) -> ParseError {
        ParseError {
            offset: at,
            message: format!(
                "query nests deeper than the limit of {} levels",
                self.max_depth
            ),
        }
    }

    fn source(&self, span: Range<usize>) -> &str {
        self.text.get(span).unwrap_or_default()
    }
}

/// The operator that means the same with its operands swapped (`1 < x` is `x > 1`).
fn mirrored(op: ComparisonOp) -> ComparisonOp {
    match op {
        ComparisonOp::Lt => ComparisonOp::Gt,
        ComparisonOp::LtEq => ComparisonOp::GtEq,
        ComparisonOp::Gt => ComparisonOp::Lt,
        ComparisonOp::GtEq => ComparisonOp::LtEq,
        ComparisonOp::Eq | ComparisonOp::NotEq => op,
    }
}

/// Joins the two sides of an `AND` or `OR`.
type Join = fn(Box<Predicate>, Box<Predicate>) -> Predicate;

/// Joins a chain of operands (never empty) into a balanced tree: the first half (rounded up)
/// on the left, the rest on the right, each half balanced the same way. `AND` and `OR` are
/// associative, also in three-valued logic, so the shape does not change the meaning; it
/// keeps the depth at the operands' depth plus the logarithm of their number, so that a
/// chain of any length fits the depth limit. Up to three operands this is the familiar left
/// association: `a AND b AND c` is `(a AND b) AND c`. The recursion is as deep as the tree.
fn balance(mut operands: Vec<Parsed>, join: Join) -> Parsed {
    if operands.len() > 1 {
        let right = operands.split_off(operands.len().div_ceil(2));
        let (left, left_depth) = balance(operands, join);
        let (right, right_depth) = balance(right, join);
        return (
            join(Box::new(left), Box::new(right)),
            left_depth.max(right_depth) + 1,
        );
    }
    operands.pop().expect("a chain has at least one operand")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ankql::ast::ComparisonOp;
    use proptest::prelude::*;

    fn path(p: &str) -> Path {
        Path(p.split('.').map(String::from).collect())
    }

    fn cmp(p: &str, op: ComparisonOp, value: impl Into<Value>) -> Predicate {
        Predicate::Comparison {
            path: path(p),
            op,
            value: value.into(),
        }
    }

    fn pred(text: &str) -> Predicate {
        text.parse::<Selection>().unwrap().predicate
    }

    fn error(text: &str, args: &[Value]) -> String {
        parse_selection(text, args).unwrap_err().to_string()
    }

    fn and(a: Predicate, b: Predicate) -> Predicate {
        Predicate::And(Box::new(a), Box::new(b))
    }

    fn or(a: Predicate, b: Predicate) -> Predicate {
        Predicate::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Predicate) -> Predicate {
        Predicate::Not(Box::new(a))
    }

    #[test]
    fn empty_text_selects_everything() {
        for text in ["", "   \n\t"] {
            assert_eq!(
                text.parse(),
                Ok(Selection {
                    predicate: Predicate::True,
                    order_by: vec![],
                    limit: None
                })
            );
        }
    }

    #[test]
    fn comparisons_and_literals() {
        use ComparisonOp::*;
        assert_eq!(pred("year >= 1985"), cmp("year", GtEq, 1985));
        assert_eq!(pred("year == -2"), cmp("year", Eq, -2));
        assert_eq!(pred("year <> 1.5"), cmp("year", NotEq, 1.5));
        assert_eq!(pred("name = 'it''s'"), cmp("name", Eq, "it's"));
        assert_eq!(pred("flag != TRUE"), cmp("flag", NotEq, true));
        assert_eq!(pred("x < null"), cmp("x", Lt, Value::Null));
        assert_eq!(
            pred(r#""weird name".tags.0 <= 'a'"#),
            cmp("weird name.tags.0", LtEq, "a")
        );
        assert_eq!(pred("meta.order > 1"), cmp("meta.order", Gt, 1));
        assert_eq!(
            pred("name LIKE 'a%'"),
            Predicate::Like {
                path: path("name"),
                pattern: "a%".into(),
                negated: false
            }
        );
        assert_eq!(
            pred("name not like '_'"),
            Predicate::Like {
                path: path("name"),
                pattern: "_".into(),
                negated: true
            }
        );
        assert_eq!(
            pred("year IN (1, 'x', NULL)"),
            Predicate::In {
                path: path("year"),
                values: vec![1.into(), "x".into(), Value::Null],
                negated: false
            }
        );
        assert_eq!(
            pred("year NOT IN (2)"),
            Predicate::In {
                path: path("year"),
                values: vec![2.into()],
                negated: true
            }
        );
        assert_eq!(
            pred("x IS NULL"),
            Predicate::IsNull {
                path: path("x"),
                negated: false
            }
        );
        assert_eq!(
            pred("x is not null"),
            Predicate::IsNull {
                path: path("x"),
                negated: true
            }
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let (a, b, c) = (
            cmp("a", ComparisonOp::Eq, 1),
            cmp("b", ComparisonOp::Eq, 2),
            cmp("c", ComparisonOp::Eq, 3),
        );
        assert_eq!(
            pred("a = 1 OR b = 2 AND c = 3"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            pred("(a = 1 OR b = 2) AND c = 3"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(pred("NOT a = 1 AND b = 2"), and(not(a.clone()), b.clone()));
        assert_eq!(
            pred("NOT (a = 1 AND b = 2)"),
            not(and(a.clone(), b.clone()))
        );
        assert_eq!(
            pred("a = 1 AND b = 2 AND c = 3"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            pred("NOT NOT TRUE OR FALSE"),
            or(not(not(Predicate::True)), Predicate::False)
        );
    }

    #[test]
    fn order_by_and_limit_stand_alone() {
        let selection: Selection = "ORDER BY year DESC, name asc, meta.plays LIMIT 5"
            .parse()
            .unwrap();
        assert_eq!(selection.predicate, Predicate::True);
        let directions: Vec<_> = selection
            .order_by
            .iter()
            .map(|o| (o.path.clone(), o.direction))
            .collect();
        assert_eq!(
            directions,
            vec![
                (path("year"), Direction::Desc),
                (path("name"), Direction::Asc),
                (path("meta.plays"), Direction::Asc)
            ]
        );
        assert_eq!(selection.limit, Some(5));
        assert_eq!(Selection::try_from("limit 0").unwrap().limit, Some(0));
    }

    #[test]
    fn placeholders_bind_in_order() {
        let selection = parse_selection(
            "a = ? AND b IN (?, ?) AND c LIKE ? LIMIT ?",
            &[1.into(), "x".into(), Value::Null, "%z".into(), 3.into()],
        )
        .unwrap();
        let expected = and(
            and(
                cmp("a", ComparisonOp::Eq, 1),
                Predicate::In {
                    path: path("b"),
                    values: vec!["x".into(), Value::Null],
                    negated: false,
                },
            ),
            Predicate::Like {
                path: path("c"),
                pattern: "%z".into(),
                negated: false,
            },
        );
        assert_eq!(selection.predicate, expected);
        assert_eq!(selection.limit, Some(3));
        assert_eq!(
            error("a = ? AND b = ?", &[1.into()]),
            "too few arguments: no argument for `?` number 2 at 14"
        );
        assert_eq!(
            error("a = ?", &[1.into(), 2.into()]),
            "too many arguments: argument 2 has no `?` at 5"
        );
        assert_eq!(
            error("LIMIT ?", &[(-1).into()]),
            "expected a non-negative integer after `LIMIT` at 6"
        );
        assert_eq!(
            error("a LIKE ?", &[5.into()]),
            "expected a string pattern after `LIKE` at 7"
        );
    }

    #[test]
    fn errors_name_what_was_expected_and_where() {
        assert_eq!(
            error("year > 1985 AND year >", &[]),
            "expected a value after `>` at 22"
        );
        assert_eq!(error("name = 'x')", &[]), "unexpected `)` at 10");
        assert_eq!(
            error("year > 1 AND name = 'abc", &[]),
            "unterminated string starting at 20"
        );
        assert_eq!(
            error("year > 1 ORDER year", &[]),
            "expected `BY` after `ORDER` at 15"
        );
        assert_eq!(error("(a = 1", &[]), "expected `)` after `1` at 6");
        assert_eq!(
            error("a NOT = 1", &[]),
            "expected `LIKE` or `IN` after `NOT` at 6"
        );
        assert_eq!(error("a IS 1", &[]), "expected `NULL` after `IS` at 5");
        assert_eq!(error("a IN ()", &[]), "expected a value after `(` at 6");
        assert_eq!(
            error("title = \"t\"", &[]),
            "expected a value after `=` (strings use single quotes, 'like this'; double \
             quotes are for names) at 8"
        );
        assert_eq!(error("a 1", &[]), "expected an operator after `a` at 2");
        assert_eq!(error("= 1", &[]), "expected a condition at 0");
        assert_eq!(
            error("a = 1 AND", &[]),
            "expected a condition after `AND` at 9"
        );
        assert_eq!(error("a. = 1", &[]), "expected a key after `.` at 3");
        assert_eq!(
            error(r"a LIKE 'x\'", &[]),
            r"LIKE pattern ends with a lone `\` at 7"
        );
        assert_eq!(error("LIMIT 1 ORDER BY a", &[]), "unexpected `ORDER` at 8");
    }

    #[test]
    fn nesting_is_capped_at_the_limit() {
        let limit = Limits::default().depth_limit();
        let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
        assert!(nested(limit).parse::<Selection>().is_ok());
        let error = nested(limit + 1).parse::<Selection>().unwrap_err();
        assert_eq!(error.offset, limit);
        assert_eq!(
            error.message,
            format!("query nests deeper than the limit of {limit} levels")
        );
        let nots = |n: usize| format!("{}a = 1", "NOT ".repeat(n));
        assert!(nots(limit - 1).parse::<Selection>().is_ok());
        assert_eq!(nots(limit).parse::<Selection>().unwrap_err().offset, 0);
        // Refused where the nesting passes the limit, before recursing any deeper.
        assert_eq!(
            nots(100_000).parse::<Selection>().unwrap_err().offset,
            4 * limit
        );
        assert!("(".repeat(100_000).parse::<Selection>().is_err());

        // A configured limit, lower than the default.
        let three = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let parse = |text: &str| parse_selection_with(text, &[], &three);
        assert!(parse("NOT NOT a = 1").is_ok());
        assert_eq!(
            parse("NOT NOT NOT a = 1").unwrap_err().to_string(),
            "query nests deeper than the limit of 3 levels at 0"
        );
        // Four operands make a tree of depth 3, five one of depth 4.
        assert!(parse("a = 1 AND b = 1 AND c = 1 AND d = 1").is_ok());
        assert_eq!(
            parse("x = 0 OR (a = 1 AND b = 1 AND c = 1 AND d = 1 AND e = 1)")
                .unwrap_err()
                .offset,
            10
        );
        // A limit above the ceiling acts as the ceiling.
        let huge = Limits {
            max_depth: usize::MAX,
            ..Limits::default()
        };
        let ceiling = Limits::DEPTH_CEILING;
        assert!(parse_selection_with(&nested(ceiling), &[], &huge).is_ok());
        assert!(parse_selection_with(&nested(ceiling + 1), &[], &huge).is_err());
    }

    #[test]
    fn chains_of_any_length_build_balanced_trees() {
        let (a, b, c, d, e) = (
            cmp("a", ComparisonOp::Eq, 1),
            cmp("b", ComparisonOp::Eq, 2),
            cmp("c", ComparisonOp::Eq, 3),
            cmp("d", ComparisonOp::Eq, 4),
            cmp("e", ComparisonOp::Eq, 5),
        );
        assert_eq!(
            pred("a = 1 AND b = 2 AND c = 3 AND d = 4"),
            and(and(a.clone(), b.clone()), and(c.clone(), d.clone()))
        );
        assert_eq!(
            pred("a = 1 OR b = 2 OR c = 3 OR d = 4 OR e = 5"),
            or(or(or(a, b), c.clone()), or(d, e))
        );
        let chain = vec!["a = 1"; 100_000].join(" AND ");
        let selection: Selection = chain.parse().unwrap();
        // 100,000 operands: a tree 17 levels above its conditions.
        assert!(selection.check_depth(18).is_ok());
        assert!(selection.check_depth(17).is_err());
    }

    #[test]
    fn json_arguments_deeper_than_the_limit_are_refused() {
        let nested = |depth: usize| {
            (0..depth).fold(serde_json::json!(1), |inner, _| serde_json::json!([inner]))
        };
        let three = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let parse = |depth: usize| {
            parse_selection_with("a = 1 AND meta IN (?)", &[nested(depth).into()], &three)
        };
        assert!(parse(3).is_ok());
        assert_eq!(
            parse(4).unwrap_err().to_string(),
            "argument 1: Json nesting depth exceeds the limit of 3 (found 4) at 19"
        );
    }

    /// Token soup that reaches deep into the grammar, unlike uniformly random text.
    fn query_like() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "a", "b.c", "\"q\"", "'s'", "'", "\"", "1", "-2.5", "1e3", "?", "(", ")", ",", ".",
            "=", "!=", "<", ">=", "AND", "or", "NOT", "LIKE", "IN", "IS", "NULL", "TRUE", "ORDER",
            "BY", "DESC", "LIMIT", "ñ", "é'",
        ]);
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.join(" "))
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(text in any::<String>()) {
            if let Err(e) = parse_selection(&text, &[1.into()]) {
                prop_assert!(text.is_char_boundary(e.offset) && e.offset <= text.len());
            }
        }

        #[test]
        fn never_panics_on_query_like_text(text in query_like()) {
            if let Err(e) = parse_selection(&text, &[1.into(), "x".into()]) {
                prop_assert!(text.is_char_boundary(e.offset) && e.offset <= text.len());
            }
        }
    }
}
