//! What both clients (native and browser) share: the [`ConnectionState`] they report and
//! the [`Backoff`] between their reconnection attempts, and what their reconnect loops
//! decide between attempts ([`Reconnect`]).

use std::time::Duration;

use ankurah_core::signals::Variable;
use rand::Rng;
use tokio::sync::oneshot;

use crate::error::WebsocketError;

/// Where a [`WebsocketClient`]'s connection stands. Read it through
/// [`WebsocketClient::state`], a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a connection: the first one, or a reconnection after a backoff.
    Connecting,
    /// The server accepted the handshake; commits, reads and live queries go through it.
    Connected,
    /// The connection failed or was lost, for `reason`; a reconnection follows.
    Disconnected { reason: String },
    /// Shut down; no further attempts.
    Closed,
}

/// First pause before reconnecting; it doubles after each failed attempt…
const BACKOFF_START: Duration = Duration::from_millis(50);
/// …up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The pauses between reconnection attempts: exponential from 50 ms up to 5 s, with jitter.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(BACKOFF_START)
    }

    /// Starts over (after a connection that worked).
    fn reset(&mut self) {
        self.0 = BACKOFF_START;
    }

    /// The next pause. Jitter in [½, 1] of the backoff spreads out clients returning to a
    /// restarted server.
    fn next_pause(&mut self) -> Duration {
        let pause = self.0.mul_f64(rand::rng().random_range(0.5..=1.0));
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        pause
    }
}

/// What a client's reconnect loop reports and decides between attempts: the connection
/// state, the outcome of the first attempt for `WebsocketClient::new`, and the backoff.
#[derive(Debug)]
pub(crate) struct Reconnect {
    state: Variable<ConnectionState>,
    first: Option<oneshot::Sender<Result<(), WebsocketError>>>,
    backoff: Backoff,
    connected: bool,
}

impl Reconnect {
    /// `first`, when set, receives the outcome of the first attempt, and a failed first
    /// attempt ends the loop.
    pub(crate) fn new(
        state: Variable<ConnectionState>,
        first: Option<oneshot::Sender<Result<(), WebsocketError>>>,
    ) -> Self {
        Reconnect {
            state,
            first,
            backoff: Backoff::new(),
            connected: false,
        }
    }

    /// An attempt starts.
    pub(crate) fn attempt(&mut self) {
        self.connected = false;
        self.state.set(ConnectionState::Connecting);
    }

    /// The server accepted the handshake.
    pub(crate) fn connected(&mut self) {
        self.connected = true;
        self.state.set(ConnectionState::Connected);
        if let Some(first) = self.first.take() {
            // `new` gave up waiting: nobody to tell.
            let _ = first.send(Ok(()));
        }
    }

    /// The attempt or the connection ended with `error`: the pause before the next
    /// attempt, or `None` to stop (a first attempt failed; its caller got the error).
    pub(crate) fn failed(&mut self, error: WebsocketError) -> Option<Duration> {
        self.state.set(ConnectionState::Disconnected {
            reason: error.to_string(),
        });
        if let Some(first) = self.first.take() {
            let _ = first.send(Err(error));
            return None;
        }
        if self.connected {
            self.backoff.reset();
        }
        Some(self.backoff.next_pause())
    }

    /// The client was stopped.
    pub(crate) fn closed(&self) {
        self.state.set(ConnectionState::Closed);
    }
}
