//! `selection!` builds the `Selection` the same AnkQL text parses to, for every construct.
#![deny(warnings)]

use ankurah::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use ankurah::{selection, EntityId, Json, Model, Property, Ref, Value};
use serde::{Deserialize, Serialize};

#[derive(Model)]
pub struct Artist {
    pub name: String,
}

#[derive(Property, Serialize, Deserialize, Clone)]
pub struct Meta {
    pub label: String,
}

#[derive(Model)]
pub struct Album {
    pub name: String,
    pub year: i32,
    pub rating: Option<f64>,
    pub artist: Ref<Artist>,
    pub extra: Json,
    pub meta: Meta,
    pub r#type: String,
    pub cover: Vec<u8>,
    pub live: bool,
}

fn path(name: &str) -> Path {
    Path::simple(name)
}

fn cmp(name: &str, op: ComparisonOp, value: impl Into<Value>) -> Predicate {
    Predicate::Comparison { path: path(name), op, value: value.into() }
}

fn and(a: Predicate, b: Predicate) -> Predicate {
    Predicate::And(Box::new(a), Box::new(b))
}

fn or(a: Predicate, b: Predicate) -> Predicate {
    Predicate::Or(Box::new(a), Box::new(b))
}

fn only(predicate: Predicate) -> Selection {
    Selection { predicate, order_by: vec![], limit: None }
}

fn main() {
    use ComparisonOp::*;
    assert_eq!(selection!(Album), only(Predicate::True));
    assert_eq!(selection!(Album: year > 1985), only(cmp("year", Gt, 1985)));
    for (selection, op) in [
        (selection!(Album: year = 1), Eq),
        (selection!(Album: year == 1), Eq),
        (selection!(Album: year != 1), NotEq),
        (selection!(Album: year <> 1), NotEq),
        (selection!(Album: year < 1), Lt),
        (selection!(Album: year <= 1), LtEq),
        (selection!(Album: year > 1), Gt),
        (selection!(Album: year >= 1), GtEq),
    ] {
        assert_eq!(selection, only(cmp("year", op, 1)));
    }

    // Captures bind Rust values; numbers of any width compare with any numeric property.
    let name = String::from("Origin");
    let year: u8 = 99;
    assert_eq!(
        selection!(Album: year > 1985 AND name = {&name}),
        only(and(cmp("year", Gt, 1985), cmp("name", Eq, "Origin")))
    );
    assert_eq!(selection!(Album: year = {year}), only(cmp("year", Eq, 99)));
    assert_eq!(
        selection!(Album: year > -5 AND rating >= 4.5),
        only(and(cmp("year", Gt, -5), cmp("rating", GtEq, 4.5)))
    );
    assert_eq!(selection!(Album: rating < {u64::MAX}), only(cmp("rating", Lt, u64::MAX as f64)));
    assert_eq!(selection!(Album: name = {name}), only(cmp("name", Eq, "Origin")));
    assert_eq!(selection!(Album: name = "it's"), only(cmp("name", Eq, "it's")));

    // AND binds tighter than OR and both fold left; NOT, parentheses, TRUE and FALSE.
    let a = || cmp("year", Eq, 1);
    let b = || cmp("year", Eq, 2);
    let c = || cmp("year", Eq, 3);
    assert_eq!(selection!(Album: year = 1 OR year = 2 AND year = 3), only(or(a(), and(b(), c()))));
    assert_eq!(selection!(Album: year = 1 and year = 2 and year = 3), only(and(and(a(), b()), c())));
    assert_eq!(selection!(Album: (year = 1 OR year = 2) AND year = 3), only(and(or(a(), b()), c())));
    assert_eq!(selection!(Album: NOT year = 1), only(Predicate::Not(Box::new(a()))));
    assert_eq!(selection!(Album: TRUE OR false), only(or(Predicate::True, Predicate::False)));

    // LIKE, IN and IS NULL, each with its NOT form.
    assert_eq!(
        selection!(Album: name LIKE "The%" AND name NOT LIKE {String::from("%Live%")}),
        only(and(
            Predicate::Like { path: path("name"), pattern: "The%".into(), negated: false },
            Predicate::Like { path: path("name"), pattern: "%Live%".into(), negated: true },
        ))
    );
    let years = vec![2001u16, 2003];
    assert_eq!(
        selection!(Album: year IN (1999, {year}) OR year NOT IN {years}),
        only(or(
            Predicate::In { path: path("year"), values: vec![Value::I64(1999), Value::I64(99)], negated: false },
            Predicate::In { path: path("year"), values: vec![Value::I64(2001), Value::I64(2003)], negated: true },
        ))
    );
    assert_eq!(
        selection!(Album: rating IS NULL OR rating is not null),
        only(or(
            Predicate::IsNull { path: path("rating"), negated: false },
            Predicate::IsNull { path: path("rating"), negated: true },
        ))
    );

    // References, ids, JSON (whole, by path) and `#[derive(Property)]` values.
    let artist: Ref<Artist> = Ref::new(EntityId::new());
    let id = artist.id();
    assert_eq!(selection!(Album: artist = {artist}), only(cmp("artist", Eq, id)));
    assert_eq!(selection!(Album: artist = {id} OR id = {id}), only(or(cmp("artist", Eq, id), cmp("id", Eq, id))));
    let json = serde_json::json!({"a": 1});
    assert_eq!(selection!(Album: extra = {json.clone()}), only(cmp("extra", Eq, json.clone())));
    assert_eq!(
        selection!(Album: extra.tags.first = "rock" AND meta.label LIKE "Warp%"),
        only(and(
            Predicate::Comparison {
                path: Path(vec!["extra".into(), "tags".into(), "first".into()]),
                op: Eq,
                value: "rock".into()
            },
            Predicate::Like {
                path: Path(vec!["meta".into(), "label".into()]),
                pattern: "Warp%".into(),
                negated: false
            },
        ))
    );
    let meta = Meta { label: "Warp".into() };
    assert_eq!(selection!(Album: meta = {&meta}), only(cmp("meta", Eq, serde_json::json!({"label": "Warp"}))));
    assert_eq!(selection!(Album: r#type = "LP" OR type = "EP"), only(or(cmp("type", Eq, "LP"), cmp("type", Eq, "EP"))));
    assert_eq!(
        selection!(Album: cover = b"ab" AND live = TRUE AND live != {false}),
        only(and(and(cmp("cover", Eq, b"ab".to_vec()), cmp("live", Eq, true)), cmp("live", NotEq, false)))
    );

    // Chains are the balanced trees AnkQL text parses to.
    assert_eq!(
        selection!(Album: year = 1 OR year = 2 OR year = 3 OR year = 4 OR year = 5),
        "year = 1 OR year = 2 OR year = 3 OR year = 4 OR year = 5".parse::<Selection>().unwrap()
    );

    // ORDER BY and LIMIT, with and without a predicate.
    let limit = 5u64;
    assert_eq!(
        selection!(Album: year >= 2000 ORDER BY year DESC, name LIMIT 10),
        Selection {
            predicate: cmp("year", GtEq, 2000),
            order_by: vec![
                OrderItem { path: path("year"), direction: Direction::Desc },
                OrderItem { path: path("name"), direction: Direction::Asc },
            ],
            limit: Some(10),
        }
    );
    assert_eq!(
        selection!(Album: order by name asc limit {limit}),
        Selection {
            predicate: Predicate::True,
            order_by: vec![OrderItem { path: path("name"), direction: Direction::Asc }],
            limit: Some(5)
        }
    );
}
