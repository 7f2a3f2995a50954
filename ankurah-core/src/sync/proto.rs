//! The peer protocol: the messages nodes exchange, whatever carries them.
//!
//! A connection starts with each side sending [`Hello`]. A peer whose major protocol version
//! differs, or that belongs to another system, is refused with [`Message::Goodbye`] naming
//! the reason. Then either side sends [`Message::Request`]s, each answered by one
//! [`Message::Response`] with the same id; a durable node also pushes
//! [`Message::Update`]s for the subscriptions a peer opened.
//!
//! No message exceeds [`MAX_MESSAGE_BYTES`]. An answer that would is sent in pieces
//! ([`Response::split`]): [`Message::Part`]s, then the `Response` with the last piece; an
//! update that would is sent as several updates.
//!
//! Updates carry *deltas*: the events a subscriber lacks, computed from the heads it
//! reported, or an entity's full state when it never saw the entity or the events would
//! be larger. On the wire every message is the versioned MessagePack envelope of
//! [`encoding`] (structs as maps with field names); `docs/PROTOCOL.md`
//! describes it for clients in other languages.

use serde::{Deserialize, Serialize};

use crate::ankql::Selection;
use crate::auth::Credential;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::encoding;
use crate::error::DecodeError;
use crate::event::Event;
use crate::history::At;
use crate::id::{EntityId, EventId, NodeId, SystemId};
use crate::limits::{LimitExceeded, Limits};
use crate::state::EntityState;

/// Major protocol version; peers with another one refuse each other.
pub const PROTOCOL_VERSION: u32 = 1;

/// The subscription id of updates for followed entities (query subscriptions are numbered
/// from 1).
pub const FOLLOWED: u64 = 0;

/// Largest encoded message a node accepts (connectors enforce it on frames).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Estimated size of the deltas or events one message carries when a long answer is split:
/// a quarter of the limit, so the estimate may be off without a piece exceeding it.
const PIECE_BYTES: usize = MAX_MESSAGE_BYTES / 4;

/// The first message on every connection.
///
/// A node with an [`Authenticator`](crate::auth::Authenticator) sends a random
/// `challenge`; a node with a [`CredentialSource`](crate::auth::CredentialSource) waits for
/// the peer's `Hello` and answers with its `credential` (a token, or its key's signature over
/// the challenge). Both fields are absent between nodes that do not authenticate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u32,
    /// The sender's system, if it knows it (an ephemeral node learns it from a durable one).
    pub system_id: Option<SystemId>,
    pub node_id: NodeId,
    pub durable: bool,
    /// Who the sender is, for the receiver's authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
    /// Random bytes ([`CHALLENGE_BYTES`](crate::auth::CHALLENGE_BYTES)) a node key must sign.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub challenge: Option<Vec<u8>>,
}

/// Everything that travels between peers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Hello(Hello),
    /// A node that sent a challenge accepted the peer's credential: the session is open,
    /// under this identity. Its peer sends nothing else before it (only a `Goodbye` if it
    /// refuses the credential).
    Welcome {
        principal: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<String>,
    },
    Request {
        id: u64,
        request: Request,
    },
    Response {
        id: u64,
        response: Response,
    },
    /// A piece of the answer to request `id`, when the whole would exceed
    /// [`MAX_MESSAGE_BYTES`]; more pieces follow, the last one as the [`Message::Response`].
    Part {
        id: u64,
        response: Response,
    },
    /// Changes for a subscription the receiver opened.
    Update {
        subscription: u64,
        deltas: Vec<Delta>,
    },
    /// The sender closes the connection, and why; `kind` says so to programs when it is a
    /// refusal they can act on (e.g. [`ErrorKind::CredentialExpired`]: reconnect with a
    /// fresh credential).
    Goodbye {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<ErrorKind>,
    },
}

