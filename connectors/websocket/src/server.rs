//! [`WebsocketServer`]: serves a node to WebSocket clients, standalone or inside another
//! HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ankurah_core::Node;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::error::WebsocketError;
use crate::frame;
use crate::session::{run_session, stopped, SILENCE_LIMIT};

/// A client must finish the HTTP upgrade within this time.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The `Goodbye` reason clients receive when the server shuts down.
const SHUTTING_DOWN: &str = "the server is shutting down";

/// Serves a node (normally durable) to WebSocket clients.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use ankurah_core::{Node, PermissiveAgent, storage::MemoryStorage};
/// # use ankurah_websocket::WebsocketServer;
/// # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
/// node.system.create().await?;
/// let server = WebsocketServer::new(node).bind("127.0.0.1:9797").await?;
/// println!("listening on ws://{}", server.local_addr());
/// let stop = server.shutdown_handle();
/// let serving = tokio::spawn(server.run());
/// // ... later:
/// stop.shutdown();
/// serving.await?; // every connection has been closed
/// # Ok(()) }
/// ```
///
/// **Safe default:** a server whose node has no authenticator
/// ([`Node::set_authenticator`]) serves anonymous peers, so it binds only to loopback
/// addresses unless [`allow_anonymous`](Self::allow_anonymous) says anonymous access is
/// meant.
#[derive(Debug, Clone)]
pub struct WebsocketServer {
    node: Node,
    silence: Duration,
    anonymous: bool,
}

impl WebsocketServer {
    /// A server for `node`; nothing listens until [`bind`](Self::bind).
    pub fn new(node: Node) -> Self {
        WebsocketServer {
            node,
            silence: SILENCE_LIMIT,
            anonymous: false,
        }
    }

    /// Lets a node without an authenticator listen beyond loopback: anyone who reaches the
    /// address may connect, anonymously (`peer <node id>` to the policy agent).
    pub fn allow_anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// How long a client may send nothing, or accept nothing the server sends, before its
    /// connection is closed (60 s by default; idle connections are pinged every 20 s, so a
    /// limit under that closes them). A client that stops reading would otherwise make the
    /// server queue its updates without bound. The client reconnects and catches up.
    pub fn silence_limit(mut self, limit: Duration) -> Self {
        self.silence = limit;
        self
    }

    /// Listens on `addr` (port 0 picks a free port; see [`BoundServer::local_addr`]).
    pub async fn bind(
        self,
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> Result<BoundServer, WebsocketError> {
        let bind_error = |source| WebsocketError::Bind {
            addr: format!("{addr:?}"),
            source,
        };
        let listener = TcpListener::bind(&addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        if !local_addr.ip().is_loopback() && !self.anonymous && !self.node.requires_authentication()
        {
            return Err(WebsocketError::Anonymous { addr: local_addr });
        }
        Ok(BoundServer {
            node: self.node,
            silence: self.silence,
            listener,
            local_addr,
            shutdown: Arc::new(watch::Sender::new(false)),
        })
    }
}

/// A listening server; [`run`](Self::run) serves it.
#[derive(Debug)]
pub struct BoundServer {
    node: Node,
    silence: Duration,
    listener: TcpListener,
    local_addr: SocketAddr,
    shutdown: Arc<watch::Sender<bool>>,
}

impl BoundServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from anywhere, also after [`run`](Self::run) took it.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Accepts and serves connections until [`ShutdownHandle::shutdown`] is called; then it
    /// stops listening, sends every client a `Goodbye`, closes the connections and returns.
    /// A failed connection never ends the server.
    pub async fn run(self) {
        let BoundServer {
            node,
            silence,
            listener,
            shutdown,
            ..
        } = self;
        let mut stop = shutdown.subscribe();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, addr)) => {
                        let span = tracing::info_span!("connection", %addr);
                        let serve = serve_tcp(node.clone(), tcp, silence, shutdown.subscribe());
                        connections.spawn(tracing::Instrument::instrument(serve, span));
                    }
                    // Per-connection failures (reset before accept, out of descriptors) pass.
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await
                    }
                },
                // Reap finished connections so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        while connections.join_next().await.is_some() {}
    }
}

/// Stops a [`BoundServer`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Stops accepting and closes every connection (each client is told why). The server's
    /// `run` future resolves once they are closed.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

async fn serve_tcp(node: Node, tcp: TcpStream, silence: Duration, mut stop: watch::Receiver<bool>) {
    // Messages are small and latency matters more than packet count.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    let upgrade = tokio::time::timeout(
        UPGRADE_TIMEOUT,
        tokio_tungstenite::accept_async_with_config(tcp, Some(frame::config(node.limits()))),
    );
    let ws = tokio::select! {
        upgraded = upgrade => match upgraded {
            Ok(Ok(ws)) => ws,
            // A failed upgrade has no WebSocket to say goodbye on.
            Ok(Err(error)) => return tracing::debug!(%error, "WebSocket upgrade failed"),
            Err(_) => return tracing::debug!("WebSocket upgrade timed out"),
        },
        _ = stopped(&mut stop) => return,
    };
    let shutdown = async move {
        stopped(&mut stop).await;
        SHUTTING_DOWN
    };
    // The session's outcome concerns only this client, which was told about it.
    match run_session(&node, ws, silence, shutdown).await {
        Ok(()) => tracing::debug!("connection closed"),
        Err(error) => tracing::info!(%error, "connection ended"),
    }
}

/// Serves one WebSocket connection that another HTTP server already accepted, until it
/// closes. Use it to mount Ankurah as a route of an existing axum or hyper application.
///
/// `io` is the connection after the HTTP upgrade (for hyper: `TokioIo::new(upgraded)`); the
/// host application answers the upgrade request itself. With axum, take the request whole
/// rather than through axum's `WebSocketUpgrade` (its socket type hides the stream):
///
/// ```ignore
/// use axum::{body::Body, extract::{Request, State}, http::{header, StatusCode}, response::Response};
/// use hyper_util::rt::TokioIo;
/// use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
///
/// async fn sync_route(State(node): State<ankurah_core::Node>, mut request: Request) -> Response {
///     let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
///         return Response::builder().status(StatusCode::BAD_REQUEST).body(Body::empty()).unwrap();
///     };
///     let accept = derive_accept_key(key.as_bytes());
///     let upgrade = hyper::upgrade::on(&mut request);
///     tokio::spawn(async move {
///         if let Ok(upgraded) = upgrade.await {
///             let _ = ankurah_websocket::serve_upgraded(node, TokioIo::new(upgraded)).await;
///         }
///     });
///     Response::builder()
///         .status(StatusCode::SWITCHING_PROTOCOLS)
///         .header(header::CONNECTION, "upgrade")
///         .header(header::UPGRADE, "websocket")
///         .header(header::SEC_WEBSOCKET_ACCEPT, accept)
///         .body(Body::empty())
///         .unwrap()
/// }
/// // Router::new().route("/sync", get(sync_route)).with_state(node)
/// ```
///
/// Connections served this way are not closed by a [`ShutdownHandle`]: they end with the
/// host server (drop the future) or when the client leaves.
pub async fn serve_upgraded<S>(node: Node, io: S) -> Result<(), WebsocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = frame::config(node.limits());
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    serve_connection(node, ws).await
}

/// Serves one already-established WebSocket until it closes, like
/// [`serve_upgraded`] but for a stream built elsewhere (its size limits are then the
/// builder's; messages over the protocol limit are refused all the same).
pub async fn serve_connection<S>(node: Node, ws: WebSocketStream<S>) -> Result<(), WebsocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run_session(&node, ws, SILENCE_LIMIT, std::future::pending()).await
}
