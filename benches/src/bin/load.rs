//! A quick load generator: durable sled commits and indexed fetches, printed as rates and
//! latencies. Complements the criterion benches with one fast, repeatable run.
//!
//! `cargo run --release -p ankurah-bench --bin load -- [entities]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::{Context, Node, PermissiveAgent};
use ankurah_bench::{album, AlbumView, Track, TrackView};
use ankurah::storage::StorageEngine;
use ankurah_storage_sled::SledStorage;

fn context() -> Context {
    context_on(SledStorage::new_test().expect("a temporary sled"))
}

fn context_on(storage: SledStorage) -> Context {
    Node::new_durable(Arc::new(storage), PermissiveAgent::new()).context(DEFAULT_CONTEXT).expect("permissive")
}

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

#[tokio::main]
async fn main() {
    let entities: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(11_000);

    let storage = SledStorage::new_test().expect("a temporary sled");
    let ctx = context_on(storage.clone());
    let start = Instant::now();
    for chunk in 0..entities / 100 {
        let trx = ctx.begin();
        for i in chunk * 100..chunk * 100 + 100 {
            trx.create(&album(i)).await.expect("create");
        }
        trx.commit().await.expect("commit");
    }
    println!("albums, 100 per transaction: {:.0}/s", per_second(entities, start.elapsed()));

    let tracks = context();
    let start = Instant::now();
    for chunk in 0..entities / 100 {
        let trx = tracks.begin();
        for i in chunk * 100..chunk * 100 + 100 {
            trx.create(&Track { title: format!("Track {i}"), album: (i % 10) as i64, seconds: 180 + i as i64 }).await.expect("create");
        }
        trx.commit().await.expect("commit");
    }
    println!("LWW-only tracks, 100 per transaction: {:.0}/s", per_second(entities, start.elapsed()));

    let start = Instant::now();
    let singles = 2_000;
    for i in 0..singles {
        let trx = tracks.begin();
        trx.create(&Track { title: "t".into(), album: 1, seconds: i }).await.expect("create");
        trx.commit().await.expect("commit");
    }
    println!("single-entity commits, sequential: {:.0}/s", per_second(singles as usize, start.elapsed()));

    ctx.fetch::<AlbumView>("year = 1950").await.expect("index build");
    let eq = median(200, || async {
        let rows = ctx.fetch::<AlbumView>("year = 1950 LIMIT 100").await.expect("fetch");
        assert_eq!(rows.len(), 100);
    })
    .await;
    println!("equality fetch, 100 of {entities}: {eq:?} (median)");
    let range = median(50, || async {
        let rows = ctx.fetch::<AlbumView>("year >= 1950 ORDER BY year LIMIT 1000").await.expect("fetch");
        assert_eq!(rows.len(), 1000);
    })
    .await;
    println!("range fetch, 1000 of {entities}: {range:?} (median)");

    // The storage engine alone, without materializing entities and views.
    let albums = storage.collection(&"album".into()).await.expect("collection");
    let selection: ankurah::ankql::Selection = "year = 1950 LIMIT 100".parse().expect("query");
    let raw = median(200, || async {
        assert_eq!(albums.fetch_states(&selection).await.expect("fetch").len(), 100);
    })
    .await;
    println!("  of which sled alone (equality): {raw:?} (median)");
    let _ = tracks.fetch::<TrackView>("album = 1 LIMIT 1").await.expect("fetch");
}
