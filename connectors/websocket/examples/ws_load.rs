//! Load figures for the WebSocket connector, on loopback only and bounded in time:
//!
//! 1. commit on one client → live-query callback on another (p50/p99), over WebSocket and
//!    over the in-process `LocalConnector`;
//! 2. one commit → 10 and → 1,000 connected clients subscribed to the same query
//!    (p50/p99/max);
//! 3. reconnect catch-up: how long a client that missed 10,000 events takes to be current.
//!
//! ```text
//! cargo run --release -p ankurah-websocket --example ws_load
//! cargo run --release -p ankurah-websocket --example ws_load -- sled fan-out   # one part
//! ```
//!
//! Arguments narrow the run (for profiling): engines `memory`, `sled`, `sled-server-only`;
//! workloads `latency`, `fan-out`, `catch-up`. None named of a kind means all of that kind.
//!
//! Everything runs three times: with every node on `MemoryStorage` (sync alone, no disk),
//! then on sled, the default engine (the server flushes each commit before it acknowledges or
//! pushes it; clients flush nothing on the way; every fan-out reader has a sled store of its
//! own), then with only the server on sled.

mod common;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah_core::signals::Peek;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    ChangeKind, ChangeSet, Context, EntityId, IntoSelection, LocalConnector, Node, NodeConfig,
    PermissiveAgent, DEFAULT_CONTEXT,
};
use ankurah_jemalloc as _;
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketClient;
use common::{Album, AlbumView, Latencies};
use tokio::sync::mpsc;

const LATENCY_COMMITS: usize = 2_000;
const FAN_OUT_CLIENTS: [usize; 2] = [10, 1_000];
const FAN_OUT_COMMITS: usize = 20;
const CATCH_UP_ALBUMS: usize = 1_000;
const CATCH_UP_EDITS_PER_ALBUM: usize = 10;
/// No single wait may take longer; the run reports a timeout instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The storage engine of a run.
#[derive(Clone, Copy, Debug)]
enum Engine {
    Memory,
    Sled,
    /// The server on sled, the clients on memory: what the durable server costs alone, as
    /// if the clients ran in processes of their own (sled's writes wait for flushes of any
    /// sled database in the process).
    SledServerOnly,
}

impl Engine {
    /// The durable node of a run, on a fresh store. On sled the store is at a path, with
    /// sled's flusher thread, as a deployed server's; its directory lives as long as the
    /// returned guard.
    fn server(self) -> Result<(Node, Option<tempfile::TempDir>), Error> {
        let (agent, config) = (PermissiveAgent::new(), NodeConfig::default());
        Ok(match self {
            Engine::Memory => {
                let storage = Arc::new(MemoryStorage::new());
                (Node::with_config(storage, agent, true, config), None)
            }
            Engine::Sled | Engine::SledServerOnly => {
                let dir = tempfile::tempdir()?;
                let storage = Arc::new(SledStorage::open(dir.path().join("server"))?);
                (Node::with_config(storage, agent, true, config), Some(dir))
            }
        })
    }

    /// An ephemeral node on a fresh store. On sled a temporary one
    /// (`SledStorage::new_test`, without a flusher thread), as the clients of one process
    /// in a test have.
    fn client(self) -> Result<Node, Error> {
        let (agent, config) = (PermissiveAgent::new(), NodeConfig::default());
        Ok(match self {
            Engine::Sled => {
                Node::with_config(Arc::new(SledStorage::new_test()?), agent, false, config)
            }
            Engine::Memory | Engine::SledServerOnly => {
                Node::with_config(Arc::new(MemoryStorage::new()), agent, false, config)
            }
        })
    }
}

const ENGINES: [(&str, Engine); 3] = [
    ("memory", Engine::Memory),
    ("sled", Engine::Sled),
    ("sled-server-only", Engine::SledServerOnly),
];
const WORKLOADS: [&str; 3] = ["latency", "fan-out", "catch-up"];

