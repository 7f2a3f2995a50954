//! [`Broadcast`]: the list of listeners every signal owns.
//!
//! Notifying never runs user code on the notifying thread: user listeners ([`Broadcast::listen`])
//! are called through their own [`Mailbox`], off the commit path, in notification order.
//! Only internal hooks that merely record or enqueue ([`Broadcast::listen_inline`]: dependency
//! tracking, the sync server's update queue) run inline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::mailbox::{keep_newest, Mailbox, Merge};

/// How many notifications may wait for one user listener before they are merged (see
/// [`super::mailbox`]). A listener this far behind is not keeping up; beyond it, memory
/// stays bounded instead of growing with every commit.
pub(crate) const LISTENER_BACKLOG: usize = 1024;

enum Listener<T> {
    /// Internal and cheap (records or enqueues): called on the notifying thread.
    Inline(Arc<dyn Fn(&T) + Send + Sync>),
    /// User code: called through its mailbox.
    Queued(Arc<Mailbox<T>>),
}

impl<T> Clone for Listener<T> {
    fn clone(&self) -> Self {
        match self {
            Listener::Inline(hook) => Listener::Inline(hook.clone()),
            Listener::Queued(mailbox) => Listener::Queued(mailbox.clone()),
        }
    }
}

/// Listeners to notify when a signal changes, with a payload of type `T`.
pub(crate) struct Broadcast<T = ()> {
    listeners: Mutex<Vec<(u64, Listener<T>)>>,
    next: AtomicU64,
    /// How a listener's backlog past [`LISTENER_BACKLOG`] is folded.
    merge: Merge<T>,
}

impl<T> Default for Broadcast<T> {
    /// A broadcast whose lagging listeners get the newest payload.
    fn default() -> Self {
        Self::merging(keep_newest)
    }
}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("listeners", &self.listeners.lock().len())
            .finish()
    }
}

impl<T> Broadcast<T> {
    /// A broadcast whose lagging listeners get their backlog folded by `merge`.
    pub(crate) fn merging(merge: Merge<T>) -> Self {
        Broadcast {
            listeners: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            merge,
        }
    }
}

impl<T: Send + Sync + 'static> Broadcast<T> {
    /// Adds a user listener, called in notification order on a thread where it may block,
    /// until the guard is dropped.
    pub(crate) fn listen(
        self: &Arc<Self>,
        listener: impl Fn(&T) + Send + Sync + 'static,
    ) -> SubscriptionGuard {
        let mailbox = Mailbox::new(LISTENER_BACKLOG, self.merge, listener);
        self.add(Listener::Queued(mailbox))
    }

    /// Adds an internal hook called on the notifying thread, which may hold the commit lock
    /// and a query's result lock: it must only record or enqueue, never block or call user
    /// code.
    pub(crate) fn listen_inline(
        self: &Arc<Self>,
        hook: impl Fn(&T) + Send + Sync + 'static,
    ) -> SubscriptionGuard {
        self.add(Listener::Inline(Arc::new(hook)))
    }

    fn add(self: &Arc<Self>, listener: Listener<T>) -> SubscriptionGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.listeners.lock().push((id, listener));
        let weak: Weak<dyn Unlisten> = Arc::downgrade(self) as Weak<dyn Unlisten>;
        SubscriptionGuard {
            broadcast: weak,
            id,
        }
    }

    /// Runs the inline hooks and queues `payload` for every user listener. The list is
    /// copied first, so a hook may subscribe or drop guards without deadlocking.
    pub(crate) fn notify(&self, payload: T) {
        let listeners: Vec<Listener<T>> = self
            .listeners
            .lock()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        if listeners.is_empty() {
            return;
        }
        let payload = Arc::new(payload);
        for listener in listeners {
            match listener {
                Listener::Inline(hook) => hook(&payload),
                Listener::Queued(mailbox) => mailbox.post(payload.clone()),
            }
        }
    }

    /// Whether anyone listens (lets producers skip building payloads).
    pub(crate) fn is_empty(&self) -> bool {
        self.listeners.lock().is_empty()
    }

    /// Records a dependency of the running observer, if any, on this signal.
    pub(crate) fn track(self: &Arc<Self>) {
        super::observer::track(self);
    }
}

trait Unlisten: Send + Sync {
    fn unlisten(&self, id: u64);
}

impl<T: Send + Sync + 'static> Unlisten for Broadcast<T> {
    fn unlisten(&self, id: u64) {
        let removed = {
            let mut listeners = self.listeners.lock();
            let at = listeners.iter().position(|(i, _)| *i == id);
            at.map(|at| listeners.remove(at).1)
        };
        if let Some(Listener::Queued(mailbox)) = removed {
            mailbox.close();
        }
    }
}

/// Keeps a subscription alive; dropping it unsubscribes: no call starts after that (one
/// already running finishes).
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
