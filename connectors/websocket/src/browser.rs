//! [`WebsocketClient`] in the browser: the native client's behaviour on the browser's
//! `WebSocket`.
//!
//! The browser answers pings and does the framing itself; this module moves binary
//! messages between the socket's callbacks and the node's queues, and runs the same
//! reconnect loop as the native client. Everything of the protocol (handshake, outbox
//! replay, re-subscription with known heads, deltas) is `Node::run_peer`.

use std::time::Duration;

use ankurah_core::proto::Message;
use ankurah_core::signals::{Peek, Variable};
use ankurah_core::sync::queue;
use ankurah_core::Node;
use js_sys::{ArrayBuffer, Uint8Array};
use tokio::sync::{mpsc, oneshot, watch};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::error::{FrameError, WebsocketError};
use crate::state::{ConnectionState, Reconnect};

/// An attempt whose connection takes longer than this has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects a node to a `WebsocketServer` from the browser and keeps it connected; see the
/// native client for the behaviour, which is the same: reconnection with exponential
/// backoff (50 ms doubling up to 5 s, with jitter), and on each new connection the outbox
/// sent and every live query re-subscribed with the heads it holds.
///
/// Dropping the client, or [`shutdown`](Self::shutdown), closes the connection and stops
/// reconnecting.
#[derive(Debug)]
pub struct WebsocketClient {
    url: String,
    state: Variable<ConnectionState>,
    stop: watch::Sender<bool>,
}

impl WebsocketClient {
    /// Connects `node` to the server at `url` (`ws://host:port`) and returns once the
    /// server accepted the handshake. If this first attempt fails, the error is returned
    /// and nothing keeps trying; use [`start`](Self::start) for a client that may start
    /// offline.
    pub async fn new(node: Node, url: &str) -> Result<Self, WebsocketError> {
        let (first, outcome) = oneshot::channel();
        let client = Self::spawn(node, url, Some(first));
        match outcome.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(socket_error(url, "the connection task ended")),
        }
    }

    /// Starts connecting `node` to `url` in the background and returns at once; the client
    /// retries until the server is reachable, while the node works from its local storage.
    pub fn start(node: Node, url: &str) -> Self {
        Self::spawn(node, url, None)
    }

    fn spawn(
        node: Node,
        url: &str,
        first: Option<oneshot::Sender<Result<(), WebsocketError>>>,
    ) -> Self {
        let state = Variable::new(ConnectionState::Connecting);
        let (stop, stop_rx) = watch::channel(false);
        wasm_bindgen_futures::spawn_local(keep_connected(
            node,
            url.to_string(),
            state.clone(),
            stop_rx,
            first,
        ));
        WebsocketClient {
            url: url.to_string(),
            state,
            stop,
        }
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection state, as a signal (to show "offline" in a UI, say).
    pub fn state(&self) -> Variable<ConnectionState> {
        self.state.clone()
    }

    /// Closes the connection and stops reconnecting; returns once the state is `Closed`.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        while self.state.peek() != ConnectionState::Closed {
            gloo_timers::future::TimeoutFuture::new(5).await;
        }
    }
}