#[tokio::main]
async fn main() -> Result<(), Error> {
    let named: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = named
        .iter()
        .find(|n| !ENGINES.iter().any(|(e, _)| e == n) && !WORKLOADS.contains(&n.as_str()))
    {
        return Err(format!(
            "unknown argument {unknown:?}: engines {ENGINES:?}, workloads {WORKLOADS:?}"
        )
        .into());
    }
    let chosen = |names: &[&str]| {
        let any = names.iter().any(|n| named.iter().any(|m| m == n));
        names
            .iter()
            .filter(|n| !any || named.iter().any(|m| m == *n))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    let engines = chosen(&ENGINES.map(|(name, _)| name));
    let workloads = chosen(&WORKLOADS);
    for (name, engine) in ENGINES {
        if engines.iter().any(|e| e == name) {
            println!("== {engine:?}");
            run(engine, &workloads).await?;
        }
    }
    Ok(())
}

async fn run(engine: Engine, workloads: &[String]) -> Result<(), Error> {
    let (server, _dir) = engine.server()?;
    let url = common::serve(&server).await?;
    let runs = |workload: &str| workloads.iter().any(|w| w == workload);

    if runs("latency") {
        println!("commit → live-query callback on another client ({LATENCY_COMMITS} commits)");
        for (label, url) in [("WebSocket", Some(url.as_str())), ("LocalConnector", None)] {
            let samples = commit_to_callback(engine, &server, url).await?;
            println!("  {label:<15} {}", summary(samples));
        }
    }

    for clients in FAN_OUT_CLIENTS.into_iter().filter(|_| runs("fan-out")) {
        println!("one commit → {clients} subscribed WebSocket clients ({FAN_OUT_COMMITS} commits)");
        let started = Instant::now();
        let samples = fan_out(engine, &server, &url, clients).await?;
        println!(
            "  {}   (whole run incl. connecting: {:.1} s)",
            summary(samples),
            started.elapsed().as_secs_f64()
        );
    }

    if !runs("catch-up") {
        return Ok(());
    }
    let missed = CATCH_UP_ALBUMS * CATCH_UP_EDITS_PER_ALBUM;
    println!("reconnect catch-up: {missed} missed events ({CATCH_UP_ALBUMS} albums × {CATCH_UP_EDITS_PER_ALBUM} edits)");
    let took = catch_up(engine, &server, &url).await?;
    println!(
        "  current again {:.1} ms after reconnecting",
        took.as_secs_f64() * 1e3
    );
    Ok(())
}

/// An ephemeral node connected to `server` over WebSocket (`url`) or in process (`None`);
/// the node stays connected while the returned link lives.
async fn client(
    engine: Engine,
    server: &Node,
    url: Option<&str>,
) -> Result<(Node, Box<dyn Any + Send>), Error> {
    let node = engine.client()?;
    let link: Box<dyn Any + Send> = match url {
        Some(url) => Box::new(WebsocketClient::new(node.clone(), url).await?),
        None => Box::new(LocalConnector::new(server, &node)),
    };
    node.wait_durable_peer().await;
    node.system.wait_system_ready().await;
    Ok((node, link))
}

fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT)
        .expect("the permissive agent allows every context")
}

async fn create(node: &Node, name: &str, year: i32) -> Result<EntityId, Error> {
    let trx = ctx(node).begin();
    let id = trx
        .create(&Album {
            name: name.into(),
            artist: "load".into(),
            year,
        })
        .await?
        .id();
    trx.commit().await?;
    Ok(id)
}

async fn set_year(node: &Node, id: EntityId, year: i32) -> Result<(), Error> {
    let view = ctx(node).get::<AlbumView>(id).await?;
    let trx = ctx(node).begin();
    trx.edit::<Album>(&view)?.year().set(&year)?;
    trx.commit().await?;
    Ok(())
}

