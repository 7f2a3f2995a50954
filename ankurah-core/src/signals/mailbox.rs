//! [`Mailbox`]: the ordered queue in front of one listener, drained off the notifying thread.
//!
//! Signals are notified on the commit path (under the node's commit lock and a live query's
//! result lock) and by plain setters, while listeners are user code that may be slow, block
//! or panic. So a notification only *posts* to each listener's mailbox. A mailbox that was
//! idle starts one drain job on a thread where blocking is allowed
//! ([`runtime::spawn_blocking`]; in the browser, which has one thread, a task of its own
//! that runs after the notifier returned); the job calls the listener for everything
//! queued, in order, and ends when the queue is empty. An idle listener costs no thread, a slow one
//! delays only itself, and one that panics is reported with `tracing::error!` and keeps
//! receiving later notifications.
//!
//! A listener that stays slower than its signal cannot make the queue grow without end: once
//! `bound` items wait, each new one is folded into the last waiting one by the signal's
//! [`Merge`]. Plain "changed" notifications, which carry nothing, coalesce into one; a
//! variable's listener gets the newest value; a live query's change sets merge into their
//! net difference (see `ChangeSet::absorb`).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime;

/// Folds a newer item into the last one waiting, once a mailbox is full.
pub(crate) type Merge<T> = fn(&mut Arc<T>, Arc<T>);

/// The merge of signals whose newest item says everything: it replaces the waiting one.
pub(crate) fn keep_newest<T>(last: &mut Arc<T>, newer: Arc<T>) {
    *last = newer;
}

/// The queue of one listener and the job draining it.
pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    deliver: Box<dyn Fn(&T) + Send + Sync>,
    bound: usize,
    merge: Merge<T>,
}

struct State<T> {
    queue: VecDeque<Arc<T>>,
    /// A drain job is running or about to: only it calls the listener, so calls never
    /// overlap and keep the order of posting.
    draining: bool,
    /// The listener was unsubscribed: nothing more is delivered.
    closed: bool,
}

impl<T: Send + Sync + 'static> Mailbox<T> {
    /// A mailbox calling `deliver` for each item, holding at most `bound` (at least one)
    /// undelivered items.
    pub(crate) fn new(
        bound: usize,
        merge: Merge<T>,
        deliver: impl Fn(&T) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                draining: false,
                closed: false,
            }),
            deliver: Box::new(deliver),
            bound: bound.max(1),
            merge,
        })
    }

    /// Queues `item` and makes sure a drain job will deliver it. Never calls the listener.
    pub(crate) fn post(self: &Arc<Self>, item: Arc<T>) {
        let mut state = self.state.lock();
        if state.closed {
            return;
        }
        let full = state.queue.len() >= self.bound;
        match state.queue.back_mut() {
            Some(last) if full => (self.merge)(last, item),
            _ => state.queue.push_back(item),
        }
        if !state.draining {
            state.draining = true;
            drop(state);
            let job = Drain(Some(self.clone()));
            runtime::spawn_blocking(move || job.run());
        }
    }

    /// Stops delivery: what is queued is dropped; a call in progress finishes.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.queue.clear();
    }

    /// The next item to deliver; `None` ends the drain job (atomically with the check, so a
    /// post that finds the mailbox not draining starts the next job).
    fn next(&self) -> Option<Arc<T>> {
        let mut state = self.state.lock();
        let item = match state.closed {
            true => None,
            false => state.queue.pop_front(),
        };
        if item.is_none() {
            state.draining = false;
        }
        item
    }
}

/// One drain job. If it is dropped without running (its runtime shut down first), the
/// mailbox is released so that the next post starts another.
struct Drain<T: Send + Sync + 'static>(Option<Arc<Mailbox<T>>>);

impl<T: Send + Sync + 'static> Drain<T> {
    fn run(mut self) {
        let Some(mailbox) = self.0.take() else {
            return;
        };
        while let Some(item) = mailbox.next() {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (mailbox.deliver)(&item))) {
                tracing::error!(
                    panic = panic_message(panic.as_ref()),
                    "a signal listener panicked; other listeners and its later notifications \
                     are not affected"
                );
            }
        }
    }
}

impl<T: Send + Sync + 'static> Drop for Drain<T> {
    fn drop(&mut self) {
        if let Some(mailbox) = self.0.take() {
            mailbox.state.lock().draining = false;
        }
    }
}

/// The message of a panic, if it carried one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn delivers_in_order_and_survives_a_panic() {
        let (seen, calls) = mpsc::channel();
        let mailbox = Mailbox::new(100, keep_newest, move |n: &u32| {
            seen.send(*n).unwrap_or_default();
            if *n == 2 {
                panic!("listener failure");
            }
        });
        for n in 1..=5 {
            mailbox.post(Arc::new(n));
        }
        let delivered: Vec<u32> = (0..5).map(|_| calls.recv_timeout(WAIT).unwrap()).collect();
        assert_eq!(delivered, [1, 2, 3, 4, 5]);
    }

    /// A listener whose call for `1` reports that it started, then waits for the gate.
    fn gated(
        seen: mpsc::Sender<u32>,
    ) -> (
        mpsc::Sender<()>,
        mpsc::Receiver<()>,
        impl Fn(&u32) + Send + Sync + 'static,
    ) {
        let (release, gate) = mpsc::channel::<()>();
        let (entered, started) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let listener = move |n: &u32| {
            if *n == 1 {
                entered.send(()).unwrap_or_default();
                gate.lock().recv_timeout(WAIT).unwrap_or_default();
            }
            seen.send(*n).unwrap_or_default();
        };
        (release, started, listener)
    }

    #[test]
    fn a_full_mailbox_merges_into_its_last_item() {
        let (seen, calls) = mpsc::channel();
        let (release, started, listener) = gated(seen);
        let sum: Merge<u32> = |last, newer| *last = Arc::new(**last + *newer);
        let mailbox = Mailbox::new(2, sum, listener);
        mailbox.post(Arc::new(1));
        started.recv_timeout(WAIT).unwrap();
        for n in [10, 20, 30, 40] {
            mailbox.post(Arc::new(n));
        }
        release.send(()).unwrap();
        let delivered: Vec<u32> = (0..3).map(|_| calls.recv_timeout(WAIT).unwrap()).collect();
        assert_eq!(delivered, [1, 10, 20 + 30 + 40]);
    }

    #[test]
    fn a_closed_mailbox_delivers_nothing_more() {
        let (seen, calls) = mpsc::channel();
        let (release, started, listener) = gated(seen);
        let mailbox = Mailbox::new(10, keep_newest, listener);
        mailbox.post(Arc::new(1));
        started.recv_timeout(WAIT).unwrap();
        mailbox.post(Arc::new(2));
        mailbox.close();
        release.send(()).unwrap();
        // The call in progress finishes; the queued one is dropped, later posts are ignored.
        assert_eq!(calls.recv_timeout(WAIT).ok(), Some(1));
        mailbox.post(Arc::new(3));
        assert!(
            mailbox.state.lock().queue.is_empty(),
            "nothing is queued once closed"
        );
        assert_eq!(calls.try_recv().ok(), None);
    }
}
