//! Dump and load rates of `ankurah dump` / `ankurah load` (issue #14): albums created on
//! sled (each with a second event, a text edit), dumped to a file, loaded from it into a
//! fresh sled store and, when `ANKURAH_POSTGRES_URL` is set, into a fresh Postgres schema,
//! through the CLI's own library functions. Prints entities/s and events/s per step.
//!
//! `cargo run --release -p ankurah-bench --bin dump_load -- [entities]`

use std::io::{BufReader, BufWriter};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::storage::{StorageEngine, StoredState};
use ankurah::{Node, PermissiveAgent};
use ankurah_bench::{album, AlbumView};
use ankurah_cli::archive::{Counts, DumpReader};
use ankurah_cli::commands::{dump::dump, load::load};
use ankurah_storage_postgres::PostgresStorage;
use ankurah_storage_sled::SledStorage;
use indicatif::ProgressBar;

fn report(step: &str, counts: Counts, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!(
        "{step:<28} {:>9.0} entities/s  {:>9.0} events/s  ({} entities, {} events in {:.2} s)",
        counts.entities as f64 / seconds,
        counts.events as f64 / seconds,
        counts.entities,
        counts.events,
        seconds
    );
}

async fn load_into(step: &str, engine: &dyn StorageEngine, file: &std::path::Path) {
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(file).expect("the dump"));
    let start = Instant::now();
    let counts = load(engine, "bench.dump", input, &ProgressBar::hidden())
        .await
        .expect("loaded");
    report(step, counts, start.elapsed());
}

#[tokio::main]
async fn main() {
    let entities: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a temporary directory");

    let source = Arc::new(SledStorage::open(dir.path().join("source")).expect("sled"));
    let node = Node::new_durable(source.clone(), PermissiveAgent::new());
    node.system.create().await.expect("a system");
    let ctx = node.context(DEFAULT_CONTEXT).expect("a context");
    let start = Instant::now();
    for chunk in (0..entities).collect::<Vec<_>>().chunks(100) {
        let trx = ctx.begin();
        for &i in chunk {
            trx.create(&album(i)).await.expect("created");
        }
        trx.commit().await.expect("committed");
    }
    let albums: Vec<AlbumView> = ctx.fetch("").await.expect("the albums");
    for chunk in albums.chunks(100) {
        let trx = ctx.begin();
        for view in chunk {
            view.edit(&trx)
                .expect("editable")
                .name()
                .insert(0, "The ")
                .expect("edited");
        }
        trx.commit().await.expect("committed");
    }
    let written = start.elapsed();
    drop((albums, ctx, node));
    let counts = Counts {
        entities: entities as u64,
        events: 2 * entities as u64,
    };
    // For comparison: the same entities and events written through a node, in transactions
    // of 100 (creations, then one text edit each).
    report("write through a node (sled)", counts, written);

    let file = dir.path().join("bench.dump");
    let out = BufWriter::new(std::fs::File::create(&file).expect("the dump file"));
    let start = Instant::now();
    let counts = dump(
        &*source,
        "sled",
        "bench.dump",
        out,
        None,
        &ProgressBar::hidden(),
    )
    .await
    .expect("dumped");
    report("dump sled → file", counts, start.elapsed());
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("dump file: {:.1} MB", size as f64 / 1e6);

    // What reading costs alone: parsing, base64, decoding and checking every line, and
    // deriving each state's values as a load does before committing.
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(&file).expect("the dump"));
    let start = Instant::now();
    let mut reader = DumpReader::new(input).expect("a dump");
    for entity in &mut reader {
        let entity = entity.expect("an entity");
        StoredState::from_state(entity.state).expect("a state");
    }
    report("read file (no store)", reader.counts(), start.elapsed());

    let target = SledStorage::open(dir.path().join("target")).expect("sled");
    load_into("load file → sled", &target, &file).await;

    match std::env::var("ANKURAH_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("bench_dump_{}", std::process::id());
            let postgres = PostgresStorage::open_in_schema(&url, &schema)
                .await
                .expect("postgres");
            load_into("load file → postgres", &postgres, &file).await;
            println!("(postgres schema `{schema}` left for inspection; drop it with DROP SCHEMA .. CASCADE)");
        }
        Err(_) => println!("postgres: skipped (set ANKURAH_POSTGRES_URL to include it)"),
    }
}
