//! What access rules cost: a client's fetch through a durable node on sled, and commit on
//! one client → live-query callback on another, once with a permissive server and once
//! with a rules agent, both authenticating their peers with tokens (in process, over
//! `LocalConnector`). The rule admits every album of the data set, so both runs move the
//! same data and the difference is the rules' own cost.
//!
//! `cargo run --release -p ankurah-bench --bin rules_cost -- [albums] [fetches] [commits]`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ankurah::auth::{JwtAuthenticator, JwtSigner, TokenClaims};
use ankurah::changes::ChangeSet;
use ankurah::rules::RulesAgent;
use ankurah::signals::Subscribe;
use ankurah::storage::MemoryStorage;
use ankurah::{ContextData, LocalConnector, Node, PermissiveAgent, PolicyAgent, DEFAULT_CONTEXT};
use ankurah_bench::{album, Album, AlbumView};
use ankurah_storage_sled::SledStorage;
use tokio::sync::mpsc;

const SECRET: &[u8] = b"the benchmark's token secret";
const USER: &str = "bench";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let albums = args.next().flatten().unwrap_or(10_000);
    let fetches = args.next().flatten().unwrap_or(300);
    let commits = args.next().flatten().unwrap_or(2_000);
    let rules = || {
        RulesAgent::builder()
            .read::<Album>("artist = $user.id OR year < 0 OR 'admin' IN $user.roles")
            .write::<Album>(
                "$new.artist = $user.id AND ($old.artist IS NULL OR $old.artist = $user.id)",
            )
            .build()
            .expect("valid rules")
    };
    let permissive = run(PermissiveAgent::new(), albums, fetches, commits).await;
    let ruled = run(rules(), albums, fetches, commits).await;
    println!("{albums} albums on sled, {fetches} fetches of ~1/110 of them, {commits} commits");
    println!("| | permissive | rules | cost |");
    println!("| --- | --- | --- | --- |");
    for (what, p, r) in [
        ("fetch p50", permissive.fetch_p50, ruled.fetch_p50),
        (
            "commit → subscriber p50",
            permissive.notify_p50,
            ruled.notify_p50,
        ),
        (
            "commit → subscriber p99",
            permissive.notify_p99,
            ruled.notify_p99,
        ),
    ] {
        let cost = (r.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0;
        println!("| {what} | {p:?} | {r:?} | {cost:+.1} % |");
    }
}

struct Figures {
    fetch_p50: Duration,
    notify_p50: Duration,
    notify_p99: Duration,
}

async fn run(agent: impl PolicyAgent, albums: usize, fetches: usize, commits: usize) -> Figures {
    let server = Node::new_durable(Arc::new(SledStorage::new_test().expect("sled")), agent);
    server.system.create().await.expect("system");
    server.set_authenticator(JwtAuthenticator::hs256(SECRET).expect("secret"));
    let seed = server.context(DEFAULT_CONTEXT).expect("context");
    for chunk in (0..albums).collect::<Vec<_>>().chunks(1_000) {
        let trx = seed.begin();
        for &i in chunk {
            let mut album = album(i);
            album.artist = USER.into();
            trx.create(&album).await.expect("create");
        }
        trx.commit().await.expect("seed");
    }
    let token = JwtSigner::hs256(SECRET)
        .expect("secret")
        .sign(&TokenClaims::new(
            USER,
            SystemTime::now() + Duration::from_secs(3600),
        ))
        .expect("token");
    let client = || {
        let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
        node.set_credentials(token.clone());
        node
    };
    let (reader, writer) = (client(), client());
    let _links = (
        LocalConnector::new(&server, &reader),
        LocalConnector::new(&server, &writer),
    );
    reader.wait_durable_peer().await;
    writer.wait_durable_peer().await;
    let user = ContextData::for_principal(USER);
    let rctx = reader.context(&user).expect("context");
    let wctx = writer.context(&user).expect("context");

    let mut fetch_times = Vec::with_capacity(fetches);
    for i in 0..fetches {
        let year = 1900 + (i % 110) as i32;
        let start = Instant::now();
        let found = rctx
            .fetch::<AlbumView>(("year = ?", [year]))
            .await
            .expect("fetch");
        fetch_times.push(start.elapsed());
        assert!(!found.is_empty());
    }

    let trx = wctx.begin();
    let mut mine = album(0);
    mine.artist = USER.into();
    let id = trx.create(&mine).await.expect("create").id();
    trx.commit().await.expect("commit");
    let view = wctx.get::<AlbumView>(id).await.expect("get");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let live = rctx
        .query_wait::<AlbumView>(("id = ?", [id]))
        .await
        .expect("query");
    let _guard = live.subscribe(move |_: ChangeSet<AlbumView>| {
        let _ = tx.send(Instant::now());
    });
    while rx.try_recv().is_ok() {}
    let mut notify_times = Vec::with_capacity(commits);
    for year in 0..commits as i32 {
        let start = Instant::now();
        let trx = wctx.begin();
        view.edit(&trx)
            .expect("edit")
            .year()
            .set(&year)
            .expect("set");
        trx.commit().await.expect("commit");
        let arrived = rx.recv().await.expect("a change set");
        notify_times.push(arrived - start);
        while rx.try_recv().is_ok() {}
    }
    fetch_times.sort();
    notify_times.sort();
    Figures {
        fetch_p50: fetch_times[fetches / 2],
        notify_p50: notify_times[commits / 2],
        notify_p99: notify_times[commits * 99 / 100],
    }
}
