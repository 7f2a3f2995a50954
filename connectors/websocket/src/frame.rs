//! WebSocket frames ↔ protocol [`Message`]s: one message per binary frame.

use ankurah_core::proto::Message;
use ankurah_core::Limits;
use tokio_tungstenite::tungstenite::{
    self, error::ProtocolError, protocol::WebSocketConfig, Message as Frame,
};

use crate::error::{FrameError, WebsocketError};

/// How much one socket read takes at most. tungstenite zeroes this much of its buffer before
/// every read, so its default (128 KiB) cost more than the read of a small sync message; a
/// large frame still lands in one buffer reserved from its header, in more reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The tungstenite limits both ends use: nothing larger than a protocol message is buffered,
/// so an oversized frame is refused from its header instead of after reading it whole.
pub(crate) fn config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(limits.max_message_bytes))
        .max_frame_size(Some(limits.max_message_bytes))
}

pub(crate) fn encode(message: &Message) -> Frame {
    Frame::Binary(message.encode().into())
}

/// The message a frame carries; `None` for control frames, which tungstenite answers itself
/// (a `Close` is answered and then ends the stream).
pub(crate) fn decode(frame: Frame, limits: &Limits) -> Result<Option<Message>, FrameError> {
    match frame {
        Frame::Binary(bytes) => Ok(Some(Message::decode_with(&bytes, limits)?)),
        Frame::Text(_) => Err(FrameError::Text),
        Frame::Ping(_) | Frame::Pong(_) | Frame::Close(_) | Frame::Frame(_) => Ok(None),
    }
}

/// Classifies a read error: the peer's fault (it gets a `Goodbye`) or a broken transport.
pub(crate) fn read_error(error: tungstenite::Error) -> WebsocketError {
    match &error {
        tungstenite::Error::Capacity(e) => FrameError::TooLarge(e.to_string()).into(),
        // A dropped TCP connection is a transport failure, not bad framing.
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            WebsocketError::Transport(error)
        }
        tungstenite::Error::Protocol(e) => FrameError::Protocol(e.to_string()).into(),
        tungstenite::Error::Utf8(e) => FrameError::Protocol(e.to_string()).into(),
        _ => WebsocketError::Transport(error),
    }
}
