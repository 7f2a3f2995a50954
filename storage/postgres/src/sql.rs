//! AnkQL → SQL: a [`Selection`] becomes one `SELECT` with bound parameters that filters,
//! orders and limits exactly as the core evaluator does, or, where SQL cannot match the
//! evaluator's rules exactly, a superset that the engine re-checks in Rust.
//!
//! # Two-sided conditions
//!
//! AnkQL has three-valued logic: a comparison involving NULL is *unknown*, `NOT unknown` is
//! unknown, and only TRUE matches. Rather than lean on SQL's NULL propagation (which would need
//! every leaf to produce NULL in exactly the evaluator's cases), each predicate is translated
//! into two conditions, `yes` (the row makes it TRUE) and `no` (FALSE). `NOT` swaps them,
//! `AND`/`OR` combine them by De Morgan, and a leaf on an unknown value satisfies neither.
//! Where a leaf cannot be exact, both sides become supersets; supersets survive `NOT`, `AND`
//! and `OR`, so the query returns every true row plus some others, and the engine filters,
//! orders and limits those in Rust with the evaluator itself. ORDER BY and LIMIT are pushed
//! down only when nothing needs re-checking.
//!
//! # Kinds
//!
//! A property has a column per kind of value it has held (see [`crate::layout`]); a row fills
//! at most one, so a leaf is the union of one condition per column, each written for that
//! column's native type:
//!
//! | column           | literal                  | SQL                                                 |
//! |------------------|--------------------------|-----------------------------------------------------|
//! | bigint           | integer                  | `col op $1`                                         |
//! | bigint           | float, numeric string    | restated over integers: `year > 1999.5` → `year > 1999`; a bound beyond the `i64` range makes it constant |
//! | double precision | number, numeric string   | restated over doubles the same way (`x > 2^53+1` → `x >= 2^53+2`); `NaN` is unknown |
//! | text             | string                   | `col op $1` (the column is `COLLATE "C"`: code-point order) |
//! | text             | number                   | superset `col ~ '[0-9]'`, re-checked (the evaluator parses the text) |
//! | text             | LIKE                     | an anchored regular expression (`_` is one character, see below) |
//! | date, timestamptz, interval | its own kind, or ISO-8601 text that parses as one (in Rust, with the evaluator's parser) | `col op $1` |
//! | text, jsonb      | date, timestamp, duration | superset, re-checked (the evaluator parses the text) |
//! | jsonb (or a path into it) | anything        | `CASE jsonb_typeof(..)` per JSON type; numbers as `numeric`, exact below 2^53 |
//!
//! Other pairs (a boolean against a number, bytes against text, ...) are unknown, as in
//! `Value::compare`. Text is stored escaped (U+0000 cannot be stored, see `types::escape`), so
//! string literals are escaped the same way, and LIKE becomes a regular expression that
//! counts an escaped U+0000 as one character.
//!
//! ORDER BY is pushed down for properties with one kind of column other than Json; sorting
//! across kinds, integers against floats, or Json by its text is left to the evaluator.

use std::collections::{BTreeSet, HashMap};
use std::ops::RangeInclusive;

use ankurah_core::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use ankurah_core::value::Number;
use ankurah_core::{EntityId, Value, ValueType};
use tokio_postgres::types::ToSql;

use crate::layout::{quote, Columns, Table};
use crate::types::{escape, escape_json, PgDate, PgInterval, PgTimestamp};

/// A value bound to a statement.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// Values bound to one statement.
///
/// [`bind`](Self::bind) returns a marker rather than `$n`: a translated condition has a TRUE
/// and a FALSE side, only one of which reaches the statement, and Postgres rejects values the
/// statement does not use. [`render`](Self::render) numbers the markers the statement uses and
/// keeps only their values. Markers are NUL-delimited, and no SQL text of this crate holds NUL
/// (identifiers are escaped, values bound).
#[derive(Default)]
pub(crate) struct Params(Vec<Option<Param>>);

impl Params {
    /// Binds a value and returns its marker.
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.bind_boxed(Box::new(value))
    }

    pub(crate) fn bind_boxed(&mut self, value: Param) -> String {
        self.0.push(Some(value));
        format!("\0{}\0", self.0.len() - 1)
    }

    /// `sql` with `$1`, `$2`, ... in place of its markers, in order of first use.
    pub(crate) fn render(mut self, sql: &str) -> Statement {
        let (mut text, mut values, mut numbers) =
            (String::with_capacity(sql.len()), Vec::new(), HashMap::new());
        for (i, part) in sql.split('\0').enumerate() {
            match part.parse::<usize>() {
                Ok(index) if i % 2 == 1 => {
                    let number = *numbers.entry(index).or_insert_with(|| {
                        values.extend(self.0.get_mut(index).and_then(Option::take));
                        values.len()
                    });
                    text.push_str(&format!("${number}"));
                }
                _ => text.push_str(part),
            }
        }
        Statement { text, values }
    }
}

