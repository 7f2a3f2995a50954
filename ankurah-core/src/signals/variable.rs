//! [`Variable`]: a plain value that is a signal, for application state next to queries.

use std::sync::Arc;

use parking_lot::RwLock;

use super::broadcast::{Broadcast, SubscriptionGuard};
use super::{Get, Peek, Subscribe};

/// A value that notifies its readers when set. Cheap to clone; clones share the value.
/// Subscribers receive each value set, in order (a subscriber that falls far behind gets
/// the newest instead of every one).
#[derive(Debug)]
pub struct Variable<T> {
    value: Arc<RwLock<T>>,
    broadcast: Arc<Broadcast<T>>,
}

impl<T> Clone for Variable<T> {
    fn clone(&self) -> Self {
        Variable {
            value: self.value.clone(),
            broadcast: self.broadcast.clone(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Variable<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Variable {
            value: Arc::new(RwLock::new(value)),
            broadcast: Arc::default(),
        }
    }

    /// Replaces the value and notifies readers (subscribers run later, elsewhere).
    pub fn set(&self, value: T) {
        let mut slot = self.value.write();
        *slot = value;
        // Under the value lock, so subscribers hear values in the order they were set.
        if !self.broadcast.is_empty() {
            self.broadcast.notify(slot.clone());
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Get<T> for Variable<T> {
    fn get(&self) -> T {
        self.broadcast.track();
        self.value.read().clone()
    }
}

impl<T: Clone> Peek<T> for Variable<T> {
    fn peek(&self) -> T {
        self.value.read().clone()
    }
}

impl<T: Clone + Send + Sync + 'static> Subscribe<T> for Variable<T> {
    fn subscribe<F: Fn(T) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard {
        self.broadcast
            .listen(move |value: &T| listener(value.clone()))
    }
}
