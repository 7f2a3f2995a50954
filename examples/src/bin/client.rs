//! Terminal 2 (and 3, …) of the two-terminal demo: an ephemeral node that watches every
//! album live and creates one per line typed.
//!
//! ```text
//! cargo run -p ankurah-examples --bin client [URL]
//! > Origin of Symmetry 2001        # creates an album (a trailing number is its year)
//! ```
//!
//! URL defaults to ws://127.0.0.1:9797. The client starts even if the server is down: albums
//! typed while offline wait in the node's outbox and are sent when it connects.

use std::sync::Arc;

use ankurah::changes::ChangeSet;
use ankurah::signals::Subscribe;
use ankurah::storage::MemoryStorage;
use ankurah::{Model, Node, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_websocket::{ConnectionState, WebsocketClient};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The model both terminals' clients share (the server needs none: it stores and relays
/// whatever collections clients use).
#[derive(Model, Debug, Clone)]
pub struct Album {
    /// Collaborative text.
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9797".into());
    let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let connection = WebsocketClient::start(node.clone(), &url)?;
    let _status = connection.state().subscribe(|state| {
        if state != ConnectionState::Connecting {
            println!("[{state:?}]");
        }
    });

    // Every album, oldest first; the callback prints each transaction's changes.
    let ctx = node.context(DEFAULT_CONTEXT)?;
    let albums = ctx.query::<AlbumView>("ORDER BY year")?;
    let _changes = albums.subscribe(|changes: ChangeSet<AlbumView>| {
        for change in &changes.changes {
            let album = change.entity();
            let name = album.name().unwrap_or_default();
            let year = album.year().unwrap_or_default();
            println!("{:?}: {name} ({year})", change.kind());
        }
        println!("-- {} albums", changes.resultset.len());
    });

    println!("type an album name (and optionally a year) per line; Ctrl-D quits");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (name, year) = match line
            .rsplit_once(' ')
            .map(|(name, year)| (name, year.parse::<i32>()))
        {
            Some((name, Ok(year))) => (name, year),
            _ => (line, 2000),
        };
        let trx = ctx.begin();
        trx.create(&Album {
            name: name.into(),
            artist: "you".into(),
            year,
        })
        .await?;
        if let Err(error) = trx.commit().await {
            println!("not saved: {error}");
        }
    }
    connection.shutdown().await;
    Ok(())
}
