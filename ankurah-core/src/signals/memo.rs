//! [`Memo`]: a derived value, recomputed only when one of its inputs changed.

use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::broadcast::{Broadcast, SubscriptionGuard};
use super::observer::{run_tracked, Tracker};
use super::{Get, Peek, Subscribe};

/// A value computed from other signals. It recomputes when an input notifies and tells its
/// own readers only when the result differs.
pub struct Memo<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    value: RwLock<T>,
    broadcast: Arc<Broadcast>,
    tracker: Arc<Tracker>,
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Memo {
            inner: self.inner.clone(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Memo")
            .field(&*self.inner.value.read())
            .finish()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Memo<T> {
    /// Computes `compute` now, tracking what it reads.
    pub fn new(compute: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let compute = Arc::new(compute);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner<T>>| {
            let (weak, recompute) = (weak.clone(), compute.clone());
            let rerun: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                let Some(inner) = weak.upgrade() else { return };
                let next = run_tracked(&inner.tracker, || recompute());
                let changed = *inner.value.read() != next;
                if changed {
                    *inner.value.write() = next;
                    inner.broadcast.notify(&());
                }
            });
            let tracker = Tracker::new(rerun);
            let value = run_tracked(&tracker, || compute());
            Inner {
                value: RwLock::new(value),
                broadcast: Arc::default(),
                tracker,
            }
        });
        Memo { inner }
    }
}

impl<T: Clone> Get<T> for Memo<T> {
    fn get(&self) -> T {
        self.inner.broadcast.track();
        self.inner.value.read().clone()
    }
}

impl<T: Clone> Peek<T> for Memo<T> {
    fn peek(&self) -> T {
        self.inner.value.read().clone()
    }
}

impl<T: Clone + Send + Sync + 'static> Subscribe<T> for Memo<T> {
    fn subscribe<F: Fn(T) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard {
        let inner = Arc::downgrade(&self.inner);
        self.inner.broadcast.listen(move |()| {
            if let Some(inner) = inner.upgrade() {
                listener(inner.value.read().clone());
            }
        })
    }
}