/// What a node asks of a peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// These entities, as deltas against the heads the asker holds for some of them
    /// (`known`; an entity whose head it names is left out when unchanged). A deleted
    /// entity comes with its tombstone; an unknown one is left out.
    Get {
        collection: CollectionId,
        ids: Vec<EntityId>,
        #[serde(default)]
        known: Vec<(EntityId, Clock)>,
    },
    /// The entities matching a selection, as deltas against `known`; entities named in
    /// `known` that no longer match (changed or deleted) come too, so the asker's copies
    /// of them are current and its own evaluation of the selection agrees.
    Fetch {
        collection: CollectionId,
        selection: Selection,
        #[serde(default)]
        known: Vec<(EntityId, Clock)>,
    },
    /// These entities now (as deltas against the heads held; an empty head for one the
    /// asker does not hold), and their changes pushed from now on as
    /// [`Message::Update`]s with subscription [`FOLLOWED`], until `Unfollow`.
    Follow {
        collection: CollectionId,
        known: Vec<(EntityId, Clock)>,
    },
    /// Stop pushing the changes of these followed entities.
    Unfollow { ids: Vec<EntityId> },
    /// Matching entities now (as deltas against `known`) and pushed updates from now on.
    Subscribe {
        subscription: u64,
        collection: CollectionId,
        selection: Selection,
        known: Vec<(EntityId, Clock)>,
    },
    /// Stop pushing updates for a subscription.
    Unsubscribe { subscription: u64 },
    /// Store and publish these events (in causal order).
    Commit { events: Vec<Event> },
    /// These events of one entity, for filling gaps in its causal history.
    GetEvents {
        collection: CollectionId,
        entity_id: EntityId,
        ids: Vec<EventId>,
    },
    /// Every event of one entity, for reading its past (answered with `Events`, none for
    /// an unknown entity); refused unless the asker may read the entity now.
    History {
        collection: CollectionId,
        entity_id: EntityId,
    },
    /// The entities that matched a selection at a moment, as their states then (answered
    /// with `Deltas` holding only `State`s, which the asker must not store: they are the
    /// past), readable by the asker as they were then.
    FetchAt {
        collection: CollectionId,
        selection: Selection,
        at: At,
    },
}

/// The answer to one [`Request`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Entity data for `Get`, `Fetch` and `Subscribe`.
    Deltas(Vec<Delta>),
    /// The events of a `Commit` are stored (or were already).
    Committed,
    /// The events asked for by `GetEvents` (unknown ids are left out).
    Events(Vec<Event>),
    /// The subscription is closed.
    Unsubscribed,
    /// The entities are no longer followed.
    Unfollowed,
    /// The request was refused or failed; nothing of it took effect.
    Error(RemoteError),
}

/// Why a peer refused or failed a request: a kind a program can act on, and a message for
/// people. The receiving node maps it back to its own typed errors (see [`ErrorKind`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RemoteError {
    pub kind: ErrorKind,
    pub message: String,
}

/// The kinds of [`RemoteError`]. New kinds may be added in a minor protocol version;
/// a receiver treats a kind it does not know as [`ErrorKind::Internal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The entity (or event) does not exist on the answering node.
    NotFound,
    /// The policy agent refused the request.
    AccessDenied,
    /// The selection names unknown properties, compares wrong types or does not parse.
    InvalidQuery,
    /// An event breaks an invariant, or its ancestors are unknown to both peers.
    InvalidEvent,
    /// The request exceeds one of the answering node's [`Limits`].
    LimitExceeded,
    /// The answering node is too busy with this peer's earlier requests; retry later.
    Overloaded,
    /// The answering node's storage failed; the request may succeed later.
    Storage,
    /// The request breaks the protocol (e.g. an update to a node that pushes none).
    Protocol,
    /// The peer's credential is missing or invalid.
    Unauthenticated,
    /// The peer's credential has expired; it may reconnect with a fresh one.
    CredentialExpired,
    /// Anything else, including kinds from a newer protocol version.
    #[serde(other)]
    Internal,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::InvalidQuery => "invalid query",
            ErrorKind::InvalidEvent => "invalid event",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Storage => "storage failed",
            ErrorKind::Protocol => "protocol violation",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::CredentialExpired => "credential expired",
            ErrorKind::Internal => "internal error",
        })
    }
}

