//! The process-wide threads that user callbacks (signal listeners) run on, natively.
//!
//! A listener may block, so it must not run on an async worker; but a thread hand-off per
//! notification (Tokio's blocking pool wakes a thread for every job) cost more than most
//! listeners do: with 1,000 clients in one process it was a quarter of the time a commit
//! took to reach them all. Here jobs wait in one queue, and a thread that is already
//! running takes the next job without being woken, so a burst of notifications costs one
//! wake-up, not one per job.
//!
//! A slow listener still delays only itself: a watchdog starts another thread whenever jobs
//! wait while every thread is busy and none has taken a job for [`STALL`]. Threads that
//! stay idle for [`IDLE_EXIT`] end; at most [`MAX_THREADS`] run (beyond that, jobs wait
//! for one to be free, as on Tokio's pool). A job runs inside the Tokio runtime it was
//! posted from, so a listener can spawn tasks as it could on Tokio's own blocking threads.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How long the queue may stand still, with jobs waiting and every thread busy, before
/// another thread is started.
const STALL: Duration = Duration::from_millis(2);
/// How long a thread waits for a job before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// Threads running at most.
const MAX_THREADS: usize = 512;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    /// Idle threads wait here for jobs.
    work: Condvar,
    /// The watchdog waits here for jobs that find no idle thread.
    watch: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(Job, Option<tokio::runtime::Handle>)>,
    threads: usize,
    idle: usize,
    /// Jobs taken so far: unchanged over [`STALL`] means every thread is stuck in one.
    taken: u64,
    watchdog: Watchdog,
}

#[derive(Default, PartialEq)]
enum Watchdog {
    #[default]
    NotStarted,
    /// Waiting for a backlog; a post must wake it.
    Parked,
    /// Timing a backlog.
    Watching,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        watch: Condvar::new(),
    })
}

/// Runs `work` on a pool thread, after the jobs posted before it were taken.
pub(crate) fn post(work: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut state = pool.state.lock();
    let runtime = tokio::runtime::Handle::try_current().ok();
    state.queue.push_back((Box::new(work), runtime));
    if state.idle > 0 {
        // No syscall unless a thread is actually parked.
        pool.work.notify_one();
    } else if state.threads == 0 {
        start_thread(&mut state);
    }
    match state.watchdog {
        Watchdog::NotStarted => {
            state.watchdog = Watchdog::Parked;
            let started = std::thread::Builder::new()
                .name("ankurah-listeners-watchdog".into())
                .spawn(watchdog);
            if let Err(error) = started {
                state.watchdog = Watchdog::NotStarted;
                tracing::error!(%error, "could not start the listener watchdog thread");
            }
        }
        Watchdog::Parked if state.idle == 0 => {
            pool.watch.notify_one();
        }
        _ => {}
    }
}

/// Starts one more thread, if the limit allows; a thread the system refuses is reported,
/// and the queued jobs wait for the threads there are (or the next attempt).
fn start_thread(state: &mut State) {
    if state.threads >= MAX_THREADS {
        return;
    }
    let started = std::thread::Builder::new()
        .name("ankurah-listeners".into())
        .spawn(worker);
    match started {
        Ok(_) => state.threads += 1,
        Err(error) => tracing::error!(%error, "could not start a thread for listeners"),
    }
}

fn worker() {
    let pool = pool();
    let mut state = pool.state.lock();
    loop {
        if let Some((job, runtime)) = state.queue.pop_front() {
            state.taken += 1;
            drop(state);
            let entered = runtime.as_ref().map(|runtime| runtime.enter());
            // Listeners catch their own panics (the mailbox); this keeps the count right
            // whatever a job does.
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                tracing::error!("a job on the listener threads panicked");
            }
            drop(entered);
            state = pool.state.lock();
            continue;
        }
        state.idle += 1;
        let timed_out = pool.work.wait_for(&mut state, IDLE_EXIT).timed_out();
        state.idle -= 1;
        if timed_out && state.queue.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}

fn watchdog() {
    let pool = pool();
    let mut state = pool.state.lock();
    loop {
        let backlog = |state: &State| !state.queue.is_empty() && state.idle == 0;
        if !backlog(&state) {
            state.watchdog = Watchdog::Parked;
            pool.watch.wait(&mut state);
            continue;
        }
        state.watchdog = Watchdog::Watching;
        let taken = state.taken;
        pool.watch.wait_for(&mut state, STALL);
        if backlog(&state) && state.taken == taken {
            tracing::debug!(
                threads = state.threads,
                "listeners are slow; starting another thread for the ones waiting"
            );
            start_thread(&mut state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn runs_every_job_even_after_one_panicked() {
        post(|| panic!("a job bug"));
        let (done, finished) = mpsc::channel();
        for n in 0..1000 {
            let done = done.clone();
            post(move || done.send(n).unwrap_or_default());
        }
        let mut ran: Vec<i32> = (0..1000)
            .map(|_| finished.recv_timeout(WAIT).unwrap())
            .collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_blocked_job_delays_no_later_one() {
        let (release, gate) = mpsc::channel::<()>();
        let (entered, started) = mpsc::channel();
        post(move || {
            entered.send(()).unwrap_or_default();
            gate.recv_timeout(WAIT).unwrap_or_default();
        });
        started.recv_timeout(WAIT).unwrap();
        let (done, finished) = mpsc::channel();
        post(move || done.send(()).unwrap_or_default());
        finished
            .recv_timeout(WAIT)
            .expect("a later job ran while the first one was blocked");
        release.send(()).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_runs_inside_the_runtime_it_was_posted_from() {
        let (done, finished) = tokio::sync::oneshot::channel();
        post(move || {
            let task = tokio::spawn(async { 42 });
            done.send(task).unwrap_or_default();
        });
        let task = finished.await.unwrap();
        assert_eq!(task.await.unwrap(), 42);
    }
}
