//! Reads of the past on a client over real sockets: an ephemeral node asks its durable peer
//! (a sled server) with `History` and `FetchAt`, and gets the answers the server gives
//! itself; offline, a client that keeps no events says so instead of inventing a past.

mod common;

use std::time::{Duration, SystemTime};

use ankurah_core::model::View;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{Node, PermissiveAgent, RetrievalError};
use ankurah_storage_sled::SledStorage;
use common::{create, ctx, eventually, Album, AlbumView, Client, Server};
use std::sync::Arc;

async fn sled_server() -> Server {
    let node = Node::new_durable(
        Arc::new(SledStorage::new_test().expect("a sled store")),
        PermissiveAgent::new(),
    );
    node.system.create().await.expect("sled");
    Server::start(node, "127.0.0.1:0").await
}

async fn set_year(ctx: &ankurah_core::Context, id: ankurah_core::EntityId, year: i32) {
    let view = ctx.get::<AlbumView>(id).await.expect("readable");
    let trx = ctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
    trx.commit().await.expect("commit");
}

#[tokio::test]
async fn a_client_reads_the_past_from_its_durable_peer() {
    let server = sled_server().await;
    let client = Client::connect(&server.url()).await;
    let here = client.ctx();
    let id = create(&client.node, "Absolution", 2003).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    set_year(&here, id, 2004).await;
    let other = create(&client.node, "Drones", 2015).await;
    let there = ctx(&server.node);
    eventually("the server holds both albums", async || {
        there.fetch::<AlbumView>("year > 2003").await.unwrap().len() == 2
    })
    .await;

    let then = here
        .get_at::<AlbumView>(id, before)
        .await
        .expect("the past");
    assert_eq!(then.year().unwrap(), 2003);
    assert_eq!(
        then.entity().to_state(),
        there
            .get_at::<AlbumView>(id, before)
            .await
            .unwrap()
            .entity()
            .to_state(),
        "the client gets the state the server computes"
    );
    let past: Vec<_> = here
        .fetch_at::<AlbumView>("year > 2000", before)
        .await
        .unwrap()
        .iter()
        .map(|v| v.id())
        .collect();
    assert_eq!(past, vec![id], "the other album did not exist yet");
    assert!(!past.contains(&other));
    assert_eq!(
        here.history::<AlbumView>(id).await.unwrap(),
        there.history::<AlbumView>(id).await.unwrap()
    );
    assert_eq!(
        here.blame::<AlbumView>(id).await.unwrap(),
        there.blame::<AlbumView>(id).await.unwrap()
    );
    let maps = here
        .dynamic("album")
        .fetch_at("year > 2000", before)
        .await
        .unwrap();
    assert_eq!(maps.len(), 1);
    // The past is not stored: the client's copy is still the present.
    assert_eq!(
        here.get::<AlbumView>(id).await.unwrap().year().unwrap(),
        2004
    );
    let unknown = ankurah_core::EntityId::new();
    assert!(matches!(
        here.history::<AlbumView>(unknown).await,
        Err(RetrievalError::NotFound { .. })
    ));
    server.stop().await;
}

#[tokio::test]
async fn an_offline_client_without_events_says_it_has_no_history() {
    let server = sled_server().await;
    let url = server.url();
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new(storage, PermissiveAgent::new());
    let connection = ankurah_websocket::WebsocketClient::new(node.clone(), &url)
        .await
        .expect("connect");
    node.system.wait_system_ready().await;
    let id = create(&server.node, "Showbiz", 1999).await;
    let here = ctx(&node);
    here.get::<AlbumView>(id)
        .await
        .expect("read through the server");
    connection.shutdown().await;
    server.stop().await;
    assert!(matches!(
        here.history::<AlbumView>(id).await,
        Err(RetrievalError::NoHistory { .. })
    ));
}
