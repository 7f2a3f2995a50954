//! Sync over real sockets on 127.0.0.1: convergence, partitions, server restarts with sled,
//! offline starts and clean shutdowns.

mod common;

use std::sync::Arc;

use ankurah_core::signals::Peek;
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::{Node, PeerError, PermissiveAgent, SystemId};
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::{ConnectionState, WebsocketClient, WebsocketError};
use common::{
    album, create, ctx, eventually, free_port, memory_server_node, state_of, Album, AlbumView,
    Client, Server,
};

#[tokio::test]
async fn two_clients_converge_with_the_server() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let query_a = a
        .ctx()
        .query_wait::<AlbumView>("year > 2000")
        .await
        .unwrap();
    let query_b = b
        .ctx()
        .query_wait::<AlbumView>("year > 2000")
        .await
        .unwrap();

    let id = create(&a.node, "Origin of Symmetry", 2001).await;
    eventually("b's live query sees a's album", async || {
        query_b.peek().len() == 1
    })
    .await;

    // Concurrent text edits on both clients.
    let (va, vb) = (
        a.ctx().get::<AlbumView>(id).await.unwrap(),
        b.ctx().get::<AlbumView>(id).await.unwrap(),
    );
    let (ta, tb) = (a.ctx().begin(), b.ctx().begin());
    ta.edit::<Album>(&va)
        .unwrap()
        .name()
        .insert(0, "The ")
        .unwrap();
    tb.edit::<Album>(&vb)
        .unwrap()
        .name()
        .insert(18, " (2001)")
        .unwrap();
    let (ra, rb) = tokio::join!(ta.commit(), tb.commit());
    ra.unwrap();
    rb.unwrap();

    let expected = "The Origin of Symmetry (2001)";
    eventually("everyone holds both edits, byte for byte", async || {
        let server_state = state_of(&server.node, id).await;
        va.name().unwrap() == expected
            && vb.name().unwrap() == expected
            && server_state == state_of(&a.node, id).await
            && server_state == state_of(&b.node, id).await
    })
    .await;
    eventually("both live queries show the merged name", async || {
        [&query_a, &query_b].iter().all(|q| {
            q.peek()
                .first()
                .is_some_and(|v| v.name().unwrap() == expected)
        })
    })
    .await;
}

#[tokio::test]
async fn a_partition_heals_without_losing_edits() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let id = create(&a.node, "Showbiz", 1999).await;
    let query_a = a
        .ctx()
        .query_wait::<AlbumView>("year >= 1999 ORDER BY year")
        .await
        .unwrap();
    let query_b = b
        .ctx()
        .query_wait::<AlbumView>("year >= 1999 ORDER BY year")
        .await
        .unwrap();
    eventually("b sees the album", async || query_b.peek().len() == 1).await;

    // Cut a's connection; both sides keep editing.
    let Client {
        node: a_node,
        storage: a_storage,
        connection,
    } = a;
    connection.shutdown().await;
    eventually("the server notices", async || server.node.peer_count() == 1).await;
    let va = ctx(&a_node).get::<AlbumView>(id).await.unwrap();
    let trx = ctx(&a_node).begin();
    trx.edit::<Album>(&va)
        .unwrap()
        .name()
        .insert(7, " (offline)")
        .unwrap();
    let offline = trx
        .create(&common::album("Absolution", "Muse", 2003))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    assert_eq!(
        a_storage.outbox().await.unwrap().len(),
        2,
        "the offline commit waits in the outbox"
    );

    let vb = b.ctx().get::<AlbumView>(id).await.unwrap();
    let trx = b.ctx().begin();
    let edit = trx.edit::<Album>(&vb).unwrap();
    edit.name().insert(0, "[b] ").unwrap();
    edit.year().set(&2000).unwrap();
    trx.commit().await.unwrap();

    // Heal: a new connection sends the outbox and resubscribes a's live query.
    let _connection = WebsocketClient::new(a_node.clone(), &server.url())
        .await
        .unwrap();
    eventually("the outbox drains", async || {
        a_storage.outbox().await.unwrap().is_empty()
    })
    .await;
    eventually("all replicas are identical", async || {
        let server_state = state_of(&server.node, id).await;
        server_state == state_of(&a_node, id).await && server_state == state_of(&b.node, id).await
    })
    .await;
    assert_eq!(va.name().unwrap(), "[b] Showbiz (offline)");
    assert_eq!(va.year().unwrap(), 2000);
    assert_eq!(
        state_of(&server.node, offline).await,
        state_of(&b.node, offline).await,
        "the offline creation reached b"
    );
    for query in [&query_a, &query_b] {
        eventually("the live query is current", async || {
            query
                .peek()
                .iter()
                .map(|v| (v.name().unwrap(), v.year().unwrap()))
                .collect::<Vec<_>>()
                == [
                    ("[b] Showbiz (offline)".to_string(), 2000),
                    ("Absolution".to_string(), 2003),
                ]
        })
        .await;
    }
}

