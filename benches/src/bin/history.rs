//! What reads of the past cost on a durable node: `get_at` of an entity with N events (at
//! the middle of its history, so half of them are replayed), `history` and `blame` of it,
//! and `fetch_at` over M entities at a moment after half of them changed (those are
//! rebuilt from their events, the others read as stored). On sled, then on Postgres when
//! `ANKURAH_POSTGRES_URL` is set (in a schema of its own).
//!
//! `cargo run --release -p ankurah-bench --bin history -- [events] [entities]`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ankurah::storage::StorageEngine;
use ankurah::{Context, EntityId, NodeConfig};
use ankurah_bench::{album, durable_context, Album, AlbumView};
use ankurah_storage_postgres::PostgresStorage;
use ankurah_storage_sled::SledStorage;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let events = args.next().flatten().unwrap_or(10_000);
    let entities = args.next().flatten().unwrap_or(10_000);
    println!("| engine | get_at, {events} events | history | blame | fetch_at over {entities} (½ rebuilt) |");
    println!("| --- | --- | --- | --- | --- |");
    let sled = Arc::new(SledStorage::new_test().expect("sled"));
    run("sled", sled, events, entities).await;
    match std::env::var("ANKURAH_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("bench_history_{}", EntityId::new()).to_lowercase();
            let postgres = PostgresStorage::open_in_schema(&url, &schema)
                .await
                .expect("postgres");
            run("postgres", Arc::new(postgres), events, entities).await;
            println!("(postgres schema `{schema}` left for inspection; drop it with DROP SCHEMA .. CASCADE)");
        }
        Err(_) => println!("postgres: skipped (set ANKURAH_POSTGRES_URL to include it)"),
    }
}

async fn run<S: StorageEngine>(engine: &str, storage: Arc<S>, events: usize, entities: usize) {
    let ctx = durable_context(storage, NodeConfig::default()).await;
    let (id, middle) = long_history(&ctx, events).await;
    let get_at = median(5, || async {
        let view = ctx.get_at::<AlbumView>(id, middle).await.expect("get_at");
        assert!(view.year().expect("year") > 0);
    })
    .await;
    let history = median(5, || async {
        assert_eq!(
            ctx.history::<AlbumView>(id).await.expect("history").len(),
            events
        );
    })
    .await;
    let blame = median(5, || async {
        assert_eq!(ctx.blame::<AlbumView>(id).await.expect("blame").len(), 3);
    })
    .await;
    let moment = many_entities(&ctx, entities).await;
    let fetch_at = median(3, || async {
        let found = ctx
            .fetch_at::<AlbumView>("year >= 1900", moment)
            .await
            .expect("fetch_at");
        assert_eq!(
            found.len(),
            entities + 1,
            "the albums and the long-lived one"
        );
    })
    .await;
    println!("| {engine} | {get_at:?} | {history:?} | {blame:?} | {fetch_at:?} |");
}

/// One album edited `events - 1` times, in transactions of one edit each; returns it and a
/// moment in the middle of its history.
async fn long_history(ctx: &Context, events: usize) -> (EntityId, SystemTime) {
    let trx = ctx.begin();
    let id = trx.create(&album(0)).await.expect("create").id();
    trx.commit().await.expect("commit");
    let mut middle = SystemTime::now();
    for n in 1..events {
        if n == events / 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            middle = SystemTime::now();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let view = ctx.get::<AlbumView>(id).await.expect("get");
        let trx = ctx.begin();
        trx.edit::<Album>(&view)
            .expect("edit")
            .year()
            .set(&(1900 + (n % 110) as i32))
            .expect("set");
        trx.commit().await.expect("commit");
    }
    (id, middle)
}

/// `entities` albums, then half of them edited after the moment returned.
async fn many_entities(ctx: &Context, entities: usize) -> SystemTime {
    let mut ids = Vec::with_capacity(entities);
    for chunk in (0..entities).collect::<Vec<_>>().chunks(500) {
        let trx = ctx.begin();
        for &i in chunk {
            ids.push(trx.create(&album(i)).await.expect("create").id());
        }
        trx.commit().await.expect("commit");
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    let moment = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(2)).await;
    for chunk in ids.iter().step_by(2).collect::<Vec<_>>().chunks(500) {
        let trx = ctx.begin();
        for id in chunk {
            let view = ctx.get::<AlbumView>(**id).await.expect("get");
            trx.edit::<Album>(&view)
                .expect("edit")
                .year()
                .set(&1)
                .expect("set");
        }
        trx.commit().await.expect("commit");
    }
    moment
}

async fn median<F: std::future::Future<Output = ()>>(
    runs: usize,
    mut once: impl FnMut() -> F,
) -> Duration {
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        once().await;
        took.push(start.elapsed());
    }
    took.sort();
    took[runs / 2]
}
