//! Raw peers: plain tokio-tungstenite sockets speaking the protocol by hand, for tests that
//! play a client breaking the rules (or bending them as far as they go).
//!
//! Every read is bounded in time, so a server that never answers fails the test with a
//! message instead of hanging it. Self-contained (the `flood` example includes it by path);
//! `Server::raw` and `Server::greeted` connect one to a test server.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use ankurah_core::proto::{Hello, Message, Request, Response, PROTOCOL_VERSION};
use ankurah_core::NodeId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// The sending half of a [`Raw`] peer, for peers that send without reading.
pub type RawSink = SplitSink<Raw, Frame>;
/// The receiving half of a [`Raw`] peer.
pub type RawStream = SplitStream<Raw>;

/// How long a raw peer waits for the server to answer or to close the connection.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A raw WebSocket connection to the server at `url` that has said nothing yet.
pub async fn connect(url: &str) -> Raw {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("the server accepts")
        .0
}

/// The `Hello` of an ephemeral node of system `system` (`None`: it does not know it yet).
pub fn hello(system: Option<ankurah_core::SystemId>, protocol_version: u32) -> Message {
    Message::Hello(Hello {
        protocol_version,
        system_id: system,
        node_id: NodeId::new(),
        durable: false,
        credential: None,
        challenge: None,
    })
}

/// A raw connection to the server at `url` of system `system` that has said a correct
/// `Hello`.
pub async fn greeted(url: &str, system: Option<ankurah_core::SystemId>) -> Raw {
    let mut raw = connect(url).await;
    send(&mut raw, &hello(system, PROTOCOL_VERSION)).await;
    raw
}

pub async fn send(raw: &mut Raw, message: &Message) {
    send_bytes(raw, message.encode()).await;
}

/// Sends one binary frame of exactly these bytes.
pub async fn send_bytes(raw: &mut Raw, bytes: Vec<u8>) {
    raw.send(Frame::Binary(bytes.into()))
        .await
        .expect("the server reads");
}

/// The frame of request `id`.
pub fn frame(id: u64, request: Request) -> Vec<u8> {
    Message::Request { id, request }.encode()
}

/// Sends request `id`.
pub async fn request(raw: &mut Raw, id: u64, request: Request) {
    send_bytes(raw, frame(id, request)).await;
}

