//! Access rules pushed down to SQL: a read rule bound to an identity is ANDed into the
//! selections a durable node runs; Postgres must return exactly what the evaluator selects,
//! for hundreds of generated rules and identities over albums with NULLs mixed in.

mod common;

use ankurah_core::ankql::{Predicate, Selection};
use ankurah_core::rules::{RuleKind, RulesAgent};
use ankurah_core::storage::{CommitBatch, StorageEngine, StoredState};
use ankurah_core::testing::genesis;
use ankurah_core::{CollectionId, ContextData, EntityId, PolicyAgent, Value};
use common::Scratch;

const NAMES: [&str; 4] = ["ann", "bo", "cy", "O'Hara"];

/// A small deterministic generator (the same rules on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below
    }

    fn name(&mut self) -> &'static str {
        NAMES[self.next(NAMES.len())]
    }

    fn quoted(&mut self) -> String {
        format!("'{}'", self.name().replace('\'', "''"))
    }

    fn rule(&mut self, depth: usize) -> String {
        let leaves = 7;
        let choice = if depth == 0 {
            self.next(leaves)
        } else {
            self.next(leaves + 3)
        };
        match choice {
            0 => "artist = $user.id".into(),
            1 => format!("{} IN $user.roles", self.quoted()),
            2 => "artist IN $user.roles".into(),
            3 => format!(
                "year {} {}",
                ["<", ">=", "=", "!="][self.next(4)],
                self.next(5) as i64 - 2
            ),
            4 => format!("artist = {}", self.quoted()),
            5 => "artist IS NULL".into(),
            6 => format!("$user.id = {}", self.quoted()),
            7 => format!("NOT ({})", self.rule(depth - 1)),
            8 => format!("({}) AND ({})", self.rule(depth - 1), self.rule(depth - 1)),
            _ => format!("({}) OR ({})", self.rule(depth - 1), self.rule(depth - 1)),
        }
    }

    fn user(&mut self) -> ContextData {
        let roles: Vec<&str> = (0..self.next(3)).map(|_| self.name()).collect();
        ContextData::for_principal(self.name()).with_roles(roles)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_rules_pushed_down_select_what_the_evaluator_selects() {
    let Some(scratch) = Scratch::new("bound_rules_pushed_down_select_what_the_evaluator_selects")
    else {
        return;
    };
    let engine = scratch.open().await;
    let mut random = Lcg(12);
    let made: Vec<_> = (0..200)
        .map(|i| {
            let mut properties: Vec<(String, Value)> = Vec::new();
            if i % 9 != 0 {
                properties.push(("artist".into(), random.name().into()));
            }
            if i % 7 != 0 {
                properties.push(("year".into(), (random.next(5) as i64 - 2).into()));
            }
            genesis("album", &properties, false)
        })
        .collect();
    engine
        .commit(CommitBatch {
            events: made.iter().map(|(e, _)| e.clone()).collect(),
            states: made.iter().map(|(_, s)| s.clone()).collect(),
        })
        .await
        .expect("commit");
    let states: Vec<&StoredState> = made.iter().map(|(_, s)| s).collect();
    let collection = engine
        .collection(&CollectionId::from("album"))
        .await
        .expect("collection");

    let mut failures = Vec::new();
    let mut checked = 0;
    for _ in 0..120 {
        let text = random.rule(3);
        let agent = RulesAgent::builder()
            .properties("album", ["artist", "year"])
            .rule("album", RuleKind::Read, &text)
            .build()
            .unwrap_or_else(|e| panic!("generated rule `{text}` is valid: {e}"));
        for _ in 0..4 {
            let user = random.user();
            let filter = agent
                .read_filter(&user, &"album".into())
                .expect("a read rule")
                .expect("a filter");
            // As the durable node runs it: the asker's selection AND the rule.
            let selection = Selection {
                predicate: Predicate::And(
                    Box::new(Predicate::IsNull {
                        path: ankurah_core::ankql::Path::simple("year"),
                        negated: true,
                    }),
                    Box::new(filter),
                ),
                order_by: Vec::new(),
                limit: None,
            };
            let mut expected: Vec<EntityId> = selection
                .apply(states.clone())
                .iter()
                .map(|s| s.state.entity_id)
                .collect();
            expected.sort();
            match collection.fetch_states(&selection).await {
                Ok(got) => {
                    let mut got: Vec<EntityId> = got.iter().map(|s| s.entity_id).collect();
                    got.sort();
                    if got != expected {
                        failures.push(format!(
                            "`{text}` for {user:?}: {} expected, {} got",
                            expected.len(),
                            got.len()
                        ));
                    }
                }
                Err(e) => failures.push(format!("`{text}` for {user:?}: {e}")),
            }
            checked += 1;
        }
    }
    let shown: Vec<&String> = failures.iter().take(10).collect();
    assert!(
        failures.is_empty(),
        "{} of {checked} bound rules select differently in Postgres:\n{shown:#?}",
        failures.len()
    );
}
