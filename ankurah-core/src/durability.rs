//! [`Durability`]: how far a commit must have gone before [`Transaction::commit`] returns.
//!
//! Every node chooses a level ([`NodeConfig::durability`], [`Durability::Flushed`] unless
//! set) and a transaction may choose another for itself
//! ([`Transaction::commit_with`]). Whatever the level:
//!
//! - **Local reads and local listeners see a commit as soon as it is written** to storage,
//!   before it is flushed: entity subscribers, live queries and `get`/`fetch` on the same
//!   node do not wait for the disk. (On an engine without
//!   [group commit](crate::storage::StorageEngine::group_commit), such as redb and Postgres,
//!   a `Flushed` commit is written durably in one step, so it is seen once that returns;
//!   `Buffered` ones are seen at once there too.)
//! - **Peers are only told about what is durable** on the node that tells them: a durable
//!   node flushes what it wrote before it answers a peer or pushes a subscription update, so
//!   no peer ever holds a change that a crash of this node could take back. (An ephemeral
//!   node forwards its commits to a durable peer before they are durable locally: the peer is
//!   where they become durable.)
//! - On a durable node, everything written is flushed within [`NodeConfig::flush_delay`] by
//!   the node's background flusher, at whatever level it was committed. An ephemeral node
//!   schedules no flush of its cache: its outbox is flushed (with everything written before
//!   it) when a commit was not acknowledged by a durable peer, and what the cache holds is
//!   on a durable peer, read again from there if a crash loses it.
//!
//! # What each level survives
//!
//! Once `commit` has returned `Ok`:
//!
//! | level, node                      | process crash | power loss / OS crash     |
//! |----------------------------------|---------------|---------------------------|
//! | `Flushed`, durable node          | survives      | survives                  |
//! | `Buffered`, durable node         | survives (1)  | lost if within the delay  |
//! | `Flushed`, ephemeral, acknowledged | survives on the durable peer | survives on the durable peer |
//! | `Flushed`, ephemeral, offline    | survives (outbox, sent later) | survives (outbox)  |
//! | `Buffered`, ephemeral            | survives (1) (2) | survives once acknowledged or its outbox flushed (2) |
//! | any level on `MemoryStorage`     | lost          | lost                      |
//!
//! (1) With sled and redb a write sits in the engine's in-process buffers until it is
//! flushed, so a *process* crash within [`NodeConfig::flush_delay`] of a buffered commit may
//! lose it too; with Postgres (`synchronous_commit = off`) it is in the server and only an
//! OS crash or power loss of the database host loses it. A crash loses a suffix of buffered
//! commits, never an earlier commit without the later ones, and never part of a commit.
//!
//! (2) A buffered commit on an ephemeral node is forwarded in the background: once the
//! durable peer acknowledged it, it is durable there; if it was not acknowledged (offline,
//! the answer lost), the background task flushes the outbox at once. A crash before either
//! may lose it.
//!
//! An ephemeral node's cache (the states it holds) is never flushed on the latency path: a
//! `Flushed` commit there returns once the durable peer acknowledged it, and flushes the
//! outbox only when it was not acknowledged (offline, or the answer was lost), so that an
//! offline commit is in a durable outbox before `commit` returns and is sent on reconnect.
//!
//! ```
//! use std::sync::Arc;
//! use ankurah_core::{Durability, Model, Node, NodeConfig, PermissiveAgent};
//! use ankurah_core::storage::MemoryStorage;
//! use ankurah_core::policy::DEFAULT_CONTEXT;
//!
//! # async fn example<M: Model>(album: M) -> Result<(), Box<dyn std::error::Error>> {
//! // A node whose commits return once written, flushed within 50 ms.
//! let config = NodeConfig { durability: Durability::Buffered, ..NodeConfig::default() };
//! let node = Node::with_config(Arc::new(MemoryStorage::new()), PermissiveAgent::new(), true, config);
//! node.system.create().await?;
//! let ctx = node.context(DEFAULT_CONTEXT)?;
//!
//! let trx = ctx.begin();
//! trx.create(&album).await?;
//! trx.commit().await?;
//!
//! // This one is flushed before it returns, whatever the node's level.
//! let trx = ctx.begin();
//! trx.create(&album).await?;
//! trx.commit_with(Durability::Flushed).await?;
//!
//! // Everything written so far, on disk now.
//! node.flush().await?;
//! # Ok(()) }
//! ```
//!
//! [`Transaction::commit`]: crate::Transaction::commit
//! [`Transaction::commit_with`]: crate::Transaction::commit_with
//! [`NodeConfig::durability`]: crate::NodeConfig::durability
//! [`NodeConfig::flush_delay`]: crate::NodeConfig::flush_delay

/// How far a commit must have gone before it returns; see the [module docs](self) for what
/// each level survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Durability {
    /// Durable before `commit` returns: flushed to disk on a durable node; on an ephemeral
    /// node acknowledged by a durable peer, or else kept in a flushed outbox.
    #[default]
    Flushed,
    /// Returns once written (visible to local reads and listeners), flushed by the node's
    /// background flusher within [`NodeConfig::flush_delay`](crate::NodeConfig::flush_delay).
    /// On an ephemeral node the commit is forwarded to the durable peer in the background; a
    /// refusal is reported through [`Node::rejections`](crate::Node::rejections).
    Buffered,
}
