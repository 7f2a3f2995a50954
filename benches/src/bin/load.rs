//! A quick load generator: commit rates at each durability level, commit → local live-query
//! callback latencies, and indexed fetches on sled and redb (and on PostgreSQL when
//! `ANKURAH_POSTGRES_URL` is set), printed as rates and latencies, after the same commit
//! workloads on `MemoryStorage` (Ankurah's own share of a commit). Complements the criterion
//! benches with one fast run; `docs/PERFORMANCE.md` records its output.
//!
//! `cargo run --release -p ankurah-bench --bin load -- [entities]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::changes::{ChangeKind, ChangeSet};
use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::storage::{MemoryStorage, StorageEngine};
use ankurah::{Context, Durability, Node, NodeConfig, PermissiveAgent};
use ankurah_bench::{album, sled_at_path, Album, AlbumView, Track};
use ankurah_storage_postgres::PostgresStorage;
use ankurah_storage_redb::RedbStorage;

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Median time of `runs` runs of `f`.
async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[runs / 2]
}

async fn create_albums(ctx: &Context, entities: usize) -> Duration {
    let start = Instant::now();
    for chunk in 0..entities / 100 {
        let trx = ctx.begin();
        for i in chunk * 100..chunk * 100 + 100 {
            trx.create(&album(i)).await.expect("create");
        }
        trx.commit().await.expect("commit");
    }
    start.elapsed()
}

/// A durable node of a new system on `storage`, committing at `durability` unless told
/// otherwise.
async fn context<S: StorageEngine>(storage: Arc<S>, durability: Durability) -> Context {
    let config = NodeConfig {
        durability,
        ..NodeConfig::default()
    };
    ankurah_bench::durable_context(storage, config).await
}

/// Commit → callback of a local live query on the committing node, over `samples` edits of
/// one album, each its own transaction: (p50, p99).
async fn local_callback(ctx: &Context, samples: usize) -> (Duration, Duration) {
    let trx = ctx.begin();
    let id = trx.create(&album(0)).await.expect("create").id();
    trx.commit().await.expect("commit");
    let view = ctx.get::<AlbumView>(id).await.expect("get");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _guard = ctx
        .subscribe::<AlbumView, _>(("id = ?", [id]), move |changes: ChangeSet<AlbumView>| {
            if changes
                .changes
                .iter()
                .any(|c| c.kind() != ChangeKind::Initial)
            {
                let _ = tx.send(Instant::now());
            }
        })
        .await
        .expect("subscribe");
    let mut times = Vec::with_capacity(samples);
    for year in 0..samples as i32 {
        while rx.try_recv().is_ok() {}
        let start = Instant::now();
        let trx = ctx.begin();
        trx.edit::<Album>(&view)
            .expect("edit")
            .year()
            .set(&year)
            .expect("set");
        trx.commit().await.expect("commit");
        let arrived = rx.recv().await.expect("a change set");
        times.push(arrived - start);
    }
    times.sort();
    (times[samples / 2], times[samples * 99 / 100])
}

/// The commit workloads on `storage` at `durability`: creations in transactions of 100,
/// single-entity commits one after the other and from 32 tasks, commit → local callback
/// (on the fresh store and after the rest).
async fn commit_rates<S: StorageEngine>(
    label: &str,
    storage: Arc<S>,
    durability: Durability,
    entities: usize,
) -> Context {
    let level = format!("{durability:?}").to_lowercase();
    let ctx = context(storage, durability).await;
    // First on the fresh store; again at the end, while the engine digests the bulk load.
    let (p50, p99) = local_callback(&ctx, 2_000).await;
    println!("{label} {level}: commit → local live-query callback: p50 {p50:?}, p99 {p99:?}");
    let elapsed = create_albums(&ctx, entities).await;
    println!(
        "{label} {level}: albums, 100 per transaction: {:.0}/s",
        per_second(entities, elapsed)
    );
    let start = Instant::now();
    for chunk in 0..entities / 100 {
        let trx = ctx.begin();
        for i in chunk * 100..chunk * 100 + 100 {
            trx.create(&Track {
                title: format!("Track {i}"),
                album: (i % 10) as i64,
                seconds: 180 + i as i64,
            })
            .await
            .expect("create");
        }
        trx.commit().await.expect("commit");
    }
    println!(
        "{label} {level}: LWW-only tracks, 100 per transaction: {:.0}/s",
        per_second(entities, start.elapsed())
    );
    let singles = 2_000;
    for tasks in [1, 32] {
        let start = Instant::now();
        let committers: Vec<_> = (0..tasks)
            .map(|_| {
                let ctx = ctx.clone();
                tokio::spawn(async move { commit_singles(&ctx, singles / tasks).await })
            })
            .collect();
        for committer in committers {
            committer.await.expect("committer");
        }
        println!(
            "{label} {level}: single-entity commits, {}: {:.0}/s",
            match tasks {
                1 => "sequential".to_owned(),
                _ => format!("{tasks} committers at once"),
            },
            per_second(singles, start.elapsed())
        );
    }
    let (p50, p99) = local_callback(&ctx, 2_000).await;
    println!("{label} {level}:   the same after the bulk load: p50 {p50:?}, p99 {p99:?}");
    ctx
}