impl Drop for WebsocketClient {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

fn socket_error(url: &str, reason: impl Into<String>) -> WebsocketError {
    WebsocketError::Socket {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// Resolves once `stop` is set or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await.map(drop);
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
        let error = result
            .err()
            .unwrap_or_else(|| socket_error(&url, "the server closed the connection"));
        let Some(pause) = reconnect.failed(error) else {
            return;
        };
        tokio::select! {
            _ = gloo_timers::future::TimeoutFuture::new(u32::try_from(pause.as_millis()).unwrap_or(u32::MAX)) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    reconnect.closed();
}

/// What the socket's callbacks report.
enum SocketEvent {
    Open,
    Binary(Vec<u8>),
    Text,
    Closed(String),
}

/// The socket's callbacks; they live as long as the connection.
struct Callbacks {
    _open: Closure<dyn FnMut(web_sys::Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
    _error: Closure<dyn FnMut(web_sys::Event)>,
}

fn listen(ws: &WebSocket, events: mpsc::UnboundedSender<SocketEvent>) -> Callbacks {
    // Sends fail only once the connection's task stopped listening: nothing to do then.
    let on_open = events.clone();
    let open = Closure::new(move |_: web_sys::Event| drop(on_open.send(SocketEvent::Open)));
    let on_message = events.clone();
    let message = Closure::new(move |event: MessageEvent| {
        let data = event.data();
        let reported = match data.dyn_ref::<ArrayBuffer>() {
            Some(buffer) => SocketEvent::Binary(Uint8Array::new(buffer).to_vec()),
            None => SocketEvent::Text,
        };
        drop(on_message.send(reported));
    });
    let on_close = events.clone();
    let close = Closure::new(move |event: CloseEvent| {
        let reason = format!("closed ({}) {}", event.code(), event.reason());
        drop(on_close.send(SocketEvent::Closed(reason)));
    });
    let error = Closure::new(move |_: web_sys::Event| {
        drop(events.send(SocketEvent::Closed("the connection failed".into())));
    });
    ws.set_onopen(Some(open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(error.as_ref().unchecked_ref()));
    Callbacks {
        _open: open,
        _message: message,
        _close: close,
        _error: error,
    }
}

/// One connection: open the socket and run the session until it ends (`Ok` only when the
/// client was stopped). `on_connected` runs once the server accepted the handshake.
async fn connect_and_serve(
    node: &Node,
    url: &str,
    mut stop: watch::Receiver<bool>,
    on_connected: impl FnOnce(),
) -> Result<(), WebsocketError> {
    let ws = WebSocket::new(url).map_err(|error| WebsocketError::InvalidUrl {
        url: url.to_string(),
        reason: js_message(&error),
    })?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let (sender, mut events) = mpsc::unbounded_channel();
    let _callbacks = listen(&ws, sender);
    let result = async {
        let timeout = u32::try_from(CONNECT_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
        tokio::select! {
            event = events.recv() => match event {
                Some(SocketEvent::Open) => {}
                Some(SocketEvent::Closed(reason)) => return Err(socket_error(url, reason)),
                _ => return Err(socket_error(url, "no open event")),
            },
            _ = gloo_timers::future::TimeoutFuture::new(timeout) => {
                return Err(socket_error(url, format!("no answer within {CONNECT_TIMEOUT:?}")));
            }
            _ = stopped(&mut stop) => return Ok(()),
        }
        serve(node, url, &ws, &mut events, stop, on_connected).await
    }
    .await;
    // The socket's last events (its close) must not reach the callbacks dropped below.
    ws.set_onopen(None);
    ws.set_onmessage(None);
    ws.set_onclose(None);
    ws.set_onerror(None);
    // Closing twice, or a socket that never opened, is not an error worth reporting.
    let _ = ws.close();
    result
}

/// The session on an open socket.
async fn serve(
    node: &Node,
    url: &str,
    ws: &WebSocket,
    events: &mut mpsc::UnboundedReceiver<SocketEvent>,
    mut stop: watch::Receiver<bool>,
    on_connected: impl FnOnce(),
) -> Result<(), WebsocketError> {
    let limits = node.limits();
    let (to_peer, mut outgoing) = queue(limits);
    let (to_node, incoming) = queue(limits);
    let goodbye = to_peer.clone();
    let read = async {
        while let Some(event) = events.recv().await {
            let (bytes, len) = match event {
                SocketEvent::Binary(bytes) => {
                    let len = bytes.len();
                    (bytes, len)
                }
                SocketEvent::Text => return Err(FrameError::Text.into()),
                SocketEvent::Closed(reason) => return Err(socket_error(url, reason)),
                SocketEvent::Open => continue,
            };
            let message = Message::decode_with(&bytes, limits).map_err(FrameError::from)?;
            if to_node.send_sized(message, len).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    };
    let write = async {
        while let Some(message) = outgoing.recv().await {
            ws.send_with_u8_array(&message.encode())
                .map_err(|error| socket_error(url, js_message(&error)))?;
        }
        Ok::<(), WebsocketError>(())
    };
    let handshake = async {
        node.wait_durable_peer().await;
        on_connected();
        std::future::pending::<()>().await
    };
    let result = tokio::select! {
        result = node.run_peer(to_peer, incoming) => result.map_err(WebsocketError::from),
        result = read => {
            if let Err(WebsocketError::Frame(error)) = &result {
                // A peer whose queue is full is not reading: it goes without the reason.
                let _ = goodbye.try_send(Message::Goodbye {
                    reason: error.to_string(),
                    kind: None,
                });
            }
            result
        }
        result = write => result,
        () = handshake => Ok(()),
        () = stopped(&mut stop) => Ok(()),
    };
    // Whatever is still queued (a Goodbye) goes out before the socket closes.
    while let Some(message) = outgoing.try_recv() {
        let _ = ws.send_with_u8_array(&message.encode());
    }
    result
}

/// The message of a JS error.
fn js_message(error: &JsValue) -> String {
    match error.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => format!("{error:?}"),
    }
}