#[tokio::test]
async fn an_album_that_stopped_matching_while_offline_leaves_the_live_query() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let id = create(&a.node, "Showbiz", 1999).await;
    create(&a.node, "Absolution", 2003).await;
    let query_a = a
        .ctx()
        .query_wait::<AlbumView>("year >= 1999 ORDER BY year")
        .await
        .unwrap();
    assert_eq!(query_a.peek().len(), 2);

    let Client {
        node: a_node,
        connection,
        ..
    } = a;
    connection.shutdown().await;
    let trx = b.ctx().begin();
    trx.edit::<Album>(&b.ctx().get::<AlbumView>(id).await.unwrap())
        .unwrap()
        .year()
        .set(&1990)
        .unwrap();
    trx.commit().await.unwrap();

    let _connection = WebsocketClient::new(a_node.clone(), &server.url())
        .await
        .unwrap();
    eventually("a's live query drops the album", async || {
        query_a
            .peek()
            .iter()
            .map(|v| v.name().unwrap())
            .collect::<Vec<_>>()
            == ["Absolution"]
    })
    .await;
    assert_eq!(
        state_of(&a_node, id).await,
        state_of(&server.node, id).await
    );
}

#[tokio::test]
async fn clients_reconnect_by_themselves_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server");
    let open = || {
        Node::new_durable(
            Arc::new(SledStorage::open(&path).unwrap()),
            PermissiveAgent::new(),
        )
    };
    let node = open();
    let system = node.system.create().await.unwrap();
    let server = Server::start(node, "127.0.0.1:0").await;
    let addr = server.addr;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let (seen, _recording) = a.record_states();
    let query_a = a
        .ctx()
        .query_wait::<AlbumView>("year >= 2000 ORDER BY year")
        .await
        .unwrap();
    let query_b = b
        .ctx()
        .query_wait::<AlbumView>("year >= 2000 ORDER BY year")
        .await
        .unwrap();
    let first = create(&a.node, "Origin of Symmetry", 2001).await;
    eventually("b sees the first album", async || query_b.peek().len() == 1).await;

    // Stop the server process: the listener, every connection, the node and its storage.
    drop(server.stop().await);
    eventually("both clients notice", async || {
        !a.is_connected() && !b.is_connected()
    })
    .await;
    let offline = create(&a.node, "Absolution", 2003).await;

    // Start it again on the same port from the same directory (sled's lock is released once
    // the last task of the old node is gone).
    let mut reopened = None;
    eventually("the data directory can be reopened", async || {
        reopened = SledStorage::open(&path).ok();
        reopened.is_some()
    })
    .await;
    let node = Node::new_durable(Arc::new(reopened.unwrap()), PermissiveAgent::new());
    assert_eq!(
        node.system.create().await.unwrap(),
        system,
        "the system survived on disk"
    );
    let server = Server::start(node, &addr.to_string()).await;
    assert_eq!(
        state_of(&server.node, first).await,
        state_of(&a.node, first).await,
        "the data survived on disk"
    );

    eventually("both clients reconnect", async || {
        a.is_connected() && b.is_connected()
    })
    .await;
    eventually("a's outbox reaches the server", async || {
        a.storage.outbox().await.unwrap().is_empty()
    })
    .await;
    eventually(
        "b's resumed live query sees the offline album",
        async || query_b.peek().len() == 2,
    )
    .await;
    let trx = b.ctx().begin();
    trx.edit::<Album>(&b.ctx().get::<AlbumView>(offline).await.unwrap())
        .unwrap()
        .year()
        .set(&2004)
        .unwrap();
    trx.commit().await.unwrap();
    eventually("a's resumed live query sees b's edit", async || {
        query_a
            .peek()
            .iter()
            .map(|v| v.year().unwrap())
            .collect::<Vec<_>>()
            == [2001, 2004]
    })
    .await;
    let states = seen.lock().clone();
    let lost = states
        .iter()
        .position(|s| matches!(s, ConnectionState::Disconnected { .. }))
        .expect("a was disconnected");
    assert!(
        states[lost..].contains(&ConnectionState::Connected),
        "a reconnected: {states:?}"
    );
}