impl RemoteError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl std::fmt::Display) -> Self {
        RemoteError {
            kind,
            message: message.to_string(),
        }
    }

    /// Whether the same request may succeed later (the peer was busy or its storage
    /// failed), rather than having been refused for what it is.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Overloaded | ErrorKind::Storage)
    }
}

/// How one entity reaches a peer: the events it lacks, or the whole state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Delta {
    State(EntityState),
    Events {
        collection: CollectionId,
        entity_id: EntityId,
        events: Vec<Event>,
    },
    /// The receiver may no longer read this entity (the policy agent stopped allowing it,
    /// e.g. its owner unshared it): it leaves the receiver's queries and reads until a
    /// `State` of it arrives again.
    Withdrawn {
        collection: CollectionId,
        entity_id: EntityId,
    },
}

impl Message {
    /// About the size of the encoded message: what queues between a node and a peer are
    /// bounded by, without encoding twice.
    pub fn estimated_len(&self) -> usize {
        match self {
            Message::Response { response, .. } | Message::Part { response, .. } => {
                ITEM_OVERHEAD + response.estimated_len()
            }
            Message::Update { deltas, .. } => {
                ITEM_OVERHEAD + deltas.iter().map(Delta::estimated_len).sum::<usize>()
            }
            Message::Request {
                request: Request::Commit { events },
                ..
            } => ITEM_OVERHEAD + events.iter().map(Event::estimated_len).sum::<usize>(),
            Message::Request {
                request:
                    Request::Subscribe { known, .. }
                    | Request::Follow { known, .. }
                    | Request::Fetch { known, .. },
                ..
            } => {
                ITEM_OVERHEAD * 4
                    + known
                        .iter()
                        .map(|(_, head)| ID_BYTES * (1 + head.len()))
                        .sum::<usize>()
            }
            Message::Request {
                request: Request::Get { ids, known, .. },
                ..
            } => {
                ITEM_OVERHEAD
                    + ID_BYTES * ids.len()
                    + known
                        .iter()
                        .map(|(_, head)| ID_BYTES * (1 + head.len()))
                        .sum::<usize>()
            }
            Message::Request {
                request: Request::Unfollow { ids },
                ..
            } => ITEM_OVERHEAD + ID_BYTES * ids.len(),
            Message::Request {
                request: Request::GetEvents { ids, .. },
                ..
            } => ITEM_OVERHEAD + ID_BYTES * ids.len(),
            Message::Request {
                request:
                    Request::FetchAt {
                        at: At::Clock(clock),
                        ..
                    },
                ..
            } => ITEM_OVERHEAD * 4 + ID_BYTES * clock.len(),
            Message::Goodbye { reason, .. } => ITEM_OVERHEAD + reason.len(),
            Message::Hello(_) | Message::Request { .. } => ITEM_OVERHEAD * 4,
            Message::Welcome { principal, roles } => {
                ITEM_OVERHEAD * (2 + roles.len())
                    + principal.len()
                    + roles.iter().map(String::len).sum::<usize>()
            }
        }
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Parses a frame under the default [`Limits`] (see [`Message::decode_with`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, &Limits::default())
    }

    /// Parses a frame from a peer; never panics, whatever the bytes. Refuses a frame over
    /// `limits.max_message_bytes`, one nesting deeper than its selections and Json values
    /// could within [`Limits::depth_limit`] (before decoding recurses into it), and then any
    /// selection, or Json value in an event or state it carries, nesting deeper than that.
    pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let exceeded = |exceeded| DecodeError::LimitExceeded {
            what: "message",
            exceeded,
        };
        LimitExceeded::check(
            "message size in bytes",
            bytes.len(),
            limits.max_message_bytes,
        )
        .map_err(exceeded)?;
        let depth = limits.depth_limit();
        let message: Message =
            encoding::decode_nested("message", bytes, encoding::nesting_for(depth))?;
        message.check_depth(depth).map_err(exceeded)?;
        Ok(message)
    }

