//! What an ordered engine stores per entity (a [`Record`]) and per index entry.
//!
//! A record is the core envelope ([`crate::encoding`]: version byte + MessagePack map) of
//! `{ state: EntityState, values: {property: Value} }`; the values let queries filter without
//! loading property backends. An index entry is the [encoded](super::value_key) value of one
//! property followed by the 16 big-endian bytes of the entity id, so entries sort by (value,
//! id): ORDER BY order with ties by id. Only live entities have entries, NULL for one without
//! the property, so walking an index visits every candidate.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::value_key::encode_value;
use crate::ankql::Filterable;
use crate::encoding;
use crate::error::DecodeError;
use crate::id::EntityId;
use crate::limits::Limits;
use crate::state::EntityState;
use crate::storage::StoredState;
use crate::value::Value;

/// Length of the entity id that ends an index entry.
const ID_LEN: usize = 16;

/// MessagePack levels above each value of a [`Record`]: the record's map, the values map and
/// the value's variant (`{"values": {"meta": {"Json": …}}}`); the state nests less deep.
const VALUE_WRAPPING: usize = 3;

/// A stored state: the entity state and the property values derived from it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record<'a> {
    /// The entity's state.
    pub state: Cow<'a, EntityState>,
    /// The current value of each property.
    pub values: Cow<'a, BTreeMap<String, Value>>,
}

impl<'a> Record<'a> {
    /// A record borrowing a state about to be written.
    pub fn of(stored: &'a StoredState) -> Self {
        Record {
            state: Cow::Borrowed(&stored.state),
            values: Cow::Borrowed(&stored.values),
        }
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Reads stored bytes; corrupt ones give an error, and so do Json values nested deeper
    /// than [`Limits::DEPTH_CEILING`] (which nothing stored exceeds), refused before decoding
    /// recurses into them.
    pub fn decode(bytes: &[u8]) -> Result<Record<'static>, DecodeError> {
        encoding::decode_nested(
            "stored state",
            bytes,
            Limits::DEPTH_CEILING + VALUE_WRAPPING,
        )
    }

    /// Whether the entity was deleted (it then has no index entries).
    pub fn is_deleted(&self) -> bool {
        self.state.state.is_deleted()
    }

    /// The value of a property, NULL when absent (what a query sees).
    pub fn value_or_null(&self, property: &str) -> &Value {
        self.values.get(property).unwrap_or(&Value::Null)
    }

    /// This record's entry in the index on `property`; `None` when it is deleted.
    pub fn index_entry(&self, property: &str) -> Option<Vec<u8>> {
        (!self.is_deleted()).then(|| {
            [
                encode_value(self.value_or_null(property)),
                self.state.entity_id.to_bytes().to_vec(),
            ]
            .concat()
        })
    }
}

impl Filterable for Record<'_> {
    fn entity_id(&self) -> EntityId {
        self.state.entity_id
    }

    fn value(&self, property: &str) -> Option<Value> {
        self.values.get(property).cloned()
    }
}

/// How the entry of one entity in one index changes when its record is replaced.
#[derive(Debug, PartialEq, Eq)]
pub struct EntryChange {
    /// The entry of the old record, if it had one.
    pub remove: Option<Vec<u8>>,
    /// The entry of the new record, if it has one.
    pub add: Option<Vec<u8>>,
}

/// How the entry of one entity in the index on `property` changes when its record goes from
/// `old` to `new` (`None` when there is none); `None` when it stays. A deletion removes the
/// entry.
pub fn entry_change(
    property: &str,
    old: Option<&Record<'_>>,
    new: Option<&Record<'_>>,
) -> Option<EntryChange> {
    let remove = old.and_then(|record| record.index_entry(property));
    let add = new.and_then(|record| record.index_entry(property));
    (remove != add).then_some(EntryChange { remove, add })
}

/// Splits an index entry into its encoded value and its entity id.
pub fn split_entry(entry: &[u8]) -> Result<(&[u8], EntityId), DecodeError> {
    let at = entry.len().checked_sub(ID_LEN).ok_or(DecodeError::Length {
        what: "id at the end of an index entry",
        expected: ID_LEN,
        found: entry.len(),
    })?;
    let (value, id) = entry.split_at(at);
    Ok((value, EntityId::from_slice(id)?))
}
