//! Terminal 1 of the two-terminal demo: a durable node on sled, served over WebSocket.
//!
//! ```text
//! cargo run -p ankurah-examples --bin server [ADDR] [DATA_DIR] [--anonymous]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9797 and DATA_DIR to `ankurah-example-data` in the system's
//! temporary directory. Clients authenticate with a signed token (see the
//! `ankurah_examples` crate docs), and the access rules let each user see their own albums
//! and the shared ones. Stop it with Ctrl-C and start it again: the data is on disk, and
//! connected clients reconnect by themselves. `--anonymous` chooses anonymous access
//! instead: no credentials, every client reads and writes everything (the browser demo,
//! whose client presents no token yet, uses it).

use std::sync::Arc;

use ankurah::{Node, PermissiveAgent};
use ankurah_jemalloc as _;
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let anonymous = std::env::args().any(|a| a == "--anonymous");
    let mut args = std::env::args().skip(1).filter(|a| a != "--anonymous");
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9797".into());
    let data = args.next().map_or_else(
        || std::env::temp_dir().join("ankurah-example-data"),
        Into::into,
    );

    let storage = Arc::new(SledStorage::open(&data)?);
    let node = if anonymous {
        Node::new_durable(storage, PermissiveAgent::new())
    } else {
        let node = Node::new_durable(storage, ankurah_examples::rules()?);
        node.set_authenticator(ankurah_examples::authenticator()?);
        node
    };
    let system = node.system.create().await?;
    let server = WebsocketServer::new(node).bind(addr.as_str()).await?;
    println!("system {system}, data in {}", data.display());
    println!("serving on ws://{}  (Ctrl-C stops)", server.local_addr());

    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.run());
    tokio::signal::ctrl_c().await?;
    stop.shutdown();
    serving.await?;
    println!("stopped; every client was told");
    Ok(())
}