    /// `Ok` if every selection, and every Json value of the events and states, the message
    /// carries nests at most `limit` deep.
    fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        match self {
            Message::Request { request, .. } => match request {
                Request::Fetch { selection, .. }
                | Request::Subscribe { selection, .. }
                | Request::FetchAt { selection, .. } => selection.check_depth(limit),
                Request::Commit { events } => check_events(events, limit),
                Request::Get { .. }
                | Request::Follow { .. }
                | Request::Unfollow { .. }
                | Request::Unsubscribe { .. }
                | Request::GetEvents { .. }
                | Request::History { .. } => Ok(()),
            },
            Message::Response { response, .. } | Message::Part { response, .. } => match response {
                Response::Deltas(deltas) => check_deltas(deltas, limit),
                Response::Events(events) => check_events(events, limit),
                Response::Committed
                | Response::Unsubscribed
                | Response::Unfollowed
                | Response::Error(_) => Ok(()),
            },
            Message::Update { deltas, .. } => check_deltas(deltas, limit),
            Message::Hello(_) | Message::Welcome { .. } | Message::Goodbye { .. } => Ok(()),
        }
    }
}

fn check_events(events: &[Event], limit: usize) -> Result<(), LimitExceeded> {
    events.iter().try_for_each(|event| event.check_depth(limit))
}

fn check_deltas(deltas: &[Delta], limit: usize) -> Result<(), LimitExceeded> {
    deltas.iter().try_for_each(|delta| match delta {
        Delta::State(state) => state.state.check_depth(limit),
        Delta::Events { events, .. } => check_events(events, limit),
        Delta::Withdrawn { .. } => Ok(()),
    })
}

impl Response {
    /// About the size of the encoded answer, from the byte buffers it carries.
    pub(crate) fn estimated_len(&self) -> usize {
        match self {
            Response::Deltas(deltas) => deltas.iter().map(Delta::estimated_len).sum(),
            Response::Events(events) => events.iter().map(Event::estimated_len).sum(),
            Response::Error(error) => ITEM_OVERHEAD + error.message.len(),
            Response::Committed | Response::Unsubscribed | Response::Unfollowed => ITEM_OVERHEAD,
        }
    }

    /// The answer in pieces that each fit in a message, in order (one piece for most
    /// answers). Only `Deltas` and `Events` are ever split; an entity too large for a
    /// message on its own still travels alone, and is refused by the receiving end.
    pub fn split(self) -> Vec<Response> {
        match self {
            Response::Deltas(deltas) => pieces(deltas, Delta::estimated_len)
                .into_iter()
                .map(Response::Deltas)
                .collect(),
            Response::Events(events) => pieces(events, Event::estimated_len)
                .into_iter()
                .map(Response::Events)
                .collect(),
            whole => vec![whole],
        }
    }

    /// Appends the next piece of the same answer; an error ends the answer as that error.
    pub fn join(self, next: Response) -> Result<Response, DecodeError> {
        match (self, next) {
            (Response::Deltas(mut deltas), Response::Deltas(more)) => {
                deltas.extend(more);
                Ok(Response::Deltas(deltas))
            }
            (Response::Events(mut events), Response::Events(more)) => {
                events.extend(more);
                Ok(Response::Events(events))
            }
            (_, Response::Error(error)) => Ok(Response::Error(error)),
            _ => Err(DecodeError::Malformed {
                what: "message",
                reason: "the pieces of an answer are of different kinds".into(),
            }),
        }
    }
}

/// Splits `items` in order into runs whose estimated size stays within [`PIECE_BYTES`]
/// (an item larger than that makes a run of its own). There is always at least one piece,
/// empty for no items: an empty answer is an answer.
pub(crate) fn pieces<T>(items: Vec<T>, estimated_len: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    if items.iter().map(&estimated_len).sum::<usize>() <= PIECE_BYTES {
        return vec![items];
    }
    runs(items, estimated_len, PIECE_BYTES, usize::MAX)
}

