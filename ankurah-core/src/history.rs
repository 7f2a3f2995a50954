//! Reading the past from an entity's events: its state as of a moment ([`At`]), the log of
//! its events ([`HistoryEntry`]), per-property differences ([`PropertyDiff`]) and which event
//! gave each property its value ([`Blame`]).
//!
//! Event ids are hybrid-logical-clock ULIDs, greater than their parents' and never behind
//! their parents' wall-clock time, so the events up to any time are causally closed: the
//! state they make is one some replica actually held. Replaying them in id order (which is
//! causal order) rebuilds that state, byte for byte as a replica that received exactly those
//! events holds it.
//!
//! These are the computations; [`Context`](crate::Context) gathers the events (from the
//! store, or from the durable peer on a client) and applies read policy.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::error::EventError;
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::temporal;
use crate::value::Value;

/// A moment of an entity's past: a wall-clock time (every event made up to it) or a
/// [`Clock`] (the events it names and their ancestors, e.g. a head read earlier with
/// [`Entity::head`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum At {
    /// Every event whose id's time is at or before this instant (millisecond precision,
    /// the precision of event ids).
    Time(SystemTime),
    /// The named events and their ancestors. Across several entities (in
    /// [`Context::fetch_at`](crate::Context::fetch_at)), an entity none of whose events it
    /// names is left out.
    Clock(Clock),
}

impl From<SystemTime> for At {
    fn from(time: SystemTime) -> Self {
        At::Time(time)
    }
}

impl From<Clock> for At {
    fn from(clock: Clock) -> Self {
        At::Clock(clock)
    }
}

/// Why a text is not a moment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a moment: write RFC 3339 (`2026-12-01T10:00:00Z`), a date (`2026-12-01`, midnight UTC) or milliseconds since 1970")]
pub struct BadMoment(String);

/// Parses RFC 3339 text, a date (midnight UTC) or milliseconds since the Unix epoch.
impl FromStr for At {
    type Err = BadMoment;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadMoment(text.to_owned());
        if let Ok(ms) = text.parse::<u64>() {
            return Ok(At::Time(UNIX_EPOCH + Duration::from_millis(ms)));
        }
        let micros = temporal::parse_timestamp(text).ok_or_else(bad)?;
        let micros = u64::try_from(micros).map_err(|_| bad())?;
        Ok(At::Time(UNIX_EPOCH + Duration::from_micros(micros)))
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Time(time) => f.write_str(&format_time(*time)),
            At::Clock(clock) => {
                let ids: Vec<String> = clock.iter().map(EventId::to_string).collect();
                write!(f, "[{}]", ids.join(", "))
            }
        }
    }
}

/// RFC 3339 text of an instant, in UTC.
pub fn format_time(time: SystemTime) -> String {
    let micros = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    temporal::format_timestamp(micros)
}

impl At {
    /// Whether the entity `id` can have existed by then, judged from its id alone (the id
    /// of its genesis event): what lets a read of the past skip entities made later.
    pub fn may_include(&self, id: EntityId) -> bool {
        match self {
            At::Time(time) => id.genesis_event().time() <= *time,
            At::Clock(_) => true,
        }
    }

    /// The events of one entity (in id order) that make its state at this moment.
    fn select<'e>(&self, events: &'e [Event]) -> Vec<&'e Event> {
        match self {
            At::Time(time) => {
                let limit = time
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                events
                    .iter()
                    .filter(|e| e.id.timestamp_ms() <= limit)
                    .collect()
            }
            At::Clock(clock) => {
                let by_id: HashMap<EventId, &Event> = events.iter().map(|e| (e.id, e)).collect();
                let mut reached = BTreeSet::new();
                let mut todo: Vec<EventId> = clock.iter().copied().collect();
                while let Some(id) = todo.pop() {
                    if let Some(event) = by_id.get(&id) {
                        if reached.insert(id) {
                            todo.extend(event.parent.iter().copied());
                        }
                    }
                }
                events.iter().filter(|e| reached.contains(&e.id)).collect()
            }
        }
    }

    /// Whether every event of a state with head `head` is part of this moment, so the
    /// current state is the state then (the newest event of an entity is always a head).
    pub fn covers(&self, head: &Clock) -> bool {
        match self {
            At::Time(time) => head.latest().is_some_and(|latest| latest.time() <= *time),
            At::Clock(clock) => !head.is_empty() && head.iter().all(|id| clock.contains(id)),
        }
    }
}

/// The entity as the events selected by `at` make it; `None` if none of them is (the entity
/// did not exist yet). `events` are every event of the entity, in id order.
pub fn state_at(
    collection: &CollectionId,
    id: EntityId,
    events: &[Event],
    at: &At,
) -> Result<Option<Entity>, EventError> {
    let selected = at.select(events);
    if selected.is_empty() {
        return Ok(None);
    }
    let entity = Entity::empty(id, collection.clone());
    replay(&entity, selected.iter().copied(), |_, _| {})?;
    Ok(Some(entity))
}

