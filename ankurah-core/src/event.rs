//! [`Event`]: one immutable change to one entity. Entity state is derived from events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::encoding;
use crate::error::{DecodeError, EventError};
use crate::id::{EntityId, EventId};
use crate::limits::LimitExceeded;
use crate::property::backend::{Backend, LWWBackend};

/// Operation key of a deletion (an empty payload). Deletion is a grow-only flag.
pub const TOMBSTONE: &str = "tombstone";

/// A change to one entity, made on top of the entity's head at the time (`parent`).
///
/// `operations` maps a property backend's name (`"lww"`, `"yrs"`, [`TOMBSTONE`]) to that
/// backend's encoded operations. The genesis event has no parents and carries the entity id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub collection: CollectionId,
    pub entity_id: EntityId,
    pub parent: Clock,
    pub operations: BTreeMap<String, ByteBuf>,
    /// The identity that made the event: the principal of the context that committed it
    /// (empty in events from before authorship was recorded). The id does not cover it; a
    /// durable node that authenticates its peers refuses an event whose author is not the
    /// peer that sent it (see [`PolicyAgent::check_author`](crate::PolicyAgent::check_author)).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
}

impl Event {
    /// Whether this is the entity's first event.
    pub fn is_genesis(&self) -> bool {
        self.parent.is_empty()
    }

    /// Whether the event deletes the entity.
    pub fn is_tombstone(&self) -> bool {
        self.operations.contains_key(TOMBSTONE)
    }

    /// Checks the invariants every event must hold regardless of who made it: genesis events
    /// carry the entity id, others do not, and the id is greater than every parent (HLC).
    pub fn validate(&self) -> Result<(), EventError> {
        let genesis_id = self.entity_id.genesis_event();
        if self.parent.is_empty() {
            if self.id != genesis_id {
                return Err(EventError::BadGenesis {
                    id: self.id,
                    entity: self.entity_id,
                });
            }
        } else if self.id == genesis_id {
            return Err(EventError::GenesisWithParents { id: self.id });
        }
        if let Some(parent) = self.parent.latest() {
            if self.id <= *parent {
                return Err(EventError::NotAfterParent {
                    id: self.id,
                    parent: *parent,
                });
            }
        }
        for backend in self.operations.keys() {
            Backend::from_name(backend)?;
        }
        Ok(())
    }

    /// About the size of the encoded event, from its byte buffers and ids, without encoding
    /// it: what size limits and message splitting go by.
    pub fn estimated_len(&self) -> usize {
        /// Bytes of an id in the encoding, with its length prefix.
        const ID_BYTES: usize = 18;
        /// Generous allowance for field names and headers.
        const OVERHEAD: usize = 128;
        OVERHEAD
            + self.collection.as_str().len()
            + self.author.len()
            + ID_BYTES * (2 + self.parent.len())
            + self
                .operations
                .iter()
                .map(|(name, ops)| name.len() + ops.len() + 8)
                .sum::<usize>()
    }

    /// `Ok` if no Json value the event writes nests deeper than `limit`, checked on the
    /// encoded operations without decoding them: how a node vets events from a peer.
    pub fn check_depth(&self, limit: usize) -> Result<(), LimitExceeded> {
        match self.operations.get(Backend::Lww.name()) {
            Some(operations) => LWWBackend::check_operations_depth(operations, limit),
            None => Ok(()),
        }
    }

    /// Encodes the event (versioned envelope).
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes an event; malformed bytes give an error, never a panic. Invariants are not
    /// checked here: call [`Event::validate`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode("event", bytes)
    }
}
