//! [`WebsocketClient`]: connects a node to a server and keeps it connected.

use std::time::Duration;

use ankurah_core::signals::Variable;
use ankurah_core::Node;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use crate::error::WebsocketError;
use crate::frame;
use crate::session::{run_session, stopped, SILENCE_LIMIT};
use crate::state::{ConnectionState, Reconnect};

/// An attempt whose TCP connection or upgrade takes longer than this has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `Goodbye` reason the server receives when the client shuts down.
const CLIENT_CLOSING: &str = "the client is shutting down";

/// Connects a node to a [`WebsocketServer`](crate::WebsocketServer) and keeps it connected.
///
/// A background task owns the connection. When it is lost the task reconnects with
/// exponential backoff (50 ms doubling up to 5 s, with jitter so that clients of a restarted
/// server do not return all at once). Each new connection runs the whole peer protocol
/// again: the node sends its outbox (commits made while offline) and re-subscribes every
/// live query with the heads it holds, so live queries resume by themselves.
///
/// Dropping the client, or [`shutdown`](Self::shutdown), closes the connection with a
/// `Goodbye` and stops reconnecting.
#[derive(Debug)]
pub struct WebsocketClient {
    url: String,
    state: Variable<ConnectionState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WebsocketClient {
    /// Connects `node` to the server at `url` (`ws://host:port`) and returns once the
    /// server accepted the handshake, so the node's next commit reaches it. If this first
    /// attempt fails, the error is returned and nothing keeps trying: a wrong URL or a
    /// server of another system shows up at startup. Use [`start`](Self::start) for a client
    /// that may start offline.
    pub async fn new(node: Node, url: &str) -> Result<Self, WebsocketError> {
        let (first, outcome) = oneshot::channel();
        let client = Self::spawn(node, url, Some(first))?;
        // The task reports before it can end, unless it panicked.
        match outcome.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(WebsocketError::Transport(
                tungstenite::Error::ConnectionClosed,
            )),
        }
    }

    /// Starts connecting `node` to `url` in the background and returns at once; the client
    /// retries until the server is reachable. For offline-first apps: the node works from
    /// its local storage meanwhile and syncs when connected. Fails only for an invalid URL.
    pub fn start(node: Node, url: &str) -> Result<Self, WebsocketError> {
        Self::spawn(node, url, None)
    }

    fn spawn(
        node: Node,
        url: &str,
        first: Option<oneshot::Sender<Result<(), WebsocketError>>>,
    ) -> Result<Self, WebsocketError> {
        url.into_client_request()
            .map_err(|source| WebsocketError::InvalidUrl {
                url: url.to_string(),
                source,
            })?;
        let state = Variable::new(ConnectionState::Connecting);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(keep_connected(
            node,
            url.to_string(),
            state.clone(),
            stop_rx,
            first,
        ));
        Ok(WebsocketClient {
            url: url.to_string(),
            state,
            stop,
            task,
        })
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection state, as a signal: `peek()` it, or `subscribe` to be called on every
    /// change (to show "offline" in a UI, say).
    pub fn state(&self) -> Variable<ConnectionState> {
        self.state.clone()
    }

    /// Says `Goodbye` to the server, closes the connection and stops reconnecting; returns
    /// once the connection is closed.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for WebsocketClient {
    /// Stops the background task, which closes the connection on its own.
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The background task: connect, serve the session, back off, repeat until stopped.
async fn keep_connected(
    node: Node,
    url: String,
    state: Variable<ConnectionState>,
    mut stop: watch::Receiver<bool>,
    first: Option<oneshot::Sender<Result<(), WebsocketError>>>,
) {
    let mut reconnect = Reconnect::new(state, first);
    loop {
        reconnect.attempt();
        let result = connect_and_serve(&node, &url, stop.clone(), || reconnect.connected()).await;
        if *stop.borrow() {
            break;
        }
        let error = result.err().unwrap_or(WebsocketError::Transport(
            tungstenite::Error::ConnectionClosed,
        ));
        let Some(pause) = reconnect.failed(error) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    reconnect.closed();
}

/// One connection: open the socket and run the session until it ends (`Ok` only when the
/// client was stopped or the server closed the connection). `on_connected` runs once the
/// server accepted the handshake.
async fn connect_and_serve(
    node: &Node,
    url: &str,
    mut stop: watch::Receiver<bool>,
    on_connected: impl FnOnce(),
) -> Result<(), WebsocketError> {
    let connect = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(frame::config(node.limits())), true),
    );
    let ws = tokio::select! {
        connected = connect => match connected {
            Ok(Ok((ws, _response))) => ws,
            Ok(Err(source)) => return Err(WebsocketError::Connect { url: url.to_string(), source }),
            Err(_) => {
                let source = std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {CONNECT_TIMEOUT:?}"));
                return Err(WebsocketError::Connect { url: url.to_string(), source: source.into() });
            }
        },
        _ = stopped(&mut stop) => return Ok(()),
    };
    let shutdown = async move {
        stopped(&mut stop).await;
        CLIENT_CLOSING
    };
    let handshake = async {
        // The node lists the server as its durable peer once the Hello exchange succeeded.
        node.wait_durable_peer().await;
        on_connected();
        std::future::pending::<Result<(), WebsocketError>>().await
    };
    tokio::select! {
        result = run_session(node, ws, SILENCE_LIMIT, shutdown) => result,
        result = handshake => result,
    }
}
