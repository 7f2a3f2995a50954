//! Issue #11: one meaning per query. `#[derive(Property)]` values (unit and data enums,
//! newtypes, structs, `Option` of them) and `chrono` dates and times, queried as AnkQL text
//! and with `selection!`, select the same entities on MemoryStorage and on sled; queries the
//! model proves can never match are errors, not empty answers.

use std::sync::Arc;

use ankurah::storage::{MemoryStorage, StorageEngine};
use ankurah::{
    selection, Context, Model, Node, PermissiveAgent, Property, Ref, RetrievalError, Value,
    ValueType, DEFAULT_CONTEXT,
};
use ankurah_storage_sled::SledStorage;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

#[derive(Property, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Open,
    Closed,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Resolution {
    Pending,
    Closed { reason: String },
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Points(i32);

/// Renamed variants are still plain names.
#[derive(Property, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    #[serde(rename = "meh")]
    Low,
}

/// An internally tagged enum serializes as an object: Json.
#[derive(Property, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(tag = "kind")]
pub enum Tagged {
    A,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Due(String);

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Meta {
    pub label: String,
}

#[derive(Model, Debug, Clone)]
pub struct User {
    pub name: String,
}

#[derive(Model, Debug, Clone)]
pub struct Item {
    pub title: String,
    pub done: bool,
    pub year: i32,
    pub status: Status,
    pub resolution: Resolution,
    pub points: Points,
    pub due_text: Due,
    pub meta: Meta,
    pub maybe: Option<Status>,
    pub owner: Option<Ref<User>>,
    pub due: NaiveDate,
    pub at: DateTime<Utc>,
    pub took: Option<TimeDelta>,
}

fn date(text: &str) -> NaiveDate {
    let days = ankurah::temporal::parse_date(text).expect("test dates are valid");
    NaiveDate::from_value(Value::Date(days)).expect("in chrono's range")
}

fn at(text: &str) -> DateTime<Utc> {
    let micros = ankurah::temporal::parse_timestamp(text).expect("test timestamps are valid");
    DateTime::from_timestamp_micros(micros).expect("in chrono's range")
}

async fn context<S: StorageEngine>(storage: Arc<S>) -> Context {
    let node = Node::new_durable(storage, PermissiveAgent::new());
    node.system.create().await.expect("a new system");
    node.context(DEFAULT_CONTEXT)
        .expect("the permissive agent allows it")
}

async fn fill(ctx: &Context) {
    let trx = ctx.begin();
    let item = |title: &str, status, resolution, points, due: &str, when: &str| Item {
        title: title.into(),
        done: title == "a",
        year: 2000 + points,
        status,
        resolution,
        points: Points(points),
        due_text: Due(due.into()),
        meta: Meta {
            label: title.to_uppercase(),
        },
        maybe: (title == "a").then_some(Status::Closed),
        owner: None,
        due: date(due),
        at: at(when),
        took: (title != "c").then(|| TimeDelta::minutes(i64::from(points) * 30)),
    };
    for entity in [
        item(
            "a",
            Status::Open,
            Resolution::Pending,
            1,
            "2026-12-01",
            "2026-12-01T10:00:00Z",
        ),
        item(
            "b",
            Status::Closed,
            Resolution::Closed {
                reason: "dup".into(),
            },
            3,
            "2026-12-05",
            "2026-12-01T09:30:00.25Z",
        ),
        item(
            "c",
            Status::Open,
            Resolution::Pending,
            5,
            "2026-12-03",
            "2026-12-02T00:00:00+01:00",
        ),
    ] {
        trx.create(&entity).await.expect("create");
    }
    trx.commit().await.expect("commit");
}

async fn titles(ctx: &Context, query: impl ankurah::IntoSelection) -> Vec<String> {
    let mut titles: Vec<String> = ctx
        .fetch::<ItemView>(query)
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"))
        .iter()
        .map(|view| view.title().expect("a title"))
        .collect();
    titles.sort();
    titles
}

/// Each text query, and the typed query beside it, selects the expected items.
async fn queries_agree(ctx: &Context) {
    let open = Status::Open;
    let dup = Resolution::Closed {
        reason: "dup".into(),
    };
    let cutoff = date("2026-12-04");
    let noon = at("2026-12-01T10:00:00Z");
    let hour = TimeDelta::hours(1);
    let cases: Vec<(&str, ankurah::ankql::Selection, &[&str])> = vec![
        (
            "status = 'Open'",
            selection!(Item: status = {open}),
            &["a", "c"],
        ),
        (
            "status != 'Open'",
            selection!(Item: status != {Status::Open}),
            &["b"],
        ),
        (
            "status IN ('Closed')",
            selection!(Item: status IN ({Status::Closed})),
            &["b"],
        ),
        (
            "maybe = 'Closed'",
            selection!(Item: maybe = {Status::Closed}),
            &["a"],
        ),
        (
            "maybe IS NULL",
            selection!(Item: maybe IS NULL),
            &["b", "c"],
        ),
        (
            "resolution = 'Pending'",
            selection!(Item: resolution = {Resolution::Pending}),
            &["a", "c"],
        ),
        (
            "resolution.Closed.reason = 'dup'",
            selection!(Item: resolution = {dup}),
            &["b"],
        ),
        (
            "points > 2",
            selection!(Item: points > {Points(2)}),
            &["b", "c"],
        ),
        (
            "points <= '3'",
            selection!(Item: points <= {Points(3)}),
            &["a", "b"],
        ),
        (
            "due_text < '2026-12-04'",
            selection!(Item: due_text < {Due("2026-12-04".into())}),
            &["a", "c"],
        ),
        (
            "meta.label = 'B'",
            selection!(Item: meta.label = "B"),
            &["b"],
        ),
        (
            "due < '2026-12-04'",
            selection!(Item: due < {cutoff}),
            &["a", "c"],
        ),
        (
            "due >= '2026-12-05'",
            selection!(Item: due >= {date("2026-12-05")}),
            &["b"],
        ),
        (
            "at >= '2026-12-01T10:00:00Z'",
            selection!(Item: at >= {noon}),
            &["a", "c"],
        ),
        (
            "at < '2026-12-01T11:00:00+01:00'",
            selection!(Item: at < {noon}),
            &["b"],
        ),
        ("took > 'PT1H'", selection!(Item: took > {hour}), &["b"]),
        (
            "year > '2000'",
            selection!(Item: year > 2000),
            &["a", "b", "c"],
        ),
        ("done = false", selection!(Item: done = false), &["b", "c"]),
    ];
    for (text, typed, expected) in cases {
        assert_eq!(titles(ctx, text).await, expected, "{text}");
        assert_eq!(titles(ctx, typed).await, expected, "typed twin of {text}");
    }
    let ordered: Vec<String> = ctx
        .fetch::<ItemView>("at > '2026-12-01' ORDER BY at DESC LIMIT 2")
        .await
        .expect("fetch")
        .iter()
        .map(|view| view.title().expect("a title"))
        .collect();
    assert_eq!(ordered, ["c", "a"]);
}

/// Queries the model proves can never match are refused, naming the property and the fix.
async fn impossible_queries_are_errors(ctx: &Context) {
    for (query, expected) in [
        ("owner.nme = 'bob'", "queries do not follow references"),
        ("done = 'false'", "write TRUE or FALSE"),
        ("due < 'tomorrow'", "an ISO-8601 date such as '2026-12-04'"),
        ("status.x = 1", "has no inner values"),
        ("title = \"t\"", "strings use single quotes"),
    ] {
        match ctx.fetch::<ItemView>(query).await {
            Ok(found) => panic!("{query}: {} items instead of an error", found.len()),
            Err(error @ (RetrievalError::InvalidQuery { .. } | RetrievalError::Parse(_))) => {
                assert!(error.to_string().contains(expected), "{query}: {error}");
            }
            Err(other) => panic!("{query}: unexpected error {other}"),
        }
    }
    assert!(ctx.query::<ItemView>("owner.nme = 'bob'").is_err());
}

/// Live queries on an enum and a date follow new entities, as the reactor files queries
/// by value: a typed and a text query see the same items.
async fn live_queries_follow(ctx: &Context) {
    use ankurah::signals::Peek;
    let text = ctx
        .query_wait::<ItemView>("status = 'Open' AND due < '2026-12-04'")
        .await
        .expect("a live query");
    let cutoff = date("2026-12-04");
    let typed = ctx
        .query_wait::<ItemView>(selection!(Item: status = {Status::Open} AND due < {cutoff}))
        .await
        .expect("a live query");
    assert_eq!((text.peek().len(), typed.peek().len()), (2, 2));
    let trx = ctx.begin();
    let view = ctx.fetch::<ItemView>("title = 'b'").await.expect("fetch");
    let edit = view[0].edit(&trx).expect("edit");
    edit.status().set(&Status::Open).expect("set");
    edit.due().set(&date("2026-12-02")).expect("set");
    trx.commit().await.expect("commit");
    // Listeners run off the commit path: wait (up to 10 s) for the change to reach them.
    for _ in 0..1000 {
        if (text.peek().len(), typed.peek().len()) == (3, 3) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "live queries hold {} and {} items, not 3",
        text.peek().len(),
        typed.peek().len()
    );
}

#[tokio::test]
async fn one_meaning_on_memory_storage() {
    let ctx = context(Arc::new(MemoryStorage::new())).await;
    fill(&ctx).await;
    queries_agree(&ctx).await;
    impossible_queries_are_errors(&ctx).await;
    live_queries_follow(&ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_meaning_on_sled() {
    let ctx = context(Arc::new(
        SledStorage::new_test().expect("a temporary database"),
    ))
    .await;
    fill(&ctx).await;
    // Twice: the first run creates the indexes, the second reads through them.
    queries_agree(&ctx).await;
    queries_agree(&ctx).await;
    impossible_queries_are_errors(&ctx).await;
    live_queries_follow(&ctx).await;
}

#[test]
fn declared_types_and_values() {
    let declared: Vec<(&str, ValueType)> = <Item as Model>::properties()
        .iter()
        .map(|d| (d.name, d.value_type))
        .collect();
    for (name, expected) in [
        ("status", ValueType::String),
        ("resolution", ValueType::Json),
        ("points", ValueType::I64),
        ("due_text", ValueType::String),
        ("meta", ValueType::Json),
        ("maybe", ValueType::String),
        ("due", ValueType::Date),
        ("at", ValueType::Timestamp),
        ("took", ValueType::Duration),
    ] {
        assert!(declared.contains(&(name, expected)), "{name}: {declared:?}");
    }
    let owner = <Item as Model>::properties()
        .iter()
        .find(|d| d.name == "owner")
        .expect("owner is stored");
    assert_eq!(owner.type_name, "Option<Ref<User>>");
    assert_eq!(
        Status::Open.to_value().unwrap(),
        Value::String("Open".into())
    );
    assert_eq!(Points(3).to_value().unwrap(), Value::I64(3));
    assert_eq!(
        Status::from_value(Value::Json(serde_json::json!("Closed"))).unwrap(),
        Status::Closed
    );
    assert!(matches!(
        Resolution::Closed { reason: "x".into() }
            .to_value()
            .unwrap(),
        Value::Json(_)
    ));
}
