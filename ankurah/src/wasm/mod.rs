//! The typed JS/TS API of the browser (feature `wasm`, built for `wasm32-unknown-unknown`
//! with wasm-bindgen).
//!
//! With the feature on, `#[derive(Model)]` also generates wasm-bindgen classes for each
//! model, and this module holds what they share. For `struct Album` the JS side gets:
//!
//! - `AlbumView`: a live view, one getter per stored field (`album.name`, `album.year`),
//!   `id`, `isDeleted`.
//! - `AlbumMut`: an edit handle inside a transaction; a text field is a [`YrsString`]
//!   handle (`insert(index, text)`, `delete(index, length)`, `value()`), every other field
//!   an [`LWW`] register (`get()`, `set(value)`).
//! - `Album`: `Album.query(ctx, "year > 2000")` → a [`LiveQuery`] of `AlbumView`s,
//!   `Album.get(ctx, id)`, `Album.fetch(ctx, query)`, and the hook behind
//!   `trx.create(Album, { name, artist, year })` (typed with the stored fields).
//!
//! The application's own wasm crate creates the node (storage, connector, credentials)
//! and hands JS a [`Context`] (`Context::from(ctx)`); everything else happens in JS:
//!
//! ```ts
//! const albums = Album.query(ctx, "year > 2000 ORDER BY year");
//! const subscription = albums.subscribe((list: AlbumView[]) => render(list));
//!
//! const trx = ctx.begin();
//! const album = await trx.create(Album, { name: "Showbiz", artist: "Muse", year: 1999 });
//! album.name.insert(0, "The ");
//! await trx.commit();
//!
//! const edit = ctx.begin();
//! edit.edit(list[0]).year.set(2001);
//! edit.delete(list[1]);
//! await edit.commit();
//! subscription.unsubscribe();
//! ```
//!
//! Failures are thrown (or reject) as a JS `Error` named `AnkurahError` whose `kind` says
//! what went wrong (`"InvalidQuery"`, `"NotFound"`, `"Deleted"`, `"Storage"`, ...; the
//! TypeScript type `ErrorKind` lists them all): see [`error`].
//!
//! Positions of text edits count Unicode characters (code points), as in Rust; a JS
//! string's `length` counts UTF-16 units, so convert with `Array.from(text)`.
//!
//! ## With React
//!
//! The live query is all a hook needs; React is not part of the build:
//!
//! ```ts
//! function useQuery<V>(make: () => LiveQuery<V>, deps: unknown[]): V[] {
//!   const [items, setItems] = useState<V[]>([]);
//!   useEffect(() => {
//!     const query = make();
//!     const subscription = query.subscribe(setItems);
//!     return () => { subscription.unsubscribe(); query.free(); };
//!   }, deps);
//!   return items;
//! }
//! const albums = useQuery(() => Album.query(ctx, "ORDER BY year"), [ctx]);
//! ```

mod context;
pub mod error;
mod livequery;
mod lww;
mod transaction;
mod value;
mod yrs;

pub use context::Context;
pub use error::ErrorKindOf;
pub use livequery::{LiveQuery, Subscription};
pub use lww::LWW;
pub use transaction::Transaction;
pub use value::{field, from_js, to_js};
pub use yrs::YrsString;
