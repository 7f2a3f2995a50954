//! Model-based test of the indexes: random commits, edits, deletions and restarts are applied
//! to `SledStorage` and to the reference `MemoryStorage`; after every step, random queries
//! (which create indexes as they go) must get the same answer, in the same order, from both.
//! At the end every index must hold exactly one entry per live entity.

use std::collections::BTreeSet;
use std::path::Path as FsPath;

use ankurah_core::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use ankurah_core::event::Event;
use ankurah_core::id::EntityId;
use ankurah_core::storage::{CommitBatch, MemoryStorage, StorageEngine, StoredState};
use ankurah_core::testing::{delete, edit, genesis};
use ankurah_core::value::Value;
use ankurah_core::CollectionId;
use ankurah_storage_sled::{layout, open_database, SledStorage};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};

const COLLECTION: &str = "things";
const PROPERTIES: [&str; 4] = ["a", "b", "c", "d"];
const STEPS: usize = 250;

/// Values of every type, with the cases the encoding must get right: equal numbers of both
/// types, integers beyond 2^53, signed zeros, NaN, strings with NUL, numeric strings.
fn random_value(rng: &mut StdRng) -> Value {
    let big = 1i64 << 53;
    let id = EntityId::from_bytes([7; 16]);
    let pool = [
        Value::Null,
        Value::Bool(false),
        Value::Bool(true),
        Value::I64(-2),
        Value::I64(0),
        Value::I64(1),
        Value::I64(2),
        Value::I64(big + 1),
        Value::I64(i64::MAX),
        Value::F64(-0.0),
        Value::F64(0.5),
        Value::F64(1.0),
        Value::F64(big as f64),
        Value::F64(f64::INFINITY),
        Value::F64(f64::NAN),
        Value::String(String::new()),
        Value::String("a".into()),
        Value::String("a\0".into()),
        Value::String("ab".into()),
        Value::String("1".into()),
        Value::String(" 2".into()),
        Value::String("01.0".into()),
        Value::String("Zoë".into()),
        Value::String(id.to_string()),
        Value::Bytes(vec![0, 1]),
        Value::Bytes(vec![]),
        Value::EntityId(id),
        Value::Json(serde_json::json!({"k": 1})),
        Value::Json(serde_json::json!([1, "x"])),
    ];
    pool.choose(rng).expect("the pool is not empty").clone()
}

fn random_properties(rng: &mut StdRng) -> Vec<(String, Value)> {
    let mut properties = Vec::new();
    for property in PROPERTIES {
        if rng.random_bool(0.7) {
            properties.push((property.to_owned(), random_value(rng)));
        }
    }
    properties
}

fn random_path(rng: &mut StdRng) -> Path {
    let name = if rng.random_bool(0.1) {
        "id"
    } else {
        PROPERTIES.choose(rng).expect("properties")
    };
    Path::simple(name)
}

fn random_predicate(rng: &mut StdRng, depth: u32) -> Predicate {
    let ops = [
        ComparisonOp::Eq,
        ComparisonOp::NotEq,
        ComparisonOp::Lt,
        ComparisonOp::LtEq,
        ComparisonOp::Gt,
        ComparisonOp::GtEq,
    ];
    let boxed = |rng: &mut StdRng| Box::new(random_predicate(rng, depth + 1));
    match rng.random_range(0..if depth < 2 { 9 } else { 6 }) {
        0 | 1 => Predicate::Comparison {
            path: random_path(rng),
            op: *ops.choose(rng).expect("ops"),
            value: random_value(rng),
        },
        2 => Predicate::In {
            path: random_path(rng),
            values: (0..rng.random_range(1..4))
                .map(|_| random_value(rng))
                .collect(),
            negated: rng.random_bool(0.3),
        },
        3 => Predicate::IsNull {
            path: random_path(rng),
            negated: rng.random(),
        },
        4 => {
            let pattern = ["a%", "%", "", "1%", "Z_ë", r"a\%", "_"]
                .choose(rng)
                .expect("patterns")
                .to_string();
            Predicate::Like {
                path: random_path(rng),
                pattern,
                negated: rng.random_bool(0.3),
            }
        }
        5 => [Predicate::True, Predicate::False]
            .choose(rng)
            .expect("constants")
            .clone(),
        6 => Predicate::And(boxed(rng), boxed(rng)),
        7 => Predicate::Or(boxed(rng), boxed(rng)),
        _ => Predicate::Not(boxed(rng)),
    }
}

fn random_selection(rng: &mut StdRng) -> Selection {
    let directions = [Direction::Asc, Direction::Desc];
    Selection {
        predicate: if rng.random_bool(0.8) {
            random_predicate(rng, 0)
        } else {
            Predicate::True
        },
        order_by: (0..rng.random_range(0..3))
            .map(|_| OrderItem {
                path: random_path(rng),
                direction: *directions.choose(rng).expect("directions"),
            })
            .collect(),
        limit: rng.random_bool(0.5).then(|| rng.random_range(0..8)),
    }
}

/// How many queries were also answered from index keys alone (the check must not be vacuous).
static FROM_INDEX: AtomicUsize = AtomicUsize::new(0);

