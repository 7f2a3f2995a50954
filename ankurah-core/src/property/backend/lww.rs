//! Last-writer-wins registers, one per property, ordered by the writing event's id.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::encoding;
use crate::error::{DecodeError, EventError};
use crate::id::EventId;
use crate::limits::{LimitExceeded, Limits};
use crate::value::{Value, JSON_DEPTH};

/// Per-property `(value, writer)` registers. A write wins over another iff its event id is
/// greater; since ids are HLC-ordered, a causal descendant always wins.
#[derive(Debug, Default)]
pub struct LWWBackend {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    registers: BTreeMap<String, Register>,
    /// Local writes not yet part of an event (only on transaction forks).
    pending: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Register {
    value: Value,
    writer: EventId,
}

impl LWWBackend {
    /// The name of this backend in events and states.
    pub const NAME: &'static str = "lww";

    /// `Ok` if no Json value in encoded operations nests deeper than `limit`. Measured on
    /// the bytes, without decoding them, so a node can vet what a peer sends at little cost.
    pub fn check_operations_depth(operations: &[u8], limit: usize) -> Result<(), LimitExceeded> {
        check_json_nesting(operations, OPERATIONS_WRAPPING, limit)
    }

    /// `Ok` if no Json value in an encoded state nests deeper than `limit` (as
    /// [`Self::check_operations_depth`]).
    pub fn check_state_depth(state: &[u8], limit: usize) -> Result<(), LimitExceeded> {
        check_json_nesting(state, STATE_WRAPPING, limit)
    }

    /// Loads a state produced by [`Self::to_state_buffer`].
    pub fn from_state_buffer(bytes: &[u8]) -> Result<Self, EventError> {
        let registers = decode_state(bytes)?;
        Ok(Self {
            inner: RwLock::new(Inner {
                registers,
                pending: BTreeMap::new(),
            }),
        })
    }

    /// The current value: a pending local write, else the winning register.
    pub fn get(&self, property: &str) -> Option<Value> {
        let inner = self.inner.read();
        inner
            .pending
            .get(property)
            .or_else(|| inner.registers.get(property).map(|r| &r.value))
            .cloned()
    }

    /// Every property with a value, pending writes included.
    pub fn values(&self) -> BTreeMap<String, Value> {
        let inner = self.inner.read();
        let mut out: BTreeMap<String, Value> = inner
            .registers
            .iter()
            .map(|(k, r)| (k.clone(), r.value.clone()))
            .collect();
        out.extend(inner.pending.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The event that wrote each property's current value.
    pub fn writers(&self) -> BTreeMap<String, EventId> {
        let inner = self.inner.read();
        inner
            .registers
            .iter()
            .map(|(k, r)| (k.clone(), r.writer))
            .collect()
    }

    /// Records a local write; it becomes an operation of the next event.
    pub fn set(&self, property: &str, value: Value) {
        self.inner
            .write()
            .pending
            .insert(property.to_owned(), value);
    }

    /// Encoded pending writes, if any, clearing them.
    pub fn take_operations(&self) -> Option<Vec<u8>> {
        let pending = std::mem::take(&mut self.inner.write().pending);
        (!pending.is_empty()).then(|| encoding::encode(&pending))
    }

    /// Applies an event's operations with `writer` as the register's writer id.
    pub fn apply_operations(&self, operations: &[u8], writer: EventId) -> Result<(), EventError> {
        let writes: BTreeMap<String, Value> =
            decode("lww operations", operations, OPERATIONS_WRAPPING).map_err(|reason| {
                EventError::BadOperations {
                    backend: Self::NAME,
                    id: writer,
                    reason,
                }
            })?;
        let mut inner = self.inner.write();
        for (property, value) in writes {
            join_register(&mut inner.registers, property, Register { value, writer });
        }
        Ok(())
    }

    /// Joins another replica's state into this one.
    pub fn merge_state(&self, bytes: &[u8]) -> Result<(), EventError> {
        let other = decode_state(bytes)?;
        let mut inner = self.inner.write();
        for (property, register) in other {
            join_register(&mut inner.registers, property, register);
        }
        Ok(())
    }

    /// The canonical encoding of the committed registers (pending writes excluded).
    pub fn to_state_buffer(&self) -> Vec<u8> {
        encoding::encode(&self.inner.read().registers)
    }

    /// Whether no property was ever written.
    pub fn is_empty(&self) -> bool {
        let inner = self.inner.read();
        inner.registers.is_empty() && inner.pending.is_empty()
    }

    /// Takes over `other`'s content.
    pub(crate) fn adopt(&self, other: LWWBackend) {
        *self.inner.write() = other.inner.into_inner();
    }

    /// An independent copy (pending writes included).
    pub fn fork(&self) -> Self {
        Self {
            inner: RwLock::new(self.inner.read().clone()),
        }
    }
}

fn join_register(registers: &mut BTreeMap<String, Register>, property: String, incoming: Register) {
    match registers.get_mut(&property) {
        Some(current) if current.writer >= incoming.writer => {}
        Some(current) => *current = incoming,
        None => {
            registers.insert(property, incoming);
        }
    }
}

fn decode_state(bytes: &[u8]) -> Result<BTreeMap<String, Register>, EventError> {
    decode("lww state", bytes, STATE_WRAPPING).map_err(|reason| EventError::BadState {
        backend: LWWBackend::NAME,
        reason,
    })
}

/// Levels of MessagePack above each value: the property map and the value's variant in
/// operations (`{"meta": {"Json": …}}`), and the register between them in a state
/// (`{"meta": {"value": {"Json": …}, "writer": …}}`). A Json value nesting `n` deep thus
/// makes the payload nest exactly `n` plus this (other values nest no deeper than this), so
/// bounding the payload's nesting bounds its Json exactly.
const OPERATIONS_WRAPPING: usize = 2;
const STATE_WRAPPING: usize = 3;

/// Decodes a payload, refusing Json nested deeper than [`Limits::DEPTH_CEILING`] before
/// decoding recurses into it; the error is the reason for the caller's [`EventError`].
fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    wrapping: usize,
) -> Result<T, String> {
    let limit = Limits::DEPTH_CEILING;
    encoding::decode_nested(what, bytes, limit + wrapping).map_err(|e| match e {
        DecodeError::LimitExceeded { exceeded, .. } => {
            json_depth_exceeded(exceeded, wrapping, limit).to_string()
        }
        other => other.to_string(),
    })
}

/// `Ok` if the payload (version byte, then MessagePack) holds no Json deeper than `limit`.
fn check_json_nesting(bytes: &[u8], wrapping: usize, limit: usize) -> Result<(), LimitExceeded> {
    let body = bytes.get(1..).unwrap_or_default();
    encoding::check_nesting(body, limit + wrapping)
        .map_err(|exceeded| json_depth_exceeded(exceeded, wrapping, limit))
}

/// A payload's nesting over its limit, told as the depth of the Json value inside.
fn json_depth_exceeded(exceeded: LimitExceeded, wrapping: usize, limit: usize) -> LimitExceeded {
    LimitExceeded {
        what: JSON_DEPTH,
        limit,
        found: exceeded.found.saturating_sub(wrapping),
    }
}
