//! # Ankurah
//!
//! Typed, event-sourced data that lives on many nodes at once. Describe data as plain structs
//! with `#[derive(Model)]`; the derive generates a live read handle (`AlbumView`), an edit
//! handle (`AlbumMut`) and compile-checked queries ([`selection!`]). Every change is stored
//! as an event, so replicas converge and stay in sync.
//!
//! ```
//! use std::sync::Arc;
//! use ankurah::{selection, storage::MemoryStorage, Model, Node, PermissiveAgent, DEFAULT_CONTEXT};
//!
//! #[derive(Model, Debug, Clone)]
//! pub struct Album {
//!     /// Collaborative text (`YrsString`), the default for `String` fields.
//!     pub name: String,
//!     /// A last-writer-wins register, the default for every other type.
//!     pub year: i32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! node.system.create().await?;
//! let ctx = node.context(DEFAULT_CONTEXT)?;
//!
//! let trx = ctx.begin();
//! let album = trx.create(&Album { name: "Origin of Symmetry".into(), year: 2001 }).await?;
//! album.name().insert(0, "The ")?;
//! let id = album.id();
//! trx.commit().await?;
//!
//! let view: AlbumView = ctx.get(id).await?;
//! assert_eq!(view.name()?, "The Origin of Symmetry");
//!
//! let year = 2000;
//! let recent: Vec<AlbumView> = ctx.fetch(selection!(Album: year > {year})).await?;
//! assert_eq!(recent.len(), 1);
//! # Ok(()) }
//! ```
//!
//! ## What a client reads
//!
//! An ephemeral node (`Node::new`) keeps a local store and talks to a durable peer. While
//! one is connected:
//!
//! - `ctx.get` and `ctx.fetch` reflect the durable peer: the node sends the heads it holds
//!   and applies the deltas it gets back before answering. A deleted entity makes `get`
//!   fail with `RetrievalError::Deleted` and is left out of `fetch`.
//! - Views stay current while held: the node follows, on the durable peer, every entity
//!   resident in it that no live query holds (the views the application holds, and the
//!   recently read entities it keeps, [`NodeConfig::resident_entities`]), and stops once
//!   nothing holds it. A followed entity is current, so `get` answers it without asking. A
//!   view of an entity deleted anywhere says so ([`View::is_deleted`]); reading its fields
//!   returns `PropertyError::Deleted`.
//! - Live queries get their first result from the durable peer and every change after it,
//!   with `Remove` for entities deleted or no longer matching.
//!
//! Offline, all of them answer from the local store, which holds what the node last heard
//! plus its own commits; commits wait in the outbox and are sent on reconnect.
//! [`Context::get_sourced`] and [`Context::fetch_sourced`] say which it was
//! ([`ReadSource`]). Before the process exits, [`Node::shutdown`] waits for the durable peer
//! to acknowledge the outbox and flushes what is left to disk for the next start.
//!
//! ```
//! # use std::sync::Arc;
//! # use ankurah::{storage::MemoryStorage, LocalConnector, Model, Node, PermissiveAgent, ReadSource, View, DEFAULT_CONTEXT};
//! # #[derive(Model, Debug, Clone)]
//! # pub struct Album { pub name: String, pub year: i32 }
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! server.system.create().await?;
//! let client = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! let connection = LocalConnector::new(&server, &client);
//! client.system.wait_system_ready().await;
//! client.wait_durable_peer().await;
//! let (sctx, cctx) = (server.context(DEFAULT_CONTEXT)?, client.context(DEFAULT_CONTEXT)?);
//!
//! let trx = sctx.begin();
//! let id = trx.create(&Album { name: "Showbiz".into(), year: 1999 }).await?.id();
//! trx.commit().await?;
//!
//! let read = cctx.get_sourced::<AlbumView>(id).await?; // asks the server
//! assert_eq!(read.source, ReadSource::Durable);
//! let view = read.value;
//!
//! let trx = sctx.begin();
//! sctx.get::<AlbumView>(id).await?.delete(&trx)?;
//! trx.commit().await?;
//! while !view.is_deleted() {
//!     // The deletion reaches the view the client holds, with no live query open.
//!     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//! }
//! assert!(cctx.get::<AlbumView>(id).await.is_err());
//!
//! connection.disconnect();
//! # while client.peer_count() > 0 { tokio::time::sleep(std::time::Duration::from_millis(1)).await; }
//! let offline = cctx.fetch_sourced::<AlbumView>("").await?; // the local store answers
//! assert_eq!(offline.source, ReadSource::Local);
//! client.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Reading the past
//!
//! Every change is an event whose id carries its time, so any moment's state can be
//! rebuilt: [`Context::get_at`] and [`Context::fetch_at`] read views as of a time or a
//! [`Clock`](ankurah_core::Clock) ([`At`]), [`Context::history`] lists an entity's events with
//! their authors and the properties each changed, [`Context::diff`] compares two moments and
//! [`Context::blame`] names the event behind each value. A client asks its durable peer.
//! [`Context::dynamic`] reads any collection as property maps, without compiled models.
//!
//! ```
//! # use std::sync::Arc;
//! # use ankurah::{storage::MemoryStorage, Model, Node, PermissiveAgent, View, DEFAULT_CONTEXT};
//! # #[derive(Model, Debug, Clone)]
//! # pub struct Album { pub name: String, pub year: i32 }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
//! # node.system.create().await?;
//! # let ctx = node.context(DEFAULT_CONTEXT)?;
//! let trx = ctx.begin();
//! let id = trx.create(&Album { name: "Showbiz".into(), year: 1999 }).await?.id();
//! trx.commit().await?;
//! let before = ctx.get::<AlbumView>(id).await?.entity().head(); // a moment, as a clock
//!
//! let trx = ctx.begin();
//! trx.edit::<Album>(&ctx.get(id).await?)?.year().set(&2000)?;
//! trx.commit().await?;
//!
//! let then: AlbumView = ctx.get_at(id, before.clone()).await?;
//! assert_eq!(then.year()?, 1999);
//! let changed = ctx.diff::<AlbumView>(id, before, std::time::SystemTime::now()).await?;
//! assert_eq!(changed[0].property, "year");
//! assert_eq!(ctx.history::<AlbumView>(id).await?.len(), 2);
//! let albums = ctx.dynamic("album").fetch("year = 2000").await?;
//! assert_eq!(albums[0].values["name"], ankurah::Value::from("Showbiz"));
//! # Ok(()) }
//! ```
//!
//! ## Programs on sled
//!
//! Link crate `ankurah-jemalloc` into the program (`use ankurah_jemalloc as _;` in its main
//! file): it makes jemalloc the global allocator, and commits on sled run at 1.3 to 2 times
//! the rate they reach on glibc's allocator (see `docs/PERFORMANCE.md`). Leave it out when
//! the program defines its own `#[global_allocator]`.