#[tokio::test]
async fn a_client_started_offline_syncs_once_the_server_is_up() {
    let port = free_port();
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new(storage.clone(), PermissiveAgent::new());
    let connection =
        WebsocketClient::start(node.clone(), &format!("ws://127.0.0.1:{port}")).unwrap();
    eventually("the first attempt fails", async || {
        matches!(
            connection.state().peek(),
            ConnectionState::Disconnected { .. }
        )
    })
    .await;
    let trx = ctx(&node).begin();
    let id = trx
        .create(&common::album("Black Holes and Revelations", "Muse", 2006))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();

    let server = Server::start(memory_server_node().await, &format!("127.0.0.1:{port}")).await;
    eventually("the client connects", async || {
        connection.state().peek() == ConnectionState::Connected
    })
    .await;
    eventually("the offline commit reaches the server", async || {
        storage.outbox().await.unwrap().is_empty()
    })
    .await;
    assert_eq!(state_of(&server.node, id).await, state_of(&node, id).await);
}

#[tokio::test]
async fn a_failed_first_connection_is_an_error() {
    let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let err = WebsocketClient::new(node.clone(), "no scheme")
        .await
        .unwrap_err();
    assert!(matches!(err, WebsocketError::InvalidUrl { .. }), "{err}");
    let err = WebsocketClient::new(node.clone(), &format!("ws://127.0.0.1:{}", free_port()))
        .await
        .unwrap_err();
    assert!(matches!(err, WebsocketError::Connect { .. }), "{err}");

    // A client that belongs to another system is refused in the handshake.
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let storage = Arc::new(MemoryStorage::new());
    storage.set_system_id(SystemId::new()).await.unwrap();
    let stranger = Node::new(storage, PermissiveAgent::new());
    match WebsocketClient::new(stranger, &server.url()).await {
        Err(WebsocketError::Peer(PeerError::Refused(reason))) => {
            assert!(reason.contains("system"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(server.node.peer_count(), 0);
}

#[tokio::test]
async fn shutting_down_closes_connections_cleanly() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    eventually("the server has both peers", async || {
        server.node.peer_count() == 2
    })
    .await;
    let (seen_by_b, _recording) = b.record_states();

    let state = a.connection.state();
    a.connection.shutdown().await;
    assert_eq!(state.peek(), ConnectionState::Closed);
    eventually("the server drops a", async || server.node.peer_count() == 1).await;
    assert_eq!(a.node.peer_count(), 0);

    // Shutting the server down tells b why; `stop` returns once every connection is closed.
    let server_node = server.stop().await;
    assert_eq!(server_node.peer_count(), 0);
    let told = |states: &[ConnectionState]| {
        states.iter().any(|s| matches!(s, ConnectionState::Disconnected { reason } if reason.contains("the server is shutting down")))
    };
    eventually("b is told why", async || told(&seen_by_b.lock())).await;
}

#[tokio::test]
async fn results_larger_than_one_message_arrive_whole() {
    // 40 albums of 512 KiB each: 20 MiB of states, more than one message may carry.
    let server = memory_server_node().await;
    let artist = "x".repeat(512 * 1024);
    let create_large = async |node: &Node, years: std::ops::Range<i32>| {
        let trx = ctx(node).begin();
        for year in years {
            trx.create(&album("Large", &artist, year)).await.unwrap();
        }
        trx.commit().await.unwrap();
    };
    create_large(&server, 2001..2041).await;
    let server = Server::start(server, "127.0.0.1:0").await;
    let client = Client::connect(&server.url()).await;
    let (states, _recording) = client.record_states();

    // An answer in parts.
    let live = client
        .ctx()
        .query_wait::<AlbumView>("year > 2000")
        .await
        .unwrap();
    assert_eq!(live.peek().len(), 40);
    let fetched: Vec<AlbumView> = client.ctx().fetch("year > 2020").await.unwrap();
    assert_eq!(fetched.len(), 20);
    assert!(fetched.iter().all(|a| a.artist().unwrap() == artist));

    // An update in several messages: one transaction of 40 more.
    create_large(&server.node, 2041..2081).await;
    eventually("the live query holds all 80", async || {
        live.peek().len() == 80
    })
    .await;
    assert!(client.is_connected());
    assert!(states.lock().is_empty(), "the connection never dropped");
}
