//! One commit reaching many clients, every node on sled as users deploy it: 50 clients in
//! one process, each on its own sled store, 20 rounds, every client notified every round.
//! (sled 0.34 can deadlock with many databases in one process when flushes run on its own
//! threads while another task applies a batch; this is the shape that hung.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use ankurah_core::signals::Peek;
use ankurah_core::{LiveQuery, Node, PermissiveAgent};
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketClient;
use common::{create, ctx, AlbumView, Server};

const CLIENTS: usize = 50;
const ROUNDS: i32 = 20;
/// Generous: a round takes milliseconds; only a stall comes near it.
const ROUND_LIMIT: Duration = Duration::from_secs(60);

struct SledClient {
    _connection: WebsocketClient,
    albums: LiveQuery<AlbumView>,
}

/// The whole test; a deadlock that blocks the workers is aborted by the watchdog after it.
const TEST_LIMIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_commit_reaches_fifty_sled_clients_every_round() {
    common::serially_within(TEST_LIMIT, fan_out()).await
}

async fn fan_out() {
    let server = Node::new_durable(
        Arc::new(SledStorage::new_test().expect("a sled store")),
        PermissiveAgent::new(),
    );
    server.system.create().await.expect("a system");
    let server = Server::start(server, "127.0.0.1:0").await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let node = Node::new(
            Arc::new(SledStorage::new_test().expect("a sled store")),
            PermissiveAgent::new(),
        );
        let connection = WebsocketClient::new(node.clone(), &server.url())
            .await
            .expect("connect");
        node.system.wait_system_ready().await;
        let albums = ctx(&node)
            .query_wait::<AlbumView>("year > 0")
            .await
            .expect("a live query");
        clients.push(SledClient {
            _connection: connection,
            albums,
        });
    }
    for round in 1..=ROUNDS {
        let id = create(&server.node, "Round", 2000 + round).await;
        let everyone = async {
            loop {
                let missing = clients
                    .iter()
                    .filter(|c| !c.albums.peek().iter().any(|v| v.id() == id))
                    .count();
                if missing == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        if tokio::time::timeout(ROUND_LIMIT, everyone).await.is_err() {
            let missing = clients
                .iter()
                .filter(|c| !c.albums.peek().iter().any(|v| v.id() == id))
                .count();
            panic!("round {round}: {missing} of {CLIENTS} clients never saw the commit");
        }
    }
    for client in &clients {
        assert_eq!(client.albums.peek().len(), ROUNDS as usize);
    }
}
