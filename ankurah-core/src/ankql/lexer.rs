//! Splits AnkQL text into tokens. Every token keeps the byte range it came from, so that parse
//! errors can point into the text; ranges always fall on `char` boundaries.

use std::ops::Range;

use super::ast::ComparisonOp;
use super::parser::ParseError;

/// A reserved word. Matched case-insensitively; a property with such a name must be quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Like,
    In,
    Is,
    Null,
    True,
    False,
    Order,
    By,
    Asc,
    Desc,
    Limit,
}

impl Keyword {
    const ALL: [(&'static str, Keyword); 14] = [
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("NOT", Keyword::Not),
        ("LIKE", Keyword::Like),
        ("IN", Keyword::In),
        ("IS", Keyword::Is),
        ("NULL", Keyword::Null),
        ("TRUE", Keyword::True),
        ("FALSE", Keyword::False),
        ("ORDER", Keyword::Order),
        ("BY", Keyword::By),
        ("ASC", Keyword::Asc),
        ("DESC", Keyword::Desc),
        ("LIMIT", Keyword::Limit),
    ];

    /// The keyword spelled by `word`, in any letter case.
    pub(crate) fn parse(word: &str) -> Option<Keyword> {
        Self::ALL
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(word))
            .map(|(_, k)| *k)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// A property name or path segment, bare or double-quoted (never a keyword).
    Ident(String),
    Keyword(Keyword),
    /// A single-quoted string literal, `''` already unescaped.
    String(String),
    Integer(i64),
    Float(f64),
    Op(ComparisonOp),
    LParen,
    RParen,
    Comma,
    Dot,
    Question,
    /// `$`, starting a reference (`$user.id`) in an access rule.
    Dollar,
    End,
}

impl From<Keyword> for TokenKind {
    fn from(keyword: Keyword) -> Self {
        TokenKind::Keyword(keyword)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// Byte range in the text; empty at the end of the text for [`TokenKind::End`].
    pub(crate) span: Range<usize>,
}

/// Characters of a bare word (after its first character).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` can be written unquoted at the start of a path.
pub(crate) fn is_bare_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(is_word_char)
        && Keyword::parse(name).is_none()
}

/// Produces tokens one at a time, so that the first error in reading order is the one reported.
pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// The previous token was `.`: the next word is a path segment, which may start with a
    /// digit (an array index such as `list.0`) and is never a keyword.
    after_dot: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Lexer {
            text,
            pos: 0,
            after_dot: false,
        }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        let rest = &self.text[self.pos..];
        let start = self.pos + (rest.len() - rest.trim_start().len());
        let rest = &self.text[start..];
        let after_dot = std::mem::take(&mut self.after_dot);
        let error = |message: String| ParseError {
            offset: start,
            message,
        };
        let word_len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let mut chars = rest.chars();
        let (kind, len) = match (chars.next(), chars.next()) {
            (None, _) => (TokenKind::End, 0),
            (Some('('), _) => (TokenKind::LParen, 1),
            (Some(')'), _) => (TokenKind::RParen, 1),
            (Some(','), _) => (TokenKind::Comma, 1),
            (Some('?'), _) => (TokenKind::Question, 1),
            (Some('$'), _) => (TokenKind::Dollar, 1),
            (Some('.'), _) => {
                self.after_dot = true;
                (TokenKind::Dot, 1)
            }
            (Some('='), next) => (
                TokenKind::Op(ComparisonOp::Eq),
                if next == Some('=') { 2 } else { 1 },
            ),
            (Some('!'), Some('=')) | (Some('<'), Some('>')) => {
                (TokenKind::Op(ComparisonOp::NotEq), 2)
            }
            (Some('<'), Some('=')) => (TokenKind::Op(ComparisonOp::LtEq), 2),
            (Some('<'), _) => (TokenKind::Op(ComparisonOp::Lt), 1),
            (Some('>'), Some('=')) => (TokenKind::Op(ComparisonOp::GtEq), 2),
            (Some('>'), _) => (TokenKind::Op(ComparisonOp::Gt), 1),
            (Some('\''), _) => {
                let (text, len) = unquote(rest, '\'')
                    .ok_or_else(|| error("unterminated string starting".into()))?;
                (TokenKind::String(text), len)
            }
            (Some('"'), _) => {
                let (text, len) = unquote(rest, '"')
                    .ok_or_else(|| error("unterminated quoted identifier starting".into()))?;
                (TokenKind::Ident(text), len)
            }
            (Some(c), _) if after_dot && is_word_char(c) => {
                (TokenKind::Ident(rest[..word_len].into()), word_len)
            }
            (Some(c), _) if c.is_ascii_alphabetic() || c == '_' => {
                let word = &rest[..word_len];
                (
                    Keyword::parse(word)
                        .map_or_else(|| TokenKind::Ident(word.into()), TokenKind::Keyword),
                    word_len,
                )
            }
            (Some(c), next)
                if c.is_ascii_digit() || (c == '-' && next.is_some_and(|d| d.is_ascii_digit())) =>
            {
                number(rest).map_err(error)?
            }
            (Some(c), _) => return Err(error(format!("unexpected `{c}`"))),
        };
        self.pos = start + len;
        Ok(Token {
            kind,
            span: start..self.pos,
        })
    }
}

/// Reads a `quote`-delimited text at the start of `text` (a doubled quote stands for one).
/// Returns the unescaped text and the byte length consumed, or `None` if it is unterminated.
fn unquote(text: &str, quote: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut rest = &text[1..];
    loop {
        let end = rest.find(quote)?;
        out.push_str(&rest[..end]);
        rest = &rest[end + 1..];
        match rest.strip_prefix(quote) {
            Some(after) => {
                out.push(quote);
                rest = after;
            }
            None => return Some((out, text.len() - rest.len())),
        }
    }
}