/// SQL text with the values of its `$n` placeholders.
pub(crate) struct Statement {
    pub(crate) text: String,
    values: Vec<Param>,
}

impl Statement {
    /// The values as `query` takes them.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// A translated [`Selection`].
pub(crate) struct Select {
    /// `SELECT state FROM ...` over live rows.
    pub(crate) statement: Statement,
    /// Whether the rows are exactly the result, in order and limited. Otherwise they are a
    /// superset, unordered, that the caller passes through `Selection::apply`.
    pub(crate) exact: bool,
    /// Property columns the query filters or sorts on: candidates for an index.
    pub(crate) columns: BTreeSet<String>,
}

/// Translates `selection` for a table with the given property columns.
pub(crate) fn select(table: &Table, columns: &Columns, selection: &Selection) -> Select {
    let mut translator = Translator {
        columns,
        params: Params::default(),
        used: BTreeSet::new(),
    };
    let filter = translator.predicate(&selection.predicate);
    let order = translator.order(&selection.order_by);
    let mut sql = format!(
        "SELECT state FROM {} WHERE NOT deleted AND {}",
        table.states, filter.yes
    );
    let exact = match order {
        Some(order) if filter.exact => {
            sql.push_str(&format!(" ORDER BY {order}"));
            if let Some(limit) = selection.limit {
                let limit = translator
                    .params
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX));
                sql.push_str(&format!(" LIMIT {limit}"));
            }
            true
        }
        _ => false,
    };
    Select {
        statement: translator.params.render(&sql),
        exact,
        columns: translator.used,
    }
}

/// A predicate as two SQL conditions (see the module docs): `yes` holds on the rows where it
/// is TRUE, `no` on those where it is FALSE; neither where it is unknown.
#[derive(Debug)]
struct Cond {
    yes: String,
    no: String,
    /// False when `yes` and `no` are only supersets and rows need re-checking.
    exact: bool,
}

impl Cond {
    fn new(yes: impl Into<String>, no: impl Into<String>) -> Self {
        Cond {
            yes: yes.into(),
            no: no.into(),
            exact: true,
        }
    }

    fn constant(value: bool) -> Self {
        if value {
            Cond::new("TRUE", "FALSE")
        } else {
            Cond::new("FALSE", "TRUE")
        }
    }

    /// Unknown on every row.
    fn unknown() -> Self {
        Cond::new("FALSE", "FALSE")
    }

    /// Rows satisfying `maybe` might go either way: both sides are that superset.
    fn superset(maybe: impl Into<String>) -> Self {
        let maybe = maybe.into();
        Cond {
            yes: maybe.clone(),
            no: maybe,
            exact: false,
        }
    }

    /// Marks `yes` and `no` as supersets (the caller knows they are).
    fn widened(self) -> Self {
        Cond {
            exact: false,
            ..self
        }
    }

    fn not(self) -> Self {
        Cond {
            yes: self.no,
            no: self.yes,
            exact: self.exact,
        }
    }

    fn negated_if(self, negated: bool) -> Self {
        if negated {
            self.not()
        } else {
            self
        }
    }

    fn and(self, other: Cond) -> Self {
        Cond {
            yes: format!("({} AND {})", self.yes, other.yes),
            no: format!("({} OR {})", self.no, other.no),
            exact: self.exact && other.exact,
        }
    }

    fn or(self, other: Cond) -> Self {
        Cond {
            yes: format!("({} OR {})", self.yes, other.yes),
            no: format!("({} AND {})", self.no, other.no),
            exact: self.exact && other.exact,
        }
    }

    /// Conditions of which at most one applies to a row (one per kind column, or per JSON
    /// type): the row's outcome is that of the one that applies, unknown if none does.
    fn cases(conds: impl IntoIterator<Item = Cond>) -> Self {
        conds
            .into_iter()
            .reduce(|a, b| Cond {
                yes: format!("({} OR {})", a.yes, b.yes),
                no: format!("({} OR {})", a.no, b.no),
                exact: a.exact && b.exact,
            })
            .unwrap_or_else(Cond::unknown)
    }
}