/// Splits `items` in order into runs of at most `max_items` whose estimated size stays
/// within `max_bytes` (an item larger than that makes a run of its own).
pub(crate) fn runs<T>(
    items: Vec<T>,
    estimated_len: impl Fn(&T) -> usize,
    max_bytes: usize,
    max_items: usize,
) -> Vec<Vec<T>> {
    let mut runs: Vec<Vec<T>> = Vec::new();
    let mut size = 0;
    for item in items {
        let len = estimated_len(&item);
        match runs.last_mut() {
            Some(run) if size + len <= max_bytes && run.len() < max_items => {
                size += len;
                run.push(item);
            }
            _ => {
                size = len;
                runs.push(vec![item]);
            }
        }
    }
    runs
}

/// Bytes of an id in the encoding, with its length prefix.
const ID_BYTES: usize = 18;
/// Generous allowance for an encoded item's field names and headers.
const ITEM_OVERHEAD: usize = 128;

impl Delta {
    /// About the size of the encoded delta, from the byte buffers it carries.
    pub(crate) fn estimated_len(&self) -> usize {
        match self {
            Delta::State(state) => {
                ITEM_OVERHEAD
                    + state.collection.as_str().len()
                    + ID_BYTES * (1 + state.state.head.len())
                    + state
                        .state
                        .backends
                        .iter()
                        .map(|(name, bytes)| name.len() + bytes.len() + 8)
                        .sum::<usize>()
            }
            Delta::Events { events, .. } => {
                ITEM_OVERHEAD + events.iter().map(Event::estimated_len).sum::<usize>()
            }
            Delta::Withdrawn { collection, .. } => {
                ITEM_OVERHEAD + collection.as_str().len() + ID_BYTES
            }
        }
    }

    /// The entity the delta is about.
    pub fn entity_id(&self) -> EntityId {
        match self {
            Delta::State(state) => state.entity_id,
            Delta::Events { entity_id, .. } | Delta::Withdrawn { entity_id, .. } => *entity_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use serde_bytes::ByteBuf;

    /// A state delta carrying `bytes` bytes of backend state.
    fn state(bytes: usize) -> Delta {
        let id = EntityId::new();
        Delta::State(EntityState {
            entity_id: id,
            collection: "album".into(),
            state: State {
                head: [id.genesis_event()].into_iter().collect(),
                backends: [("lww".to_owned(), ByteBuf::from(vec![7u8; bytes]))].into(),
            },
        })
    }

    #[test]
    fn an_empty_answer_is_one_piece() {
        assert_eq!(
            Response::Deltas(Vec::new()).split(),
            vec![Response::Deltas(Vec::new())]
        );
    }

    #[test]
    fn small_answers_stay_whole() {
        let answer = Response::Deltas(vec![state(100), state(2000)]);
        assert_eq!(answer.clone().split(), vec![answer]);
        assert_eq!(Response::Committed.split(), vec![Response::Committed]);
    }

    #[test]
    fn large_answers_split_into_messages_within_the_limit_and_join_back() {
        // 50 MiB in entities of 1 MiB, and one of 6 MiB that travels alone.
        let mut deltas: Vec<Delta> = (0..50).map(|_| state(1 << 20)).collect();
        deltas.insert(20, state(6 << 20));
        let answer = Response::Deltas(deltas);
        let pieces = answer.clone().split();
        assert!(pieces.len() > 12, "{} pieces", pieces.len());
        let mut joined: Option<Response> = None;
        for (id, response) in pieces.into_iter().enumerate() {
            let message = Message::Part {
                id: id as u64,
                response,
            };
            let encoded = message.encode();
            assert!(encoded.len() <= MAX_MESSAGE_BYTES);
            let Message::Part { response, .. } = Message::decode(&encoded).unwrap() else {
                panic!("a part decodes as a part");
            };
            joined = Some(match joined {
                None => response,
                Some(earlier) => earlier.join(response).unwrap(),
            });
        }
        assert_eq!(joined, Some(answer));
    }

    #[test]
    fn pieces_of_different_kinds_do_not_join() {
        let failed = Response::Error(RemoteError::new(ErrorKind::Storage, "failed"));
        let deltas = Response::Deltas(vec![state(1)]);
        assert!(deltas.clone().join(Response::Events(Vec::new())).is_err());
        assert!(deltas.clone().join(Response::Committed).is_err());
        assert_eq!(deltas.join(failed.clone()).unwrap(), failed);
    }
}
