//! Last-writer-wins registers, one per property, ordered by the writing event's id.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::encoding;
use crate::error::EventError;
use crate::id::EventId;
use crate::value::Value;

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
        let writes: BTreeMap<String, Value> = encoding::decode("lww operations", operations)
            .map_err(|e| EventError::BadOperations {
                backend: Self::NAME,
                id: writer,
                reason: e.to_string(),
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
    encoding::decode("lww state", bytes).map_err(|e| EventError::BadState {
        backend: LWWBackend::NAME,
        reason: e.to_string(),
    })
}
