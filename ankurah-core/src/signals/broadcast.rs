//! [`Broadcast`]: the list of listeners every signal owns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

type Listener<T> = Arc<dyn Fn(&T) + Send + Sync>;

/// Listeners to notify when a signal changes, with a payload of type `T`.
pub(crate) struct Broadcast<T = ()> {
    listeners: Mutex<Vec<(u64, Listener<T>)>>,
    next: AtomicU64,
}

impl<T> Default for Broadcast<T> {
    fn default() -> Self {
        Broadcast {
            listeners: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
        }
    }
}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("listeners", &self.listeners.lock().len())
            .finish()
    }
}

impl<T: 'static> Broadcast<T> {
    /// Adds a listener; it stays until the guard is dropped.
    pub(crate) fn listen(
        self: &Arc<Self>,
        listener: impl Fn(&T) + Send + Sync + 'static,
    ) -> SubscriptionGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.listeners.lock().push((id, Arc::new(listener)));
        let weak: Weak<dyn Unlisten> = Arc::downgrade(self) as Weak<dyn Unlisten>;
        SubscriptionGuard {
            broadcast: weak,
            id,
        }
    }

    /// Calls every listener. The list is copied first, so a listener may subscribe or drop
    /// guards without deadlocking.
    pub(crate) fn notify(&self, payload: &T) {
        let listeners: Vec<Listener<T>> = self
            .listeners
            .lock()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            listener(payload);
        }
    }

    /// Whether anyone listens (lets producers skip building payloads).
    pub(crate) fn is_empty(&self) -> bool {
        self.listeners.lock().is_empty()
    }
}

impl Broadcast<()> {
    /// Records a dependency of the running observer, if any, on this signal.
    pub(crate) fn track(self: &Arc<Self>) {
        super::observer::track(self);
    }
}

trait Unlisten: Send + Sync {
    fn unlisten(&self, id: u64);
}

impl<T> Unlisten for Broadcast<T> {
    fn unlisten(&self, id: u64) {
        self.listeners.lock().retain(|(i, _)| *i != id);
    }
}

/// Keeps a subscription alive; dropping it unsubscribes.
#[must_use = "dropping the guard unsubscribes at once"]
pub struct SubscriptionGuard {
    broadcast: Weak<dyn Unlisten>,
    id: u64,
}

impl std::fmt::Debug for SubscriptionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionGuard")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        if let Some(broadcast) = self.broadcast.upgrade() {
            broadcast.unlisten(self.id);
        }
    }
}
