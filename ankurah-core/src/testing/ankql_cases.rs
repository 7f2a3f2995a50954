//! The AnkQL conformance table: a fixture of album-like entities, queries over it with their
//! expected results, and malformed queries with the byte offset their error must report.
//!
//! Every evaluator and every storage engine's pushdown runs this table and must produce
//! exactly these results (DESIGN §4). The expected results were derived by hand from the
//! rules, not from any implementation. No case depends on entity ids: ordered cases have no
//! ties among their results, and a LIMIT without ORDER BY never cuts a result short, so a
//! runner may give the fixture entities any ids.

use crate::value::Value;
use serde_json::json;

/// One entity of the fixture. `name` identifies it in [`Case::expected`] and is also its
/// `name` property.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub name: String,
    /// The entity's properties; a property not listed is missing (NULL in queries).
    pub properties: Vec<(String, Value)>,
}

/// A query and the fixture names it selects.
#[derive(Clone, Debug)]
pub struct Case {
    pub query: &'static str,
    /// Values for the `?` placeholders, in order.
    pub args: Vec<Value>,
    /// Names of the selected fixture entities.
    pub expected: Vec<&'static str>,
    /// Whether `expected` is in the required order (the query has ORDER BY); otherwise any
    /// order is correct.
    pub ordered: bool,
}

impl Case {
    /// A description of the failure if `got` (fixture names) is not the expected result,
    /// compared in order only when the case is ordered.
    pub fn mismatch(&self, mut got: Vec<&str>) -> Option<String> {
        let mut expected = self.expected.clone();
        if !self.ordered {
            got.sort_unstable();
            expected.sort_unstable();
        }
        (got != expected).then(|| {
            format!(
                "{}\n   expected {expected:?}\n        got {got:?}",
                self.query
            )
        })
    }
}

const ABBEY: &str = "Abbey Road";
const NEVERMIND: &str = "Nevermind";
const OK_COMPUTER: &str = "OK Computer";
const PURE: &str = "100% Pure";
const SNAKE: &str = "snake_case";
const ROCK: &str = "Rock 'n' Roll";
const NU: &str = "Ñu";
const ZOE: &str = "Zoë";
const EMPTY: &str = "";
const BACKSLASH: &str = r"back\slash";
const ABBA: &str = "ABBA Gold";
const ZEBRA: &str = "Zebra";

/// Every fixture name, in fixture order.
const ALL: [&str; 12] = [
    ABBEY,
    NEVERMIND,
    OK_COMPUTER,
    PURE,
    SNAKE,
    ROCK,
    NU,
    ZOE,
    EMPTY,
    BACKSLASH,
    ABBA,
    ZEBRA,
];

