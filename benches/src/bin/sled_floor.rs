//! What sled and the disk cost on their own, for the records `SledStorage` writes: the floor
//! under the commit rates `load` reports. Each figure writes raw keys and values of the sizes
//! a real album produces (its encoded event and state), with no Ankurah code on the path.
//!
//! `cargo run --release -p ankurah-bench --bin sled_floor -- [entities]`

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::storage::{MemoryStorage, StorageEngine};
use ankurah::CollectionId;
use ankurah_bench::album;
use ankurah_storage_sled::layout;

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Encoded sizes of one album's creation event and state.
async fn album_sizes() -> (usize, usize) {
    let storage = Arc::new(MemoryStorage::new());
    let ctx = ankurah_bench::durable_context(storage.clone(), Default::default()).await;
    let trx = ctx.begin();
    let id = trx.create(&album(1)).await.expect("create").id();
    trx.commit().await.expect("commit");
    let albums = storage
        .collection(&CollectionId::from("album"))
        .await
        .expect("collection");
    let events = albums.dump_entity_events(id).await.expect("events");
    let state = albums.get_state(id).await.expect("state").expect("stored");
    (events[0].encode().len(), state.encode().len())
}

/// How a batch of keys reaches sled.
#[derive(Clone, Copy)]
enum Apply {
    /// One `sled::Batch`.
    Batch,
    /// As `SledStorage` writes it: a record of all keys and values under one key (replacing
    /// the last one), then the keys one by one.
    Journal,
}

/// Writes `entities` entities in batches of `per_batch`, each entity as the given keys (a
/// value of `sizes[i]` bytes under its event key, then its state key), reading `reads` of
/// those keys first as a commit does, and flushing after every batch unless `flush` is
/// false (a buffered commit); `threads` threads do this side by side. Returns entities per
/// second.
fn write(
    entities: usize,
    per_batch: usize,
    sizes: &[usize],
    reads: usize,
    threads: usize,
    flush: bool,
    apply: Apply,
) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = sled::open(dir.path()).expect("sled");
    let tree = db.open_tree(layout::TREE).expect("tree");
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tree = &tree;
            scope.spawn(move || {
                write_batches(
                    tree,
                    entities / threads / per_batch,
                    per_batch,
                    sizes,
                    reads,
                    flush,
                    apply,
                )
            });
        }
    });
    per_second(
        entities / threads / per_batch * per_batch * threads,
        start.elapsed(),
    )
}

fn write_batches(
    tree: &sled::Tree,
    batches: usize,
    per_batch: usize,
    sizes: &[usize],
    reads: usize,
    flush: bool,
    apply: Apply,
) {
    let collection = CollectionId::from("album");
    for _ in 0..batches {
        let mut writes = Vec::new();
        for _ in 0..per_batch {
            let entity = ankurah::EntityId::new();
            let keys = [
                layout::event_key(&collection, entity, entity.genesis_event()),
                layout::state_key(&collection, entity),
            ];
            for key in &keys[..reads] {
                tree.get(key).expect("get");
            }
            for (key, size) in keys.into_iter().zip(sizes) {
                writes.push((key, vec![7u8; *size]));
            }
        }
        match apply {
            Apply::Batch => {
                let mut batch = sled::Batch::default();
                for (key, value) in writes {
                    batch.insert(key, value);
                }
                tree.apply_batch(batch).expect("batch");
            }
            Apply::Journal => {
                let record: Vec<u8> = writes
                    .iter()
                    .flat_map(|(k, v)| [&k[..], v].concat())
                    .collect();
                tree.insert(b"J", record).expect("record");
                for (key, value) in writes {
                    tree.insert(key, value).expect("insert");
                }
            }
        }
        if flush {
            tree.flush().expect("flush");
        }
    }
}

/// Sequential `write(4 KiB)` + `fdatasync` into a preallocated file: the fastest durable
/// write this disk does, whatever stores it.
fn disk_syncs(count: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.path().join("log"))
        .expect("file");
    let block = [7u8; 4096];
    for _ in 0..count {
        file.write_all(&block).expect("write");
    }
    file.sync_all().expect("sync");
    file.seek(SeekFrom::Start(0)).expect("seek");
    let start = Instant::now();
    for _ in 0..count {
        file.write_all(&block).expect("write");
        file.sync_data().expect("sync");
    }
    per_second(count, start.elapsed())
}

#[tokio::main]
async fn main() {
    let entities: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000);
    let (event, state) = album_sizes().await;
    println!("album: event {event} bytes, state {state} bytes");
    let layout = [event, state];
    println!(
        "sled, batches of 100, event + state keys, 1 read: {:.0} entities/s",
        write(entities, 100, &layout, 1, 1, true, Apply::Batch)
    );
    println!(
        "sled, the same not flushed: {:.0} entities/s",
        write(entities, 100, &layout, 1, 1, false, Apply::Batch)
    );
    println!(
        "sled, batches of 100, one key of event + state bytes, no reads: {:.0} entities/s",
        write(entities, 100, &[event + state], 0, 1, true, Apply::Batch)
    );
    for (name, apply) in [("batch", Apply::Batch), ("journaled write", Apply::Journal)] {
        println!(
            "sled, one entity per {name}, event + state keys: {:.0} commits/s",
            write(entities / 10, 1, &layout, 1, 1, true, apply)
        );
        println!(
            "sled, the same not flushed: {:.0} commits/s",
            write(entities / 10, 1, &layout, 1, 1, false, apply)
        );
        println!(
            "sled, the same from 32 threads at once: {:.0} commits/s",
            write(entities / 10, 1, &layout, 1, 32, true, apply)
        );
    }
    println!(
        "sled, journaled writes of 100 entities, event + state keys, 1 read: {:.0} entities/s",
        write(entities, 100, &layout, 1, 1, true, Apply::Journal)
    );
    println!(
        "disk, 4 KiB write + fdatasync: {:.0}/s",
        disk_syncs(entities / 10)
    );
}
