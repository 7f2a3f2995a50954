//! `selection!` builds exactly the `Selection` that the same query written as AnkQL text
//! parses to, and a typed query fetches what the text query fetches.

use std::sync::Arc;

use ankurah::ankql::{parse_selection, Selection};
use ankurah::storage::MemoryStorage;
use ankurah::{selection, Json, Model, Node, PermissiveAgent, Value, DEFAULT_CONTEXT};

#[derive(Model)]
pub struct Album {
    pub name: String,
    pub year: i32,
    pub rating: Option<f64>,
    pub meta: Json,
}

fn text(query: &str, args: &[Value]) -> Selection {
    parse_selection(query, args).unwrap_or_else(|e| panic!("{query}: {e}"))
}

#[test]
fn typed_and_text_queries_agree() {
    let name = "Origin";
    let years = [1999, 2001];
    let limit = 3u64;
    let cases = [
        (selection!(Album), text("", &[])),
        (
            selection!(Album: year > 1985 AND name = {name}),
            text("year > 1985 AND name = ?", &[name.into()]),
        ),
        (
            selection!(Album: year = 1 OR year == 2 OR year != 3 OR year <> 4),
            text("year = 1 OR year == 2 OR year != 3 OR year <> 4", &[]),
        ),
        (
            selection!(Album: year < 1 AND year <= 2 AND year > 3 AND year >= 4),
            text("year < 1 AND year <= 2 AND year > 3 AND year >= 4", &[]),
        ),
        (
            selection!(Album: year > -5 AND year < 3000000000 AND rating > 2.5),
            text("year > -5 AND year < 3000000000 AND rating > 2.5", &[]),
        ),
        (
            selection!(Album: year = 1 OR year = 2 AND NOT year = 3),
            text("year = 1 OR year = 2 AND NOT year = 3", &[]),
        ),
        (
            selection!(Album: (year = 1 OR year = 2) AND (TRUE OR FALSE)),
            text("(year = 1 OR year = 2) AND (TRUE OR FALSE)", &[]),
        ),
        (
            selection!(Album: name LIKE "The %" AND name NOT LIKE "%\\%"),
            text(r"name LIKE 'The %' AND name NOT LIKE '%\%'", &[]),
        ),
        (
            selection!(Album: year IN (1999, {years[1]}) OR year NOT IN {years}),
            text("year IN (1999, 2001) OR year NOT IN (1999, 2001)", &[]),
        ),
        (
            selection!(Album: rating IS NULL or rating is not null),
            text("rating IS NULL OR rating IS NOT NULL", &[]),
        ),
        (
            selection!(Album: meta.tags.0 = "rock" AND meta."a b".c > 1),
            text(r#"meta.tags.0 = 'rock' AND meta."a b".c > 1"#, &[]),
        ),
        (
            selection!(Album: meta.list.0.1 = TRUE),
            text("meta.list.0.1 = TRUE", &[]),
        ),
        (
            selection!(Album: name = "it's" ORDER BY year DESC, name ASC, rating LIMIT 10),
            text(
                "name = 'it''s' ORDER BY year DESC, name ASC, rating LIMIT 10",
                &[],
            ),
        ),
        (
            selection!(Album: ORDER BY year LIMIT {limit}),
            text("ORDER BY year LIMIT 3", &[]),
        ),
    ];
    for (i, (typed, text)) in cases.into_iter().enumerate() {
        assert_eq!(typed, text, "case {i}");
    }
}

#[tokio::test]
async fn typed_queries_fetch_what_text_queries_fetch() {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    for (name, year) in [
        ("Showbiz", 1999),
        ("Origin of Symmetry", 2001),
        ("Absolution", 2003),
        ("Drones", 2015),
    ] {
        let meta = Json(serde_json::json!({ "decade": year / 10 * 10 }));
        trx.create(&Album {
            name: name.into(),
            year,
            rating: None,
            meta,
        })
        .await
        .unwrap();
    }
    trx.commit().await.unwrap();

    let since = 2000;
    let names = |views: Vec<AlbumView>| views.iter().map(|v| v.name().unwrap()).collect::<Vec<_>>();
    let typed = names(
        ctx.fetch(selection!(Album: year > {since} AND meta.decade < 2010 ORDER BY year DESC))
            .await
            .unwrap(),
    );
    let text = names(
        ctx.fetch("year > 2000 AND meta.decade < 2010 ORDER BY year DESC")
            .await
            .unwrap(),
    );
    assert_eq!(typed, ["Absolution", "Origin of Symmetry"]);
    assert_eq!(typed, text);
}