/// Twelve albums. `rating` is missing on two, `meta` on two; `code` holds text that is
/// sometimes numeric ("0042", "12.5", "-5") and sometimes not ("abc", "x9", "").
///
/// | name          | artist      | year | rating | explicit | code    | meta                                               |
/// |---------------|-------------|------|--------|----------|---------|----------------------------------------------------|
/// | Abbey Road    | The Beatles | 1969 | 4.9    | false    | "0042"  | tags.first rock, tags.second pop, plays 10, list [a,b,c] |
/// | Nevermind     | Nirvana     | 1991 | 4.5    | true     | "17"    | tags.first grunge, plays 3, list [x]               |
/// | OK Computer   | Radiohead   | 1997 | 4.7    | false    | "abc"   | tags.first rock, plays 7.5                         |
/// | 100% Pure     | Various     | 2001 | —      | false    | "100"   | —                                                  |
/// | snake_case    | Devs        | 2010 | 3.0    | true     | "-5"    | plays 0, list ["5"]                                |
/// | Rock 'n' Roll | Various     | 1985 | 3.5    | false    | "12.5"  | tags.first rock, plays 12                          |
/// | Ñu            | Ñandú       | 2020 | 2.5    | true     | "9"     | tags.first folk, plays 42                          |
/// | Zoë           | Zoë         | 2005 | —      | true     | "x9"    | tags.first pop, list [1, 2]                        |
/// | (empty)       | Unknown     | 2000 | 1.0    | false    | ""      | tags null                                          |
/// | back\slash    | Escapes     | 1999 | 4.0    | false    | "42"    | —                                                  |
/// | ABBA Gold     | ABBA        | 1992 | 4.2    | false    | "042.0" | tags.first pop, plays 100                          |
/// | Zebra         | zed         | 2000 | 4.5    | true     | "007"   | tags.first Rock, plays -1                          |
#[rustfmt::skip]
pub fn fixture() -> Vec<Fixture> {
    let album = |name: &str, artist: &str, year: i64, rating: Option<f64>, explicit: bool, code: &str, meta: Option<serde_json::Value>| {
        let mut properties = vec![
            ("name".to_string(), Value::from(name)),
            ("artist".to_string(), artist.into()),
            ("year".to_string(), year.into()),
            ("explicit".to_string(), explicit.into()),
            ("code".to_string(), code.into()),
        ];
        properties.extend(rating.map(|r| ("rating".to_string(), r.into())));
        properties.extend(meta.map(|m| ("meta".to_string(), m.into())));
        Fixture { name: name.to_string(), properties }
    };
    vec![
        album(ABBEY, "The Beatles", 1969, Some(4.9), false, "0042",
            Some(json!({"tags": {"first": "rock", "second": "pop"}, "plays": 10, "list": ["a", "b", "c"]}))),
        album(NEVERMIND, "Nirvana", 1991, Some(4.5), true, "17", Some(json!({"tags": {"first": "grunge"}, "plays": 3, "list": ["x"]}))),
        album(OK_COMPUTER, "Radiohead", 1997, Some(4.7), false, "abc", Some(json!({"tags": {"first": "rock"}, "plays": 7.5}))),
        album(PURE, "Various", 2001, None, false, "100", None),
        album(SNAKE, "Devs", 2010, Some(3.0), true, "-5", Some(json!({"plays": 0, "list": ["5"]}))),
        album(ROCK, "Various", 1985, Some(3.5), false, "12.5", Some(json!({"tags": {"first": "rock"}, "plays": 12}))),
        album(NU, "Ñandú", 2020, Some(2.5), true, "9", Some(json!({"tags": {"first": "folk"}, "plays": 42}))),
        album(ZOE, "Zoë", 2005, None, true, "x9", Some(json!({"tags": {"first": "pop"}, "list": [1, 2]}))),
        album(EMPTY, "Unknown", 2000, Some(1.0), false, "", Some(json!({"tags": null}))),
        album(BACKSLASH, "Escapes", 1999, Some(4.0), false, "42", None),
        album(ABBA, "ABBA", 1992, Some(4.2), false, "042.0", Some(json!({"tags": {"first": "pop"}, "plays": 100}))),
        album(ZEBRA, "zed", 2000, Some(4.5), true, "007", Some(json!({"tags": {"first": "Rock"}, "plays": -1}))),
    ]
}

/// A case without arguments; ordered when the query has ORDER BY.
fn case(query: &'static str, expected: &[&'static str]) -> Case {
    with_args(query, vec![], expected)
}

fn with_args(query: &'static str, args: Vec<Value>, expected: &[&'static str]) -> Case {
    let ordered = query.to_ascii_uppercase().contains("ORDER BY");
    Case {
        query,
        args,
        expected: expected.to_vec(),
        ordered,
    }
}

