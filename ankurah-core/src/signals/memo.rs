//! [`Memo`]: a derived value, recomputed only when one of its inputs changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::broadcast::{Broadcast, SubscriptionGuard};
use super::mailbox::{keep_newest, Mailbox};
use super::observer::{is_running, run_tracked, Tracker};
use super::{Get, Peek, Subscribe};

/// A value computed from other signals. A change of an input only marks it stale (the
/// computation is user code and never runs on the thread that changed the input); a read
/// recomputes a stale memo, so it always reflects its inputs. While anyone listens to it,
/// it also recomputes in the background and tells them only when the result differs.
pub struct Memo<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    /// The value and the count of invalidations it reflects.
    value: RwLock<(T, u64)>,
    /// Invalidations so far; the value is stale while it reflects fewer.
    invalidated: Arc<AtomicU64>,
    compute: Box<dyn Fn() -> T + Send + Sync>,
    broadcast: Arc<Broadcast<T>>,
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
            .field(&self.inner.value.read().0)
            .finish()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Memo<T> {
    /// Computes `compute` now, tracking what it reads.
    pub fn new(compute: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let invalidated = Arc::new(AtomicU64::new(0));
        let broadcast: Arc<Broadcast<T>> = Arc::default();
        let inner = Arc::new_cyclic(|weak: &Weak<Inner<T>>| {
            let weak = weak.clone();
            // One pending recomputation covers any number of invalidations.
            let recompute = Mailbox::new(1, keep_newest, move |()| {
                if let Some(inner) = weak.upgrade() {
                    inner.refresh();
                }
            });
            let tracker = {
                let (invalidated, broadcast) = (invalidated.clone(), broadcast.clone());
                Tracker::new(move || {
                    invalidated.fetch_add(1, Ordering::AcqRel);
                    if !broadcast.is_empty() {
                        recompute.post(Arc::new(()));
                    }
                })
            };
            let generation = invalidated.load(Ordering::Acquire);
            let value = {
                let _running = tracker.exclusive();
                run_tracked(&tracker, &compute)
            };
            Inner {
                value: RwLock::new((value, generation)),
                invalidated,
                compute: Box::new(compute),
                broadcast,
                tracker,
            }
        });
        Memo { inner }
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Inner<T> {
    /// Recomputes a stale value and tells listeners if it changed. A memo read inside its
    /// own computation gives its previous value.
    fn refresh(&self) {
        let stale = |value: &(T, u64)| value.1 < self.invalidated.load(Ordering::Acquire);
        if !stale(&self.value.read()) || is_running(&self.tracker) {
            return;
        }
        let _running = self.tracker.exclusive();
        // Invalidations from here on are newer than the computation below sees.
        let generation = self.invalidated.load(Ordering::Acquire);
        if !stale(&self.value.read()) {
            return;
        }
        let next = run_tracked(&self.tracker, &self.compute);
        let mut value = self.value.write();
        value.1 = generation;
        if value.0 != next {
            value.0 = next;
            // Under the value lock, so listeners hear values in the order they were set.
            if !self.broadcast.is_empty() {
                self.broadcast.notify(value.0.clone());
            }
        }
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Get<T> for Memo<T> {
    fn get(&self) -> T {
        self.inner.refresh();
        self.inner.broadcast.track();
        self.inner.value.read().0.clone()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Peek<T> for Memo<T> {
    fn peek(&self) -> T {
        self.inner.refresh();
        self.inner.value.read().0.clone()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Subscribe<T> for Memo<T> {
    fn subscribe<F: Fn(T) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard {
        self.inner
            .broadcast
            .listen(move |value: &T| listener(value.clone()))
    }
}
