//! [`CallbackObserver`] and the thread-local tracking of the running observer.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};

use super::broadcast::{Broadcast, SubscriptionGuard};
use super::mailbox::{keep_newest, Mailbox};

/// What a running observer collects: guards on every signal it read, and what to do when
/// one of them changes.
pub(crate) struct Tracker {
    /// Called inline by the signals read (possibly under the commit lock): only records the
    /// change or queues a rerun.
    invalidate: Box<dyn Fn() + Send + Sync>,
    dependencies: Mutex<Vec<SubscriptionGuard>>,
    /// Held while the observer runs, so that runs of one observer never overlap.
    exclusive: Mutex<()>,
}

thread_local! {
    static CURRENT: RefCell<Vec<Arc<Tracker>>> = const { RefCell::new(Vec::new()) };
}

/// Subscribes the running observer (if any) to `broadcast`.
pub(super) fn track<T: Send + Sync + 'static>(broadcast: &Arc<Broadcast<T>>) {
    let Some(tracker) = CURRENT.with(|c| c.borrow().last().cloned()) else {
        return;
    };
    let weak = Arc::downgrade(&tracker);
    let guard = broadcast.listen_inline(move |_| {
        if let Some(tracker) = weak.upgrade() {
            (tracker.invalidate)();
        }
    });
    tracker.dependencies.lock().push(guard);
}

/// Whether `tracker` is running on this thread (a signal read from inside its own
/// computation).
pub(crate) fn is_running(tracker: &Arc<Tracker>) -> bool {
    CURRENT.with(|c| c.borrow().iter().any(|t| Arc::ptr_eq(t, tracker)))
}

/// Runs `f` with `tracker` as the running observer, replacing its previous dependencies.
pub(crate) fn run_tracked<R>(tracker: &Arc<Tracker>, f: impl FnOnce() -> R) -> R {
    /// Leaves the tracking scope even if `f` panics.
    struct Scope;
    impl Drop for Scope {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().pop());
        }
    }
    let old = std::mem::take(&mut *tracker.dependencies.lock());
    CURRENT.with(|c| c.borrow_mut().push(tracker.clone()));
    let scope = Scope;
    let result = f();
    drop(scope);
    drop(old);
    result
}

impl Tracker {
    /// A tracker whose dependencies call `invalidate` when they change.
    pub(crate) fn new(invalidate: impl Fn() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Tracker {
            invalidate: Box::new(invalidate),
            dependencies: Mutex::new(Vec::new()),
            exclusive: Mutex::new(()),
        })
    }

    /// Held by whoever runs the observer.
    pub(crate) fn exclusive(&self) -> MutexGuard<'_, ()> {
        self.exclusive.lock()
    }
}

/// Runs a closure now and again whenever a signal it read with [`Get`](super::Get) changes.
/// Reruns happen off the thread that changed the signal, one at a time; changes that arrive
/// while one is pending are covered by it. Dropping the observer stops it.
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
        let slot: Arc<Mutex<Weak<Tracker>>> = Arc::default();
        let rerun = {
            let (callback, slot) = (callback.clone(), slot.clone());
            // One pending rerun covers any number of changes: it reads the current values.
            Mailbox::new(1, keep_newest, move |()| {
                let tracker = slot.lock().upgrade();
                if let Some(tracker) = tracker {
                    let _running = tracker.exclusive();
                    run_tracked(&tracker, || callback());
                }
            })
        };
        let tracker = Tracker::new(move || rerun.post(Arc::new(())));
        *slot.lock() = Arc::downgrade(&tracker);
        {
            let _running = tracker.exclusive();
            run_tracked(&tracker, || callback());
        }
        CallbackObserver { tracker }
    }
}
