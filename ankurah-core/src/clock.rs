//! [`Clock`]: a sorted set of event ids, used for an event's parents and an entity's head.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::id::EventId;

/// A set of event ids kept sorted and free of duplicates, so equal clocks encode identically.
///
/// An entity's *head* is the clock of its newest events: the antichain of events that no
/// other known event descends from. An event's *parent* is the head it was made on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Vec<EventId>", into = "Vec<EventId>")]
pub struct Clock(Vec<EventId>);

impl Clock {
    /// The empty clock (the parent of a genesis event).
    pub fn new() -> Self {
        Clock(Vec::new())
    }

    /// Builds a clock from any ids, sorting and removing duplicates.
    pub fn from_ids(ids: impl IntoIterator<Item = EventId>) -> Self {
        let mut ids: Vec<EventId> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Clock(ids)
    }

    /// The ids in ascending order.
    pub fn ids(&self) -> &[EventId] {
        &self.0
    }

    /// Whether the clock holds no id.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `id` is in the clock.
    pub fn contains(&self, id: &EventId) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The greatest id, if any.
    pub fn latest(&self) -> Option<&EventId> {
        self.0.last()
    }

    /// Advances a head past an event: `head = (head − parent) ∪ {id}`.
    pub fn advance(&mut self, parent: &Clock, id: EventId) {
        self.0.retain(|e| !parent.contains(e));
        if let Err(at) = self.0.binary_search(&id) {
            self.0.insert(at, id);
        }
    }

    /// Iterates the ids in ascending order.
    pub fn iter(&self) -> std::slice::Iter<'_, EventId> {
        self.0.iter()
    }
}

impl TryFrom<Vec<EventId>> for Clock {
    type Error = DecodeError;
    fn try_from(ids: Vec<EventId>) -> Result<Self, DecodeError> {
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::Malformed {
                what: "clock",
                reason: "ids are not strictly ascending".into(),
            });
        }
        Ok(Clock(ids))
    }
}

impl From<Clock> for Vec<EventId> {
    fn from(clock: Clock) -> Self {
        clock.0
    }
}

impl<'a> IntoIterator for &'a Clock {
    type Item = &'a EventId;
    type IntoIter = std::slice::Iter<'a, EventId>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<EventId> for Clock {
    fn from_iter<I: IntoIterator<Item = EventId>>(iter: I) -> Self {
        Clock::from_ids(iter)
    }
}