/// Every fixture name except those listed.
fn all_but(excluded: &[&'static str]) -> Vec<&'static str> {
    ALL.into_iter()
        .filter(|name| !excluded.contains(name))
        .collect()
}

/// The conformance cases, grouped by feature.
#[rustfmt::skip]
pub fn cases() -> Vec<Case> {
    let everything = &ALL[..];
    vec![
        // Empty query, TRUE, FALSE.
        case("", everything),
        case("TRUE", everything),
        case("FALSE", &[]),
        case("NOT FALSE", everything),
        // Integers, with every operator spelling.
        case("year = 1969", &[ABBEY]),
        case("year == 1969", &[ABBEY]),
        case("year != 1969", &all_but(&[ABBEY])),
        case("year <> 1969", &all_but(&[ABBEY])),
        case("year < 1985", &[ABBEY]),
        case("year <= 1985", &[ABBEY, ROCK]),
        case("year > 2005", &[SNAKE, NU]),
        case("year >= 2005", &[SNAKE, NU, ZOE]),
        // Floats, and integers against floats.
        case("rating > 4", &[ABBEY, NEVERMIND, OK_COMPUTER, ABBA, ZEBRA]),
        case("rating >= 4.5", &[ABBEY, NEVERMIND, OK_COMPUTER, ZEBRA]),
        case("rating > 4.25", &[ABBEY, NEVERMIND, OK_COMPUTER, ZEBRA]),
        case("rating <= 3", &[SNAKE, NU, EMPTY]),
        case("rating = 3", &[SNAKE]),
        case("rating = 4", &[BACKSLASH]),
        case("rating != 4.5", &[ABBEY, OK_COMPUTER, SNAKE, ROCK, NU, EMPTY, BACKSLASH, ABBA]),
        case("rating >= -1e3", &all_but(&[PURE, ZOE])),
        case("year = 1969.0", &[ABBEY]),
        case("year > 1999.5", &[PURE, SNAKE, NU, ZOE, EMPTY, ZEBRA]),
        case("year < 2e3", &[ABBEY, NEVERMIND, OK_COMPUTER, ROCK, BACKSLASH, ABBA]),
        // Strings: exact, by code point, quotes, non-ASCII, empty.
        case("artist = 'Various'", &[PURE, ROCK]),
        case("name = 'Rock ''n'' Roll'", &[ROCK]),
        case("name = 'Zoë'", &[ZOE]),
        case("name = 'zoë'", &[]),
        case("artist = 'Ñandú'", &[NU]),
        case("name = ''", &[EMPTY]),
        case("name != ''", &all_but(&[EMPTY])),
        case("name > 'Z'", &[SNAKE, NU, ZOE, BACKSLASH, ZEBRA]),
        case("name < 'B'", &[ABBEY, PURE, EMPTY, ABBA]),
        case("artist >= 'Zoë'", &[NU, ZOE, ZEBRA]),
        case("name >= 'Ñ'", &[NU]),
        // Strings against numbers: numeric when the string parses, unknown otherwise.
        case("year > '2000'", &[PURE, SNAKE, NU, ZOE]),
        case("year = '1969'", &[ABBEY]),
        case("year = 'abc'", &[]),
        case("NOT year = 'abc'", &[]),
        case("code = 42", &[ABBEY, BACKSLASH, ABBA]),
        case("code = '42'", &[BACKSLASH]),
        case("code > 10", &[ABBEY, NEVERMIND, PURE, ROCK, BACKSLASH, ABBA]),
        case("NOT code > 10", &[SNAKE, NU, ZEBRA]),
        case("code < 0", &[SNAKE]),
        case("code = -5", &[SNAKE]),
        case("code > '10'", &[NEVERMIND, OK_COMPUTER, PURE, ROCK, NU, ZOE, BACKSLASH]),
        case("name = 42", &[]),
        // Booleans compare only with booleans.
        case("explicit = TRUE", &[NEVERMIND, SNAKE, NU, ZOE, ZEBRA]),
        case("explicit != TRUE", &[ABBEY, OK_COMPUTER, PURE, ROCK, EMPTY, BACKSLASH, ABBA]),
        case("explicit = 'true'", &[]),
        case("explicit = 1", &[]),
        // NULL literals are unknown in comparisons.
        case("year = NULL", &[]),
        case("year != NULL", &[]),
        case("NOT year = NULL", &[]),
        // LIKE.
        case("name LIKE 'Abbey%'", &[ABBEY]),
        case("name LIKE 'abbey%'", &[]),
        case("name LIKE '%o%'", &[ABBEY, OK_COMPUTER, ROCK, ZOE, ABBA]),
        case("name NOT LIKE '%o%'", &[NEVERMIND, PURE, SNAKE, NU, EMPTY, BACKSLASH, ZEBRA]),
        case("name LIKE 'N_v%d'", &[NEVERMIND]),
        case("name LIKE '__'", &[NU]),
        case("name LIKE '___'", &[ZOE]),
        case("name LIKE 'Z%a'", &[ZEBRA]),
        case(r"name LIKE '%\%%'", &[PURE]),
        case(r"name LIKE '%\_%'", &[SNAKE]),
        case("name LIKE '%_%'", &all_but(&[EMPTY])),
        case("name LIKE '%'", everything),
        case("name LIKE ''", &[EMPTY]),
        case("name LIKE '%''%'", &[ROCK]),
        case(r"name LIKE 'back\\slash'", &[BACKSLASH]),
        case("name LIKE '%a%a%a%a%a%a%b'", &[]),
        case("code LIKE '0%'", &[ABBEY, ABBA, ZEBRA]),
        case("rating LIKE '4%'", &[]),
        case("rating NOT LIKE '4%'", &[]),
        case("year LIKE '19%'", &[]),
        // IN and NOT IN, with NULLs and mixed types.
        case("year IN (1969, 1991, 3000)", &[ABBEY, NEVERMIND]),
        case("year IN ('1969', 1997.0)", &[ABBEY, OK_COMPUTER]),
        case("year NOT IN (1969, 1991)", &all_but(&[ABBEY, NEVERMIND])),
        case("artist IN ('Various')", &[PURE, ROCK]),
        case("rating IN (4.5, NULL)", &[NEVERMIND, ZEBRA]),
        case("rating NOT IN (4.5, NULL)", &[]),
        case("rating NOT IN (4.5, 3)", &[ABBEY, OK_COMPUTER, ROCK, NU, EMPTY, BACKSLASH, ABBA]),
        case("code IN (42, 'abc')", &[ABBEY, OK_COMPUTER, BACKSLASH, ABBA]),
        case("code NOT IN (42, 'abc')", &[NEVERMIND, PURE, SNAKE, ROCK, NU, ZEBRA]),
        // IS [NOT] NULL.
        case("rating IS NULL", &[PURE, ZOE]),
        case("rating IS NOT NULL", &all_but(&[PURE, ZOE])),
        case("meta IS NULL", &[PURE, BACKSLASH]),
        case("meta IS NOT NULL", &all_but(&[PURE, BACKSLASH])),
        case("meta.tags.first IS NULL", &[PURE, SNAKE, EMPTY, BACKSLASH]),
        case("year.x IS NULL", everything),
        // NOT on unknown, Kleene AND/OR.
        case("NOT rating > 4", &[SNAKE, ROCK, NU, EMPTY, BACKSLASH]),
        case("NOT NOT rating > 4", &[ABBEY, NEVERMIND, OK_COMPUTER, ABBA, ZEBRA]),
        case("rating > 4 OR rating IS NULL", &[ABBEY, NEVERMIND, OK_COMPUTER, PURE, ZOE, ABBA, ZEBRA]),
        case("NOT (rating > 4 OR rating IS NULL)", &[SNAKE, ROCK, NU, EMPTY, BACKSLASH]),
        case("rating > 4 OR TRUE", everything),
        case("NOT (rating > 100 AND FALSE)", everything),
        case("NOT (rating > 100 OR FALSE)", &all_but(&[PURE, ZOE])),
        case("NOT meta.tags.first = 'rock'", &[NEVERMIND, NU, ZOE, ABBA, ZEBRA]),
        // Precedence: NOT > AND > OR, and parentheses.
        case("artist = 'Various' OR year > 2005 AND explicit = TRUE", &[PURE, SNAKE, ROCK, NU]),
        case("(artist = 'Various' OR year > 2005) AND explicit = TRUE", &[SNAKE, NU]),
        case("NOT explicit = TRUE AND year < 1990", &[ABBEY, ROCK]),
        case("NOT (explicit = TRUE AND year < 1990)", everything),
        case("explicit = FALSE AND (rating > 4.5 OR rating IS NULL)", &[ABBEY, OK_COMPUTER, PURE]),
        case("year IN (1969) OR rating IS NULL", &[ABBEY, PURE, ZOE]),
        // Keywords in any case, quoted identifiers.
        case("year > 2000 aNd NoT explicit = tRuE", &[PURE]),
        case(r#""name" = 'Zoë'"#, &[ZOE]),
        case(r#""year" > 2010"#, &[NU]),
        case(r#""meta".plays = 10"#, &[ABBEY]),
        // Json paths: nested keys, array indices, JSON strings and numbers.
        case("meta.tags.first = 'rock'", &[ABBEY, OK_COMPUTER, ROCK]),
        case("meta.tags.first LIKE 'r%'", &[ABBEY, OK_COMPUTER, ROCK]),
        case("meta.tags.second = 'pop'", &[ABBEY]),
        case("meta.tags = 'rock'", &[]),
        case("meta.plays > 5", &[ABBEY, OK_COMPUTER, ROCK, NU, ABBA]),
        case("meta.plays = 7.5", &[OK_COMPUTER]),
        case("meta.plays IN (10, 42)", &[ABBEY, NU]),
        case("meta.list.0 = 'a'", &[ABBEY]),
        case("meta.list.0 = 1", &[ZOE]),
        case("meta.list.0 = 5", &[SNAKE]),
        case("meta.list.1 IS NOT NULL", &[ABBEY, ZOE]),
        case("meta.list IS NOT NULL", &[ABBEY, NEVERMIND, SNAKE, ZOE]),
        // The entity id.
        case("id IS NOT NULL", everything),
        case("id IS NULL", &[]),
        case("id = 'not-an-id'", &[]),
        // ORDER BY: code-point order, NULLs last ascending and first descending, several keys.
        case("ORDER BY name", &[EMPTY, PURE, ABBA, ABBEY, NEVERMIND, OK_COMPUTER, ROCK, ZEBRA, ZOE, BACKSLASH, SNAKE, NU]),
        case("ORDER BY name DESC LIMIT 3", &[NU, SNAKE, BACKSLASH]),
        case("ORDER BY year, name", &[ABBEY, ROCK, NEVERMIND, ABBA, OK_COMPUTER, BACKSLASH, EMPTY, ZEBRA, PURE, ZOE, SNAKE, NU]),
        case("ORDER BY year DESC, name DESC", &[NU, SNAKE, ZOE, PURE, ZEBRA, EMPTY, BACKSLASH, OK_COMPUTER, ABBA, NEVERMIND, ROCK, ABBEY]),
        case("order by year desc, name", &[NU, SNAKE, ZOE, PURE, EMPTY, ZEBRA, BACKSLASH, OK_COMPUTER, ABBA, NEVERMIND, ROCK, ABBEY]),
        case("ORDER BY rating, name", &[EMPTY, NU, SNAKE, ROCK, BACKSLASH, ABBA, NEVERMIND, ZEBRA, OK_COMPUTER, ABBEY, PURE, ZOE]),
        case("ORDER BY rating DESC, name", &[PURE, ZOE, ABBEY, OK_COMPUTER, NEVERMIND, ZEBRA, ABBA, BACKSLASH, ROCK, SNAKE, NU, EMPTY]),
        case("ORDER BY rating ASC, name DESC", &[EMPTY, NU, SNAKE, ROCK, BACKSLASH, ABBA, ZEBRA, NEVERMIND, OK_COMPUTER, ABBEY, ZOE, PURE]),
        case("rating IS NOT NULL ORDER BY rating DESC LIMIT 2", &[ABBEY, OK_COMPUTER]),
        case("explicit = TRUE ORDER BY name", &[NEVERMIND, ZEBRA, ZOE, SNAKE, NU]),
        case("ORDER BY code", &[EMPTY, SNAKE, ABBEY, ZEBRA, ABBA, PURE, ROCK, NEVERMIND, BACKSLASH, NU, OK_COMPUTER, ZOE]),
        case("ORDER BY explicit, year", &[ABBEY, ROCK, ABBA, OK_COMPUTER, BACKSLASH, EMPTY, PURE, NEVERMIND, ZEBRA, ZOE, SNAKE, NU]),
        case("ORDER BY artist, year DESC", &[ABBA, SNAKE, BACKSLASH, NEVERMIND, OK_COMPUTER, ABBEY, EMPTY, PURE, ROCK, ZOE, ZEBRA, NU]),
        case("ORDER BY meta.plays DESC, name", &[EMPTY, PURE, ZOE, BACKSLASH, ABBA, NU, ROCK, ABBEY, OK_COMPUTER, NEVERMIND, SNAKE, ZEBRA]),
        case("meta.plays IS NOT NULL ORDER BY meta.plays LIMIT 3", &[ZEBRA, SNAKE, NEVERMIND]),
        case("name like 'Z%' order by year desc limit 1", &[ZOE]),
        // LIMIT without ORDER BY (never cutting a result short, see the module docs).
        case("LIMIT 0", &[]),
        case("LIMIT 100", everything),
        case("year > 2004 LIMIT 10", &[SNAKE, NU, ZOE]),
        case("explicit = TRUE AND year > 2010 LIMIT 1", &[NU]),
        case("ORDER BY year DESC LIMIT 2", &[NU, SNAKE]),
        // Placeholders.
        with_args("year > ? AND artist = ?", vec![1990.into(), "Nirvana".into()], &[NEVERMIND]),
        with_args("name LIKE ?", vec!["Z%".into()], &[ZOE, ZEBRA]),
        with_args("year IN (?, ?)", vec![1969.into(), 2020.into()], &[ABBEY, NU]),
        with_args("rating IS NULL OR year = ?", vec![1969.into()], &[ABBEY, PURE, ZOE]),
        with_args("name = ?", vec!["Rock 'n' Roll".into()], &[ROCK]),
        with_args("code = ?", vec![42.0.into()], &[ABBEY, BACKSLASH, ABBA]),
        with_args("rating = ?", vec![Value::Null], &[]),
        with_args("ORDER BY year, name LIMIT ?", vec![3.into()], &[ABBEY, ROCK, NEVERMIND]),
    ]
}

/// Malformed queries (taking no arguments) and the byte offset their error must report.
#[rustfmt::skip]
pub fn malformed() -> Vec<(&'static str, usize)> {
    vec![
        ("year >", 6),                          // expected a value after `>`
        ("year > )", 7),                        // expected a value after `>`
        ("year = 5)", 8),                       // unexpected `)`
        ("name = 'abc", 7),                     // unterminated string starting at 7
        ("ORDER year", 6),                      // expected `BY` after `ORDER`
        ("year > 5 ORDER BY", 17),              // expected a property name after `BY`
        ("year >= 5 ORDER BY year ASC,", 28),   // expected a property name after `,`
        ("(year > 5", 9),                       // expected `)` after `5`
        ("year > 5 AND", 12),                   // expected a condition after `AND`
        ("year = 5 OR", 11),                    // expected a condition after `OR`
        ("NOT", 3),                             // expected a condition after `NOT`
        ("= 5", 0),                             // expected a condition
        ("year 5", 5),                          // expected an operator after `year`
        ("year ! 5", 5),                        // unexpected `!`
        ("year NOT = 5", 9),                    // expected `LIKE` or `IN` after `NOT`
        ("year IS 5", 8),                       // expected `NULL` after `IS`
        ("name LIKE 5", 10),                    // expected a string pattern after `LIKE`
        (r"name LIKE 'abc\'", 10),              // LIKE pattern ends with a lone `\`
        ("year IN ()", 9),                      // expected a value after `(`
        ("year IN (1, 2", 13),                  // expected `,` or `)` after `2`
        ("meta. = 5", 6),                       // expected a key after `.`
        ("LIMIT -1", 6),                        // expected a non-negative integer after `LIMIT`
        ("LIMIT 1.5", 6),                       // expected a non-negative integer after `LIMIT`
        ("year > 5 LIMIT 3 ORDER BY year", 17), // unexpected `ORDER`
        ("year > 99999999999999999999", 7),     // number out of range
        ("year > 1e999", 7),                    // number out of range
        ("year > 12abc", 7),                    // invalid number
        (r#""unterminated = 5"#, 0),            // unterminated quoted identifier
        ("year > ?", 7),                        // too few arguments
        ("ñame = 5", 0),                        // unexpected `ñ`
        ("name = 'Zoë' AND ñ", 18),             // unexpected `ñ` (offsets count bytes)
        ("order = 5", 6),                       // `order` is a keyword: expected `BY` after `order`
    ]
}

/// Runs every case of a table over its fixture with the evaluator, twice, with ids ascending
/// and descending in fixture order, which shows that no expected result depends on the ids
/// a runner assigns. Panics listing the failing cases.
#[cfg(test)]
pub(crate) fn check_table(fixture: &[Fixture], cases: &[Case]) {
    use crate::ankql::{parse_selection, Filterable};
    use crate::id::EntityId;

    struct Entity<'a> {
        id: EntityId,
        fixture: &'a Fixture,
    }

    impl Filterable for Entity<'_> {
        fn entity_id(&self) -> EntityId {
            self.id
        }

        fn value(&self, property: &str) -> Option<Value> {
            self.fixture
                .properties
                .iter()
                .find(|(name, _)| name == property)
                .map(|(_, value)| value.clone())
        }
    }

    for reversed in [false, true] {
        let id =
            |i: u128| EntityId::from_bytes(if reversed { u128::MAX - i } else { i }.to_be_bytes());
        let entities = || {
            fixture
                .iter()
                .zip(0..)
                .map(|(fixture, i)| Entity { id: id(i), fixture })
        };
        let mut failures = Vec::new();
        for case in cases {
            let selection = parse_selection(case.query, &case.args)
                .unwrap_or_else(|e| panic!("{}: {e}", case.query));
            assert_eq!(
                case.ordered,
                !selection.order_by.is_empty(),
                "{}",
                case.query
            );
            let got: Vec<&str> = selection
                .apply(entities().collect())
                .iter()
                .map(|e| e.fixture.name.as_str())
                .collect();
            failures.extend(case.mismatch(got));
        }
        assert!(
            failures.is_empty(),
            "{} failing cases:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ankql::parse_selection;

    #[test]
    fn fixture_names_are_unique_and_listed() {
        let names: Vec<String> = fixture().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ALL.map(String::from));
        assert!(cases().len() >= 70 && malformed().len() >= 15);
    }

    #[test]
    fn every_case_selects_its_expected_entities() {
        check_table(&fixture(), &cases());
    }

    #[test]
    fn every_malformed_query_reports_its_offset() {
        for (query, offset) in malformed() {
            match parse_selection(query, &[]) {
                Ok(selection) => panic!("{query:?} parsed as {selection:?}"),
                Err(e) => assert_eq!(e.offset, offset, "{query:?}: {e}"),
            }
        }
    }
}
