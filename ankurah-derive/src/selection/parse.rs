//! Parse: the AnkQL grammar of DESIGN §4, read from Rust tokens.
//!
//! Two differences from AnkQL text, both forced by Rust's tokenizer: strings are Rust string
//! literals (`"Muse"`, not `'Muse'`), and a Rust value is bound with `{expr}` where text
//! would use a `?` argument. Keywords are case-insensitive, as in text.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{
    braced, parenthesized, token, Expr, ExprLit, Ident, Lit, LitBool, LitFloat, LitInt, Result,
    Token,
};

/// `Model: predicate ORDER BY .. LIMIT ..`
pub(crate) struct Query {
    pub(crate) model: syn::Path,
    pub(crate) predicate: Option<Predicate>,
    pub(crate) order_by: Vec<OrderItem>,
    pub(crate) limit: Option<Expr>,
}

pub(crate) enum Predicate {
    True,
    False,
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
    Comparison {
        path: PropertyPath,
        op: Op,
        value: Expr,
    },
    Like {
        path: PropertyPath,
        pattern: Expr,
        negated: bool,
    },
    In {
        path: PropertyPath,
        values: InValues,
        negated: bool,
    },
    IsNull {
        path: PropertyPath,
        negated: bool,
    },
}

/// `year`, or `meta.tags.first` reaching into a JSON property.
pub(crate) struct PropertyPath {
    pub(crate) property: Ident,
    pub(crate) keys: Vec<(String, Span)>,
}

