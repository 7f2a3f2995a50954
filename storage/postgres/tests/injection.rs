//! SQL injection attempts through every name and value the engine puts into SQL: they are
//! stored and found like any other text, and nothing else in the database changes. (The core
//! conformance suite's `names` check covers odd collection and property names too.)

mod common;

use std::collections::BTreeSet;

use ankurah_core::ankql::{ComparisonOp, Path, Predicate, Selection};
use ankurah_core::storage::{CommitBatch, StorageEngine};
use ankurah_core::testing::genesis;
use ankurah_core::{CollectionId, EntityId, Value};
use common::Scratch;
use serde_json::json;

const ATTACKS: [&str; 9] = [
    r#"x'); DROP TABLE "bystander"; --"#,
    r#"" OR 1=1; --"#,
    "'; DELETE FROM \"bystander\" WHERE 'a'='a",
    "$1",
    "\\'",
    "a\0b",
    "}\"{,",
    "%_\\",
    ") UNION SELECT state FROM \"bystander\" --",
];

fn select(path: &[&str], predicate: impl FnOnce(Path) -> Predicate) -> Selection {
    let path = Path(path.iter().map(|s| s.to_string()).collect());
    Selection {
        predicate: predicate(path),
        order_by: vec![],
        limit: None,
    }
}

async fn tables(scratch: &Scratch, schema: &str) -> BTreeSet<String> {
    let client = scratch.connect().await;
    let rows = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .await
        .expect("catalog");
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_names_and_values_are_stored_harmlessly() {
    let schema = "odd\"schema; DROP SCHEMA public; --";
    let Some(scratch) = Scratch::named("injected_names_and_values_are_stored_harmlessly", schema)
    else {
        return;
    };
    let engine = scratch.open().await;
    let bystander = genesis("bystander", &[("n".into(), 1.into())], false);
    engine
        .commit(CommitBatch {
            events: vec![bystander.0.clone()],
            states: vec![bystander.1.clone()],
        })
        .await
        .expect("bystander");
    let before = tables(&scratch, schema).await;

    // Every attack as a collection name (where the engine accepts it), a property name, a
    // value, a Json key and a Json value.
    let mut made = Vec::new();
    for attack in ATTACKS {
        let properties = vec![
            (attack.to_owned(), Value::from(attack)),
            ("text".to_owned(), attack.into()),
            (
                "meta".to_owned(),
                json!({ attack: attack, "list": [attack] }).into(),
            ),
        ];
        let (event, state) = genesis("attacks", &properties, false);
        made.push(state.clone());
        engine
            .commit(CommitBatch {
                events: vec![event],
                states: vec![state],
            })
            .await
            .expect("commit with an attack");
        if let Ok(collection) = engine.collection(&CollectionId::from(attack)).await {
            let (_, state) = genesis(attack, &[("n".into(), 1.into())], false);
            collection
                .set_state(&state)
                .await
                .expect("set_state in an odd collection");
            assert_eq!(
                collection
                    .get_state(state.state.entity_id)
                    .await
                    .expect("get_state"),
                Some(state.state)
            );
        }
    }

    let attacks = engine
        .collection(&CollectionId::from("attacks"))
        .await
        .expect("attacks");
    for (attack, state) in ATTACKS.into_iter().zip(&made) {
        let expected = vec![state.state.entity_id];
        let eq = |value: &str| {
            let value = Value::from(value);
            move |path| Predicate::Comparison {
                path,
                op: ComparisonOp::Eq,
                value,
            }
        };
        let queries = [
            select(&[attack], eq(attack)),
            select(&["text"], eq(attack)),
            select(&["meta", attack], eq(attack)),
            select(&["meta", "list", "0"], eq(attack)),
            select(&["text"], |path| Predicate::Like {
                path,
                pattern: attack
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_"),
                negated: false,
            }),
            select(&["text"], |path| Predicate::In {
                path,
                values: vec![attack.into()],
                negated: false,
            }),
        ];
        for query in queries {
            let found: Vec<EntityId> = attacks
                .fetch_states(&query)
                .await
                .expect("fetch")
                .iter()
                .map(|s| s.entity_id)
                .collect();
            assert_eq!(found, expected, "{query:?}");
        }
    }

    let after = tables(&scratch, schema).await;
    assert!(
        after.is_superset(&before),
        "no table was dropped: {before:?} → {after:?}"
    );
    let bystanders = engine
        .collection(&CollectionId::from("bystander"))
        .await
        .expect("bystander");
    let all = Selection {
        predicate: Predicate::True,
        order_by: vec![],
        limit: None,
    };
    assert_eq!(
        bystanders.fetch_states(&all).await.expect("fetch"),
        vec![bystander.1.state],
        "the bystander is untouched"
    );
    let client = scratch.connect().await;
    let public = client
        .query("SELECT 1 FROM pg_namespace WHERE nspname = 'public'", &[])
        .await
        .expect("catalog");
    assert_eq!(public.len(), 1, "the public schema still exists");
}
