//! The tables, columns and indexes are those `layout.rs` documents.

mod common;

use ankurah_core::ankql::parse_selection;
use ankurah_core::storage::{CommitBatch, StorageEngine};
use ankurah_core::testing::{edit, genesis};
use ankurah_core::{CollectionId, Value};
use common::Scratch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_per_property_and_kind_and_indexes_on_first_use() {
    let Some(scratch) = Scratch::new("a_column_per_property_and_kind_and_indexes_on_first_use")
    else {
        return;
    };
    let engine = scratch.open().await;
    let (created, state) = genesis(
        "album",
        &[("year".into(), 1999.into()), ("name".into(), "x".into())],
        false,
    );
    engine
        .commit(CommitBatch {
            events: vec![created],
            states: vec![state.clone()],
        })
        .await
        .expect("commit");
    // The property changes kind: a second column, and the first one is emptied.
    let (edited, state) = edit(&state, &[("year".into(), Value::F64(1999.5))]);
    engine
        .commit(CommitBatch {
            events: vec![edited],
            states: vec![state.clone()],
        })
        .await
        .expect("commit");

    let client = scratch.connect().await;
    let columns = client
        .query(
            "SELECT column_name::text, data_type::text, collation_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = 'album' ORDER BY column_name",
            &[&engine.schema()],
        )
        .await
        .expect("catalog");
    let columns: Vec<(String, String, Option<String>)> = columns
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("deleted", "boolean", None),
        ("head", "bytea", None),
        ("id", "bytea", None),
        ("name:text", "text", Some("C")),
        ("state", "bytea", None),
        ("year:float", "double precision", None),
        ("year:int", "bigint", None),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(c, t, l)| (c.to_string(), t.to_string(), l.map(String::from)))
        .collect();
    assert_eq!(columns, expected);
    let schema = engine.schema().replace('"', "\"\"");
    let row = client
        .query_one(
            &format!(r#"SELECT "year:int", "year:float" FROM "{schema}"."album""#),
            &[],
        )
        .await
        .expect("the row");
    assert_eq!(
        (row.get::<_, Option<i64>>(0), row.get::<_, Option<f64>>(1)),
        (None, Some(1999.5))
    );

    let indexes = || async {
        let rows = client
            .query("SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'album' ORDER BY 1", &[&engine.schema()])
            .await
            .expect("catalog");
        rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()
    };
    assert_eq!(indexes().await, ["album_pkey"]);
    let album = engine
        .collection(&CollectionId::from("album"))
        .await
        .expect("album");
    let query = parse_selection("year > 1999 ORDER BY name", &[]).expect("query");
    assert_eq!(
        album.fetch_states(&query).await.expect("fetch"),
        vec![state.state]
    );
    assert_eq!(
        indexes().await,
        [
            "album:name:text",
            "album:year:float",
            "album:year:int",
            "album_pkey"
        ]
    );
}
