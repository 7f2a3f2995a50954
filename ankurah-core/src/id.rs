//! Identifiers: [`EntityId`] and [`EventId`] are ULIDs.
//!
//! Event ids double as a hybrid logical clock: [`EventId::after`] returns an id strictly
//! greater than every parent, so sorting events by id is a linear extension of causal order
//! that follows wall-clock time between concurrent writers. An entity's id is the id of its
//! genesis event.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::error::DecodeError;

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(#[serde(with = "ulid_bytes")] Ulid);

        impl $name {
            /// The 16 big-endian bytes of the id; their order is the id order.
            pub fn to_bytes(&self) -> [u8; 16] {
                self.0.to_bytes()
            }

            /// Rebuilds an id from [`Self::to_bytes`] output.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Ulid::from_bytes(bytes))
            }

            /// Reads an id from a slice that must be exactly 16 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
                let array: [u8; 16] = bytes
                    .try_into()
                    .map_err(|_| DecodeError::Length { what: stringify!($name), expected: 16, found: bytes.len() })?;
                Ok(Self::from_bytes(array))
            }

            /// Milliseconds since the Unix epoch encoded in the id.
            pub fn timestamp_ms(&self) -> u64 {
                self.0.timestamp_ms()
            }

            /// The underlying ULID.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s)
                    .map(Self)
                    .map_err(|e| DecodeError::Id { text: s.to_owned(), reason: e.to_string() })
            }
        }
    };
}

ulid_id!(
    /// Identity of an entity: the id of its genesis event, shown as 26 Crockford base32 chars.
    EntityId
);
ulid_id!(
    /// Identity of an event; ordered consistently with causality (see [`EventId::after`]).
    EventId
);

ulid_id!(
    /// Identity of a system: every node of one deployment shares it; peers of different
    /// systems refuse each other.
    SystemId
);

ulid_id!(
    /// Identity of a node, fresh each time a node is constructed; peers use it in `Hello`.
    NodeId
);

impl NodeId {
    /// A fresh node id.
    pub fn new() -> Self {
        Self(Ulid::new())
    }
}

impl Default for NodeId {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemId {
    /// A fresh system id.
    pub fn new() -> Self {
        Self(Ulid::new())
    }
}

impl Default for SystemId {
    fn default() -> Self {
        Self::new()
    }
}

impl EntityId {
    /// A fresh id for a new entity (also the id of its genesis event).
    pub fn new() -> Self {
        Self(Ulid::new())
    }

    /// The genesis event of this entity carries the same id.
    pub fn genesis_event(&self) -> EventId {
        EventId(self.0)
    }
}

impl Default for EntityId {
    fn default() -> Self {
        Self::new()
    }
}

impl EventId {
    /// A new event id strictly greater than every id in `parents`.
    ///
    /// Uses the current time; if that is not greater than the largest parent, keeps the
    /// largest parent's time and picks a random part above the parent's (the
    /// hybrid-logical-clock rule). The random step keeps ids of concurrent writers on the
    /// same parent distinct; a plain increment would give them all the same id.
    pub fn after<'a>(parents: impl IntoIterator<Item = &'a EventId>) -> Self {
        const RANDOM_MAX: u128 = (1 << 80) - 1;
        let candidate = Ulid::new();
        match parents.into_iter().max() {
            Some(max) if candidate <= max.0 => {
                let step = 1 + u128::from(rand::random::<u64>());
                let next = match max.0.random().checked_add(step) {
                    Some(random) if random <= RANDOM_MAX => {
                        Ulid::from_parts(max.0.timestamp_ms(), random)
                    }
                    // The random part is exhausted: move to the next millisecond.
                    _ => Ulid::from_parts(
                        max.0.timestamp_ms() + 1,
                        rand::random::<u128>() & RANDOM_MAX,
                    ),
                };
                Self(next)
            }
            _ => Self(candidate),
        }
    }

    /// The entity whose genesis event this is (only meaningful for genesis events).
    pub fn as_entity_id(&self) -> EntityId {
        EntityId(self.0)
    }

    /// The wall-clock instant encoded in the id.
    pub fn time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.timestamp_ms())
    }
}

mod ulid_bytes {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};
    use ulid::Ulid;

    pub(super) fn serialize<S: Serializer>(id: &Ulid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&id.to_bytes())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ulid, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ulid;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("16 bytes or a 26-character ULID string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Ulid, E> {
                let bytes: [u8; 16] = v
                    .try_into()
                    .map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(Ulid::from_bytes(bytes))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Ulid, E> {
                Ulid::from_string(v).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ulid, A::Error> {
                let mut bytes = [0u8; 16];
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(A::Error::invalid_length(17, &self));
                }
                Ok(Ulid::from_bytes(bytes))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_greater_than_parents_even_from_the_future() {
        let future = EventId(Ulid::from_parts(u64::from(u32::MAX) * 1000, 5));
        let id = EventId::after([&future]);
        assert!(id > future);
        assert_eq!(id.timestamp_ms(), future.timestamp_ms());
        let max_random = EventId(Ulid::from_parts(1_000, u128::MAX));
        assert!(EventId::after([&max_random]) > max_random);
    }

    #[test]
    fn display_round_trips() {
        let id = EntityId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(text.parse::<EntityId>().unwrap(), id);
        assert!("not-an-id".parse::<EntityId>().is_err());
    }
}
