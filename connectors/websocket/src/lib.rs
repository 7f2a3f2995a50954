//! # ankurah-websocket
//!
//! Connects Ankurah nodes over WebSockets: [`WebsocketServer`] serves a (durable) node,
//! [`WebsocketClient`] connects an (ephemeral) node to it and keeps it connected.
//!
//! The connector only carries messages. Everything else is the peer protocol of
//! `ankurah-core` ([`Node::run_peer`](ankurah_core::Node::run_peer)), the same one the
//! in-process [`LocalConnector`](ankurah_core::LocalConnector) runs: the `Hello` handshake,
//! commits with acknowledgement, remote reads and subscriptions with delta updates. What
//! the WebSocket adds:
//!
//! - **Framing.** One protocol message per binary frame; `docs/PROTOCOL.md` in the
//!   repository describes the bytes for clients in other languages.
//! - **Bad peers are cut off, not crashed on.** A text frame, an undecodable frame or one
//!   larger than [`MAX_MESSAGE_BYTES`](ankurah_core::proto::MAX_MESSAGE_BYTES) gets a
//!   `Goodbye` naming the problem and the connection is closed; other connections carry on.
//! - **Reconnection.** A client whose connection is lost reconnects with exponential backoff.
//!   On every new connection the node sends the commits it made offline (its outbox) and
//!   re-subscribes its live queries with the heads it holds, so a live query that was open
//!   before the outage resumes by itself and catches up with deltas. The connection state is
//!   a signal ([`WebsocketClient::state`]).
//! - **Liveness.** Idle connections are pinged; a peer silent for a minute is dropped (and
//!   the client reconnects), so a vanished network does not leave a client waiting forever.
//!
//! ## Server and client
//!
//! ```no_run
//! use std::sync::Arc;
//! use ankurah_core::{storage::MemoryStorage, Node, PermissiveAgent};
//! use ankurah_websocket::{WebsocketClient, WebsocketServer};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Server: a durable node (use ankurah-storage-sled to keep the data on disk).
//! let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! server.system.create().await?;
//! let ws = WebsocketServer::new(server.clone()).bind("127.0.0.1:9797").await?;
//! tokio::spawn(ws.run());
//!
//! // Client: an ephemeral node with its own local cache.
//! let client = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! let _conn = WebsocketClient::new(client.clone(), "ws://127.0.0.1:9797").await?;
//! client.system.wait_system_ready().await;
//! // `client.context(DEFAULT_CONTEXT)?` now reads, writes and runs live queries through
//! // the server; keep `_conn` alive as long as the node should stay connected.
//! # Ok(()) }
//! ```
//!
//! ## Try it in two terminals
//!
//! The `ankurah-examples` crate has a server and an interactive client:
//!
//! ```text
//! $ cargo run -p ankurah-examples --bin server                  # terminal 1
//! $ cargo run -p ankurah-examples --bin client                  # terminal 2, and 3, ...
//! > Showbiz                                                    # type a name: creates an album
//! ```
//!
//! Every client prints the changes its live query sees, so an album typed in one terminal
//! shows up in the others at once. Stop the server and start it again: the clients say they
//! are disconnected, reconnect by themselves and carry on (albums typed meanwhile are sent
//! on reconnection).
//!
//! ## In the browser
//!
//! On `wasm32` the crate is the client alone: [`WebsocketClient`] on the browser's
//! `WebSocket`, with the native client's API and behaviour (reconnection with backoff and
//! jitter, outbox replay and re-subscription through the peer protocol, the connection
//! state as a signal). The server is native only. A browser client presents a signed token
//! by giving its node a `JsTokenSource` (`node.set_credentials(JsTokenSource::new(getter))`):
//! the JS getter is asked on every connection, as the native client's credential source is.
//!
//! ## Inside an existing web server
//!
//! [`serve_upgraded`] serves one connection that another HTTP server (axum, hyper) already
//! upgraded, so Ankurah can live on a route of an existing application; its documentation
//! shows an axum handler.

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod client;
mod error;
#[cfg(not(target_arch = "wasm32"))]
mod frame;
#[cfg(not(target_arch = "wasm32"))]
mod server;
#[cfg(not(target_arch = "wasm32"))]
mod session;
mod state;
#[cfg(target_arch = "wasm32")]
mod token;

#[cfg(target_arch = "wasm32")]
pub use browser::WebsocketClient;
#[cfg(not(target_arch = "wasm32"))]
pub use client::WebsocketClient;
pub use error::{FrameError, WebsocketError};
#[cfg(not(target_arch = "wasm32"))]
pub use server::{serve_connection, serve_upgraded, BoundServer, ShutdownHandle, WebsocketServer};
pub use state::ConnectionState;
#[cfg(target_arch = "wasm32")]
pub use token::JsTokenSource;