fn sql_op(op: ComparisonOp) -> &'static str {
    match op {
        ComparisonOp::Eq => "=",
        ComparisonOp::NotEq => "<>",
        ComparisonOp::Lt => "<",
        ComparisonOp::LtEq => "<=",
        ComparisonOp::Gt => ">",
        ComparisonOp::GtEq => ">=",
    }
}

/// The operator that holds exactly when `op` does not (on comparable values).
fn negate(op: ComparisonOp) -> ComparisonOp {
    use ComparisonOp::*;
    match op {
        Eq => NotEq,
        NotEq => Eq,
        Lt => GtEq,
        GtEq => Lt,
        Gt => LtEq,
        LtEq => Gt,
    }
}

/// What a path reads.
enum Operand {
    /// The typed columns of a property (quoted), or the `id` column. Empty: always NULL.
    Columns(Vec<(ValueType, String)>),
    /// A value inside a Json column (quoted) at these keys.
    Json(String, Vec<String>),
    /// A Json path Postgres would follow differently than the evaluator: a key with leading
    /// whitespace or `-` is an array index to `#>` (`-1` counts from the end) but not to the
    /// evaluator. Such leaves are re-checked on every row.
    Opaque,
}

/// `column op literal` restated over the column's own domain.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound<T> {
    Cmp(ComparisonOp, T),
    /// True for every comparable value.
    Always,
    /// False for every comparable value.
    Never,
}

/// 2^63 as a float: the first float above every `i64`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `int op f` over the integers, exactly: a non-integral `f` moves to the neighbouring
/// integer on the side that keeps the answer (`x > 1999.5` ⟺ `x > 1999`), and a bound outside
/// the `i64` range makes the answer constant.
fn int_vs_float(op: ComparisonOp, f: f64) -> Bound<i64> {
    use ComparisonOp::*;
    let bound = if f.fract() == 0.0 {
        f
    } else {
        match op {
            Eq => return Bound::Never,
            NotEq => return Bound::Always,
            Gt | LtEq => f.floor(),
            Lt | GtEq => f.ceil(),
        }
    };
    // `bound` is integral or infinite.
    if bound >= TWO_POW_63 {
        if matches!(op, Lt | LtEq | NotEq) {
            Bound::Always
        } else {
            Bound::Never
        }
    } else if bound < -TWO_POW_63 {
        if matches!(op, Gt | GtEq | NotEq) {
            Bound::Always
        } else {
            Bound::Never
        }
    } else {
        Bound::Cmp(op, bound as i64)
    }
}

/// `float op i` over the floats, exactly: an `i` that no float represents lies strictly
/// between its nearest float `d` and a neighbour, so `x > i` is `x >= d` when `d > i` and
/// `x > d` when `d < i` (and symmetrically for `<`); equality is impossible.
fn float_vs_int(op: ComparisonOp, i: i64) -> Bound<f64> {
    use ComparisonOp::*;
    let d = i as f64;
    // `d` is integral and at most 2^63 in magnitude, so the i128 comparison is exact.
    let d_above = match (d as i128).cmp(&i128::from(i)) {
        std::cmp::Ordering::Equal => return Bound::Cmp(op, d),
        ordering => ordering.is_gt(),
    };
    match op {
        Eq => Bound::Never,
        NotEq => Bound::Always,
        Gt | GtEq => Bound::Cmp(if d_above { GtEq } else { Gt }, d),
        Lt | LtEq => Bound::Cmp(if d_above { Lt } else { LtEq }, d),
    }
}

/// The dates Postgres stores, in days from 1970-01-01: 4714-11-24 BC to 5874897-12-31. A date
/// literal outside cannot be bound, and compares with every stored one the same way.
const PG_DATES: RangeInclusive<i64> = -2_440_588..=2_145_042_905;

/// The instants Postgres stores, in microseconds since the Unix epoch: from 4714-11-24 BC
/// (every larger `i64` is within its range).
const PG_TIMESTAMPS: RangeInclusive<i64> = -210_866_803_200_000_000..=i64::MAX;

/// `column op literal` over a column whose values all lie in `range`: a literal outside it
/// makes the answer constant.
fn within(op: ComparisonOp, literal: i64, range: RangeInclusive<i64>) -> Bound<i64> {
    use ComparisonOp::*;
    let below = literal < *range.start();
    if below || literal > *range.end() {
        let holds = match op {
            Eq => false,
            NotEq => true,
            Gt | GtEq => below,
            Lt | LtEq => !below,
        };
        return if holds { Bound::Always } else { Bound::Never };
    }
    Bound::Cmp(op, literal)
}

