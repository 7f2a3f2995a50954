//! [`WebsocketError`], and [`FrameError`] for frames a peer should not have sent.

use ankurah_core::{DecodeError, PeerError};
#[cfg(not(target_arch = "wasm32"))]
use tokio_tungstenite::tungstenite;

/// Why a connector call or a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum WebsocketError {
    /// The client URL is not a `ws://` or `wss://` URL tungstenite accepts.
    #[cfg(not(target_arch = "wasm32"))]
    #[error("invalid WebSocket URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        source: tungstenite::Error,
    },
    /// The server could not listen on the address.
    #[cfg(not(target_arch = "wasm32"))]
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// The server would listen beyond loopback without authenticating its peers.
    #[error(
        "refusing to serve anonymous peers on {addr}, which is reachable beyond this machine: \
         give the node an authenticator (`Node::set_authenticator`), bind to 127.0.0.1, or \
         choose anonymous access with `WebsocketServer::allow_anonymous`"
    )]
    Anonymous { addr: std::net::SocketAddr },
    /// The client could not open a WebSocket to the server.
    #[cfg(not(target_arch = "wasm32"))]
    #[error("could not connect to {url}: {source}")]
    Connect {
        url: String,
        source: tungstenite::Error,
    },
    /// The WebSocket handshake of an accepted connection failed or took too long.
    #[cfg(not(target_arch = "wasm32"))]
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
    /// The connection broke (I/O error, reset, or the peer went silent).
    #[cfg(not(target_arch = "wasm32"))]
    #[error("WebSocket connection failed: {0}")]
    Transport(#[from] tungstenite::Error),
    /// The browser refused the URL (not `ws://` or `wss://`, or a port it blocks).
    #[cfg(target_arch = "wasm32")]
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The browser's WebSocket could not connect, or the connection closed or failed.
    #[cfg(target_arch = "wasm32")]
    #[error("WebSocket to {url} failed: {reason}")]
    Socket { url: String, reason: String },
    /// The peer sent a frame outside the protocol; it was told why and disconnected.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer session ended: refused in the handshake, said `Goodbye`, or broke the protocol.
    #[error(transparent)]
    Peer(#[from] PeerError),
}

/// A frame the protocol does not allow. Its message is the `Goodbye` reason the peer receives.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Messages travel in binary frames only.
    #[error("text frames are not part of the Ankurah protocol; send MessagePack in binary frames")]
    Text,
    /// The bytes are not a message of this protocol version.
    #[error("undecodable frame: {0}")]
    Decode(#[from] DecodeError),
    /// The frame or message exceeds [`MAX_MESSAGE_BYTES`](ankurah_core::proto::MAX_MESSAGE_BYTES).
    #[error("message too large: {0}")]
    TooLarge(String),
    /// The bytes are not valid WebSocket framing.
    #[error("WebSocket protocol violation: {0}")]
    Protocol(String),
}
