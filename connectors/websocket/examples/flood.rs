//! How a server on sled serves an honest client while others flood it, on loopback:
//!
//! - an honest writer commits albums; an honest reader's live query is called back with
//!   each (commit → callback), and an honest getter reads each through the server (`Get`);
//! - measured idle, then while attackers flood the server, then after they left:
//!   - a peer that sends thousands of `Fetch`es of every album and never reads its socket,
//!   - a peer committing large valid transactions as fast as they are acknowledged;
//! - the live heap of the process (a counting allocator): baseline, peak, and settled after
//!   the attackers left.
//!
//! ```text
//! cargo run --release -p ankurah-websocket --example flood
//! ```
//!
//! A server whose per-peer queues are unbounded shows it plainly: the honest latencies climb
//! while the flood lasts and the heap grows by gigabytes. Every wait is bounded; a request
//! that times out is counted, not waited for.

mod common;
#[path = "../tests/common/heap.rs"]
mod heap;
#[path = "../tests/common/raw.rs"]
mod raw;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah_core::ankql::parse_selection;
use ankurah_core::proto::Request;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    ChangeKind, ChangeSet, Context, EntityId, Node, PermissiveAgent, DEFAULT_CONTEXT,
};
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketClient;
use common::{album, AlbumView, Latencies};
use futures_util::StreamExt;
use tokio::sync::mpsc;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

/// Albums every `Fetch` of the flood returns, and the size of each one's artist.
const SEED_ALBUMS: usize = 16;
const SEED_ARTIST_BYTES: usize = 2048;
/// `Fetch`es the never-reading peer sends.
const FLOOD_FETCHES: u64 = 10_000;
/// Transactions of the committing peer, albums per transaction and artist bytes per album.
const LARGE_TRANSACTIONS: usize = 40;
const LARGE_ALBUMS: usize = 8;
const LARGE_ARTIST_BYTES: usize = 256 * 1024;
/// Honest rounds measured idle and after the flood.
const ROUNDS: usize = 200;
/// No single honest wait may take longer.
const PATIENCE: Duration = Duration::from_secs(30);
/// The longest the flood phase lasts.
const FLOOD_AT_MOST: Duration = Duration::from_secs(120);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let data = tempfile::tempdir()?;
    let server = Node::new_durable(
        Arc::new(SledStorage::open(data.path())?),
        PermissiveAgent::new(),
    );
    let url = common::serve(&server).await?;

    let mut honest = Honest::connect(&url).await?;
    let seeder = client(&url).await?;
    let artist = "s".repeat(SEED_ARTIST_BYTES);
    for n in 0..SEED_ALBUMS {
        let trx = ctx(&seeder.0).begin();
        trx.create(&album(&format!("Seed {n}"), &artist, 1900 + n as i32))
            .await?;
        trx.commit().await?;
    }
    drop(seeder);

    let mut table = Vec::new();
    table.push(("idle", honest.rounds(ROUNDS, || false).await));

    let baseline = heap::current();
    heap::reset_peak();
    let stop = Arc::new(AtomicBool::new(false));
    let (fetcher, unread) = never_reading_fetcher(&url, server.system.system_id()).await;
    let committer = tokio::spawn(large_commits(url.clone(), stop.clone()));
    let started = Instant::now();
    let flood_done = {
        let stop = stop.clone();
        move || stop.load(Ordering::Relaxed) || started.elapsed() > FLOOD_AT_MOST
    };
    let flood = honest.rounds(usize::MAX, flood_done);
    let (flood, committed) = tokio::join!(flood, async {
        let committed = committer.await;
        // The committer is done; the server is still answering the never-read Fetches
        // until the heap stops growing.
        heap::until_steady(Duration::from_secs(3), FLOOD_AT_MOST).await;
        stop.store(true, Ordering::Relaxed);
        committed
    });
    let flood_seconds = started.elapsed().as_secs_f64();
    table.push(("flood", flood));
    let peak = heap::peak();
    let committed = committed??;
    let (sink, sent) = fetcher.await?;
    drop((sink, unread));

    let settled = heap::settle_below(baseline + 64 * heap::MIB, Duration::from_secs(30)).await;
    table.push(("after", honest.rounds(ROUNDS, || false).await));

    println!(
        "server on sled; flood: a peer sending {sent} Fetches of {SEED_ALBUMS} albums and never reading,"
    );
    println!(
        "  and a peer committing {committed} transactions of {LARGE_ALBUMS} albums × {} KiB ({:.0} s)",
        LARGE_ARTIST_BYTES / 1024,
        flood_seconds
    );
    println!();
    println!(
        "{:<6} {:>10} {:>10} {:>14} {:>14} {:>7} {:>9}",
        "phase", "get p50", "get p99", "callback p50", "callback p99", "rounds", "timeouts"
    );
    for (phase, figures) in &table {
        println!(
            "{:<6} {:>10} {:>10} {:>14} {:>14} {:>7} {:>9}",
            phase,
            common::show(figures.get.quantile(0.5)),
            common::show(figures.get.quantile(0.99)),
            common::show(figures.callback.quantile(0.5)),
            common::show(figures.callback.quantile(0.99)),
            figures.callback.len(),
            figures.timeouts
        );
    }
    println!();
    println!(
        "live heap: baseline {}, peak {}, settled {} (after the attackers left)",
        heap::mib(baseline),
        heap::mib(peak),
        heap::mib(settled)
    );
    Ok(())
}

