//! Signals: observable values with automatic dependency tracking.
//!
//! Live queries, views and property handles are signals. Read one with [`Get`] inside a
//! [`CallbackObserver`] or [`Memo`] and the reader is re-run when the signal changes; read it
//! with [`Peek`] to opt out of tracking; or register a callback with [`Subscribe`], which
//! fires until the returned [`SubscriptionGuard`] is dropped.
//!
//! Reads are synchronous: once `commit().await` returns (or `Variable::set`), `peek`/`get` of
//! a live query, view or memo show the change. Callbacks — subscribers, observer reruns,
//! background memo recomputation — are user code and run *later and elsewhere*: each has
//! its own ordered queue, drained on a thread where blocking is allowed, never under the
//! node's locks. A slow callback delays only itself, a panicking one is logged
//! (`tracing::error!`) and keeps receiving, and one that falls more than 1024 notifications
//! behind has the rest merged (plain notifications coalesce; a live query's change sets
//! merge into their net difference).
//!
//! ```
//! use ankurah_core::signals::{CallbackObserver, Get, Memo, Variable, Peek};
//! use std::sync::mpsc;
//! use std::time::Duration;
//!
//! let count = Variable::new(1);
//! let double = { let count = count.clone(); Memo::new(move || count.get() * 2) };
//! let (seen, observed) = mpsc::channel();
//! let _observer = { let double = double.clone();
//!     CallbackObserver::new(move || seen.send(double.get()).unwrap_or_default()) };
//! assert_eq!(observed.recv_timeout(Duration::from_secs(10)), Ok(2)); // the first run
//! count.set(21);
//! assert_eq!(double.peek(), 42); // reads are current at once
//! assert_eq!(observed.recv_timeout(Duration::from_secs(10)), Ok(42)); // the rerun follows
//! ```
//!
//! We weighed `futures-signals` (no automatic tracking), `reactive_graph` (Leptos' graph,
//! built around its own executor and owner tree) and `sycamore-reactive` (single-threaded
//! scopes). Ankurah needs `Send + Sync` signals fed from the storage commit path, so this
//! module is a small runtime of its own.

mod broadcast;
mod mailbox;
mod memo;
mod observer;
mod variable;

pub use broadcast::SubscriptionGuard;
pub use memo::Memo;
pub use observer::CallbackObserver;
pub use variable::Variable;

pub(crate) use broadcast::Broadcast;

/// A tracked read: inside a [`CallbackObserver`] or [`Memo`], the reader re-runs when the
/// value changes.
pub trait Get<T> {
    /// The current value, recording the dependency.
    fn get(&self) -> T;
}

/// An untracked read.
pub trait Peek<T> {
    /// The current value, without recording a dependency.
    fn peek(&self) -> T;
}

/// Callbacks on change.
pub trait Subscribe<T> {
    /// Calls `listener` on every change, in order, until the guard is dropped. Calls come
    /// after the change, on a thread where the listener may block (see the module docs).
    fn subscribe<F: Fn(T) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard;
}
