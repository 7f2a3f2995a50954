//! Terminal 2 (and 3, …) of the two-terminal demo: an ephemeral node of user NAME that
//! watches the albums NAME may see live and creates one per line typed.
//!
//! ```text
//! cargo run -p ankurah-examples --bin client [URL] [--name NAME] [--store DIR]
//! > Origin of Symmetry 2001        # creates an album of yours (a trailing number is its year)
//! > +Showbiz 1999                  # a leading + shares it with everyone
//! > /append Showbiz= (live)         # inserts " (live)" at the end of the name of the
//! >                                 # album whose name contains `Showbiz`
//! > /year Showbiz=2000              # sets that album's year
//! ```
//!
//! URL defaults to ws://127.0.0.1:9797. NAME (default `default`) is the user: the client
//! presents a token for NAME on every connection, and sees its own albums and the shared
//! ones, not those of other users. Each client keeps its store on disk, in
//! `ankurah-example-client/NAME` in the system's temporary directory (give a second
//! terminal another name) or in DIR. The client starts even if the server is down: albums typed while offline wait in
//! the store's outbox. Ctrl-D shuts the node down, waiting for the server to acknowledge
//! what it has; whatever it could not send is sent on the next start.

use std::sync::Arc;

use ankurah::changes::ChangeSet;
use ankurah::signals::{Peek, Subscribe};
use ankurah::{Context, ContextData, LiveQuery, Model, Node, PermissiveAgent};
use ankurah_jemalloc as _;
use ankurah_storage_sled::SledStorage;
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
    let args = Args::parse()?;
    let storage = SledStorage::open(&args.store).map_err(|error| {
        format!(
            "cannot open the client store {}: {error} (is another client using it? start \
             this one with --name OTHER)",
            args.store.display()
        )
    })?;
    let node = Node::new(Arc::new(storage), PermissiveAgent::new());
    node.set_credentials(ankurah_examples::credentials(args.name.clone())?);
    let url = args.url;
    let connection = WebsocketClient::start(node.clone(), &url)?;
    let _status = connection.state().subscribe(|state| {
        if state != ConnectionState::Connecting {
            println!("[{state:?}]");
        }
    });

    // Every album, oldest first; the callback prints each transaction's changes.
    let ctx = node.context(&ContextData::for_principal(args.name.clone()))?;
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
        if let Some(command) = line.strip_prefix('/') {
            if let Err(error) = edit(&ctx, &albums, command).await {
                println!("not edited: {error}");
            }
            continue;
        }
        let (artist, line) = match line.strip_prefix('+') {
            Some(shared) => (ankurah_examples::SHARED.to_owned(), shared.trim()),
            None => (args.name.clone(), line),
        };
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
            artist,
            year,
        })
        .await?;
        if let Err(error) = trx.commit().await {
            println!("not saved: {error}");
        }
    }
    let shutdown = node.shutdown().await?;
    if shutdown.unsent > 0 {
        println!(
            "{} unsent change(s) stay in {}; they are sent on the next start",
            shutdown.unsent,
            args.store.display()
        );
    }
    connection.shutdown().await;
    Ok(())
}

/// `append NAME=TEXT` (text inserted at the end of the name) or `year NAME=YEAR` on the
/// first album of the live query whose name contains NAME.
async fn edit(
    ctx: &Context,
    albums: &LiveQuery<AlbumView>,
    command: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let usage = "use /append NAME=TEXT or /year NAME=YEAR";
    let (verb, rest) = command.split_once(' ').ok_or(usage)?;
    let (name, value) = rest.split_once('=').ok_or(usage)?;
    let album = albums
        .peek()
        .into_iter()
        .find(|album| album.name().is_ok_and(|n| n.contains(name)))
        .ok_or_else(|| format!("no album whose name contains `{name}`"))?;
    let trx = ctx.begin();
    let edit = album.edit(&trx)?;
    match verb {
        "append" => {
            let end = u32::try_from(edit.name().value()?.chars().count())?;
            edit.name().insert(end, value)?;
        }
        "year" => edit.year().set(&value.trim().parse()?)?,
        _ => return Err(usage.into()),
    }
    trx.commit().await?;
    Ok(())
}

/// The command line: `[URL] [--name NAME] [--store DIR]`.
struct Args {
    url: String,
    name: String,
    store: std::path::PathBuf,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut url = "ws://127.0.0.1:9797".to_string();
        let mut name = "default".to_string();
        let mut store = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--name" => name = args.next().ok_or("--name needs a value")?,
                "--store" => store = Some(args.next().ok_or("--store needs a directory")?.into()),
                _ if arg.starts_with("ws://") || arg.starts_with("wss://") => url = arg,
                other => {
                    return Err(format!(
                        "unexpected argument `{other}`; usage: client [URL] [--name NAME] [--store DIR]"
                    ))
                }
            }
        }
        let store = store.unwrap_or_else(|| {
            std::env::temp_dir()
                .join("ankurah-example-client")
                .join(&name)
        });
        Ok(Args { url, name, store })
    }
}
