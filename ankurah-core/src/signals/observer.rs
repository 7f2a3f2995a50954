//! [`CallbackObserver`] and the thread-local tracking of the running observer.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::broadcast::{Broadcast, SubscriptionGuard};

/// What a running observer collects: guards on every signal it read.
pub(crate) struct Tracker {
    rerun: Arc<dyn Fn() + Send + Sync>,
    dependencies: Mutex<Vec<SubscriptionGuard>>,
}

thread_local! {
    static CURRENT: RefCell<Vec<Arc<Tracker>>> = const { RefCell::new(Vec::new()) };
}

/// Subscribes the running observer (if any) to `broadcast`.
pub(super) fn track(broadcast: &Arc<Broadcast>) {
    let current = CURRENT.with(|c| c.borrow().last().cloned());
    if let Some(tracker) = current {
        let rerun = Arc::downgrade(&tracker.rerun);
        let guard = broadcast.listen(move |()| {
            if let Some(rerun) = rerun.upgrade() {
                rerun();
            }
        });
        tracker.dependencies.lock().push(guard);
    }
}

/// Runs `f` with `tracker` as the running observer, replacing its previous dependencies.
pub(crate) fn run_tracked<R>(tracker: &Arc<Tracker>, f: impl FnOnce() -> R) -> R {
    let old = std::mem::take(&mut *tracker.dependencies.lock());
    CURRENT.with(|c| c.borrow_mut().push(tracker.clone()));
    let result = f();
    CURRENT.with(|c| c.borrow_mut().pop());
    drop(old);
    result
}

impl Tracker {
    /// A tracker whose dependencies call `rerun` when they change.
    pub(crate) fn new(rerun: Arc<dyn Fn() + Send + Sync>) -> Arc<Self> {
        Arc::new(Tracker {
            rerun,
            dependencies: Mutex::new(Vec::new()),
        })
    }
}

/// Runs a closure now and again whenever a signal it read with [`Get`](super::Get) changes.
/// Dropping the observer stops it.
pub struct CallbackObserver {
    tracker: Arc<Tracker>,
}

impl std::fmt::Debug for CallbackObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackObserver")
            .field("dependencies", &self.tracker.dependencies.lock().len())
            .finish()
    }
}

impl CallbackObserver {
    /// Runs `callback` and keeps re-running it on changes of what it read.
    pub fn new(callback: impl Fn() + Send + Sync + 'static) -> Self {
        let callback = Arc::new(callback);
        let tracker_slot: Arc<Mutex<Weak<Tracker>>> = Arc::new(Mutex::new(Weak::new()));
        let rerun: Arc<dyn Fn() + Send + Sync> = {
            let (callback, slot) = (callback.clone(), tracker_slot.clone());
            Arc::new(move || {
                let tracker = slot.lock().upgrade();
                if let Some(tracker) = tracker {
                    run_tracked(&tracker, || callback());
                }
            })
        };
        let tracker = Tracker::new(rerun);
        *tracker_slot.lock() = Arc::downgrade(&tracker);
        run_tracked(&tracker, || callback());
        CallbackObserver { tracker }
    }
}