/// An ephemeral node on memory storage connected to `url`; connected while the client lives.
async fn client(url: &str) -> Result<(Node, WebsocketClient), Error> {
    let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let connection = WebsocketClient::new(node.clone(), url).await?;
    node.system.wait_system_ready().await;
    Ok((node, connection))
}

fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT)
        .expect("the permissive agent allows every context")
}

/// Commits one transaction creating `count` albums; returns the first one's id.
async fn commit_albums(
    node: &Node,
    count: usize,
    name: &str,
    artist: &str,
) -> Result<EntityId, Error> {
    let trx = ctx(node).begin();
    let mut first = None;
    for n in 0..count {
        let created = trx.create(&album(name, artist, 1 + n as i32)).await?;
        first.get_or_insert(created.id());
    }
    trx.commit().await?;
    Ok(first.expect("at least one album"))
}

/// The honest clients: a writer, a reader called back by a live query, a getter reading
/// through the server.
struct Honest {
    writer: (Node, WebsocketClient),
    _reader: (Node, WebsocketClient),
    getter: (Node, WebsocketClient),
    arrivals: mpsc::UnboundedReceiver<(EntityId, Instant)>,
    _subscription: Box<dyn std::any::Any + Send>,
}

/// What the honest clients measured in one phase.
#[derive(Default)]
struct Figures {
    get: Latencies,
    callback: Latencies,
    timeouts: usize,
}

impl Honest {
    async fn connect(url: &str) -> Result<Honest, Error> {
        let (writer, reader, getter) = (client(url).await?, client(url).await?, client(url).await?);
        let (tx, arrivals) = mpsc::unbounded_channel();
        let subscription = ctx(&reader.0)
            .subscribe::<AlbumView, _>("artist = 'honest'", move |changes: ChangeSet<AlbumView>| {
                for change in &changes.changes {
                    if change.kind() != ChangeKind::Initial {
                        let _ = tx.send((change.entity().id(), Instant::now()));
                    }
                }
            })
            .await?;
        Ok(Honest {
            writer,
            _reader: reader,
            getter,
            arrivals,
            _subscription: Box::new(subscription),
        })
    }

    /// Up to `rounds` rounds, until `done` says so: commit an album, wait for the reader's
    /// callback, then get the album on the getter (which does not hold it: a `Get` to the
    /// server).
    async fn rounds(&mut self, rounds: usize, done: impl Fn() -> bool) -> Figures {
        let mut figures = Figures::default();
        for _ in 0..rounds {
            if done() {
                break;
            }
            let started = Instant::now();
            let committing = commit_albums(&self.writer.0, 1, "Honest", "honest");
            let Ok(Ok(id)) = tokio::time::timeout(PATIENCE, committing).await else {
                figures.timeouts += 1;
                continue;
            };
            let arrivals = &mut self.arrivals;
            let arrived = tokio::time::timeout(PATIENCE, async {
                while let Some((arrived, at)) = arrivals.recv().await {
                    if arrived == id {
                        return Some(at);
                    }
                }
                None
            });
            match arrived.await {
                Ok(Some(at)) => figures.callback.push(at - started),
                _ => figures.timeouts += 1,
            }
            let started = Instant::now();
            match tokio::time::timeout(PATIENCE, ctx(&self.getter.0).get::<AlbumView>(id)).await {
                Ok(Ok(_)) => figures.get.push(started.elapsed()),
                _ => figures.timeouts += 1,
            }
        }
        figures
    }
}

/// A peer that sends [`FLOOD_FETCHES`] `Fetch`es of the seeded albums and never reads: the
/// sending task (resolving to the sink and how many it sent) and the unread stream.
async fn never_reading_fetcher(
    url: &str,
    system: Option<ankurah_core::SystemId>,
) -> (
    tokio::task::JoinHandle<(raw::RawSink, usize)>,
    raw::RawStream,
) {
    let (sink, unread) = raw::greeted(url, system).await.split();
    let selection = parse_selection("year >= 1900", &[]).expect("the query parses");
    let frames = (1..=FLOOD_FETCHES).map(move |id| {
        let fetch = Request::Fetch {
            collection: "album".into(),
            selection: selection.clone(),
            known: Vec::new(),
        };
        raw::frame(id, fetch)
    });
    (raw::flood(sink, frames), unread)
}

/// A peer committing [`LARGE_TRANSACTIONS`] large transactions, each once the previous one
/// is acknowledged, until `stop`; returns how many it committed.
async fn large_commits(url: String, stop: Arc<AtomicBool>) -> Result<usize, Error> {
    let (node, _connection) = client(&url).await?;
    let artist = "l".repeat(LARGE_ARTIST_BYTES);
    let mut committed = 0;
    while committed < LARGE_TRANSACTIONS && !stop.load(Ordering::Relaxed) {
        let committing = commit_albums(&node, LARGE_ALBUMS, "Large", &artist);
        match tokio::time::timeout(PATIENCE, committing).await {
            Ok(result) => {
                result?;
                committed += 1;
            }
            Err(_) => break,
        }
    }
    Ok(committed)
}