impl<T> Bound<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Bound<U> {
        match self {
            Bound::Cmp(op, value) => Bound::Cmp(op, f(value)),
            Bound::Always => Bound::Always,
            Bound::Never => Bound::Never,
        }
    }
}

/// Below this magnitude a number literal cannot fall between a JSON number's stored decimal
/// and the `f64` the evaluator reads from it (2^53: every integer is a float), so `numeric`
/// comparison is exact.
const EXACT_JSON_NUMBER: f64 = 9_007_199_254_740_992.0;

/// `expr op value` and its negation.
fn compare_sql(expr: &str, op: ComparisonOp, value: &str) -> (String, String) {
    (
        format!("{expr} {} {value}", sql_op(op)),
        format!("{expr} {} {value}", sql_op(negate(op))),
    )
}

/// A condition on a value inside Json that only applies when it has the given JSON type
/// (the `CASE` also keeps casts such as `::boolean` away from values of other types).
fn json_case(expr: &str, json_type: &str, (yes, no): (String, String)) -> Cond {
    let guard =
        |then: String| format!("CASE WHEN jsonb_typeof({expr}) = '{json_type}' THEN {then} END");
    Cond::new(guard(yes), guard(no))
}

/// The two null tests of a value of `kind` in `expr`; a JSON null reads as NULL.
fn null_tests(kind: ValueType, expr: &str) -> (String, String) {
    if kind == ValueType::Json {
        (
            format!("COALESCE(jsonb_typeof({expr}), 'null') = 'null'"),
            format!("jsonb_typeof({expr}) <> 'null'"),
        )
    } else {
        (format!("{expr} IS NULL"), format!("{expr} IS NOT NULL"))
    }
}

/// LIKE as an anchored regular expression over escaped text (see [`escape`]): `_` is one
/// character of the original (a U+0001 pair or any other character), `%` a run of them, `\`
/// takes the next pattern character literally (a trailing `\` is itself, as in the
/// evaluator), and literals are escaped, with regex punctuation quoted.
fn like_regex(pattern: &str) -> String {
    const ONE: &str = "(?:\u{1}[\u{1}\u{2}]|[^\u{1}])";
    let mut regex = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let literal = match c {
            '%' => {
                regex.push_str(ONE);
                regex.push('*');
                continue;
            }
            '_' => {
                regex.push_str(ONE);
                continue;
            }
            '\\' => chars.next().unwrap_or('\\'),
            c => c,
        };
        for c in escape(literal.encode_utf8(&mut [0; 4])).chars() {
            if c.is_ascii_punctuation() {
                regex.push('\\');
            }
            regex.push(c);
        }
    }
    regex.push('$');
    regex
}

struct Translator<'a> {
    columns: &'a Columns,
    params: Params,
    used: BTreeSet<String>,
}

