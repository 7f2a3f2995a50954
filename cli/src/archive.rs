//! The dump format of `ankurah dump` and `ankurah load`: portable between engines and
//! versioned.
//!
//! A dump is UTF-8 JSON lines (one JSON object per line, `\n`-terminated):
//!
//! ```text
//! {"format":"ankurah-dump","version":1,"system":"01JD…","created":"2026-12-02T18:00:00Z","source":"sled ./data"}
//! {"collection":"album","id":"01JD…","state":"<base64>","events":["<base64>","<base64>"]}
//! …one line per entity…
//! {"end":{"entities":2,"events":5}}
//! ```
//!
//! 1. **Header**, line 1: `format` is always `"ankurah-dump"`, `version` the format version
//!    ([`VERSION`]; a reader refuses any other), `system` the system id of the store it came
//!    from (`null` if it had none), `created` when it was written (RFC 3339, UTC) and
//!    `source` which store it came from, for people.
//! 2. **Entities**, one line each: its `collection` and `id`, its `state` (the engine-neutral
//!    encoding of [`EntityState::encode`], versioned itself, deleted entities included) and
//!    its `events`, every stored one in id order (each [`Event::encode`]), both in standard
//!    base64 with padding. A client's store holds states without events: its lines have
//!    none.
//! 3. **Trailer**, the last line: how many entities and events the dump holds. A dump without
//!    it was cut short and is refused, as is anything after it.
//!
//! The state and events are the bytes the engines exchange over the wire, so loading a dump
//! gives byte-identical states and the same events on any engine. Reading never panics on a
//! bad file: every problem is a [`DumpError`] naming the line.

use std::io::{BufRead, Write};

use ankurah::event::Event;
use ankurah::history::format_time;
use ankurah::state::EntityState;
use ankurah::{CollectionId, EntityId, SystemId};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The `format` of every dump's header.
pub const FORMAT: &str = "ankurah-dump";

/// The version of the format this build writes and reads.
pub const VERSION: u64 = 1;

/// Why a dump could not be read (or written).
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Reading or writing the file failed.
    #[error("line {line}: {source}")]
    Io {
        /// The line being read or written.
        line: u64,
        /// What the system said.
        source: std::io::Error,
    },
    /// The first line is not an `ankurah-dump` header.
    #[error("line 1: not an ankurah dump ({reason}); a dump starts with {{\"format\":\"{FORMAT}\",\"version\":{VERSION},…}}")]
    NotADump {
        /// What is wrong with the first line.
        reason: String,
    },
    /// The header names a format version this build does not read.
    #[error("line 1: dump format version {found} is not supported; this ankurah reads version {VERSION} (use the ankurah that wrote it, or a newer one)")]
    UnknownVersion {
        /// The version in the header.
        found: u64,
    },
    /// A line is not what the format says.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line, counting from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The dump ends without its trailer: it was cut short.
    #[error("the dump ends at line {lines} without its trailer {{\"end\":…}}: it was cut short (was the dump interrupted?)")]
    Truncated {
        /// How many lines it has.
        lines: u64,
    },
    /// The trailer's counts differ from what the dump holds.
    #[error("line {line}: the trailer counts {expected} but the dump holds {found}")]
    Count {
        /// The trailer's line.
        line: u64,
        /// What the trailer says.
        expected: Counts,
        /// What was read.
        found: Counts,
    },
}

/// How many entities and events a dump holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Entity lines.
    pub entities: u64,
    /// Events, over all entities.
    pub events: u64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entities, {} events", self.entities, self.events)
    }
}

/// The first line of a dump.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version, [`VERSION`].
    pub version: u64,
    /// The system of the store dumped, if it had one.
    pub system: Option<SystemId>,
    /// When the dump was written, RFC 3339.
    pub created: String,
    /// Which store was dumped, for people.
    pub source: String,
}

impl Header {
    /// A header of this version, written now.
    pub fn new(system: Option<SystemId>, source: impl Into<String>) -> Self {
        Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            system,
            created: format_time(std::time::SystemTime::now()),
            source: source.into(),
        }
    }
}

/// One entity of a dump: its state and its events.
#[derive(Clone, Debug, PartialEq)]
pub struct DumpedEntity {
    /// The stored state (its id and collection are the entity's).
    pub state: EntityState,
    /// Its stored events, in id order.
    pub events: Vec<Event>,
}

/// A line after the header, as it is on disk: an entity, or the trailer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collection: Option<CollectionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<EntityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<Counts>,
}

/// Writes a dump: [`DumpWriter::new`] writes the header, [`entity`](Self::entity) each
/// entity, [`finish`](Self::finish) the trailer.
#[derive(Debug)]
pub struct DumpWriter<W: Write> {
    out: W,
    counts: Counts,
}

