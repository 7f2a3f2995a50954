//! Live queries report every committed change exactly once, in the right kind, and always
//! agree with a fresh fetch.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ankurah_core::model::{Mutable, View};
use ankurah_core::signals::{CallbackObserver, Get, Memo, Peek, Subscribe};
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    ChangeKind, ChangeSet, Context, EntityId, Node, PermissiveAgent, DEFAULT_CONTEXT,
};
use common::{album, create, eventually, record, set_year, Album, AlbumView, Log};
use rand::{Rng, SeedableRng};

async fn context() -> Context {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system.create().await.unwrap();
    node.context(DEFAULT_CONTEXT).unwrap()
}

fn names(views: &[AlbumView]) -> Vec<String> {
    views.iter().map(|v| v.name().unwrap()).collect()
}

#[tokio::test]
async fn reports_each_kind_of_change() {
    let ctx = context().await;
    let a = create(&ctx, "a", 1999).await;
    let log: Log = Arc::default();
    let sink = log.clone();
    let guard = ctx
        .subscribe::<AlbumView, _>("year > 2000", move |changes: ChangeSet<AlbumView>| {
            sink.lock().push(
                changes
                    .changes
                    .iter()
                    // By id: listeners run after the commit and see the entity as it is
                    // then, and a deleted entity's fields are not read as if it were alive.
                    .map(|c| (c.kind(), c.entity().id().to_string()))
                    .collect(),
            );
        })
        .await
        .unwrap();
    let b = create(&ctx, "b", 2001).await;
    set_year(&ctx, b, 2002).await;
    set_year(&ctx, a, 2005).await;
    set_year(&ctx, b, 1990).await;
    let view = ctx.get::<AlbumView>(a).await.unwrap();
    let trx = ctx.begin();
    trx.delete(&view).unwrap();
    trx.commit().await.unwrap();
    eventually("six change sets arrived", || log.lock().len() >= 6).await;
    let (a, b) = (a.to_string(), b.to_string());
    assert_eq!(
        *log.lock(),
        vec![
            vec![],
            vec![(ChangeKind::Add, b.clone())],
            vec![(ChangeKind::Update, b.clone())],
            vec![(ChangeKind::Add, a.clone())],
            vec![(ChangeKind::Remove, b)],
            vec![(ChangeKind::Remove, a)],
        ]
    );
    assert!(guard.query().peek().is_empty());
}

#[tokio::test]
async fn initial_results_come_first() {
    let ctx = context().await;
    create(&ctx, "x", 2010).await;
    create(&ctx, "y", 2011).await;
    let log: Log = Arc::default();
    let sink = log.clone();
    let _guard = ctx
        .subscribe::<AlbumView, _>(
            "year > 2000 ORDER BY year DESC",
            move |c: ChangeSet<AlbumView>| {
                sink.lock().push(
                    c.changes
                        .iter()
                        .map(|c| (c.kind(), c.entity().name().unwrap()))
                        .collect(),
                );
            },
        )
        .await
        .unwrap();
    eventually("the first result arrived", || !log.lock().is_empty()).await;
    assert_eq!(
        *log.lock(),
        vec![vec![
            (ChangeKind::Initial, "y".into()),
            (ChangeKind::Initial, "x".into())
        ]]
    );
}

#[tokio::test]
async fn limit_windows_refill_from_storage() {
    let ctx = context().await;
    for (name, year) in [
        ("one", 2001),
        ("two", 2002),
        ("three", 2003),
        ("four", 2004),
    ] {
        create(&ctx, name, year).await;
    }
    let query = ctx
        .query_wait::<AlbumView>("year >= 2000 ORDER BY year DESC LIMIT 2")
        .await
        .unwrap();
    assert_eq!(names(&query.peek()), ["four", "three"]);
    let (log, _guard) = record(&query);

    let four = query.peek()[0].id();
    set_year(&ctx, four, 1990).await;
    assert_eq!(
        names(&query.peek()),
        ["three", "two"],
        "the next item was fetched into the window"
    );
    eventually("the change set arrived", || !log.lock().is_empty()).await;
    assert_eq!(
        *log.lock(),
        vec![vec![
            (ChangeKind::Remove, "four".into()),
            (ChangeKind::Add, "two".into())
        ]]
    );

    create(&ctx, "five", 2005).await;
    assert_eq!(names(&query.peek()), ["five", "three"]);
    create(&ctx, "old", 2000).await;
    // Change sets arrive in commit order: the one after `old` comes right after `five`'s.
    create(&ctx, "six", 2006).await;
    eventually("three change sets arrived", || log.lock().len() >= 3).await;
    assert_eq!(
        log.lock()[2],
        vec![
            (ChangeKind::Remove, "three".into()),
            (ChangeKind::Add, "six".into())
        ],
        "a change outside the window reports nothing"
    );
    assert_eq!(log.lock().len(), 3);
}

#[tokio::test]
async fn dropping_the_guard_unsubscribes() {
    let ctx = context().await;
    let query = ctx.query_wait::<AlbumView>("year > 0").await.unwrap();
    let (log, guard) = record(&query);
    let (other, _other_guard) = record(&query);
    create(&ctx, "a", 1).await;
    eventually("the first change set arrived", || log.lock().len() == 1).await;
    drop(guard);
    create(&ctx, "b", 2).await;
    eventually("the other listener heard both", || other.lock().len() == 2).await;
    assert_eq!(log.lock().len(), 1);
    assert_eq!(query.peek().len(), 2, "the query itself stays live");
}

