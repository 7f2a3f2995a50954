//! Pushdown against the evaluator: a collection of awkward values (a property holding every
//! kind, integers beyond 2^53 and at the i64 limits, NaN, infinities, -0.0, NUL and U+0001 in
//! strings and Json keys, numeric strings, nested Json) and thousands of generated queries.
//! Postgres must return exactly what `Selection::apply` returns over the same states, in the
//! same order.

mod common;

use ankurah_core::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use ankurah_core::storage::{CommitBatch, StorageEngine, StoredState};
use ankurah_core::testing::genesis;
use ankurah_core::{CollectionId, EntityId, Value};
use common::Scratch;
use serde_json::json;

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn id(n: u8) -> EntityId {
    EntityId::from_bytes([n; 16])
}

/// Entity `i` takes element `i` (cyclically) of each list; some properties are left out on
/// some entities so that NULLs mix in.
fn dataset() -> Vec<Vec<(String, Value)>> {
    let ints = [
        0,
        1,
        -1,
        2000,
        i64::MAX,
        i64::MIN,
        (1 << 53) + 1,
        (1 << 60) + 1,
        1999,
    ];
    let floats = [
        0.5,
        -0.0,
        1999.5,
        2000.0,
        TWO_POW_63,
        1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        9_007_199_254_740_993.0,
        0.1,
    ];
    let id_text = id(1).to_string();
    let strings = [
        "",
        "a",
        "a\0",
        "a\u{1}",
        "a\u{1}b",
        "\0",
        "ab",
        "é",
        "0042",
        " 12 ",
        "1e3",
        "-5",
        "abc",
        "x9",
        "A_b",
        "a.b",
        "a%b",
        "(a|b)",
        r"back\slash",
        "inf",
        "NaN",
        "9223372036854775808",
        "2000",
        &id_text,
        r"a\",
        "\u{2}",
    ];
    let jsons = [
        json!({"k": 1}),
        json!({"k": 1.0}),
        json!({"k": "1"}),
        json!({"k": "x"}),
        json!({"k": null}),
        json!({"k": [1, "a"]}),
        json!({"k": {"z": true}}),
        json!(5),
        json!("str"),
        json!(null),
        json!([1, 2]),
        json!({"k\u{0}": "nul key", "k": "a\u{0}b"}),
        json!({"-1": "neg", "k": [3]}),
        json!({"k": 9_007_199_254_740_993_u64}),
        json!({"k": 1e20}),
        json!({"k": true}),
        json!({"k": 2000}),
        json!({"k": " 12 "}),
    ];
    let mixed = [
        Value::I64(5),
        Value::F64(5.0),
        Value::F64(f64::NAN),
        "5".into(),
        "x".into(),
        true.into(),
        json!(5).into(),
        Value::I64(i64::MAX),
        Value::F64(1e19),
        Value::Null,
        Value::Bytes(vec![5]),
        Value::EntityId(id(1)),
        " 7 ".into(),
        Value::F64(-0.0),
        Value::I64(-3),
    ];
    let bytes = [vec![], vec![0], vec![0, 1], vec![255]];
    (0..30)
        .map(|i| {
            let mut properties: Vec<(String, Value)> = vec![
                ("f".into(), floats[i % floats.len()].into()),
                ("s".into(), strings[i % strings.len()].into()),
                ("j".into(), jsons[i % jsons.len()].clone().into()),
                ("n".into(), mixed[i % mixed.len()].clone()),
                ("e".into(), Value::EntityId(id(1 + (i % 2) as u8))),
            ];
            if i % 7 != 6 {
                properties.push(("i".into(), ints[i % ints.len()].into()));
            }
            if i % 3 == 0 {
                properties.push(("b".into(), Value::Bytes(bytes[i / 3 % bytes.len()].clone())));
            }
            if i % 4 != 3 {
                properties.push(("t".into(), (i % 2 == 0).into()));
            }
            properties
        })
        .collect()
}

fn literals() -> Vec<Value> {
    vec![
        Value::Null,
        0.into(),
        1.into(),
        2000.into(),
        (-5).into(),
        5.into(),
        i64::MAX.into(),
        i64::MIN.into(),
        ((1_i64 << 53) + 1).into(),
        0.5.into(),
        1999.5.into(),
        (-0.0).into(),
        f64::NAN.into(),
        f64::INFINITY.into(),
        f64::NEG_INFINITY.into(),
        TWO_POW_63.into(),
        1e19.into(),
        0.1.into(),
        "".into(),
        "a".into(),
        "a\0".into(),
        "a\u{1}".into(),
        "2000".into(),
        " 12 ".into(),
        "1e3".into(),
        "abc".into(),
        "x".into(),
        id(1).to_string().into(),
        true.into(),
        false.into(),
        Value::Bytes(vec![0]),
        Value::Bytes(vec![0, 1]),
        Value::EntityId(id(1)),
        json!({"k": 1}).into(),
        json!({"z": true}).into(),
        json!([1, 2]).into(),
        json!(5).into(),
        json!("str").into(),
        json!([1, "a"]).into(),
    ]
}