/// Applies `events` (in id order) to `entity`, calling `after` with each event and the
/// entity's values before it. An event whose parents were not applied before it means the
/// history is incomplete: an error, not a wrong state.
fn replay<'e>(
    entity: &Entity,
    events: impl IntoIterator<Item = &'e Event>,
    mut after: impl FnMut(&Event, &BTreeMap<String, Value>),
) -> Result<(), EventError> {
    let mut applied = BTreeSet::new();
    for event in events {
        if let Some(missing) = event.parent.iter().find(|p| !applied.contains(*p)) {
            return Err(EventError::UnknownAncestors {
                count: 1,
                example: *missing,
            });
        }
        let before = entity.values();
        entity.apply_event(event)?;
        applied.insert(event.id);
        after(event, &before);
    }
    Ok(())
}

/// One event of an entity's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: EventId,
    /// The wall-clock time in the event's id.
    pub time: SystemTime,
    /// Who made it (see [`Event::author`]).
    pub author: String,
    pub parent: Clock,
    /// The properties the event wrote (last-writer-wins) or whose text it changed, in name
    /// order.
    pub changed: Vec<String>,
    /// Whether the event deleted the entity.
    pub deleted: bool,
}

/// The value of one property at two moments, where they differ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyDiff {
    pub property: String,
    /// `None`: not set then (or the entity did not exist).
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which event gave a property its current value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Blame {
    pub property: String,
    /// For last-writer-wins values the winning write; for text the last event that changed
    /// it.
    pub event: EventId,
    pub time: SystemTime,
    pub author: String,
    /// Every event that changed the property, in id order (for text, all the edits whose
    /// characters make it up or were removed from it; for others, every write).
    pub touched: Vec<EventId>,
}

/// Everything the history functions work from: the events of one entity, replayed once.
#[derive(Debug)]
pub struct Replayed {
    /// One entry per event, in id (causal) order.
    pub entries: Vec<HistoryEntry>,
    /// Per property, every event that changed it, in id order.
    touched: BTreeMap<String, Vec<EventId>>,
    /// The winning writer of each last-writer-wins property.
    writers: BTreeMap<String, EventId>,
}

impl Replayed {
    /// Replays every event of an entity (in id order).
    pub fn new(
        collection: &CollectionId,
        id: EntityId,
        events: &[Event],
    ) -> Result<Self, EventError> {
        let entity = Entity::empty(id, collection.clone());
        let mut entries = Vec::with_capacity(events.len());
        let mut touched: BTreeMap<String, Vec<EventId>> = BTreeMap::new();
        replay(&entity, events, |event, before| {
            let writers = entity.lww_writers();
            let now = entity.values();
            let names: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
            let changed: Vec<String> = names
                .into_iter()
                .filter(|name| {
                    writers.get(*name) == Some(&event.id) || before.get(*name) != now.get(*name)
                })
                .cloned()
                .collect();
            for name in &changed {
                touched.entry(name.clone()).or_default().push(event.id);
            }
            entries.push(HistoryEntry {
                id: event.id,
                time: event.id.time(),
                author: event.author.clone(),
                parent: event.parent.clone(),
                changed,
                deleted: event.is_tombstone(),
            });
        })?;
        let writers = entity.lww_writers();
        Ok(Replayed {
            entries,
            touched,
            writers,
        })
    }

    /// Per property with a value now, the event that gave it and every event that changed
    /// it, in property name order.
    pub fn blame(&self) -> Vec<Blame> {
        let authors: HashMap<EventId, &HistoryEntry> =
            self.entries.iter().map(|e| (e.id, e)).collect();
        self.touched
            .iter()
            .filter_map(|(property, touched)| {
                let event = self
                    .writers
                    .get(property)
                    .or_else(|| touched.last())
                    .copied()?;
                let entry = authors.get(&event)?;
                Some(Blame {
                    property: property.clone(),
                    event,
                    time: entry.time,
                    author: entry.author.clone(),
                    touched: touched.clone(),
                })
            })
            .collect()
    }
}

/// The properties whose values differ between two states of an entity (`None`: the entity
/// did not exist), in name order.
pub fn diff(before: Option<&Entity>, after: Option<&Entity>) -> Vec<PropertyDiff> {
    let values = |entity: Option<&Entity>| entity.map(Entity::values).unwrap_or_default();
    let (before, after) = (values(before), values(after));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| PropertyDiff {
            property: name.clone(),
            before: before.get(name).cloned(),
            after: after.get(name).cloned(),
        })
        .collect()
}
