//! A model-based test of an engine's indexes, shared by the engines that build them: random
//! commits, edits, deletions and restarts are applied to the engine under test and to the
//! reference [`MemoryStorage`]; after every step, random queries (which create indexes as
//! they go) must get the same answer, in the same order, from both, also where the engine
//! answers from index entries alone ([`StorageCollection::fetch_ids`]). What an engine keeps
//! on disk is its own to check afterwards: [`run_seeds`] says which entities are live, so
//! each index must hold exactly one entry for each of them.
//!
//! [`StorageCollection::fetch_ids`]: crate::storage::StorageCollection::fetch_ids

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path as FsPath;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::{delete, edit, genesis};
use crate::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
use crate::collection::CollectionId;
use crate::event::Event;
use crate::id::EntityId;
use crate::state::EntityState;
use crate::storage::{CommitBatch, MemoryStorage, StorageEngine, StoredState};
use crate::value::Value;

/// The collection the test writes.
pub const COLLECTION: &str = "things";
/// The properties its entities have (or lack); every one is queried, so each gets an index.
pub const PROPERTIES: [&str; 4] = ["a", "b", "c", "d"];

/// Values of every type, with the cases the encoding must get right: equal numbers of both
/// types, integers beyond 2^53, signed zeros, NaN, strings with NUL, numeric strings, Json
/// scalars (which compare as plain values), dates, instants and durations, and the ISO-8601
/// text that compares with them.
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
        Value::Json(serde_json::json!("a")),
        Value::Json(serde_json::json!(1)),
        Value::Json(serde_json::Value::Null),
        Value::Date(0),
        Value::Date(-1),
        Value::Timestamp(0),
        Value::Timestamp(86_400_000_000),
        Value::Duration(3_600_000_000),
        Value::String("1970-01-01".into()),
        Value::String("1970-01-02T00:00:00Z".into()),
        Value::String("PT1H".into()),
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

/// What a [`run`] leaves behind.
#[derive(Debug)]
struct Outcome {
    /// The entities of [`COLLECTION`] that are live at the end.
    live: BTreeSet<EntityId>,
    /// How many queries the engine also answered from index entries alone.
    from_index: usize,
}

struct Engines {
    tested: Arc<dyn StorageEngine>,
    memory: MemoryStorage,
    /// The latest state of every entity ever created.
    states: Vec<StoredState>,
    from_index: usize,
}

impl Engines {
    async fn commit(&mut self, made: Vec<(Event, StoredState)>) {
        let batch = CommitBatch {
            events: made.iter().map(|(e, _)| e.clone()).collect(),
            states: made.iter().map(|(_, s)| s.clone()).collect(),
        };
        self.tested
            .commit(batch.clone())
            .await
            .expect("commit on the tested engine");
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

    async fn check(&mut self, selection: &Selection, step: usize) {
        let collection = CollectionId::from(COLLECTION);
        let answer =
            |states: Vec<EntityState>| states.into_iter().map(|s| s.entity_id).collect::<Vec<_>>();
        let tested = self
            .tested
            .collection(&collection)
            .await
            .expect("collection");
        let states = tested.fetch_states(selection).await.expect("fetch");
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
        if let Some(ids) = tested.fetch_ids(selection).await.expect("fetch_ids") {
            assert_eq!(
                ids, expected,
                "step {step}, from the index alone: `{selection}`"
            );
            self.from_index += 1;
        }
    }
}

/// Runs `steps` random steps drawn from `seed` on the engine `open` returns. A restart drops
/// the engine and calls `open` again, which must open the same storage.
async fn run<F, Fut>(seed: u64, steps: usize, mut open: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn StorageEngine>>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut engines = Engines {
        tested: open().await,
        memory: MemoryStorage::new(),
        states: Vec::new(),
        from_index: 0,
    };
    for step in 0..steps {
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
                let placeholder: Arc<dyn StorageEngine> = Arc::new(MemoryStorage::new());
                drop(std::mem::replace(&mut engines.tested, placeholder));
                engines.tested = open().await;
            }
            _ => {}
        }
        for _ in 0..3 {
            engines.check(&random_selection(&mut rng), step).await;
        }
    }
    Outcome {
        live: engines
            .states
            .iter()
            .filter(|s| !s.is_deleted())
            .map(|s| s.state.entity_id)
            .collect(),
        from_index: engines.from_index,
    }
}

/// Runs [`run`] with 250 steps for each of four seeds, each on fresh storage at its own path
/// under `dir`, which `open` opens (again for each restart). After each run, with the engine
/// dropped, `check` gets the path and the live entities, to look at what the engine left on
/// disk. Fails if no query at all was answered from index entries alone.
pub async fn run_seeds(
    dir: &FsPath,
    open: impl Fn(&FsPath) -> Arc<dyn StorageEngine>,
    check: impl Fn(&FsPath, &BTreeSet<EntityId>),
) {
    let mut from_index = 0;
    for seed in 0..4 {
        let path = dir.join(seed.to_string());
        let outcome = run(seed, 250, || {
            let engine = open(&path);
            async move { engine }
        })
        .await;
        check(&path, &outcome.live);
        from_index += outcome.from_index;
    }
    assert!(from_index > 0, "no query was answered from an index alone");
}