impl Translator<'_> {
    fn predicate(&mut self, predicate: &Predicate) -> Cond {
        match predicate {
            Predicate::True => Cond::constant(true),
            Predicate::False => Cond::constant(false),
            Predicate::And(a, b) => self.predicate(a).and(self.predicate(b)),
            Predicate::Or(a, b) => self.predicate(a).or(self.predicate(b)),
            Predicate::Not(a) => self.predicate(a).not(),
            Predicate::Comparison { path, op, value } => self.comparison(path, *op, value),
            Predicate::Like {
                path,
                pattern,
                negated,
            } => self.like(path, pattern).negated_if(*negated),
            Predicate::In {
                path,
                values,
                negated,
            } => values
                .iter()
                .map(|value| self.comparison(path, ComparisonOp::Eq, value))
                .reduce(Cond::or)
                .unwrap_or_else(|| Cond::constant(false))
                .negated_if(*negated),
            Predicate::IsNull { path, negated } => self.is_null(path).negated_if(*negated),
        }
    }

    /// What `path` reads. Binds nothing, so ORDER BY may inspect and discard it.
    fn operand(&mut self, path: &Path) -> Operand {
        let (property, keys) = (path.property(), path.json_keys());
        if property == "id" {
            return Operand::Columns(if keys.is_empty() {
                vec![(ValueType::EntityId, "id".into())]
            } else {
                vec![]
            });
        }
        let columns = self.columns.of(property);
        if keys.is_empty() {
            // Index candidates; a Json document is not usefully ordered by a btree.
            self.used.extend(
                columns
                    .iter()
                    .filter(|(kind, _)| *kind != ValueType::Json)
                    .map(|(_, c)| c.clone()),
            );
            return Operand::Columns(
                columns
                    .into_iter()
                    .map(|(kind, c)| (kind, quote(&c)))
                    .collect(),
            );
        }
        match columns
            .into_iter()
            .find(|(kind, _)| *kind == ValueType::Json)
        {
            Some(_)
                if keys
                    .iter()
                    .any(|k| k.starts_with(['-', ' ', '\t', '\n', '\x0B', '\x0C', '\r'])) =>
            {
                Operand::Opaque
            }
            Some((_, column)) => Operand::Json(
                quote(&column),
                keys.iter().map(|k| escape(k).into_owned()).collect(),
            ),
            // Only Json values have paths; anything else reads NULL.
            None => Operand::Columns(vec![]),
        }
    }

    /// The `jsonb` expression reading a path.
    fn json_path(&mut self, column: &str, keys: Vec<String>) -> String {
        format!("({column} #> {}::text[])", self.params.bind(keys))
    }

    fn cmp(
        &mut self,
        expr: &str,
        op: ComparisonOp,
        value: impl ToSql + Sync + Send + 'static,
    ) -> Cond {
        let (yes, no) = compare_sql(expr, op, &self.params.bind(value));
        Cond::new(yes, no)
    }

    fn comparison(&mut self, path: &Path, op: ComparisonOp, value: &Value) -> Cond {
        // A Json scalar literal is the plain value it spells, as everywhere.
        let value = &*value.canonical();
        match self.operand(path) {
            Operand::Columns(columns) => {
                let conds: Vec<Cond> = columns
                    .iter()
                    .filter_map(|(kind, column)| self.compare_column(*kind, column, op, value))
                    .collect();
                Cond::cases(conds)
            }
            Operand::Json(column, keys) => {
                let expr = self.json_path(&column, keys);
                self.compare_json(&expr, op, value)
            }
            Operand::Opaque => Cond::superset("TRUE"),
        }
    }

    /// One kind column against a literal; `None` where `Value::compare` is unknown.
    fn compare_column(
        &mut self,
        kind: ValueType,
        column: &str,
        op: ComparisonOp,
        value: &Value,
    ) -> Option<Cond> {
        Some(match (kind, value) {
            (_, Value::Null) => return None,
            (ValueType::Bool, Value::Bool(b)) => self.cmp(column, op, *b),
            (ValueType::I64, _) => {
                let bound = match value.as_number()? {
                    Number::I64(i) => Bound::Cmp(op, i),
                    Number::F64(f) => int_vs_float(op, f),
                };
                self.bounded(column, &format!("{column} IS NOT NULL"), bound)
            }
            (ValueType::F64, _) => {
                let bound = match value.as_number()? {
                    Number::I64(i) => float_vs_int(op, i),
                    Number::F64(f) => Bound::Cmp(op, f),
                };
                // Postgres orders NaN above every number; to the evaluator it is unknown.
                self.bounded(column, &format!("{column} <> 'NaN'"), bound)
            }
            (ValueType::String, Value::String(s)) => self.cmp(column, op, escape(s).into_owned()),
            // Numeric only for texts that parse; every such text has a digit.
            (ValueType::String, Value::I64(_) | Value::F64(_)) => {
                Cond::superset(format!("{column} ~ '[0-9]'"))
            }
            // The evaluator parses the text; only rows with a value can match.
            (
                ValueType::String,
                Value::EntityId(_) | Value::Date(_) | Value::Timestamp(_) | Value::Duration(_),
            ) => Cond::superset(format!("{column} IS NOT NULL")),
            (ValueType::Date, _) => {
                let bound = within(op, i64::from(value.as_date()?), PG_DATES).map(|days| {
                    // Within the range, which lies within i32.
                    PgDate(days as i32)
                });
                self.bounded(column, &format!("{column} IS NOT NULL"), bound)
            }
            (ValueType::Timestamp, _) => {
                let bound = within(op, value.as_timestamp()?, PG_TIMESTAMPS).map(PgTimestamp);
                self.bounded(column, &format!("{column} IS NOT NULL"), bound)
            }
            (ValueType::Duration, _) => self.cmp(column, op, PgInterval(value.as_duration()?)),
            (ValueType::Bytes, Value::Bytes(b)) => self.cmp(column, op, b.clone()),
            (ValueType::EntityId, Value::EntityId(id)) => {
                self.cmp(column, op, id.to_bytes().to_vec())
            }
            (ValueType::EntityId, Value::String(s)) => {
                let id: EntityId = s.parse().ok()?;
                self.cmp(column, op, id.to_bytes().to_vec())
            }
            // A Json document reads like a value inside one: scalars as plain values.
            (ValueType::Json, _) => self.compare_json(column, op, value),
            _ => return None,
        })
    }

    /// A [`Bound`] on a numeric column whose comparable values satisfy `present`.
    fn bounded<T: ToSql + Sync + Send + 'static>(
        &mut self,
        column: &str,
        present: &str,
        bound: Bound<T>,
    ) -> Cond {
        match bound {
            Bound::Cmp(op, value) => {
                let Cond { yes, no, .. } = self.cmp(column, op, value);
                Cond::new(
                    format!("({yes} AND {present})"),
                    format!("({no} AND {present})"),
                )
            }
            Bound::Always => Cond::new(present, "FALSE"),
            Bound::Never => Cond::new("FALSE", present),
        }
    }

    /// Json against Json: TRUE for `=`, `<=`, `>=` and FALSE for `!=`, `<`, `>` when the
    /// documents are equal, unknown otherwise.
    fn json_equality(&mut self, expr: &str, op: ComparisonOp, json: &serde_json::Value) -> Cond {
        let equal = format!("{expr} = {}::jsonb", self.params.bind(escape_json(json)));
        let cond = match op {
            ComparisonOp::Eq | ComparisonOp::LtEq | ComparisonOp::GtEq => Cond::new(equal, "FALSE"),
            ComparisonOp::NotEq | ComparisonOp::Lt | ComparisonOp::Gt => Cond::new("FALSE", equal),
        };
        // jsonb equates numbers by value (1 = 1.0), the evaluator by representation: with
        // numbers in the literal, jsonb equality is only a superset.
        if json_has_number(json) {
            cond.widened()
        } else {
            cond
        }
    }

    /// A value inside Json (`expr` is `jsonb`) against a literal, case by JSON type.
    fn compare_json(&mut self, expr: &str, op: ComparisonOp, value: &Value) -> Cond {
        let string = |this: &mut Self, s: &str| {
            let text = format!("({expr} #>> '{{}}') COLLATE \"C\"");
            json_case(
                expr,
                "string",
                compare_sql(&text, op, &this.params.bind(escape(s).into_owned())),
            )
        };
        match value {
            Value::Bool(b) => {
                let p = self.params.bind(*b);
                json_case(
                    expr,
                    "boolean",
                    compare_sql(&format!("({expr})::boolean"), op, &p),
                )
            }
            Value::String(s) => match value.as_number() {
                Some(n) => {
                    let text = string(self, s);
                    Cond::cases([text, self.json_number(expr, op, n)])
                }
                None => string(self, s),
            },
            Value::I64(_) | Value::F64(_) => match value.as_number() {
                Some(n) => Cond::cases([
                    self.json_number(expr, op, n),
                    Cond::superset(format!(
                        "jsonb_typeof({expr}) = 'string' AND ({expr} #>> '{{}}') ~ '[0-9]'"
                    )),
                ]),
                None => Cond::unknown(),
            },
            Value::EntityId(_) | Value::Date(_) | Value::Timestamp(_) | Value::Duration(_) => {
                Cond::superset(format!("jsonb_typeof({expr}) = 'string'"))
            }
            Value::Json(json) => {
                let document = format!(
                    "CASE WHEN jsonb_typeof({expr}) IN ('object', 'array') THEN {expr} END"
                );
                self.json_equality(&document, op, json)
            }
            Value::Null | Value::Bytes(_) => Cond::unknown(),
        }
    }

    /// A JSON number against a number literal, compared as `numeric`.
    fn json_number(&mut self, expr: &str, op: ComparisonOp, n: Number) -> Cond {
        let text = match n {
            Number::I64(i) if (i as f64).abs() < EXACT_JSON_NUMBER => i.to_string(),
            Number::F64(f) if f.abs() < EXACT_JSON_NUMBER => f.to_string(),
            _ => return Cond::superset(format!("jsonb_typeof({expr}) = 'number'")),
        };
        // Bound as text (Rust has no `numeric`), exact as the decimal it spells.
        let literal = format!("{}::text::numeric", self.params.bind(text));
        json_case(
            expr,
            "number",
            compare_sql(&format!("({expr})::numeric"), op, &literal),
        )
    }

    /// LIKE applies to strings: text columns and JSON strings; anything else is unknown.
    fn like(&mut self, path: &Path, pattern: &str) -> Cond {
        let targets = match self.operand(path) {
            Operand::Columns(columns) => columns,
            Operand::Json(column, keys) => vec![(ValueType::Json, self.json_path(&column, keys))],
            Operand::Opaque => return Cond::superset("TRUE"),
        };
        let regex = self.params.bind(like_regex(pattern));
        let like = |text: &str| (format!("{text} ~ {regex}"), format!("{text} !~ {regex}"));
        Cond::cases(targets.iter().filter_map(|(kind, expr)| match kind {
            ValueType::String => {
                let (yes, no) = like(expr);
                Some(Cond::new(yes, no))
            }
            ValueType::Json => Some(json_case(
                expr,
                "string",
                like(&format!("({expr} #>> '{{}}')")),
            )),
            _ => None,
        }))
    }

    fn is_null(&mut self, path: &Path) -> Cond {
        let tests: Vec<(String, String)> = match self.operand(path) {
            Operand::Columns(columns) => columns
                .iter()
                .map(|(kind, column)| null_tests(*kind, column))
                .collect(),
            Operand::Json(column, keys) => {
                vec![null_tests(ValueType::Json, &self.json_path(&column, keys))]
            }
            Operand::Opaque => return Cond::superset("TRUE"),
        };
        if tests.is_empty() {
            return Cond::constant(true);
        }
        let (yes, no): (Vec<String>, Vec<String>) = tests.into_iter().unzip();
        Cond::new(yes.join(" AND "), no.join(" OR "))
    }

    /// `ORDER BY` keys, ties by id; `None` when SQL cannot sort like `Value::sort_cmp`:
    /// properties holding several kinds (the order between kinds and between integers and
    /// floats), Json (ordered by its text) and Json paths.
    fn order(&mut self, items: &[OrderItem]) -> Option<String> {
        let mut keys = Vec::new();
        for item in items {
            let column = match self.operand(&item.path) {
                Operand::Columns(columns) => match columns.as_slice() {
                    // NULL on every row: sorts nothing.
                    [] => continue,
                    [(kind, column)] if *kind != ValueType::Json => column.clone(),
                    _ => return None,
                },
                Operand::Json(..) | Operand::Opaque => return None,
            };
            // NaN sorts above every number and below NULL in both orders, as in `sort_cmp`.
            let direction = match item.direction {
                Direction::Asc => "ASC NULLS LAST",
                Direction::Desc => "DESC NULLS FIRST",
            };
            keys.push(format!("{column} {direction}"));
        }
        keys.push("id".into());
        Some(keys.join(", "))
    }
}

