//! Sync: how nodes exchange events and states.
//!
//! A connector (WebSocket, or the in-process [`LocalConnector`](crate::LocalConnector))
//! carries [`proto::Message`]s between two nodes through a pair of bounded [`queue`]s and
//! runs [`Node::run_peer`](crate::Node::run_peer) on each side; everything else is here, a
//! file per role:
//!
//! - the **session** (`session.rs`): the handshake, requests and their answers, the limits
//!   one peer is held to, and the tasks that end with the session;
//! - the **client side** (`client.rs`, an ephemeral node): commits forwarded to the durable peer with an
//!   outbox for offline work, reads through the durable peer, live queries mirrored as remote
//!   subscriptions, refused commits undone;
//! - the **server side** (`server.rs`, a durable node): each request answered, a commit applied whole or
//!   not at all — its missing ancestors asked of the committer and of nobody else — and
//!   subscription updates pushed as coalesced deltas;
//! - **following** (`follow.rs`): the entities resident on an ephemeral node that no live
//!   query holds are followed on the durable peer, which pushes their changes;
//! - the **request rate** of one identity over its sessions (`rate.rs`);
//! - **deltas** (`delta.rs`): the events a peer lacks given the heads it holds, or the state when smaller.
//!
//! Errors cross the wire with a kind ([`proto::ErrorKind`]) and come back as the asking
//! node's own typed errors.

mod client;
mod delta;
mod error;
mod follow;
pub mod proto;
mod queue;
mod rate;
mod server;
mod session;

pub use client::Rejection;
pub use error::PeerError;
pub(crate) use follow::{Followers, Following};
pub use proto::{ErrorKind, RemoteError};
pub use queue::{queue, QueueError, QueueReceiver, QueueSender};
pub(crate) use rate::RequestRates;
pub(crate) use session::Peer;