struct Engines {
    sled: SledStorage,
    memory: MemoryStorage,
    /// The latest state of every entity ever created.
    states: Vec<StoredState>,
}

impl Engines {
    async fn commit(&mut self, made: Vec<(Event, StoredState)>) {
        let batch = CommitBatch {
            events: made.iter().map(|(e, _)| e.clone()).collect(),
            states: made.iter().map(|(_, s)| s.clone()).collect(),
        };
        self.sled.commit(batch.clone()).await.expect("sled commit");
        self.memory.commit(batch).await.expect("memory commit");
        for (_, state) in made {
            match self
                .states
                .iter_mut()
                .find(|s| s.state.entity_id == state.state.entity_id)
            {
                Some(old) => *old = state,
                None => self.states.push(state),
            }
        }
    }

    fn random_live(&self, rng: &mut StdRng) -> Option<StoredState> {
        let live: Vec<_> = self.states.iter().filter(|s| !s.is_deleted()).collect();
        live.choose(rng).map(|s| (*s).clone())
    }

    async fn check(&self, selection: &Selection, step: usize) {
        let collection = CollectionId::from(COLLECTION);
        let answer = |states: Vec<ankurah_core::state::EntityState>| {
            states.into_iter().map(|s| s.entity_id).collect::<Vec<_>>()
        };
        let sled = self.sled.collection(&collection).await.expect("collection");
        let states = sled.fetch_states(selection).await.expect("sled fetch");
        let memory = self
            .memory
            .collection(&collection)
            .await
            .expect("collection")
            .fetch_states(selection)
            .await
            .expect("memory fetch");
        let expected = answer(memory);
        assert_eq!(answer(states), expected, "step {step}: `{selection}`");
        // Answers from index keys alone, where the engine gives them, agree too.
        if let Some(ids) = sled.fetch_ids(selection).await.expect("sled ids") {
            assert_eq!(
                ids, expected,
                "step {step}, from the index alone: `{selection}`"
            );
            FROM_INDEX.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
async fn indexed_queries_match_the_reference_engine() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("db");
    for seed in 0..4 {
        run(seed, &path.join(seed.to_string())).await;
    }
    assert!(
        FROM_INDEX.load(Ordering::Relaxed) > 0,
        "no query was answered from an index alone"
    );
}

async fn run(seed: u64, path: &FsPath) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut engines = Engines {
        sled: SledStorage::open(path).expect("open"),
        memory: MemoryStorage::new(),
        states: Vec::new(),
    };
    let mut queries = 0;
    for step in 0..STEPS {
        match rng.random_range(0..20) {
            0..=7 => {
                let made = (0..rng.random_range(1..4))
                    .map(|_| genesis(COLLECTION, &random_properties(&mut rng), rng.random()))
                    .collect();
                engines.commit(made).await;
            }
            8..=14 => {
                if let Some(state) = engines.random_live(&mut rng) {
                    let mut properties = random_properties(&mut rng);
                    if properties.is_empty() {
                        properties.push(("a".to_owned(), random_value(&mut rng)));
                    }
                    let made = edit(&state, &properties);
                    engines.commit(vec![made]).await;
                }
            }
            15..=17 => {
                if let Some(state) = engines.random_live(&mut rng) {
                    engines.commit(vec![delete(&state)]).await;
                }
            }
            18 => {
                // Restart: indexes and their catalog must come back from disk.
                let Engines {
                    sled,
                    memory,
                    states,
                } = engines;
                drop(sled);
                engines = Engines {
                    sled: SledStorage::open(path).expect("reopen"),
                    memory,
                    states,
                };
            }
            _ => {}
        }
        for _ in 0..3 {
            engines.check(&random_selection(&mut rng), step).await;
            queries += 1;
        }
    }
    assert!(queries > 0);
    let live: BTreeSet<EntityId> = engines
        .states
        .iter()
        .filter(|s| !s.is_deleted())
        .map(|s| s.state.entity_id)
        .collect();
    drop(engines);
    check_index_entries(path, &live);
}

/// Every property was queried, so each has an index; each index holds one entry per live
/// entity (NULL for those without the property) and none for deleted entities.
fn check_index_entries(path: &FsPath, live: &BTreeSet<EntityId>) {
    let db = open_database(path).expect("open the raw database");
    let tree = db.open_tree(layout::TREE).expect("the data tree");
    let collection = CollectionId::from(COLLECTION);
    for property in PROPERTIES {
        assert!(
            tree.contains_key(layout::catalog_key(&collection, property))
                .expect("read"),
            "index on `{property}` is catalogued"
        );
        let entries: Vec<EntityId> = tree
            .scan_prefix(layout::index_prefix(&collection, property))
            .map(|item| {
                let (key, _) = item.expect("read");
                EntityId::from_slice(&key[key.len() - 16..]).expect("an id")
            })
            .collect();
        let distinct: BTreeSet<EntityId> = entries.iter().copied().collect();
        assert_eq!(
            entries.len(),
            distinct.len(),
            "index on `{property}`: one entry per entity"
        );
        assert_eq!(
            &distinct, live,
            "index on `{property}`: exactly the live entities"
        );
    }
}
