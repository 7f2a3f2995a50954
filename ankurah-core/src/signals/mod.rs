//! Signals: observable values with automatic dependency tracking.
//!
//! Live queries, views and property handles are signals. Read one with [`Get`] inside a
//! [`CallbackObserver`] or [`Memo`] and the reader is re-run when the signal changes; read it
//! with [`Peek`] to opt out of tracking; or register a callback with [`Subscribe`], which
//! fires until the returned [`SubscriptionGuard`] is dropped.
//!
//! ```
//! use ankurah_core::signals::{CallbackObserver, Get, Memo, Variable, Peek};
//! use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//!
//! let count = Variable::new(1);
//! let double = { let count = count.clone(); Memo::new(move || count.get() * 2) };
//! let seen = Arc::new(AtomicUsize::new(0));
//! let _observer = { let (double, seen) = (double.clone(), seen.clone());
//!     CallbackObserver::new(move || seen.store(double.get(), Ordering::SeqCst)) };
//! count.set(21);
//! assert_eq!(seen.load(Ordering::SeqCst), 42);
//! assert_eq!(double.peek(), 42);
//! ```
//!
//! We weighed `futures-signals` (no automatic tracking), `reactive_graph` (Leptos' graph,
//! built around its own executor and owner tree) and `sycamore-reactive` (single-threaded
//! scopes). Ankurah needs `Send + Sync` signals fed from the storage commit path, so this
//! module is a small runtime of its own.

mod broadcast;
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
    /// Calls `listener` on every change until the guard is dropped.
    fn subscribe<F: Fn(T) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard;
}
