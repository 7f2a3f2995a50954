//! The peer protocol: the messages nodes exchange, whatever carries them.
//!
//! A connection starts with each side sending [`Hello`]. A peer whose major protocol version
//! differs, or that belongs to another system, is refused with [`Message::Goodbye`] naming
//! the reason. Then either side sends [`Message::Request`]s, each answered by one
//! [`Message::Response`] with the same id; a durable node also pushes
//! [`Message::Update`]s for the subscriptions a peer opened.
//!
//! Updates carry *deltas*: the events a subscriber lacks, computed from the heads it
//! reported, or an entity's full state when it never saw the entity or the events would
//! be larger. On the wire every message is the versioned MessagePack envelope of
//! [`encoding`](crate::encoding) (structs as maps with field names); `docs/PROTOCOL.md`
//! describes it for clients in other languages.

use serde::{Deserialize, Serialize};

use crate::ankql::Selection;
use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::encoding;
use crate::error::DecodeError;
use crate::event::Event;
use crate::id::{EntityId, EventId, NodeId, SystemId};
use crate::state::EntityState;

/// Major protocol version; peers with another one refuse each other.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest encoded message a node accepts (connectors enforce it on frames).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The first message on every connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u32,
    /// The sender's system, if it knows it (an ephemeral node learns it from a durable one).
    pub system_id: Option<SystemId>,
    pub node_id: NodeId,
    pub durable: bool,
}

/// Everything that travels between peers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Hello(Hello),
    Request {
        id: u64,
        request: Request,
    },
    Response {
        id: u64,
        response: Response,
    },
    /// Changes for a subscription the receiver opened.
    Update {
        subscription: u64,
        deltas: Vec<Delta>,
    },
    /// The sender closes the connection, and why.
    Goodbye {
        reason: String,
    },
}

/// What a node asks of a peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// The states of these entities.
    Get {
        collection: CollectionId,
        ids: Vec<EntityId>,
    },
    /// The states of the entities matching a selection.
    Fetch {
        collection: CollectionId,
        selection: Selection,
    },
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
    /// These events, for filling gaps in a causal history.
    GetEvents {
        collection: CollectionId,
        ids: Vec<EventId>,
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
    /// The request was refused or failed.
    Error(String),
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
}

impl Message {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Parses a frame; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::Malformed {
                what: "message",
                reason: format!(
                    "{} bytes exceed the limit of {MAX_MESSAGE_BYTES}",
                    bytes.len()
                ),
            });
        }
        encoding::decode("message", bytes)
    }
}

impl Delta {
    /// The entity the delta is about.
    pub fn entity_id(&self) -> EntityId {
        match self {
            Delta::State(state) => state.entity_id,
            Delta::Events { entity_id, .. } => *entity_id,
        }
    }
}
