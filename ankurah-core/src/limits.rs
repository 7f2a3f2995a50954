//! [`Limits`]: bounds on everything that enters a node from outside.
//!
//! Data from peers (frames, queries, events, states) and from query text is checked against
//! these bounds before it is recursed into or kept, so no input of any shape or size can
//! exhaust a node's stack or memory. A peer over a limit gets a typed error
//! ([`LimitExceeded`]) or is disconnected; the node and its other peers carry on.
//!
//! The defaults suit a public server; set them on [`NodeConfig`](crate::NodeConfig).

use std::time::Duration;

use thiserror::Error;

use crate::event::Event;

/// Bounds on outside input. `Limits::default()` is what every node uses unless configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of an AnkQL predicate (text or decoded) or of a Json value, in any
    /// input: query text, decoded selections, property values in events and states, local
    /// writes. Values above [`Limits::DEPTH_CEILING`] act as the ceiling (see
    /// [`Limits::depth_limit`]).
    pub max_depth: usize,
    /// Largest encoded protocol message (one WebSocket frame).
    pub max_message_bytes: usize,
    /// Largest encoded event.
    pub max_event_bytes: usize,
    /// Largest encoded entity state.
    pub max_entity_bytes: usize,
    /// Most events in one commit (one transaction, or one outbox replay).
    pub max_transaction_events: usize,
    /// Largest total size of the events of one commit.
    pub max_transaction_bytes: usize,
    /// Most ids one request may name (entities of a `Get`, events of a `GetEvents`, heads
    /// a `Subscribe` reports).
    pub max_ids_per_request: usize,
    /// Most live subscriptions one peer may hold open on a node.
    pub max_subscriptions_per_peer: usize,
    /// Most sessions one authenticated identity may have open on a node at once (peers
    /// of a node without an authenticator are each their own identity).
    pub max_connections_per_identity: usize,
    /// Most live subscriptions one authenticated identity may hold over all its sessions.
    pub max_subscriptions_per_identity: usize,
    /// Most requests a second one identity may send over all its sessions (a second's
    /// worth may come at once); more wait their turn, and the sessions read nothing
    /// meanwhile.
    pub max_requests_per_second_per_identity: u32,
    /// Most entities one peer may follow on a node (see `Request::Follow`): a client
    /// follows the entities resident in it, at most its `NodeConfig::resident_entities`
    /// plus those its application holds.
    pub max_followed_per_peer: usize,
    /// Most requests of one peer a node works on at once; more are refused as overloaded.
    pub max_requests_per_peer: usize,
    /// Most messages queued for one peer that it has not read yet; a peer that lets its
    /// queue fill up is slowed, and dropped if it stays full (see the connectors).
    pub max_queued_messages: usize,
    /// About how many bytes of messages may queue for one peer (in each direction).
    pub max_queued_bytes: usize,
    /// How long a peer may take nothing of what is queued for it while more waits to be
    /// queued; then it is disconnected (a slow reader that makes progress is not).
    pub stall_limit: Duration,
    /// Largest answer a node accepts in pieces (`Part` messages) from a peer.
    pub max_answer_bytes: usize,
}

impl Limits {
    /// The deepest nesting any configuration allows, and what the data layer and storage
    /// engines (which do not see a node's configuration) enforce on everything they decode
    /// or store. Decoding this deep stays well within a 2 MiB worker stack even in debug
    /// builds, and it is below the 127 levels serde_json reads back from text (Postgres
    /// jsonb, sled index keys), so whatever is accepted can also be stored and read again.
    pub const DEPTH_CEILING: usize = 100;

    /// The nesting depth in force: [`Limits::max_depth`], at most [`Limits::DEPTH_CEILING`].
    pub fn depth_limit(&self) -> usize {
        self.max_depth.min(Self::DEPTH_CEILING)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_message_bytes: 16 * 1024 * 1024,
            max_event_bytes: 4 * 1024 * 1024,
            max_entity_bytes: 8 * 1024 * 1024,
            max_transaction_events: 10_000,
            max_transaction_bytes: 16 * 1024 * 1024,
            max_ids_per_request: 100_000,
            max_subscriptions_per_peer: 1_000,
            max_connections_per_identity: 16,
            max_subscriptions_per_identity: 4_000,
            max_requests_per_second_per_identity: 10_000,
            max_followed_per_peer: 50_000,
            max_requests_per_peer: 16,
            max_queued_messages: 1_024,
            max_queued_bytes: 64 * 1024 * 1024,
            stall_limit: Duration::from_secs(10),
            max_answer_bytes: 512 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The size limits of one batch of events (a commit, or the ancestors fetched for it):
    /// the number of events, the size of each and of all together.
    pub fn check_events(&self, events: &[Event]) -> Result<(), LimitExceeded> {
        LimitExceeded::check(
            "events in one commit",
            events.len(),
            self.max_transaction_events,
        )?;
        let mut total = 0;
        for event in events {
            let size = event.estimated_len();
            LimitExceeded::check("event size in bytes", size, self.max_event_bytes)?;
            total += size;
        }
        LimitExceeded::check("commit size in bytes", total, self.max_transaction_bytes)
    }
}

/// An input exceeded one of the [`Limits`]: which one, the limit, and what was found.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{what} exceeds the limit of {limit} (found {found})")]
pub struct LimitExceeded {
    /// What was measured, e.g. "query nesting depth" or "event size in bytes".
    pub what: &'static str,
    /// The configured bound.
    pub limit: usize,
    /// The size or depth found (or reached before measuring stopped).
    pub found: usize,
}

impl LimitExceeded {
    /// `Ok` if `found` is within `limit`.
    pub fn check(what: &'static str, found: usize, limit: usize) -> Result<(), LimitExceeded> {
        match found <= limit {
            true => Ok(()),
            false => Err(LimitExceeded { what, limit, found }),
        }
    }
}
