//! A quick load generator: durable commits and indexed fetches on sled and redb (and on
//! PostgreSQL when `ANKURAH_POSTGRES_URL` is set), printed as rates and median latencies, after the creation
//! rate on `MemoryStorage` (Ankurah's own share of a commit). Complements the criterion
//! benches with one fast run; `docs/PERFORMANCE.md` records its output.
//!
//! `cargo run --release -p ankurah-bench --bin load -- [entities]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::storage::{MemoryStorage, StorageEngine};
use ankurah::{Context, Node, NodeConfig, PermissiveAgent};
use ankurah_bench::{album, AlbumView, Track};
use ankurah_storage_postgres::PostgresStorage;
use ankurah_storage_redb::RedbStorage;
use ankurah_storage_sled::SledStorage;

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

/// Commit rates and fetch latencies on one engine.
async fn suite<S: StorageEngine>(label: &str, storage: Arc<S>, entities: usize) {
    let ctx = ankurah_bench::durable_context(storage.clone()).await;
    let elapsed = create_albums(&ctx, entities).await;
    println!(
        "{label}: albums, 100 per transaction: {:.0}/s",
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
        "{label}: LWW-only tracks, 100 per transaction: {:.0}/s",
        per_second(entities, start.elapsed())
    );

    let singles = 1_000;
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
            "{label}: single-entity commits, {}: {:.0}/s",
            match tasks {
                1 => "sequential".to_owned(),
                _ => format!("{tasks} committers at once"),
            },
            per_second(singles, start.elapsed())
        );
    }

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
    {
        // Dropped before the engines are measured: kept alive, it slowed sled's background
        // work after the bulk load into the fetch measurements of 100,000 entities.
        let memory = ankurah_bench::durable_context(Arc::new(MemoryStorage::new())).await;
        println!(
            "Ankurah alone (MemoryStorage): albums, 100 per transaction: {:.0}/s",
            per_second(entities, create_albums(&memory, entities).await)
        );
    }
    suite(
        "sled",
        Arc::new(SledStorage::new_test().expect("a temporary sled")),
        entities,
    )
    .await;
    suite(
        "redb",
        Arc::new(RedbStorage::new_test().expect("a temporary redb")),
        entities,
    )
    .await;
    match std::env::var("ANKURAH_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("bench_{}", std::process::id());
            let storage = PostgresStorage::open_in_schema(&url, &schema)
                .await
                .expect("postgres");
            suite("postgres", Arc::new(storage), entities).await;
            println!("(postgres schema `{schema}` left for inspection; drop it with DROP SCHEMA {schema} CASCADE)");
        }
        Err(_) => println!("postgres: skipped (set ANKURAH_POSTGRES_URL to include it)"),
    }
}