/// Everything the server sends until it closes the connection (within [`PATIENCE`]).
pub async fn until_closed(raw: &mut Raw) -> Vec<Message> {
    let read = async {
        let mut messages = Vec::new();
        while let Some(Ok(frame)) = raw.next().await {
            if let Frame::Binary(bytes) = frame {
                messages.push(Message::decode(&bytes).expect("the server sends valid messages"));
            }
        }
        messages
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server closes the connection")
}

/// The reason of the `Goodbye` among `messages`.
pub fn goodbye(messages: &[Message]) -> &str {
    messages
        .iter()
        .find_map(|m| match m {
            Message::Goodbye { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Goodbye in {messages:?}"))
}

/// How the server dealt with one request of a raw peer.
#[derive(Debug)]
pub enum Reply {
    /// Answered (`Error` answers are [`Reply::Refused`]).
    Answered(Response),
    /// Answered with an error, whose text this is.
    Refused(String),
    /// The server said `Goodbye` (with this reason) before answering.
    Goodbye(String),
    /// The connection closed without an answer or a `Goodbye`.
    Closed,
}

impl Reply {
    /// Whether the server turned the request down: an error answer, or the peer cut off.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Reply::Answered(_))
    }
}

/// The error text of an error answer, `None` for any other answer. The one place that knows
/// how an error travels, so tests keep compiling if the error type changes shape.
pub fn refusal(response: &Response) -> Option<String> {
    match response {
        Response::Error(error) => Some(error.to_string()),
        _ => None,
    }
}

/// Reads until the answer to request `id` (pieces joined), within [`PATIENCE`]. Updates and
/// answers to other requests are skipped. The server's own requests are answered: its
/// `GetEvents` (for ancestors of a commit) with no events, as a peer that has none.
pub async fn reply(raw: &mut Raw, id: u64) -> Reply {
    tokio::time::timeout(PATIENCE, read_reply(raw, id))
        .await
        .unwrap_or_else(|_| panic!("no answer to request {id} within {PATIENCE:?}"))
}

async fn read_reply(raw: &mut Raw, id: u64) -> Reply {
    let mut pieces: Option<Response> = None;
    loop {
        let bytes = match raw.next().await {
            Some(Ok(Frame::Binary(bytes))) => bytes,
            Some(Ok(_)) => continue,
            _ => return Reply::Closed,
        };
        let message = Message::decode(&bytes).expect("the server sends valid messages");
        match message {
            Message::Part { id: of, response } if of == id => {
                pieces = Some(match pieces {
                    None => response,
                    Some(earlier) => earlier.join(response).expect("pieces of one kind"),
                });
            }
            Message::Response { id: of, response } if of == id => {
                let whole = match pieces {
                    None => response,
                    Some(earlier) => earlier.join(response).expect("pieces of one kind"),
                };
                return match refusal(&whole) {
                    Some(reason) => Reply::Refused(reason),
                    None => Reply::Answered(whole),
                };
            }
            Message::Request {
                id: asked,
                request: Request::GetEvents { .. },
            } => {
                let answer = Message::Response {
                    id: asked,
                    response: Response::Events(Vec::new()),
                };
                if raw
                    .send(Frame::Binary(answer.encode().into()))
                    .await
                    .is_err()
                {
                    return Reply::Closed;
                }
            }
            Message::Goodbye { reason, .. } => return Reply::Goodbye(reason),
            _ => {}
        }
    }
}

/// Sends request `id` and waits for how the server deals with it.
pub async fn ask(raw: &mut Raw, id: u64, request: Request) -> Reply {
    self::request(raw, id, request).await;
    reply(raw, id).await
}

/// Sends `frames` in order from a task, stopping at the first one the server does not take
/// within [`PATIENCE`] (a server may stop reading a peer that floods it). Resolves to the
/// sink and how many frames were sent.
pub fn flood(
    mut sink: RawSink,
    frames: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> JoinHandle<(RawSink, usize)> {
    tokio::spawn(async move {
        let mut sent = 0;
        for frame in frames {
            let sending = sink.send(Frame::Binary(frame.into()));
            match tokio::time::timeout(PATIENCE, sending).await {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
        }
        (sink, sent)
    })
}

/// How the server dealt with a batch of requests, read by [`tally`].
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests answered (not with an error).
    pub answered: usize,
    /// Requests answered with an error.
    pub refused: usize,
    /// The first error answer.
    pub first_refusal: Option<String>,
    /// Requests without an answer when reading stopped.
    pub unanswered: usize,
    /// Updates pushed meanwhile.
    pub updates: usize,
    /// How the connection ended, if it did: the `Goodbye` reason, or "closed".
    pub ended: Option<String>,
}

/// Reads answers to the requests `ids` until each has one (pieces count as one), the
/// connection ends, or the server sends nothing for `idle`.
pub async fn tally(
    stream: &mut RawStream,
    ids: impl IntoIterator<Item = u64>,
    idle: Duration,
) -> Tally {
    let mut waiting: BTreeSet<u64> = ids.into_iter().collect();
    let mut tally = Tally::default();
    while !waiting.is_empty() {
        let bytes = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Frame::Binary(bytes)))) => bytes,
            Ok(Some(Ok(_))) => continue,
            Ok(_) => {
                tally.ended = Some("closed".into());
                break;
            }
        };
        match Message::decode(&bytes).expect("the server sends valid messages") {
            Message::Response { id, response } if waiting.remove(&id) => match refusal(&response) {
                Some(reason) => {
                    tally.refused += 1;
                    tally.first_refusal.get_or_insert(reason);
                }
                None => tally.answered += 1,
            },
            Message::Update { .. } => tally.updates += 1,
            Message::Goodbye { reason, .. } => {
                tally.ended = Some(reason);
                break;
            }
            _ => {}
        }
    }
    tally.unanswered = waiting.len();
    tally
}

/// A raw connection that presented `credential` and was welcomed (it panics if refused).
pub async fn authenticated(url: &str, credential: ankurah_core::auth::Credential) -> Raw {
    let mut raw = connect(url).await;
    let server_hello = next_message(&mut raw).await;
    let Message::Hello(theirs) = server_hello else {
        panic!("the server opens with Hello, not {server_hello:?}");
    };
    send(
        &mut raw,
        &Message::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: theirs.system_id,
            node_id: NodeId::new(),
            durable: false,
            credential: Some(credential),
            challenge: None,
        }),
    )
    .await;
    match next_message(&mut raw).await {
        Message::Welcome { .. } => raw,
        other => panic!("the credential is accepted with Welcome, not {other:?}"),
    }
}

/// The next message the server sends, within [`PATIENCE`].
async fn next_message(raw: &mut Raw) -> Message {
    let read = async {
        loop {
            match raw.next().await {
                Some(Ok(Frame::Binary(bytes))) => {
                    return Message::decode(&bytes).expect("the server sends valid messages")
                }
                Some(Ok(_)) => continue,
                other => panic!("the connection ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server sends a message")
}
