//! Spawning, timers and clocks: the one place the core touches an executor.
//!
//! Everything the core runs in the background or bounds in time goes through here, so that
//! the executor can be swapped without touching the code above: natively Tokio; on wasm32
//! the browser's single-threaded executor (`wasm-bindgen-futures`), its timers
//! (`gloo-timers`) and its clocks (`web-time`). The browser has one thread, so there
//! "blocking" work runs inline or as a task of its own, and a `Send` bound costs nothing.

use std::future::Future;
use std::time::Duration;

/// A point in time on the runtime's clock.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use tokio::time::Instant;
/// A point in time on the runtime's clock (`performance.now()` in the browser).
#[cfg(target_arch = "wasm32")]
pub(crate) use web_time::Instant;

/// The wall clock: the system's natively, `Date.now()` in the browser (where
/// `std::time::SystemTime::now` panics).
pub(crate) use web_time::{SystemTime, UNIX_EPOCH};

/// Why [`run_blocking`] could not run its work: the runtime shut down first. Nothing can
/// stop work in the browser, where it runs inline.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BlockingError = tokio::task::JoinError;
/// Why [`run_blocking`] could not run its work: never, in the browser (it runs inline).
#[cfg(target_arch = "wasm32")]
pub(crate) type BlockingError = std::convert::Infallible;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;

    /// Runs `task` in the background; it is dropped if the runtime shuts down first.
    pub(crate) fn spawn<F>(task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(task));
    }

    /// Starts `work`, which may block (user callbacks), in the background where it cannot
    /// stall the async workers: on the listener threads ([`crate::blocking_pool`]).
    pub(crate) fn spawn_blocking<F>(work: F)
    where
        F: FnOnce() + Send + 'static,
    {
        crate::blocking_pool::post(work)
    }

    /// Runs `work`, which blocks (an embedded storage engine's calls), where blocking stalls no
    /// async worker, and resolves with its result. On a multi-thread runtime this thread becomes
    /// a blocking one for the call (`block_in_place`: its other tasks move to another worker),
    /// which costs nanoseconds where a hand-off to another thread costs tens of microseconds, a
    /// multiple of a point read; on a current-thread runtime `work` goes to a blocking thread;
    /// outside a runtime it runs here. A panic in `work` reaches the caller, as running it
    /// inline would; the error is the runtime's when it shut down before `work` ran.
    pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, BlockingError>
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

    /// Waits for `duration`.
    pub(crate) async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await
    }

    /// `Some(output)` if `future` completes within `duration`, `None` otherwise.
    pub(crate) async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
        tokio::time::timeout(duration, future).await.ok()
    }

    /// Whether [`spawn`] has a runtime to run on (outside one, a task would be lost).
    pub(crate) fn can_spawn() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
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
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use futures_util::future::{AbortHandle, Abortable};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// Runs `task` on the browser's event loop.
    pub(crate) fn spawn<F>(task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        wasm_bindgen_futures::spawn_local(task);
    }

    /// Runs `work` as a task of its own, after the caller has returned: the browser has no
    /// thread to give it, and running it inside the caller (a notification under a lock)
    /// could re-enter what the caller holds.
    pub(crate) fn spawn_blocking<F>(work: F)
    where
        F: FnOnce() + Send + 'static,
    {
        wasm_bindgen_futures::spawn_local(async move { work() });
    }

    /// Runs `work` inline: the browser's engines (IndexedDB) never block, and there is no
    /// other thread to move it to.
    pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(work())
    }

    /// Waits for `duration` on a browser timer (`setTimeout`).
    pub(crate) async fn sleep(duration: Duration) {
        let millis = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        // The timer is a JS callback, not `Send`; the browser has one thread to keep it on.
        send_wrapper::SendWrapper::new(gloo_timers::future::TimeoutFuture::new(millis)).await
    }

    /// `Some(output)` if `future` completes within `duration`, `None` otherwise.
    pub(crate) async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
        use futures_util::future::{select, Either};
        let future = std::pin::pin!(future);
        let timer = std::pin::pin!(sleep(duration));
        match select(future, timer).await {
            Either::Left((output, _)) => Some(output),
            Either::Right(((), _)) => None,
        }
    }

    /// There is always an event loop to spawn on in the browser.
    pub(crate) fn can_spawn() -> bool {
        true
    }

    /// Background tasks that belong to one owner (a peer session) and end with it: dropping
    /// the set aborts whatever is still running.
    #[derive(Debug, Default)]
    pub(crate) struct TaskSet {
        tasks: Vec<(AbortHandle, Arc<AtomicBool>)>,
    }

    impl TaskSet {
        /// Runs `task` until it finishes or the set is dropped.
        pub(crate) fn spawn<F>(&mut self, task: F)
        where
            F: Future<Output = ()> + Send + 'static,
        {
            // Finished tasks are forgotten here, so a long session does not accumulate them.
            self.tasks.retain(|(_, done)| !done.load(Ordering::Relaxed));
            let (handle, registration) = AbortHandle::new_pair();
            let done = Arc::new(AtomicBool::new(false));
            let finished = done.clone();
            let task = Abortable::new(task, registration);
            spawn(async move {
                // Aborted or finished, the task is over either way.
                let _ = task.await;
                finished.store(true, Ordering::Relaxed);
            });
            self.tasks.push((handle, done));
        }
    }

    impl Drop for TaskSet {
        fn drop(&mut self) {
            for (handle, _) in &self.tasks {
                handle.abort();
            }
        }
    }
}