impl<W: Write> DumpWriter<W> {
    /// Starts a dump on `out` with `header`.
    pub fn new(mut out: W, header: &Header) -> Result<Self, DumpError> {
        write_line(&mut out, 1, header)?;
        Ok(DumpWriter {
            out,
            counts: Counts::default(),
        })
    }

    /// Writes one entity.
    pub fn entity(&mut self, state: &EntityState, events: &[Event]) -> Result<(), DumpError> {
        let line = Line {
            collection: Some(state.collection.clone()),
            id: Some(state.entity_id),
            state: Some(STANDARD.encode(state.encode())),
            events: Some(events.iter().map(|e| STANDARD.encode(e.encode())).collect()),
            end: None,
        };
        write_line(&mut self.out, self.counts.entities + 2, &line)?;
        self.counts.entities += 1;
        self.counts.events += events.len() as u64;
        Ok(())
    }

    /// Writes the trailer and flushes; returns what the dump holds.
    pub fn finish(mut self) -> Result<Counts, DumpError> {
        let line = self.counts.entities + 2;
        let trailer = Line {
            end: Some(self.counts),
            ..Line::default()
        };
        write_line(&mut self.out, line, &trailer)?;
        self.out
            .flush()
            .map_err(|source| DumpError::Io { line, source })?;
        Ok(self.counts)
    }
}

fn write_line(out: &mut impl Write, line: u64, value: &impl Serialize) -> Result<(), DumpError> {
    let io = |source| DumpError::Io { line, source };
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))?;
    out.write_all(b"\n").map_err(io)
}

/// Reads a dump: [`DumpReader::new`] reads and checks the header, then iterating yields
/// each entity and, at the trailer, checks the counts; an error ends the iteration.
#[derive(Debug)]
pub struct DumpReader<R: BufRead> {
    input: R,
    header: Header,
    line: u64,
    buffer: String,
    counts: Counts,
    done: bool,
}

impl<R: BufRead> DumpReader<R> {
    /// Reads the header from `input`; refuses anything that is not a dump of [`VERSION`].
    pub fn new(mut input: R) -> Result<Self, DumpError> {
        let mut buffer = String::new();
        let read = input
            .read_line(&mut buffer)
            .map_err(|source| DumpError::Io { line: 1, source })?;
        if read == 0 {
            return Err(DumpError::NotADump {
                reason: "the input is empty".into(),
            });
        }
        let not_a_dump = |reason: String| DumpError::NotADump { reason };
        let value: serde_json::Value =
            serde_json::from_str(&buffer).map_err(|e| not_a_dump(format!("not JSON: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(not_a_dump(format!("no \"format\":\"{FORMAT}\"")));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(VERSION) => {}
            Some(found) => return Err(DumpError::UnknownVersion { found }),
            None => return Err(not_a_dump("no numeric \"version\"".into())),
        }
        let header: Header =
            serde_json::from_value(value).map_err(|e| not_a_dump(format!("bad header: {e}")))?;
        Ok(DumpReader {
            input,
            header,
            line: 1,
            buffer,
            counts: Counts::default(),
            done: false,
        })
    }

    /// The dump's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// What was read so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The line read last, counting from 1 (the header).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn next_entity(&mut self) -> Result<Option<DumpedEntity>, DumpError> {
        self.buffer.clear();
        self.line += 1;
        let line = self.line;
        let read = self
            .input
            .read_line(&mut self.buffer)
            .map_err(|source| DumpError::Io { line, source })?;
        if read == 0 {
            return Err(DumpError::Truncated { lines: line - 1 });
        }
        let malformed = |reason: String| DumpError::Malformed { line, reason };
        if !self.buffer.ends_with('\n') {
            return Err(DumpError::Truncated { lines: line });
        }
        let parsed: Line = serde_json::from_str(&self.buffer)
            .map_err(|e| malformed(format!("not an entity or trailer line: {e}")))?;
        match parsed {
            Line {
                end: Some(expected),
                collection: None,
                id: None,
                state: None,
                events: None,
            } => {
                if expected != self.counts {
                    return Err(DumpError::Count {
                        line,
                        expected,
                        found: self.counts,
                    });
                }
                self.buffer.clear();
                let more = self
                    .input
                    .read_line(&mut self.buffer)
                    .map_err(|source| DumpError::Io { line, source })?;
                if more > 0 {
                    return Err(DumpError::Malformed {
                        line: line + 1,
                        reason: "a line after the trailer".into(),
                    });
                }
                Ok(None)
            }
            Line {
                collection: Some(collection),
                id: Some(id),
                state: Some(state),
                events: Some(events),
                end: None,
            } => {
                let bytes = |what: &str, text: &str| {
                    STANDARD
                        .decode(text)
                        .map_err(|e| malformed(format!("{what} is not base64: {e}")))
                };
                let state = EntityState::decode(&bytes("the state", &state)?)
                    .map_err(|e| malformed(format!("the state does not decode: {e}")))?;
                if state.entity_id != id || state.collection != collection {
                    return Err(malformed(format!(
                        "the state is of {} {}, the line says {collection} {id}",
                        state.collection, state.entity_id
                    )));
                }
                let events = events
                    .iter()
                    .enumerate()
                    .map(|(index, text)| {
                        let event = Event::decode(&bytes("an event", text)?).map_err(|e| {
                            malformed(format!("event {index} does not decode: {e}"))
                        })?;
                        if event.entity_id != id || event.collection != collection {
                            return Err(malformed(format!(
                                "event {} is of {} {}, not of {collection} {id}",
                                event.id, event.collection, event.entity_id
                            )));
                        }
                        event.validate().map_err(|e| {
                            malformed(format!("event {} is invalid: {e}", event.id))
                        })?;
                        Ok(event)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.counts.entities += 1;
                self.counts.events += events.len() as u64;
                Ok(Some(DumpedEntity { state, events }))
            }
            _ => Err(malformed(
                "an entity line has exactly collection, id, state and events; the trailer only end"
                    .into(),
            )),
        }
    }
}

