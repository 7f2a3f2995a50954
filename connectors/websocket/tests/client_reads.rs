//! What a WebSocket client reads with no live query held: `get`, `fetch` and held views
//! reflect the server, remote deletes reach all three, and a client that was offline
//! during the changes catches up when it reconnects.

mod common;

use std::time::Duration;

use ankurah_core::model::View;
use ankurah_core::{Context, EntityId, PropertyError, ReadSource, RetrievalError};
use ankurah_websocket::WebsocketClient;
use common::{ctx, memory_server_node, Album, AlbumView, Client, Server};

/// Held views must follow remote changes within a second.
async fn within_a_second(what: &str, check: impl Fn() -> bool) {
    ankurah_core::testing::within(Duration::from_secs(1), what, check).await
}

async fn rename(ctx: &Context, id: EntityId, name: &str) {
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    let old = view.name().unwrap().chars().count() as u32;
    edit.name().delete(0, old).unwrap();
    edit.name().insert(0, name).unwrap();
    trx.commit().await.unwrap();
}

async fn delete(ctx: &Context, id: EntityId) {
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    trx.delete(&view).unwrap();
    trx.commit().await.unwrap();
}

async fn names(ctx: &Context) -> Vec<String> {
    let mut names: Vec<String> = ctx
        .fetch::<AlbumView>("")
        .await
        .unwrap()
        .iter()
        .map(|v| v.name().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn remote_edits_and_deletes_reach_get_fetch_and_held_views() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let id = common::create(&a.node, "note", 2001).await;
    common::create(&a.node, "other", 1990).await;
    let held = a.ctx().get::<AlbumView>(id).await.unwrap();

    rename(&b.ctx(), id, "edited by b").await;
    let read = a.ctx().get_sourced::<AlbumView>(id).await.unwrap();
    assert_eq!(read.source, ReadSource::Durable);
    assert_eq!(read.value.name().unwrap(), "edited by b");
    assert_eq!(names(&a.ctx()).await, ["edited by b", "other"]);
    within_a_second("the held view shows b's edit", || {
        held.name().ok().as_deref() == Some("edited by b")
    })
    .await;
    rename(&b.ctx(), id, "again").await;
    within_a_second("the held view shows b's second edit", || {
        held.name().ok().as_deref() == Some("again")
    })
    .await;

    delete(&b.ctx(), id).await;
    assert!(matches!(
        a.ctx().get::<AlbumView>(id).await,
        Err(RetrievalError::Deleted { .. })
    ));
    assert_eq!(names(&a.ctx()).await, ["other"]);
    within_a_second("the held view is deleted", || held.is_deleted()).await;
    assert!(matches!(held.name(), Err(PropertyError::Deleted { .. })));
}

#[tokio::test]
async fn a_client_offline_during_remote_changes_catches_up_when_it_reconnects() {
    let server = Server::start(memory_server_node().await, "127.0.0.1:0").await;
    let (a, b) = (
        Client::connect(&server.url()).await,
        Client::connect(&server.url()).await,
    );
    let kept = common::create(&a.node, "kept", 2001).await;
    let gone = common::create(&a.node, "gone", 2002).await;
    let held_kept = a.ctx().get::<AlbumView>(kept).await.unwrap();
    let held_gone = a.ctx().get::<AlbumView>(gone).await.unwrap();

    let Client {
        node: a_node,
        connection,
        ..
    } = a;
    connection.shutdown().await;
    common::eventually("the server notices", async || server.node.peer_count() == 1).await;
    rename(&b.ctx(), kept, "renamed").await;
    delete(&b.ctx(), gone).await;
    let offline = ctx(&a_node).get_sourced::<AlbumView>(kept).await.unwrap();
    assert_eq!(offline.source, ReadSource::Local);
    assert_eq!(offline.value.name().unwrap(), "kept");

    let _connection = WebsocketClient::new(a_node.clone(), &server.url())
        .await
        .unwrap();
    within_a_second("the held views catch up", || {
        held_kept.name().ok().as_deref() == Some("renamed") && held_gone.is_deleted()
    })
    .await;
    let fetched = ctx(&a_node).fetch_sourced::<AlbumView>("").await.unwrap();
    assert_eq!(fetched.source, ReadSource::Durable);
    assert_eq!(fetched.value.len(), 1);
    assert_eq!(fetched.value[0].name().unwrap(), "renamed");
}