/// The name of the `ComparisonOp` variant.
pub(crate) struct Op(pub(crate) &'static str);

pub(crate) enum InValues {
    /// `IN (1, 2, {x})`
    List(Vec<Expr>),
    /// `IN {iterable}`
    Capture(Expr),
}

pub(crate) struct OrderItem {
    pub(crate) path: PropertyPath,
    pub(crate) descending: bool,
}

impl Parse for Query {
    fn parse(input: ParseStream) -> Result<Self> {
        let model = syn::Path::parse_mod_style(input)?;
        let mut query = Query {
            model,
            predicate: None,
            order_by: Vec::new(),
            limit: None,
        };
        if input.is_empty() {
            return Ok(query);
        }
        input.parse::<Token![:]>()?;
        if !input.is_empty() && !peek_keyword(input, "ORDER") && !peek_keyword(input, "LIMIT") {
            query.predicate = Some(or(input)?);
        }
        if eat(input, "ORDER") {
            keyword(input, "BY")?;
            loop {
                query.order_by.push(order_item(input)?);
                if input.parse::<Option<Token![,]>>()?.is_none() {
                    break;
                }
            }
        }
        if eat(input, "LIMIT") {
            query.limit = Some(limit(input)?);
        }
        if !input.is_empty() {
            let expected = match (query.order_by.is_empty(), query.limit.is_none()) {
                (true, true) => "AND, OR, ORDER BY, LIMIT or the end of the query",
                (false, true) => "`,`, LIMIT or the end of the query",
                _ => "the end of the query",
            };
            return Err(input.error(format!("expected {expected}")));
        }
        Ok(query)
    }
}

/// `or := and {OR and}`
fn or(input: ParseStream) -> Result<Predicate> {
    chain(input, "OR", and, Predicate::Or)
}

/// `and := unary {AND unary}`
fn and(input: ParseStream) -> Result<Predicate> {
    chain(input, "AND", unary, Predicate::And)
}

type Join = fn(Box<Predicate>, Box<Predicate>) -> Predicate;

/// `operand {op operand}`, as a balanced tree.
fn chain(
    input: ParseStream,
    op: &str,
    operand: fn(ParseStream) -> Result<Predicate>,
    join: Join,
) -> Result<Predicate> {
    let mut operands = vec![operand(input)?];
    while eat(input, op) {
        operands.push(operand(input)?);
    }
    Ok(balance(operands, join))
}

/// Joins a chain of operands (never empty) into the balanced tree AnkQL text parses to (the
/// first half, rounded up, on the left), so that a long chain stays within the depth limit
/// nodes hold queries to, and `selection!` builds what the same text would.
fn balance(mut operands: Vec<Predicate>, join: Join) -> Predicate {
    if operands.len() > 1 {
        let right = operands.split_off(operands.len().div_ceil(2));
        return join(
            Box::new(balance(operands, join)),
            Box::new(balance(right, join)),
        );
    }
    operands.pop().expect("a chain has at least one operand")
}

/// `unary := NOT unary | '(' predicate ')' | TRUE | FALSE | comparison`
fn unary(input: ParseStream) -> Result<Predicate> {
    if eat(input, "NOT") {
        return Ok(Predicate::Not(Box::new(unary(input)?)));
    }
    if input.peek(token::Paren) {
        let content;
        parenthesized!(content in input);
        let predicate = or(&content)?;
        if !content.is_empty() {
            return Err(content.error("expected AND, OR or `)`"));
        }
        return Ok(predicate);
    }
    for (word, predicate) in [("TRUE", Predicate::True), ("FALSE", Predicate::False)] {
        if eat(input, word) {
            return Ok(predicate);
        }
    }
    comparison(input)
}

/// `path op value | path [NOT] LIKE value | path [NOT] IN (..) | path IS [NOT] NULL`
fn comparison(input: ParseStream) -> Result<Predicate> {
    let path = property_path(input)?;
    if eat(input, "IS") {
        let negated = eat(input, "NOT");
        keyword(input, "NULL")?;
        return Ok(Predicate::IsNull { path, negated });
    }
    let negated = eat(input, "NOT");
    if eat(input, "LIKE") {
        return Ok(Predicate::Like {
            path,
            pattern: pattern(input)?,
            negated,
        });
    }
    if eat(input, "IN") {
        let values = if input.peek(token::Paren) {
            let content;
            parenthesized!(content in input);
            let values = content.parse_terminated(value, Token![,])?;
            if values.is_empty() {
                return Err(content.error("expected at least one value"));
            }
            InValues::List(values.into_iter().collect())
        } else {
            InValues::Capture(capture(input)?)
        };
        return Ok(Predicate::In {
            path,
            values,
            negated,
        });
    }
    if negated {
        return Err(input.error("expected LIKE or IN after NOT"));
    }
    let op = op(input)?;
    Ok(Predicate::Comparison {
        path,
        op,
        value: value(input)?,
    })
}

/// `ident {. key}`; a key is a name, an array index (`tags.0`) or a quoted name (`"a b"`).
fn property_path(input: ParseStream) -> Result<PropertyPath> {
    if !input.peek(Ident::peek_any) {
        return Err(input.error("expected a property name"));
    }
    let property = Ident::parse_any(input)?;
    let mut keys = Vec::new();
    while input.parse::<Option<Token![.]>>()?.is_some() {
        if input.peek(Ident::peek_any) {
            let key = Ident::parse_any(input)?;
            keys.push((key.unraw().to_string(), key.span()));
            continue;
        }
        let (text, span) = match input.parse::<Lit>() {
            Ok(Lit::Str(s)) => (s.value(), s.span()),
            // Rust reads `tags.0.1` as `tags`, `.`, `0.1`: one float literal, two indices.
            Ok(Lit::Int(i)) if i.suffix().is_empty() => (i.base10_digits().to_owned(), i.span()),
            Ok(Lit::Float(f))
                if f.suffix().is_empty()
                    && f.base10_digits()
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.') =>
            {
                (f.base10_digits().to_owned(), f.span())
            }
            _ => {
                return Err(
                    input.error("expected a key after `.`: a name, an index or a quoted name")
                )
            }
        };
        keys.extend(text.split('.').map(|key| (key.to_owned(), span)));
    }
    Ok(PropertyPath { property, keys })
}

fn op(input: ParseStream) -> Result<Op> {
    // Two-character operators first: `<` would also match the start of `<=`.
    let op = if input.parse::<Option<Token![==]>>()?.is_some() {
        "Eq"
    } else if input.parse::<Option<Token![!=]>>()?.is_some() {
        "NotEq"
    } else if input.parse::<Option<Token![<=]>>()?.is_some() {
        "LtEq"
    } else if input.parse::<Option<Token![>=]>>()?.is_some() {
        "GtEq"
    } else if input.peek(Token![<]) && input.peek2(Token![>]) {
        input.parse::<Token![<]>()?;
        input.parse::<Token![>]>()?;
        "NotEq"
    } else if input.parse::<Option<Token![<]>>()?.is_some() {
        "Lt"
    } else if input.parse::<Option<Token![>]>>()?.is_some() {
        "Gt"
    } else if input.parse::<Option<Token![=]>>()?.is_some() {
        "Eq"
    } else {
        return Err(input.error("expected a comparison (=, !=, <, <=, >, >=), LIKE, IN or IS"));
    };
    Ok(Op(op))
}

/// A literal (`1985`, `-2.5`, `"Muse"`, `TRUE`) or a captured Rust expression `{expr}`.
fn value(input: ParseStream) -> Result<Expr> {
    if input.peek(token::Brace) {
        return capture(input);
    }
    if input.peek(Token![-]) {
        let minus = input.parse::<Token![-]>()?;
        return match input.parse::<Lit>()? {
            lit @ (Lit::Int(_) | Lit::Float(_)) => {
                let lit = literal(lit);
                Ok(syn::parse_quote!(#minus #lit))
            }
            lit => Err(syn::Error::new(lit.span(), "expected a number after `-`")),
        };
    }
    for (word, value) in [("TRUE", true), ("FALSE", false)] {
        if peek_keyword(input, word) {
            let span = keyword(input, word)?;
            return Ok(literal(Lit::Bool(LitBool::new(value, span))));
        }
    }
    if peek_keyword(input, "NULL") {
        return Err(input.error(
            "NULL is unknown in every comparison: test it with `IS NULL` or `IS NOT NULL`",
        ));
    }
    if input.peek(Token![?]) {
        return Err(input.error("bind a Rust value with `{expr}`, not `?`"));
    }
    if input.peek(Lit) {
        return match input.parse::<Lit>()? {
            Lit::Char(c) => Err(syn::Error::new(
                c.span(),
                "strings are written with double quotes in `selection!`",
            )),
            lit => Ok(literal(lit)),
        };
    }
    Err(input.error("expected a value: a literal or a Rust expression in braces, `{expr}`"))
}

/// A LIKE pattern: a value, refused at compile time if it is a literal AnkQL would refuse.
fn pattern(input: ParseStream) -> Result<Expr> {
    let pattern = value(input)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = &pattern
    {
        // A trailing lone `\` escapes nothing; SQL databases reject it, and so does AnkQL.
        if s.value().chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
            return Err(syn::Error::new(
                s.span(),
                "LIKE pattern ends with a lone `\\`",
            ));
        }
    }
    Ok(pattern)
}

/// `{expr}`
fn capture(input: ParseStream) -> Result<Expr> {
    let content;
    braced!(content in input);
    let expr = content.parse::<Expr>()?;
    if !content.is_empty() {
        return Err(content.error("expected one Rust expression in `{..}`"));
    }
    Ok(expr)
}

/// An integer literal or `{expr}` of type `u64`.
fn limit(input: ParseStream) -> Result<Expr> {
    if input.peek(token::Brace) {
        return capture(input);
    }
    let lit = input.parse::<Lit>()?;
    match &lit {
        Lit::Int(n) if n.base10_parse::<u64>().is_ok() => Ok(Expr::Lit(ExprLit {
            attrs: Vec::new(),
            lit,
        })),
        _ => Err(syn::Error::new(
            lit.span(),
            "LIMIT takes a non-negative integer or `{expr}` of type `u64`",
        )),
    }
}

/// `path [ASC | DESC]`
fn order_item(input: ParseStream) -> Result<OrderItem> {
    let path = property_path(input)?;
    let descending = eat(input, "DESC");
    if !descending {
        eat(input, "ASC");
    }
    Ok(OrderItem { path, descending })
}

/// A literal as an expression. Unsuffixed numbers get the types AnkQL text gives them, `i64`
/// and `f64`, so `3000000000` means the same here as in text (Rust would default to `i32`).
fn literal(lit: Lit) -> Expr {
    let lit = match lit {
        Lit::Int(i) if i.suffix().is_empty() => {
            Lit::Int(LitInt::new(&format!("{}i64", i.base10_digits()), i.span()))
        }
        Lit::Float(f) if f.suffix().is_empty() => Lit::Float(LitFloat::new(
            &format!("{}f64", f.base10_digits()),
            f.span(),
        )),
        lit => lit,
    };
    Expr::Lit(ExprLit {
        attrs: Vec::new(),
        lit,
    })
}

/// Whether the keyword `word` (any case, like AnkQL text) comes next.
fn peek_keyword(input: ParseStream, word: &str) -> bool {
    input
        .cursor()
        .ident()
        .is_some_and(|(ident, _)| ident.to_string().eq_ignore_ascii_case(word))
}

/// Consumes the keyword `word`, which must come next.
fn keyword(input: ParseStream, word: &str) -> Result<Span> {
    if !peek_keyword(input, word) {
        return Err(input.error(format!("expected {word}")));
    }
    Ok(Ident::parse_any(input)?.span())
}

/// Consumes the keyword `word` if it comes next.
fn eat(input: ParseStream, word: &str) -> bool {
    peek_keyword(input, word) && keyword(input, word).is_ok()
}
