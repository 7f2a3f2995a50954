//! One peer session over one WebSocket, shared by the server and the client.
//!
//! [`Node::run_peer`] does all of the protocol; this module only moves messages between the
//! socket and its channel pair. Reading and writing run concurrently, so two peers that both
//! send large batches cannot block each other on full TCP buffers.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use ankurah_core::proto::Message;
use ankurah_core::sync::{queue, QueueReceiver, QueueSender};
use ankurah_core::{Limits, Node};
use futures_util::future::{join, FusedFuture};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::{self, Message as Frame};
use tokio_tungstenite::WebSocketStream;

use crate::error::WebsocketError;
use crate::frame;

/// An idle connection is pinged this often, so both ends notice a dead peer.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// How long a peer may go without sending anything (message, ping or pong), or without
/// accepting what is sent to it, before it is taken for gone; see
/// [`WebsocketServer::silence_limit`](crate::WebsocketServer::silence_limit).
pub(crate) const SILENCE_LIMIT: Duration = Duration::from_secs(60);

/// How long closing may take: flushing the last messages and waiting for the peer's Close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Runs a session until the peer closes or breaks the protocol, the transport fails, the
/// peer is silent or stops accepting data for `silence`, or `shutdown` resolves (with the
/// `Goodbye` reason the peer is sent).
///
/// A peer that sends a frame outside the protocol is sent a `Goodbye` naming the problem and
/// the connection is closed; nothing else is affected. A peer that stops reading is
/// disconnected after `silence`, so what the node sends it cannot pile up without bound.
pub(crate) async fn run_session<S>(
    node: &Node,
    ws: WebSocketStream<S>,
    silence: Duration,
    shutdown: impl Future<Output = &'static str>,
) -> Result<(), WebsocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, mut stream) = ws.split();
    let (to_peer, outgoing) = queue(node.limits());
    let (to_node, incoming) = queue(node.limits());
    let say_goodbye = {
        let to_peer = to_peer.clone();
        move |reason: String| {
            // A peer whose queue is full is not reading: it goes without the reason.
            if to_peer
                .try_send(Message::Goodbye { reason, kind: None })
                .is_err()
            {
                tracing::debug!("no room for the goodbye");
            }
        }
    };
    let (stop_writer, writer_stopped) = oneshot::channel();
    let mut writer = pin!(write_frames(sink, outgoing, silence, writer_stopped).fuse());

    let result = tokio::select! {
        result = node.run_peer(to_peer, incoming) => result.map_err(WebsocketError::from),
        result = read_frames(&mut stream, to_node, silence, node.limits()) => {
            if let Err(WebsocketError::Frame(error)) = &result {
                say_goodbye(error.to_string());
            }
            result
        }
        reason = shutdown => {
            say_goodbye(reason.to_string());
            Ok(())
        }
        result = &mut writer => result.map_err(WebsocketError::from),
    };

    // Close politely: flush what is queued (a Goodbye, a refusal) and a Close frame while
    // reading on until the peer answers it; closing with unread input would reset the TCP
    // connection and could destroy the Goodbye before the peer reads it.
    // The writer may have ended already; then there is nothing to stop.
    let _ended = stop_writer.send(());
    let flush = async {
        if !writer.is_terminated() {
            if let Err(error) = writer.await {
                tracing::debug!(%error, "closing: the last frames were not delivered");
            }
        }
    };
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    if tokio::time::timeout(CLOSE_GRACE, join(flush, drain))
        .await
        .is_err()
    {
        tracing::debug!("the peer did not finish closing within {CLOSE_GRACE:?}");
    }
    result
}

/// Forwards incoming messages to the node until the peer closes the connection. While the
/// node's queue is full nothing more is read, so a peer sending faster than the node works
/// is slowed down by TCP itself.
async fn read_frames<S>(
    stream: &mut SplitStream<WebSocketStream<S>>,
    to_node: QueueSender,
    silence: Duration,
    limits: &Limits,
) -> Result<(), WebsocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let frame = match tokio::time::timeout(silence, stream.next()).await {
            Err(_) => return Err(timed_out(format!("the peer was silent for {silence:?}")).into()),
            Ok(None) => return Ok(()),
            Ok(Some(frame)) => frame.map_err(frame::read_error)?,
        };
        let len = frame.len();
        if let Some(message) = frame::decode(frame, limits)? {
            if to_node.send_sized(message, len).await.is_err() {
                return Ok(());
            }
        }
    }
}

fn timed_out(reason: String) -> tungstenite::Error {
    tungstenite::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, reason))
}

/// Sends the node's messages, batching whatever is queued into one flush, and pings when
/// idle; a peer that accepts nothing for `silence` fails the session. Once `stop` fires it
/// sends what is still queued, then a Close frame.
async fn write_frames<S>(
    mut sink: SplitSink<WebSocketStream<S>, Frame>,
    mut outgoing: QueueReceiver,
    silence: Duration,
    mut stop: oneshot::Receiver<()>,
) -> Result<(), tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.reset();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            message = outgoing.recv() => {
                let Some(message) = message else { break };
                within(silence, sink.feed(frame::encode(&message))).await?;
                feed_queued(&mut sink, &mut outgoing, silence).await?;
                within(silence, sink.flush()).await?;
                keepalive.reset();
            }
            _ = keepalive.tick() => within(silence, sink.send(Frame::Ping(Default::default()))).await?,
        }
    }
    feed_queued(&mut sink, &mut outgoing, silence).await?;
    sink.close().await
}

async fn feed_queued<S>(
    sink: &mut SplitSink<WebSocketStream<S>, Frame>,
    outgoing: &mut QueueReceiver,
    silence: Duration,
) -> Result<(), tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = outgoing.try_recv() {
        within(silence, sink.feed(frame::encode(&message))).await?;
    }
    Ok(())
}

/// One write to the peer (a frame, a flush), failed if the peer accepts none of it for
/// `silence`.
async fn within(
    silence: Duration,
    write: impl Future<Output = Result<(), tungstenite::Error>>,
) -> Result<(), tungstenite::Error> {
    tokio::time::timeout(silence, write)
        .await
        .map_err(|_| timed_out(format!("the peer accepted no data for {silence:?}")))?
}

/// Resolves once `stop` is set to `true` or its sender is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow `wait_for` returns must not be held across an await (it is not `Send`).
    let _ = stop.wait_for(|stop| *stop).await.map(drop);
}
