//! [`State`] and [`EntityState`]: an entity's head and its backends' encoded states.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::encoding;
use crate::error::DecodeError;
use crate::event::TOMBSTONE;
use crate::id::EntityId;
use crate::limits::LimitExceeded;
use crate::property::backend::LWWBackend;

/// The state of an entity after the events of `head` and all their ancestors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub head: Clock,
    /// Backend name → encoded backend state; [`TOMBSTONE`] present iff deleted.
    pub backends: BTreeMap<String, ByteBuf>,
}

impl State {
    /// Whether the entity was deleted.
    pub fn is_deleted(&self) -> bool {
        self.backends.contains_key(TOMBSTONE)
    }

    /// `Ok` if no Json value of the state nests deeper than `limit`, checked on the encoded
    /// backend state without decoding it (see [`Event::check_depth`](crate::Event::check_depth)).
    pub fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        match self.backends.get(LWWBackend::NAME) {
            Some(state) => LWWBackend::check_state_depth(state, limit),
            None => Ok(()),
        }
    }
}

/// A [`State`] together with the identity of its entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityState {
    pub entity_id: EntityId,
    pub collection: CollectionId,
    pub state: State,
}

impl EntityState {
    /// Encodes the state (versioned envelope).
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a state; malformed bytes give an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode("entity state", bytes)
    }
}