#![warn(missing_docs)]

// Modules, for what the names below do not cover (custom storage engines, policy agents).
pub use ankurah_core::{
    ankql, error, event, model, policy, property, state, storage, temporal, value,
};
// Who may connect (authentication in the handshake) and what they may read and write.
pub use ankurah_core::{auth, rules};

// Modelling data.
pub use ankurah_core::model::{Model, Mutable, PropertyDescriptor, View};
pub use ankurah_core::property::{ActiveType, Json, Property, Ref, YrsString, LWW};

// Nodes, contexts and transactions.
pub use ankurah_core::policy::{ContextData, PermissiveAgent, PolicyAgent, DEFAULT_CONTEXT};
pub use ankurah_core::{Context, Durability, IntoSelection, Node, NodeConfig, Transaction};

// Live queries and signals.
pub use ankurah_core::{changes, signals};
pub use ankurah_core::{LiveQuery, LiveQueryGuard};

// Reads of the past, and access without compiled models.
pub use ankurah_core::{dynamic, history};
pub use ankurah_core::{At, Blame, Dynamic, EntityMap, HistoryEntry, PropertyDiff};

// Where a read's answer came from, and a safe exit.
pub use ankurah_core::{ReadSource, Shutdown, Sourced, SHUTDOWN_GRACE};

// Sync between nodes (network connectors live in their own crates, e.g. `ankurah-websocket`).
pub use ankurah_core::{proto, ErrorKind, LocalConnector, PeerError, Rejection, RemoteError};

// Identity and values.
pub use ankurah_core::{CollectionId, EntityId, EventId, NodeId, SystemId, Value, ValueType};

// Errors.
pub use ankurah_core::{
    AccessDenied, LimitExceeded, Limits, MutationError, PropertyError, RetrievalError, StorageError,
};

// The macros, documented here where their examples can use this crate.

