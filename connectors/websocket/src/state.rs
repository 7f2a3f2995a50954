//! What both clients (native and browser) share: the [`ConnectionState`] they report and
//! the [`Backoff`] between their reconnection attempts.

use std::time::Duration;

use rand::Rng;

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
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff(BACKOFF_START)
    }

    /// Starts over (after a connection that worked).
    pub(crate) fn reset(&mut self) {
        self.0 = BACKOFF_START;
    }

    /// The next pause. Jitter in [½, 1] of the backoff spreads out clients returning to a
    /// restarted server.
    pub(crate) fn next_pause(&mut self) -> Duration {
        let pause = self.0.mul_f64(rand::rng().random_range(0.5..=1.0));
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        pause
    }
}
