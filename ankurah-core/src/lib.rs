//! # ankurah-core
//!
//! The runtime of Ankurah: every change is an immutable [`Event`] with a
//! hybrid-logical-clock ULID; entity state is derived from events by property backends whose
//! merge is a join, so replicas converge byte for byte; a [`Node`] stores states and events
//! in a pluggable [`StorageEngine`](storage::StorageEngine) and answers AnkQL queries.
//!
//! Users normally depend on the `ankurah` facade crate, which re-exports this one together
//! with the derive macros.
//!
//! ```
//! # use ankurah_core::{Node, storage::MemoryStorage, policy::{PermissiveAgent, DEFAULT_CONTEXT}};
//! # use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! node.system.create().await.expect("memory storage cannot fail");
//! let ctx = node.context(ankurah_core::policy::DEFAULT_CONTEXT).unwrap();
//! # let _ = ctx; }
//! ```

// Items are documented; fields and variants where they say more than their name.
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod ankql;
pub mod auth;
#[cfg(not(target_arch = "wasm32"))]
mod blocking_pool;
pub mod changes;
pub mod clock;
pub mod collection;
pub mod connector;
pub mod context;
pub mod durability;
pub mod dynamic;
pub mod encoding;
pub mod entity;
pub mod error;
pub mod event;
mod group_commit;
pub mod history;
pub mod id;
pub mod limits;
pub mod livequery;
pub mod model;
pub mod node;
mod node_error;
pub mod policy;
pub mod property;
mod reactor;
pub mod rules;
mod runtime;
mod shutdown;
pub mod signals;
mod sourced;
pub mod state;
pub mod storage;
pub mod sync;
pub mod system;
pub mod temporal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time_travel;
pub mod transaction;
mod typecheck;
pub mod value;

pub use changes::{ChangeKind, ChangeSet, ItemChange};
pub use clock::Clock;
pub use collection::CollectionId;
pub use connector::LocalConnector;
pub use context::{Context, IntoSelection, LiveQueryGuard};
pub use durability::Durability;
pub use dynamic::{Dynamic, EntityMap, MapQueryGuard};
pub use entity::Entity;
pub use error::{DecodeError, EventError, PropertyError, StorageError};
pub use event::Event;
pub use history::{At, Blame, HistoryEntry, PropertyDiff};
pub use id::{EntityId, EventId, NodeId, SystemId};
pub use limits::{LimitExceeded, Limits};
pub use livequery::LiveQuery;
pub use model::{Model, Mutable, PropertyDescriptor, View};
pub use node::{ApplyOutcome, Node, NodeConfig};
pub use node_error::{MutationError, RetrievalError};
pub use policy::{AccessDenied, ContextData, PermissiveAgent, PolicyAgent, DEFAULT_CONTEXT};
pub use property::{ActiveType, Json, Property, Ref, YrsString, LWW};
pub use shutdown::{Shutdown, SHUTDOWN_GRACE};
pub use sourced::{ReadSource, Sourced};
pub use state::{EntityState, State};
pub use sync::{proto, ErrorKind, PeerError, Rejection, RemoteError};
pub use transaction::Transaction;
pub use value::{Value, ValueType};