/// Subscribes on `node` and reports the arrival time of every change set with changes.
async fn arrivals(
    node: &Node,
    query: impl IntoSelection,
    tx: mpsc::UnboundedSender<Instant>,
) -> Result<impl Send, Error> {
    let guard = ctx(node)
        .subscribe::<AlbumView, _>(query, move |changes: ChangeSet<AlbumView>| {
            if changes
                .changes
                .iter()
                .any(|c| c.kind() != ChangeKind::Initial)
            {
                let _ = tx.send(Instant::now());
            }
        })
        .await?;
    Ok(guard)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Instant>) -> Result<Instant, Error> {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(at)) => Ok(at),
        _ => Err("timed out waiting for a live-query callback".into()),
    }
}

/// Forgets arrivals that belong to no measured commit (a reader's first sight of the album).
fn drain(rx: &mut mpsc::UnboundedReceiver<Instant>) {
    while rx.try_recv().is_ok() {}
}

async fn commit_to_callback(
    engine: Engine,
    server: &Node,
    url: Option<&str>,
) -> Result<Vec<Duration>, Error> {
    let (writer, _writer_link) = client(engine, server, url).await?;
    let (reader, _reader_link) = client(engine, server, url).await?;
    let id = create(&writer, "Latency", 0).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _guard = arrivals(&reader, ("id = ?", [id]), tx).await?;
    let mut samples = Vec::with_capacity(LATENCY_COMMITS);
    for year in 1..=LATENCY_COMMITS as i32 {
        drain(&mut rx);
        let start = Instant::now();
        set_year(&writer, id, year).await?;
        samples.push(next(&mut rx).await? - start);
    }
    Ok(samples)
}

async fn fan_out(
    engine: Engine,
    server: &Node,
    url: &str,
    clients: usize,
) -> Result<Vec<Duration>, Error> {
    let (writer, _writer_link) = client(engine, server, Some(url)).await?;
    let id = create(&writer, "Fan-out", 0).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut readers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (reader, link) = client(engine, server, Some(url)).await?;
        let guard = arrivals(&reader, ("id = ?", [id]), tx.clone()).await?;
        readers.push((reader, link, guard));
    }
    let mut samples = Vec::with_capacity(clients * FAN_OUT_COMMITS);
    for year in 1..=FAN_OUT_COMMITS as i32 {
        drain(&mut rx);
        let start = Instant::now();
        set_year(&writer, id, year).await?;
        for _ in 0..clients {
            samples.push(next(&mut rx).await? - start);
        }
    }
    Ok(samples)
}

async fn catch_up(engine: Engine, server: &Node, url: &str) -> Result<Duration, Error> {
    // Above the years the other scenarios leave behind, so the query sees only these albums.
    const FIRST_YEAR: i32 = 3000;
    let (writer, _writer_link) = client(engine, server, Some(url)).await?;
    let reader = engine.client()?;
    let link = WebsocketClient::new(reader.clone(), url).await?;
    let mut ids = Vec::with_capacity(CATCH_UP_ALBUMS);
    for n in 0..CATCH_UP_ALBUMS {
        ids.push(create(&writer, &format!("Album {n}"), FIRST_YEAR).await?);
    }
    let albums = ctx(&reader)
        .query_wait::<AlbumView>(("year >= ?", [FIRST_YEAR]))
        .await?;
    while albums.peek().len() < CATCH_UP_ALBUMS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    link.shutdown().await;
    let last_year = FIRST_YEAR + CATCH_UP_EDITS_PER_ALBUM as i32;
    for year in FIRST_YEAR + 1..=last_year {
        for id in &ids {
            set_year(&writer, *id, year).await?;
        }
    }

    // Current again = every album in the reader's live query shows the last edit.
    let current = || {
        albums
            .peek()
            .iter()
            .all(|v| v.year().is_ok_and(|y| y == last_year))
    };
    let start = Instant::now();
    let _link = WebsocketClient::new(reader.clone(), url).await?;
    while !current() {
        if start.elapsed() > PATIENCE {
            return Err("the reader did not catch up".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(start.elapsed())
}

fn summary(samples: Vec<Duration>) -> String {
    samples.into_iter().collect::<Latencies>().summary()
}