/// Reads `-? digits (. digits)? ([eE] [+-]? digits)?` at the start of `text`.
fn number(text: &str) -> Result<(TokenKind, usize), String> {
    let bytes = text.as_bytes();
    let digits = |from: usize| {
        bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut len = usize::from(text.starts_with('-'));
    len += digits(len);
    let mut float = false;
    if bytes.get(len) == Some(&b'.') && digits(len + 1) > 0 {
        len += 1 + digits(len + 1);
        float = true;
    }
    if matches!(bytes.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(len + 1), Some(b'+' | b'-')));
        let exponent = digits(len + 1 + sign);
        if exponent > 0 {
            len += 1 + sign + exponent;
            float = true;
        }
    }
    // All bytes read so far are ASCII, so `len` is a char boundary.
    let trailing = text[len..]
        .find(|c: char| !is_word_char(c))
        .unwrap_or(text.len() - len);
    if trailing > 0 {
        return Err(format!("invalid number `{}`", &text[..len + trailing]));
    }
    let literal = &text[..len];
    let kind = if float {
        literal
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .map(TokenKind::Float)
    } else {
        literal.parse().ok().map(TokenKind::Integer)
    };
    kind.map(|kind| (kind, len))
        .ok_or_else(|| format!("number `{literal}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Result<Vec<(TokenKind, Range<usize>)>, ParseError> {
        let mut lexer = Lexer::new(text);
        let mut tokens = Vec::new();
        loop {
            let token = lexer.next_token()?;
            if token.kind == TokenKind::End {
                assert_eq!(token.span, text.len()..text.len());
                return Ok(tokens);
            }
            tokens.push((token.kind, token.span));
        }
    }

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(text)
            .unwrap()
            .into_iter()
            .map(|(kind, _)| kind)
            .collect()
    }

    fn error(text: &str) -> (usize, String) {
        let e = lex(text).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn tokens_carry_byte_spans() {
        let tokens = lex("  year >= 'Zoë' ").unwrap();
        assert_eq!(
            tokens,
            vec![
                (TokenKind::Ident("year".into()), 2..6),
                (TokenKind::Op(ComparisonOp::GtEq), 7..9),
                (TokenKind::String("Zoë".into()), 10..16),
            ]
        );
    }

    #[test]
    fn keywords_are_case_insensitive_unless_quoted() {
        use Keyword::*;
        let words = "and OR Not like IN is NULL true False order BY asc DESC LiMiT";
        let expected: Vec<TokenKind> = [
            And, Or, Not, Like, In, Is, Null, True, False, Order, By, Asc, Desc, Limit,
        ]
        .map(TokenKind::from)
        .into();
        assert_eq!(kinds(words), expected);
        assert_eq!(
            kinds(r#""order" ordered"#),
            vec![
                TokenKind::Ident("order".into()),
                TokenKind::Ident("ordered".into())
            ]
        );
    }

    #[test]
    fn quoting_and_escapes() {
        assert_eq!(
            kinds("'it''s' ''"),
            vec![
                TokenKind::String("it's".into()),
                TokenKind::String(String::new())
            ]
        );
        assert_eq!(
            kinds(r#""weird ""name""""#),
            vec![TokenKind::Ident(r#"weird "name""#.into())]
        );
        assert_eq!(kinds(r"'a\b'"), vec![TokenKind::String(r"a\b".into())]);
    }

    #[test]
    fn numbers() {
        use TokenKind::{Float, Integer};
        assert_eq!(
            kinds("42 -7 1.5 -0.25 1e3 2E-2 -9223372036854775808"),
            vec![
                Integer(42),
                Integer(-7),
                Float(1.5),
                Float(-0.25),
                Float(1000.0),
                Float(0.02),
                Integer(i64::MIN)
            ]
        );
        assert_eq!(
            error("x = 9223372036854775808"),
            (4, "number `9223372036854775808` is out of range".into())
        );
        assert_eq!(error("1e999"), (0, "number `1e999` is out of range".into()));
        assert_eq!(error("x > 12abc"), (4, "invalid number `12abc`".into()));
        assert_eq!(error("1e"), (0, "invalid number `1e`".into()));
    }

    #[test]
    fn path_segments_after_a_dot() {
        use TokenKind::{Dot, Ident};
        assert_eq!(
            kinds("meta.list.0.in"),
            vec![
                Ident("meta".into()),
                Dot,
                Ident("list".into()),
                Dot,
                Ident("0".into()),
                Dot,
                Ident("in".into())
            ]
        );
        assert_eq!(kinds("1.5"), vec![TokenKind::Float(1.5)]);
    }

    #[test]
    fn operators() {
        use ComparisonOp::*;
        let ops = kinds("= == != <> < <= > >=");
        assert_eq!(
            ops,
            [Eq, Eq, NotEq, NotEq, Lt, LtEq, Gt, GtEq].map(TokenKind::Op)
        );
        assert_eq!(
            kinds("(,)?"),
            vec![
                TokenKind::LParen,
                TokenKind::Comma,
                TokenKind::RParen,
                TokenKind::Question
            ]
        );
    }

    #[test]
    fn errors_point_at_char_boundaries() {
        assert_eq!(error("ñame"), (0, "unexpected `ñ`".into()));
        assert_eq!(error("'Zoë' ✓"), (7, "unexpected `✓`".into()));
        assert_eq!(error("a ! b"), (2, "unexpected `!`".into()));
        assert_eq!(
            error("x = 'abc"),
            (4, "unterminated string starting".into())
        );
        assert_eq!(
            error(r#"x = "ab"#),
            (4, "unterminated quoted identifier starting".into())
        );
        assert_eq!(error("-x"), (0, "unexpected `-`".into()));
    }
}