fn json_has_number(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Number(_) => true,
        serde_json::Value::Array(items) => items.iter().any(json_has_number),
        serde_json::Value::Object(map) => map.values().any(json_has_number),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComparisonOp::*;

    /// Checks a restated comparison against exact arithmetic on a spread of column values.
    #[test]
    fn int_bounds_agree_with_exact_comparison() {
        let floats = [
            1999.5,
            -1999.5,
            2000.0,
            0.0,
            -0.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            TWO_POW_63,
            -TWO_POW_63,
            9.2e18,
        ];
        let ints = [
            i64::MIN,
            i64::MIN + 1,
            -2000,
            -1999,
            0,
            1999,
            2000,
            9_200_000_000_000_000_000,
            i64::MAX,
        ];
        for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
            for f in floats {
                for x in ints {
                    let expected = Value::I64(x).compare(&Value::F64(f)).map(|o| holds(op, o));
                    let got = match int_vs_float(op, f) {
                        Bound::Cmp(op, b) => holds(op, x.cmp(&b)),
                        Bound::Always => true,
                        Bound::Never => false,
                    };
                    assert_eq!(Some(got), expected, "{x} {op:?} {f}");
                }
            }
        }
    }

    #[test]
    fn float_bounds_agree_with_exact_comparison() {
        let ints = [
            i64::MAX,
            i64::MIN,
            (1 << 53) + 1,
            -(1 << 53) - 1,
            1 << 60,
            (1 << 60) + 1,
            5,
            -5,
            0,
        ];
        let floats = [
            TWO_POW_63,
            -TWO_POW_63,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_994.0,
            1.152_921_504_606_847e18,
            5.0,
            4.5,
            -0.0,
            f64::INFINITY,
        ];
        for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
            for i in ints {
                for x in floats {
                    let expected = Value::F64(x).compare(&Value::I64(i)).map(|o| holds(op, o));
                    let got = match float_vs_int(op, i) {
                        Bound::Cmp(op, b) => {
                            x.partial_cmp(&b).map(|o| holds(op, o)).unwrap_or(false)
                        }
                        Bound::Always => true,
                        Bound::Never => false,
                    };
                    assert_eq!(Some(got), expected, "{x} {op:?} {i}");
                }
            }
        }
    }

    fn holds(op: ComparisonOp, ordering: std::cmp::Ordering) -> bool {
        match op {
            Eq => ordering.is_eq(),
            NotEq => ordering.is_ne(),
            Lt => ordering.is_lt(),
            LtEq => ordering.is_le(),
            Gt => ordering.is_gt(),
            GtEq => ordering.is_ge(),
        }
    }

    #[test]
    fn date_literals_beyond_postgres_make_constant_answers() {
        assert_eq!(within(Lt, -3_000_000, PG_DATES), Bound::Never);
        assert_eq!(within(GtEq, -3_000_000, PG_DATES), Bound::Always);
        assert_eq!(within(Gt, i64::from(i32::MAX), PG_DATES), Bound::Never);
        assert_eq!(within(NotEq, i64::from(i32::MAX), PG_DATES), Bound::Always);
        assert_eq!(within(Eq, 5, PG_DATES), Bound::Cmp(Eq, 5));
        assert_eq!(
            within(Lt, i64::MAX, PG_TIMESTAMPS),
            Bound::Cmp(Lt, i64::MAX)
        );
    }

    #[test]
    fn values_are_bound_and_identifiers_quoted() {
        let table = Table::new("s", "album").unwrap();
        let columns = Columns::from_names(["name:text", "year:int", "meta:json"]);
        let selection = Selection {
            predicate: Predicate::Comparison {
                path: Path::simple("name"),
                op: Eq,
                value: Value::String("x'; DROP TABLE album; --".into()),
            },
            order_by: vec![OrderItem {
                path: Path::simple("year"),
                direction: Direction::Desc,
            }],
            limit: Some(3),
        };
        let query = select(&table, &columns, &selection);
        assert_eq!(
            query.statement.text,
            r#"SELECT state FROM "s"."album" WHERE NOT deleted AND "name:text" = $1 ORDER BY "year:int" DESC NULLS FIRST, id LIMIT $2"#
        );
        assert!(query.exact);
        assert_eq!(
            query.columns.into_iter().collect::<Vec<_>>(),
            ["name:text", "year:int"]
        );
    }

    #[test]
    fn inexact_leaves_disable_limit_pushdown() {
        let table = Table::new("s", "album").unwrap();
        let columns = Columns::from_names(["code:text"]);
        let selection = Selection {
            predicate: Predicate::Not(Box::new(Predicate::Comparison {
                path: Path::simple("code"),
                op: Gt,
                value: Value::I64(10),
            })),
            order_by: vec![],
            limit: Some(1),
        };
        let query = select(&table, &columns, &selection);
        assert!(!query.exact);
        assert_eq!(
            query.statement.text,
            r#"SELECT state FROM "s"."album" WHERE NOT deleted AND "code:text" ~ '[0-9]'"#
        );
    }

    #[test]
    fn only_values_the_statement_uses_are_bound() {
        let mut params = Params::default();
        let (a, b, c) = (params.bind(1_i64), params.bind(2_i64), params.bind(3_i64));
        let statement = params.render(&format!("x = {c} OR y = {a} OR z = {c}"));
        assert_eq!(statement.text, "x = $1 OR y = $2 OR z = $1");
        assert_eq!(statement.params().len(), 2);
        assert!(!b.is_empty());
    }

    #[test]
    fn like_becomes_an_anchored_regex_over_escaped_text() {
        const ONE: &str = "(?:\u{1}[\u{1}\u{2}]|[^\u{1}])";
        assert_eq!(like_regex("a%b_"), format!("^a{ONE}*b{ONE}$"));
        assert_eq!(like_regex(r"100\%"), r"^100\%$");
        assert_eq!(like_regex(r"a.b\"), r"^a\.b\\$");
        assert_eq!(like_regex("\0"), "^\u{1}\u{1}$");
    }
}