fn path(text: &str) -> Path {
    Path(text.split('.').map(String::from).collect())
}

const PATHS: [&str; 16] = [
    "i", "f", "s", "j", "j.k", "j.k.0", "j.k.z", "j.-1", "j.k\0", "b", "e", "t", "n", "id",
    "missing", "s.x",
];

fn filter(predicate: Predicate) -> Selection {
    Selection {
        predicate,
        order_by: vec![],
        limit: None,
    }
}

fn selections() -> Vec<Selection> {
    use ComparisonOp::*;
    let mut out = Vec::new();
    for p in PATHS {
        for value in literals() {
            for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
                let comparison = Predicate::Comparison {
                    path: path(p),
                    op,
                    value: value.clone(),
                };
                out.push(filter(Predicate::Not(Box::new(comparison.clone()))));
                out.push(filter(comparison));
            }
        }
        for negated in [false, true] {
            out.push(filter(Predicate::IsNull {
                path: path(p),
                negated,
            }));
            out.push(filter(Predicate::In {
                path: path(p),
                values: vec![5.into(), "x".into(), Value::Null],
                negated,
            }));
            out.push(filter(Predicate::In {
                path: path(p),
                values: vec!["a".into(), 1.into()],
                negated,
            }));
            for pattern in [
                "a%",
                "a_",
                "_",
                "%",
                "",
                "a\0",
                "%\0%",
                "a.b",
                "(a|b)",
                r"a\%b",
                r"A\_b",
                "%b",
                r"back\\slash",
                r"a\",
                "%\u{1}%",
                "_b",
                "a__",
                "%_%",
                "\u{2}",
                "_\u{2}",
                "x_",
            ] {
                out.push(filter(Predicate::Like {
                    path: path(p),
                    pattern: pattern.into(),
                    negated,
                }));
            }
        }
        for direction in [Direction::Asc, Direction::Desc] {
            for limit in [None, Some(0), Some(3), Some(17)] {
                for predicate in [
                    Predicate::True,
                    Predicate::IsNull {
                        path: path(p),
                        negated: true,
                    },
                ] {
                    let order_by = vec![OrderItem {
                        path: path(p),
                        direction,
                    }];
                    out.push(Selection {
                        predicate,
                        order_by,
                        limit,
                    });
                }
            }
        }
    }
    let order = |keys: &[(&str, Direction)]| {
        keys.iter()
            .map(|(p, direction)| OrderItem {
                path: path(p),
                direction: *direction,
            })
            .collect()
    };
    let comparison = |p: &str, op, value: Value| Predicate::Comparison {
        path: path(p),
        op,
        value,
    };
    let either = Predicate::Or(
        Box::new(comparison("s", Gt, 5.into())),
        Box::new(comparison("i", Gt, 0.into())),
    );
    let both = Predicate::And(
        Box::new(comparison("n", Eq, 5.into())),
        Box::new(Predicate::Not(Box::new(comparison("j.k", Eq, 1.into())))),
    );
    for predicate in [
        Predicate::True,
        either.clone(),
        Predicate::Not(Box::new(either)),
        both.clone(),
        Predicate::Not(Box::new(both)),
    ] {
        for keys in [
            &[("t", Direction::Asc), ("i", Direction::Desc)][..],
            &[("e", Direction::Asc), ("f", Direction::Asc)],
            &[("s", Direction::Desc), ("id", Direction::Asc)],
        ] {
            for limit in [None, Some(2), Some(9)] {
                out.push(Selection {
                    predicate: predicate.clone(),
                    order_by: order(keys),
                    limit,
                });
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_matches_the_evaluator() {
    let Some(scratch) = Scratch::new("pushdown_matches_the_evaluator") else {
        return;
    };
    let engine = scratch.open().await;
    let made: Vec<_> = dataset()
        .iter()
        .map(|properties| genesis("awkward", properties, false))
        .collect();
    let batch = CommitBatch {
        events: made.iter().map(|(e, _)| e.clone()).collect(),
        states: made.iter().map(|(_, s)| s.clone()).collect(),
    };
    engine.commit(batch).await.expect("commit");
    let states: Vec<&StoredState> = made.iter().map(|(_, s)| s).collect();
    let collection = engine
        .collection(&CollectionId::from("awkward"))
        .await
        .expect("collection");

    let selections = selections();
    let mut failures = Vec::new();
    for selection in &selections {
        let expected: Vec<EntityId> = selection
            .apply(states.clone())
            .iter()
            .map(|s| s.state.entity_id)
            .collect();
        match collection.fetch_states(selection).await {
            Ok(got) => {
                let got: Vec<EntityId> = got.iter().map(|s| s.entity_id).collect();
                if got != expected {
                    failures.push(format!(
                        "{selection:?}\n   expected {expected:?}\n        got {got:?}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{selection:?}: {e}")),
        }
    }
    let shown: Vec<&String> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} of {} selections differ from the evaluator:\n{shown:#?}",
        failures.len(),
        selections.len()
    );
}
