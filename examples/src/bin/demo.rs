//! The whole public API in one program (DESIGN §11): a durable server on sled served over
//! WebSocket, an ephemeral client with its own cache, an atomic transaction with a text
//! edit, reads, a live query, an edit, a typed query and a deletion.
//!
//! Run it with `cargo run -p ankurah-examples --bin demo`.

use std::sync::Arc;

use ankurah::changes::ChangeSet;
use ankurah::policy::DEFAULT_CONTEXT;
use ankurah::signals::{Peek, Subscribe};
use ankurah::{LiveQuery, Model, Node, PermissiveAgent};
use ankurah_jemalloc as _;
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::{WebsocketClient, WebsocketServer};

#[derive(Model, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Album {
    /// The title: collaborative text, so concurrent edits merge.
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    println!("server data in {}", data.path().display());

    // Server: durable node on sled, served over WebSocket.
    let server = Node::new_durable(
        Arc::new(SledStorage::open(data.path())?),
        PermissiveAgent::new(),
    );
    server.system.create().await?;
    let ws = WebsocketServer::new(server.clone())
        .bind("127.0.0.1:0")
        .await?;
    let url = format!("ws://{}", ws.local_addr());
    tokio::spawn(ws.run());
    println!("server listening on {url}");

    // Client: ephemeral node with its own local cache.
    let client = Node::new(Arc::new(SledStorage::new_test()?), PermissiveAgent::new());
    let _conn = WebsocketClient::new(client.clone(), &url).await?;
    client.system.wait_system_ready().await;
    let ctx = client.context(DEFAULT_CONTEXT)?;

    // Write: atomic transaction.
    let trx = ctx.begin();
    let album = trx
        .create(&Album {
            name: "Origin of Symmetry".into(),
            artist: "Muse".into(),
            year: 2001,
        })
        .await?;
    let id = album.id();
    album.name().insert(0, "The ")?;
    trx.commit().await?;
    println!("created {id}");

    // Read.
    let view: AlbumView = ctx.get::<AlbumView>(id).await?;
    assert_eq!(view.name()?, "The Origin of Symmetry");
    let hits: Vec<AlbumView> = ctx
        .fetch("name LIKE 'The Origin%' AND year > '2000'")
        .await?;
    assert_eq!(hits.len(), 1);
    println!("fetched {:?} by {}", hits[0].name()?, hits[0].artist()?);

    // Live query: initial result now, then a ChangeSet per committed transaction anywhere.
    let q: LiveQuery<AlbumView> = ctx
        .query_wait("year >= 2000 ORDER BY year DESC LIMIT 10")
        .await?;
    let _guard = q.subscribe(|changes: ChangeSet<AlbumView>| {
        for change in &changes.changes {
            println!("live: {:?} {}", change.kind(), change.entity().id());
        }
    });
    println!("{} albums", q.peek().len());

    // Edit an existing entity.
    let trx = ctx.begin();
    view.edit(&trx)?.year().set(&2002)?;
    trx.commit().await?;
    assert_eq!(view.year()?, 2002);
    println!("year is now {}", view.year()?);

    // Typed, compile-checked query.
    let year = 2000;
    let typed: Vec<AlbumView> = ctx.fetch(ankurah::selection!(Album: year > {year})).await?;
    assert_eq!(typed.len(), 1);

    // Delete: a tombstone event; the album leaves every query on every node.
    let trx = ctx.begin();
    view.delete(&trx)?;
    trx.commit().await?;
    assert!(ctx.get::<AlbumView>(id).await.is_err());
    println!(
        "deleted; {} albums remain in the live query",
        q.peek().len()
    );
    Ok(())
}
