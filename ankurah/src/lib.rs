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

#![warn(missing_docs)]

// Modules, for what the names below do not cover (custom storage engines, policy agents).
pub use ankurah_core::{ankql, error, event, model, policy, property, state, storage, value};

// Modelling data.
pub use ankurah_core::model::{Model, Mutable, PropertyDescriptor, View};
pub use ankurah_core::property::{ActiveType, Json, Property, Ref, YrsString, LWW};

// Nodes, contexts and transactions.
pub use ankurah_core::policy::{ContextData, PermissiveAgent, PolicyAgent, DEFAULT_CONTEXT};
pub use ankurah_core::{Context, Durability, IntoSelection, Node, NodeConfig, Transaction};

// Live queries and signals.
pub use ankurah_core::{changes, signals};
pub use ankurah_core::{LiveQuery, LiveQueryGuard};

// Sync between nodes (network connectors live in their own crates, e.g. `ankurah-websocket`).
pub use ankurah_core::{proto, ErrorKind, LocalConnector, PeerError, Rejection, RemoteError};

// Identity and values.
pub use ankurah_core::{CollectionId, EntityId, EventId, NodeId, SystemId, Value, ValueType};

// Errors.
pub use ankurah_core::{
    AccessDenied, LimitExceeded, Limits, MutationError, PropertyError, RetrievalError,
    StorageError,
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
/// [`Json`], types with `#[derive(Property)]`, and `Option<T>` of these. `u64`, `usize` and
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

/// Makes a serde type a property value, stored as one JSON document ([`ValueType::Json`]):
/// structs and enums alike. Queries can compare it as a whole or reach inside with a dotted
/// path (`meta.label`).
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
/// compare with any numeric property, as in text.
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

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