impl<R: BufRead> Iterator for DumpReader<R> {
    type Item = Result<DumpedEntity, DumpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_entity();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ankurah::state::State;

    fn dump(entities: &[DumpedEntity]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut writer = DumpWriter::new(&mut bytes, &Header::new(None, "test")).unwrap();
        for entity in entities {
            writer.entity(&entity.state, &entity.events).unwrap();
        }
        writer.finish().unwrap();
        bytes
    }

    fn entity() -> DumpedEntity {
        let id = EntityId::new();
        DumpedEntity {
            state: EntityState {
                entity_id: id,
                collection: "album".into(),
                state: State::default(),
            },
            events: Vec::new(),
        }
    }

    fn read(bytes: &[u8]) -> Result<Vec<DumpedEntity>, DumpError> {
        DumpReader::new(bytes)?.collect()
    }

    #[test]
    fn round_trips() {
        let entities = vec![entity(), entity()];
        assert_eq!(read(&dump(&entities)).unwrap(), entities);
    }

    #[test]
    fn refuses_what_is_not_a_dump_of_this_version() {
        let bytes = dump(&[entity()]);
        let text = String::from_utf8(bytes).unwrap();
        let newer = text.replacen("\"version\":1", "\"version\":2", 1);
        assert!(matches!(
            read(newer.as_bytes()),
            Err(DumpError::UnknownVersion { found: 2 })
        ));
        assert!(matches!(read(b""), Err(DumpError::NotADump { .. })));
        assert!(matches!(
            read(b"{\"format\":\"zip\"}\n"),
            Err(DumpError::NotADump { .. })
        ));
    }

    #[test]
    fn refuses_events_of_another_entity_or_invalid_ones() {
        let event = |entity: EntityId, id| Event {
            id,
            collection: "album".into(),
            entity_id: entity,
            parent: Default::default(),
            operations: Default::default(),
            author: String::new(),
        };
        let mut good = entity();
        good.events = vec![event(
            good.state.entity_id,
            good.state.entity_id.genesis_event(),
        )];
        assert_eq!(read(&dump(&[good.clone()])).unwrap(), [good.clone()]);
        let other = EntityId::new();
        let mut foreign = entity();
        foreign.events = vec![event(other, other.genesis_event())];
        let mut invalid = entity();
        // A first event whose id is not the entity's: no genesis.
        invalid.events = vec![event(
            invalid.state.entity_id,
            EntityId::new().genesis_event(),
        )];
        for (bad, why) in [(foreign, "not of album"), (invalid, "is invalid")] {
            match read(&dump(&[good.clone(), bad])) {
                Err(DumpError::Malformed { line: 3, reason }) => {
                    assert!(reason.contains(why), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn names_the_bad_line() {
        let text = String::from_utf8(dump(&[entity(), entity()])).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = "{\"collection\":\"album\"";
        let broken = lines.join("\n") + "\n";
        assert!(matches!(
            read(broken.as_bytes()),
            Err(DumpError::Malformed { line: 3, .. })
        ));
        let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            read(cut.as_bytes()),
            Err(DumpError::Truncated { lines: 2 })
        ));
        let extra = format!("{text}{{}}\n");
        assert!(matches!(
            read(extra.as_bytes()),
            Err(DumpError::Malformed { line: 5, .. })
        ));
    }
}