/// `count` transactions of one track each, one after the other.
async fn commit_singles(ctx: &Context, count: usize) {
    for i in 0..count {
        let trx = ctx.begin();
        trx.create(&Track {
            title: "t".into(),
            album: 1,
            seconds: i as i64,
        })
        .await
        .expect("create");
        trx.commit().await.expect("commit");
    }
}

/// Commit rates at both durability levels (the buffered ones on `buffered`, a second store
/// of the same engine, so both start empty) and fetch latencies on one engine.
async fn suite<S: StorageEngine>(label: &str, storage: Arc<S>, buffered: Arc<S>, entities: usize) {
    commit_rates(label, buffered, Durability::Buffered, entities).await;
    let ctx = commit_rates(label, storage.clone(), Durability::Flushed, entities).await;

    // The first use of a property in a query builds its index; measure the steady state,
    // after the engine's background work on the bulk load (sled flushes and compacts
    // segments on its own threads) has settled, and after the index has been read a few
    // hundred times (sled's first reads of freshly written index pages walk their
    // unconsolidated fragments: 100,000 entries read 3-20 times slower at first).
    ctx.fetch::<AlbumView>("year = 1950 LIMIT 1")
        .await
        .expect("index build");
    tokio::time::sleep(Duration::from_secs(5)).await;
    for _ in 0..300 {
        ctx.fetch::<AlbumView>("year >= 1950 ORDER BY year LIMIT 1000")
            .await
            .expect("warm-up");
    }
    let eq = median(100, || async {
        let rows = ctx
            .fetch::<AlbumView>("year = 1950 LIMIT 100")
            .await
            .expect("fetch");
        assert_eq!(rows.len(), 100);
    })
    .await;
    println!("{label}: equality fetch, 100 of {entities}: {eq:?} (median)");
    let range = median(30, || async {
        let rows = ctx
            .fetch::<AlbumView>("year >= 1950 ORDER BY year LIMIT 1000")
            .await
            .expect("fetch");
        assert_eq!(rows.len(), 1000);
    })
    .await;
    println!("{label}: range fetch, 1000 of {entities}: {range:?} (median)");

    // A node that keeps no entity in memory between reads: every fetch loads states.
    let cold = Node::with_config(
        storage.clone(),
        PermissiveAgent::new(),
        true,
        NodeConfig {
            resident_entities: 0,
            ..NodeConfig::default()
        },
    )
    .context(DEFAULT_CONTEXT)
    .expect("permissive");
    let eq = median(100, || async {
        assert_eq!(
            cold.fetch::<AlbumView>("year = 1950 LIMIT 100")
                .await
                .expect("fetch")
                .len(),
            100
        );
    })
    .await;
    let range = median(30, || async {
        assert_eq!(
            cold.fetch::<AlbumView>("year >= 1950 ORDER BY year LIMIT 1000")
                .await
                .expect("fetch")
                .len(),
            1000
        );
    })
    .await;
    println!("{label}:   without resident entities: equality {eq:?}, range {range:?} (medians)");

    // The storage engine alone, without materializing entities and views.
    let albums = storage
        .collection(&"album".into())
        .await
        .expect("collection");
    let selection: ankurah::ankql::Selection = "year = 1950 LIMIT 100".parse().expect("query");
    let raw = median(100, || async {
        assert_eq!(
            albums.fetch_states(&selection).await.expect("fetch").len(),
            100
        );
    })
    .await;
    println!("{label}:   of which the engine alone (equality): {raw:?} (median)");
    if albums.fetch_ids(&selection).await.expect("fetch").is_some() {
        let ids = median(100, || async {
            assert_eq!(
                albums
                    .fetch_ids(&selection)
                    .await
                    .expect("fetch")
                    .map(|ids| ids.len()),
                Some(100)
            );
        })
        .await;
        println!("{label}:   ids from the index alone (equality): {ids:?} (median)");
    }
}

#[tokio::main]
async fn main() {
    let entities: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(11_000);
    // Ankurah alone. Dropped before the engines are measured: kept alive, it slowed sled's
    // background work after the bulk load into the fetch measurements of 100,000 entities.
    let memory = Arc::new(MemoryStorage::new());
    drop(commit_rates("memory", memory, Durability::Flushed, entities).await);
    let ((flushed, _dir), (buffered, _buffered_dir)) = (sled_at_path(), sled_at_path());
    suite("sled", flushed, buffered, entities).await;
    let redb = || Arc::new(RedbStorage::new_test().expect("a temporary redb"));
    suite("redb", redb(), redb(), entities).await;
    match std::env::var("ANKURAH_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("bench_{}", std::process::id());
            let open = |schema: String| {
                let url = url.clone();
                async move {
                    let storage = PostgresStorage::open_in_schema(&url, &schema)
                        .await
                        .expect("postgres");
                    Arc::new(storage)
                }
            };
            let buffered = open(format!("{schema}_buffered")).await;
            suite("postgres", open(schema.clone()).await, buffered, entities).await;
            println!("(postgres schemas `{schema}`, `{schema}_buffered` left for inspection; drop them with DROP SCHEMA .. CASCADE)");
        }
        Err(_) => println!("postgres: skipped (set ANKURAH_POSTGRES_URL to include it)"),
    }
}