#[tokio::test]
async fn uncommitted_and_rolled_back_edits_notify_nobody() {
    let ctx = context().await;
    let id = create(&ctx, "a", 2001).await;
    let query = ctx.query_wait::<AlbumView>("year > 2000").await.unwrap();
    let (log, _guard) = record(&query);
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let view_calls = Arc::new(AtomicUsize::new(0));
    let counter = view_calls.clone();
    let _view_guard = view.subscribe(move |_: AlbumView| {
        counter.fetch_add(1, Ordering::SeqCst);
    });

    let trx = ctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&1900).unwrap();
    drop(trx);
    let trx = ctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&1900).unwrap();
    trx.rollback();
    assert!(log.lock().is_empty());
    assert_eq!(view_calls.load(Ordering::SeqCst), 0);

    let trx = ctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    edit.year().set(&2002).unwrap();
    edit.name().insert(1, "b").unwrap();
    trx.commit().await.unwrap();
    eventually("the commit was heard", || {
        view_calls.load(Ordering::SeqCst) >= 1 && !log.lock().is_empty()
    })
    .await;
    // A change set of the dropped or rolled-back edit would have come first, as a removal.
    assert_eq!(*log.lock(), vec![vec![(ChangeKind::Update, "ab".into())]]);
    assert_eq!(
        view_calls.load(Ordering::SeqCst),
        1,
        "once per committed transaction"
    );
}

#[tokio::test]
async fn memo_recomputes_only_when_an_input_changed() {
    let ctx = context().await;
    let a = create(&ctx, "a", 2001).await;
    let other = create(&ctx, "other", 1500).await;
    let query = ctx.query_wait::<AlbumView>("year > 2000").await.unwrap();
    let computations = Arc::new(AtomicUsize::new(0));
    let memo = {
        let (query, computations) = (query.clone(), computations.clone());
        Memo::new(move || {
            computations.fetch_add(1, Ordering::SeqCst);
            query.get().iter().map(|v| v.year().unwrap()).sum::<i32>()
        })
    };
    assert_eq!(memo.peek(), 2001);
    assert_eq!(computations.load(Ordering::SeqCst), 1);
    set_year(&ctx, other, 1600).await;
    assert_eq!(
        computations.load(Ordering::SeqCst),
        1,
        "an unrelated change does not recompute"
    );
    create(&ctx, "b", 2002).await;
    assert_eq!(memo.peek(), 4003);
    assert_eq!(computations.load(Ordering::SeqCst), 2);

    let seen = Arc::new(AtomicUsize::new(0));
    let _observer = {
        let (memo, seen) = (memo.clone(), seen.clone());
        CallbackObserver::new(move || seen.store(memo.get() as usize, Ordering::SeqCst))
    };
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4003,
        "the first run is immediate"
    );
    set_year(&ctx, a, 2011).await;
    assert_eq!(memo.peek(), 4013, "reads are current at once");
    eventually("the observer reran", || seen.load(Ordering::SeqCst) == 4013).await;
}

#[tokio::test]
async fn live_queries_always_equal_a_fresh_fetch() {
    let ctx = context().await;
    let queries = [
        "year > 2000",
        "year >= 1990 AND year < 2010",
        "year = 2005",
        "year IN (1995, 2005, 2015)",
        "name LIKE 'a%'",
        "NOT (year > 2010) ORDER BY year DESC",
        "year > 1980 ORDER BY year ASC LIMIT 3",
        "year < 2020 ORDER BY name DESC LIMIT 4",
        "TRUE ORDER BY year LIMIT 2",
    ];
    let mut live = Vec::new();
    for q in queries {
        live.push((q, ctx.query_wait::<AlbumView>(q).await.unwrap()));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut ids: Vec<EntityId> = Vec::new();
    for step in 0..300 {
        let trx = ctx.begin();
        for _ in 0..rng.random_range(1..4) {
            match rng.random_range(0..10) {
                0..=3 => {
                    let name = format!("{}{step}", ["a", "b", "c"][rng.random_range(0..3)]);
                    ids.push(
                        trx.create(&album(&name, "x", rng.random_range(1980..2025)))
                            .await
                            .unwrap()
                            .id(),
                    );
                }
                4..=7 if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    if let Ok(view) = ctx.get::<AlbumView>(id).await {
                        if let Ok(edit) = trx.edit::<Album>(&view) {
                            edit.year().set(&rng.random_range(1980..2025)).unwrap();
                        }
                    }
                }
                _ if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    if let Ok(view) = ctx.get::<AlbumView>(id).await {
                        let _ = trx.delete(&view);
                    }
                }
                _ => {}
            }
        }
        trx.commit().await.unwrap();
        for (q, query) in &live {
            let fresh: Vec<EntityId> = ctx
                .fetch::<AlbumView>(*q)
                .await
                .unwrap()
                .iter()
                .map(|v| v.id())
                .collect();
            let current: Vec<EntityId> = query.peek().iter().map(|v| v.id()).collect();
            assert_eq!(current, fresh, "`{q}` diverged at step {step}");
        }
    }
}

#[tokio::test]
async fn update_selection_reports_the_difference() {
    let ctx = context().await;
    create(&ctx, "a", 2001).await;
    create(&ctx, "b", 1999).await;
    let query = ctx.query_wait::<AlbumView>("year > 2000").await.unwrap();
    let (log, _guard) = record(&query);
    query.update_selection("year < 2000").await.unwrap();
    assert_eq!(names(&query.peek()), ["b"]);
    eventually("the difference arrived", || !log.lock().is_empty()).await;
    assert_eq!(
        *log.lock(),
        vec![vec![
            (ChangeKind::Remove, "a".into()),
            (ChangeKind::Add, "b".into())
        ]]
    );
    assert!(
        query.update_selection("nope = 1").await.is_err(),
        "unknown properties are refused"
    );
}
