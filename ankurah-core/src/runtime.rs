//! Spawning and timers: the one place the core touches an executor.
//!
//! Everything the core runs in the background or bounds in time goes through here, so that
//! the executor can be swapped (tokio natively; the browser's single-threaded executor on
//! wasm32) without touching the code above.

use std::future::Future;
use std::time::Duration;

/// Runs `task` in the background; it is dropped if the runtime shuts down first.
pub(crate) fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(tokio::spawn(task));
}

/// Runs `work`, which may block (user callbacks, engine calls), where it cannot stall the
/// async workers; resolves with its result. Public for storage engines whose calls block.
pub async fn blocking<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        // The work panicked: carry the panic to the caller, as running it inline would.
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Resolves after `duration`.
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

/// `Some(output)` if `future` completes within `duration`, `None` otherwise.
pub(crate) async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(duration, future).await.ok()
}

/// Background tasks that belong to one owner (a peer session) and end with it: dropping
/// the set aborts whatever is still running.
#[derive(Debug, Default)]
pub(crate) struct TaskSet {
    tasks: tokio::task::JoinSet<()>,
}

impl TaskSet {
    /// Runs `task` until it finishes or the set is dropped.
    pub(crate) fn spawn<F>(&mut self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Finished tasks are reaped here, so a long session does not accumulate them.
        while self.tasks.try_join_next().is_some() {}
        self.tasks.spawn(task);
    }

    /// Number of tasks still running (or finished and not yet reaped).
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}
