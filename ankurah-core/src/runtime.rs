//! Spawning and timers: the one place the core touches an executor.
//!
//! Everything the core runs in the background or bounds in time goes through here, so that
//! the executor can be swapped (tokio natively; the browser's single-threaded executor on
//! wasm32) without touching the code above.

use std::future::Future;
use std::time::Duration;

/// A point in time on the runtime's clock.
pub(crate) use tokio::time::Instant;

/// Runs `task` in the background; it is dropped if the runtime shuts down first.
pub(crate) fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(tokio::spawn(task));
}

/// Starts `work`, which may block (user callbacks), in the background where it cannot stall
/// the async workers: on the runtime's blocking pool, or on a thread of its own when the
/// caller runs outside any runtime (a signal set from a plain thread). If it cannot be
/// started (the runtime is shutting down, the system refuses a thread), `work` is dropped
/// without running, so whatever it owns can tell.
pub(crate) fn spawn_blocking<F>(work: F)
where
    F: FnOnce() + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(work)),
        Err(_) => {
            let started = std::thread::Builder::new()
                .name("ankurah-blocking".into())
                .spawn(work);
            if let Err(error) = started {
                tracing::error!(%error, "could not start a thread for blocking work");
            }
        }
    }
}

/// Runs `work`, which blocks (an embedded storage engine's calls), where blocking stalls no
/// async worker, and resolves with its result. On a multi-thread runtime this thread becomes
/// a blocking one for the call (`block_in_place`: its other tasks move to another worker),
/// which costs nanoseconds where a hand-off to another thread costs tens of microseconds, a
/// multiple of a point read; on a current-thread runtime `work` goes to a blocking thread;
/// outside a runtime it runs here. A panic in `work` reaches the caller, as running it
/// inline would; the error is the runtime's when it shut down before `work` ran.
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(work)),
        Ok(_) => match tokio::task::spawn_blocking(work).await {
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            done => done,
        },
        Err(_) => Ok(work()),
    }
}

/// `Some(output)` if `future` completes within `duration`, `None` otherwise.
pub(crate) async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(duration, future).await.ok()
}

/// Resolves after `duration`.
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
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
}
