//! Durable commits and indexed fetches on sled.
//!
//! `cargo bench -p ankurah-bench --bench storage`

use std::sync::Arc;

use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::{Context, Node, PermissiveAgent};
use ankurah_bench::{album, AlbumView, Track};
use ankurah_storage_sled::SledStorage;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn context() -> Context {
    let node = Node::new_durable(
        Arc::new(SledStorage::new_test().expect("a temporary sled")),
        PermissiveAgent::new(),
    );
    node.system.create().await.expect("a system");
    node.context(DEFAULT_CONTEXT).expect("permissive")
}

async fn fill(ctx: &Context, count: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let trx = ctx.begin();
        for i in chunk {
            trx.create(&album(*i)).await.expect("create");
        }
        trx.commit().await.expect("commit");
    }
}

fn commits(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sled commit");
    group.throughput(Throughput::Elements(100));
    let ctx = rt.block_on(async { context().await });
    let mut n = 0;
    group.bench_function("100 albums per transaction", |b| {
        b.to_async(&rt).iter(|| {
            n += 100;
            let ctx = ctx.clone();
            let base = n;
            async move {
                let trx = ctx.begin();
                for i in base..base + 100 {
                    trx.create(&album(i)).await.expect("create");
                }
                trx.commit().await.expect("commit");
            }
        })
    });
    group.bench_function("100 LWW-only tracks per transaction", |b| {
        b.to_async(&rt).iter(|| {
            let ctx = ctx.clone();
            async move {
                let trx = ctx.begin();
                for i in 0..100i64 {
                    trx.create(&Track {
                        title: format!("Track {i}"),
                        album: i % 10,
                        seconds: 180 + i,
                    })
                    .await
                    .expect("create");
                }
                trx.commit().await.expect("commit");
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 album per transaction", |b| {
        b.to_async(&rt).iter(|| {
            let ctx = ctx.clone();
            async move {
                let trx = ctx.begin();
                trx.create(&album(7)).await.expect("create");
                trx.commit().await.expect("commit");
            }
        })
    });
    group.finish();
}

fn fetches(c: &mut Criterion) {
    let rt = runtime();
    for size in [11_000usize, 100_000] {
        let ctx = rt.block_on(async {
            let ctx = context().await;
            fill(&ctx, size).await;
            // First use creates the index; the benchmark measures steady state.
            ctx.fetch::<AlbumView>("year = 1950").await.expect("fetch");
            ctx
        });
        let mut group = c.benchmark_group(format!("sled fetch of {size}"));
        // Within one year the index is in entity-id order, so LIMIT can stop the walk early.
        let equality = "year = 1950 LIMIT 100".to_owned();
        group.bench_function("equality, 100 rows", |b| {
            b.to_async(&rt).iter_batched(
                || ctx.clone(),
                |ctx| {
                    let q = equality.clone();
                    async move {
                        let rows = ctx.fetch::<AlbumView>(q.as_str()).await.expect("fetch");
                        assert_eq!(rows.len(), 100);
                    }
                },
                BatchSize::SmallInput,
            )
        });
        // 1,000 rows: ten whole years of 11,000, or the first 1,000 in year order of 100,000.
        let range = match size {
            11_000 => "year >= 1950 AND year < 1960".to_owned(),
            _ => "year >= 1950 ORDER BY year LIMIT 1000".to_owned(),
        };
        group.bench_function("range, 1000 rows", |b| {
            b.to_async(&rt).iter_batched(
                || ctx.clone(),
                |ctx| {
                    let q = range.clone();
                    async move {
                        let rows = ctx.fetch::<AlbumView>(q.as_str()).await.expect("fetch");
                        assert_eq!(rows.len(), 1000);
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = commits, fetches
}
criterion_main!(benches);
