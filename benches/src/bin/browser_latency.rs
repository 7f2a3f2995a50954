//! The native side of the browser benchmark: native commit → the browser's live-query
//! callback, over loopback (`ANKURAH_BENCH=N scripts/wasm.sh test` runs it against the
//! demo page; figures in docs/PERFORMANCE.md).
//!
//! `browser_latency URL COUNT [PAUSE_MS]` connects an ephemeral node on `MemoryStorage` to the example
//! server at URL as user `bench` (a token per connection, as the example client), then
//! commits COUNT shared albums of year 4242, one transaction each, PAUSE_MS (default 10)
//! apart, each named
//! `latency T` where T is the wall-clock time in microseconds since the Unix epoch just
//! before its commit. The page's live query of `year = 4242` subtracts T from the time its
//! callback sees the album.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ankurah::storage::MemoryStorage;
use ankurah::{ContextData, Node, PermissiveAgent};
use ankurah_bench::Album;
use ankurah_websocket::WebsocketClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: browser_latency URL COUNT [PAUSE_MS]";
    let url = args.next().ok_or(usage)?;
    let count: u32 = args.next().ok_or(usage)?.parse().map_err(|_| usage)?;
    let pause: u64 = match args.next() {
        Some(pause) => pause.parse().map_err(|_| usage)?,
        None => 10,
    };
    let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.set_credentials(ankurah_examples::credentials("bench".into())?);
    let connection = WebsocketClient::new(node.clone(), &url).await?;
    node.system.wait_system_ready().await;
    let ctx = node.context(&ContextData::for_principal("bench"))?;
    for _ in 0..count {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros();
        let trx = ctx.begin();
        trx.create(&Album {
            name: format!("latency {micros}"),
            artist: ankurah_examples::SHARED.into(),
            year: 4242,
        })
        .await?;
        trx.commit().await?;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    connection.shutdown().await;
    Ok(())
}