/// Makes a struct with named fields a stored model.
///
/// For `struct Album` it generates, beside the struct and with its visibility:
///
/// - `AlbumView`: a cheap-to-clone, live, read-only handle (implements [`View`]). Each stored
///   field `name: T` becomes a getter `fn name(&self) -> Result<T, PropertyError>` reading the
///   current state; also `id()`, `edit(&trx)` → `AlbumMut`, `delete(&trx)`, and `Debug`.
/// - `AlbumMut<'t>`: an edit handle inside a transaction (implements [`Mutable`]). Each stored
///   field becomes an accessor returning its active type, e.g. `fn year(&self) -> LWW<i32>`,
///   `fn name(&self) -> YrsString<String>`; also `id()` and `read()`.
/// - the [`Model`](trait@Model) impl: the collection (the struct name in snake_case), a
///   [`PropertyDescriptor`] per stored field, and the writes of `trx.create(&album)`.
/// - the typed properties [`selection!`] checks queries against.
///
/// Getters and accessors have their field's visibility and carry its doc comments.
///
/// # Field types
///
/// `String`, `bool`, every integer type, `f32`, `f64`, `Vec<u8>`, [`EntityId`], [`Ref<M>`](Ref),
/// [`Json`], types with `#[derive(Property)]`, with the `chrono` feature `chrono::NaiveDate`,
/// `chrono::DateTime<Utc>` and `chrono::TimeDelta`, and `Option<T>` of these. `u64`, `usize` and
/// `isize` values are stored as 64-bit signed integers; writing a larger one is an error.
///
/// # Attributes
///
/// - `#[active_type(LWW)]` / `#[active_type(YrsString)]` on a field: how concurrent writes
///   merge. By default a field of type exactly `String` is collaborative text
///   ([`YrsString`]) and every other field a last-writer-wins register ([`LWW`]).
/// - `#[model(ephemeral)]` on a field: never stored. It is a plain field of the view, starting
///   at `Default::default()` in every view (the type must be `Clone + Default`), for state a
///   client keeps next to the data, such as a selection.
/// - `#[model(collection = "albums")]` on the struct: overrides the collection name.
///
/// ```
/// use ankurah::{Model, LWW, YrsString};
///
/// /// A record.
/// #[derive(Model)]
/// #[model(collection = "records")]
/// pub struct Album {
///     /// The title, edited collaboratively.
///     pub name: String,
///     #[active_type(LWW)]
///     pub artist: String,
///     pub year: Option<i32>,
///     #[model(ephemeral)]
///     pub selected: bool,
/// }
///
/// fn rename(album: &AlbumMut<'_>) -> Result<(), ankurah::PropertyError> {
///     let (_, _): (YrsString<String>, LWW<String>) = (album.name(), album.artist());
///     album.name().replace("Absolution")
/// }
/// assert_eq!(<Album as ankurah::Model>::collection().as_str(), "records");
/// ```
#[doc(inline)]
pub use ankurah_derive::Model;

/// Makes a serde type a property value, stored as its serde JSON form. What a query compares
/// it as is what serde writes, with JSON scalars unwrapped (see the [`value`] module docs),
/// the same on every storage engine:
///
/// - a unit-only enum is its variant name, a `String`: `status = 'Open'` selects
///   `Status::Open`, and so does `selection!(Item: status = {Status::Open})`;
/// - a newtype is its inner value: `struct Year(i32)` compares and ranges as a number,
///   `struct Sku(String)` as a string;
/// - structs and enums with data stay Json: compared as a whole (equal or not) and reachable
///   by dotted paths (`meta.label`, `status.Closed.reason`);
/// - `Option<T>` of any of these is NULL when `None`.
///
/// The declared [`ValueType`] that query checks use is `String` for a unit-only enum, the
/// inner type's for a newtype of a built-in scalar, and Json (checked when the query runs)
/// otherwise; serde attributes that change the shape (`tag`, `untagged`, `into`, ...) make it
/// Json. For dates and times use `chrono`'s types directly (feature `chrono`): they are
/// first-class properties, ordered natively on every engine.
///
/// ```
/// use ankurah::{Model, Property};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Property, Serialize, Deserialize)]
/// pub struct Meta {
///     pub label: String,
///     pub tags: Vec<String>,
/// }
///
/// #[derive(Model)]
/// pub struct Album {
///     pub meta: Meta,
/// }
///
/// let warp = ankurah::selection!(Album: meta.label = "Warp");
/// # let _ = warp;
/// ```
#[doc(inline)]
pub use ankurah_derive::Property;

/// A query checked against a model at compile time: `selection!(Model: query)`.
///
/// The query is AnkQL (see [`ankql`]) and the macro expands to the [`Selection`](ankql::Selection)
/// the same text would parse to, for `ctx.fetch` and every other query API. Unlike text, an
/// unknown property or a value of the wrong type is a compile error at the offending token.
///
/// Two spellings differ from text because Rust tokenizes the input: strings are Rust string
/// literals (`"Muse"`, not `'Muse'`), and a Rust value is bound with `{expr}` where text takes a
/// `?` argument. A capture is evaluated as written (`{name}` moves a `String`, `{&name}` does
/// not); `IN {iterable}` binds every item; `LIMIT {n}` takes a `u64`. Numbers of any type
/// compare with any numeric property, as in text. Other properties take values of their own
/// type: `status = {Status::Open}` for a `#[derive(Property)]` enum, `due < {date}` for a
/// `chrono::NaiveDate` (where text writes `due < '2026-12-04'`), and so on; the query means
/// what the same query written as text means.
///
/// ```
/// use ankurah::{selection, Model};
///
/// #[derive(Model)]
/// pub struct Album {
///     pub name: String,
///     pub year: i32,
/// }
///
/// let prefix = String::from("The %");
/// let recent = selection!(Album: year >= 2000 AND (name LIKE {prefix} OR year IN (2001, 2003))
///                                ORDER BY year DESC LIMIT 10);
/// let text = "year >= 2000 AND (name LIKE 'The %' OR year IN (2001, 2003)) ORDER BY year DESC LIMIT 10";
/// assert_eq!(recent, text.parse().unwrap());
/// ```
///
/// ```compile_fail
/// # use ankurah::{selection, Model};
/// # #[derive(Model)] pub struct Album { pub year: i32 }
/// selection!(Album: yaer > 1985); // no field `yaer`; available fields are `id`, `year`
/// ```
#[doc(inline)]
pub use ankurah_derive::selection;

#[cfg(feature = "wasm")]
pub mod wasm;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
