//! The reactor: cost of a commit with 10,000 live queries registered, and latency from
//! commit to a local subscriber's callback.
//!
//! `cargo bench -p ankurah-bench --bench reactor`

use std::sync::Arc;

use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::signals::Subscribe;
use ankurah::storage::MemoryStorage;
use ankurah::{Context, LiveQuery, Node, PermissiveAgent};
use ankurah_bench::{album, Album, AlbumView};
use criterion::{criterion_group, criterion_main, Criterion};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn context() -> Context {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system.create().await.expect("a system");
    node.context(DEFAULT_CONTEXT).expect("permissive")
}

/// Commits that each touch one entity, with 0 or 10,000 other live queries registered: the
/// difference is the reactor's routing cost, which must not grow with the query count.
fn many_queries(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("reactor");
    for queries in [0usize, 10_000] {
        let (ctx, view, _live) = rt.block_on(async {
            let ctx = context().await;
            let trx = ctx.begin();
            let id = trx.create(&album(1)).await.expect("create");
            let id = id.id();
            trx.commit().await.expect("commit");
            let mut live: Vec<LiveQuery<AlbumView>> = Vec::new();
            for i in 0..queries {
                // Each query watches one artist; the edited album matches exactly one of them.
                let q = format!("artist = 'Artist {}'", 1_000 + i);
                live.push(
                    ctx.query_wait::<AlbumView>(q.as_str())
                        .await
                        .expect("query"),
                );
            }
            live.push(
                ctx.query_wait::<AlbumView>("artist = 'Artist 1'")
                    .await
                    .expect("query"),
            );
            let view = ctx.get::<AlbumView>(id).await.expect("get");
            (ctx, view, live)
        });
        let mut year = 0;
        group.bench_function(
            format!("commit touching 1 of {} live queries", queries + 1),
            |b| {
                b.to_async(&rt).iter(|| {
                    year += 1;
                    let (ctx, view) = (ctx.clone(), view.clone());
                    let y = year;
                    async move {
                        let trx = ctx.begin();
                        view.edit(&trx).expect("edit").year().set(&y).expect("set");
                        trx.commit().await.expect("commit");
                    }
                })
            },
        );
    }
    group.finish();
}

/// From the start of a commit to the callback of a subscriber on the same node.
fn callback_latency(c: &mut Criterion) {
    let rt = runtime();
    let (ctx, view, live) = rt.block_on(async {
        let ctx = context().await;
        let trx = ctx.begin();
        let id = trx
            .create(&Album {
                name: "a".into(),
                artist: "b".into(),
                year: 1,
            })
            .await
            .expect("create")
            .id();
        trx.commit().await.expect("commit");
        let live = ctx
            .query_wait::<AlbumView>("year > 0")
            .await
            .expect("query");
        (
            ctx.clone(),
            ctx.get::<AlbumView>(id).await.expect("get"),
            live,
        )
    });
    // Callbacks run after the commit, on a blocking thread: each round waits for its call.
    let (called, calls) = tokio::sync::mpsc::unbounded_channel::<()>();
    let calls = Arc::new(tokio::sync::Mutex::new(calls));
    let _guard = live.subscribe(move |_| called.send(()).unwrap_or_default());
    let mut year = 1;
    c.bench_function("commit to local callback", |b| {
        b.to_async(&rt).iter(|| {
            year += 1;
            let (ctx, view, calls) = (ctx.clone(), view.clone(), calls.clone());
            let y = year;
            async move {
                let trx = ctx.begin();
                view.edit(&trx).expect("edit").year().set(&y).expect("set");
                trx.commit().await.expect("commit");
                calls.lock().await.recv().await.expect("the callback ran");
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = many_queries, callback_latency
}
criterion_main!(benches);
