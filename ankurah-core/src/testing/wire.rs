//! Hand-built bytes for tests that play a hostile peer: values nested deeper than any
//! limit, spliced into messages, events and states that are otherwise encoded normally, and
//! events forged from parts.
//!
//! A value nested 100,000 deep cannot be built with the recursive Rust types (encoding or
//! even dropping it would overflow the test's own stack), so its bytes are made flat: the
//! encoding of one level, cut at a marker, repeated. Each level's bytes come from the real
//! encoder, so they follow the wire format wherever it goes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_bytes::ByteBuf;

use crate::ankql::{parse_selection, ComparisonOp, Path, Predicate, Selection};
use crate::clock::Clock;
use crate::encoding;
use crate::event::Event;
use crate::id::{EntityId, EventId};
use crate::proto::{Message, Request};
use crate::value::Value;

/// A string that appears nowhere else in a message, marking where bytes are spliced in.
const MARKER: &str = "ankurah-attack-splice-point";

/// The MessagePack of `item`, without the envelope's version byte.
pub fn body<T: Serialize + ?Sized>(item: &T) -> Vec<u8> {
    encoding::encode(item).split_off(1)
}

/// `encoded` cut around the one occurrence of `marker`.
fn around<'a>(encoded: &'a [u8], marker: &[u8]) -> (&'a [u8], &'a [u8]) {
    let at = encoded
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the marker is in the encoding");
    assert!(
        encoded[at + 1..].windows(marker.len()).all(|w| w != marker),
        "the marker appears once"
    );
    (&encoded[..at], &encoded[at + marker.len()..])
}

/// `encoded` with the bytes of `marker` replaced by `replacement`.
pub fn splice(encoded: &[u8], marker: &[u8], replacement: &[u8]) -> Vec<u8> {
    let (before, after) = around(encoded, marker);
    [before, replacement, after].concat()
}

/// `leaf` wrapped `depth` times in `level`, an encoding that holds `marker` once where the
/// inner value goes.
pub fn nest(level: &[u8], marker: &[u8], depth: usize, leaf: &[u8]) -> Vec<u8> {
    let (before, after) = around(level, marker);
    let mut out = Vec::with_capacity(depth * (before.len() + after.len()) + leaf.len());
    for _ in 0..depth {
        out.extend_from_slice(before);
    }
    out.extend_from_slice(leaf);
    for _ in 0..depth {
        out.extend_from_slice(after);
    }
    out
}

/// A predicate standing for the one to splice in.
fn marker_predicate() -> Predicate {
    Predicate::IsNull {
        path: Path::simple(MARKER),
        negated: false,
    }
}

/// The MessagePack of `NOT NOT … TRUE`, `depth` times `NOT`.
pub fn nested_not(depth: usize) -> Vec<u8> {
    let marker = body(&marker_predicate());
    let level = body(&Predicate::Not(Box::new(marker_predicate())));
    nest(&level, &marker, depth, &body(&Predicate::True))
}

/// The MessagePack of `[[[ … [0] … ]]]`, `depth` arrays, as a Json value holds it.
pub fn nested_arrays(depth: usize) -> Vec<u8> {
    let marker = body(MARKER);
    nest(&body(&[MARKER]), &marker, depth, &body(&0u8))
}

/// The MessagePack of a `Value::Json` holding `json` (already MessagePack), e.g.
/// [`nested_arrays`].
pub fn json_value(json: &[u8]) -> Vec<u8> {
    let marked = body(&Value::Json(serde_json::Value::String(MARKER.into())));
    splice(&marked, &body(MARKER), json)
}

/// A value standing for a Json to splice in with [`with_json`].
pub fn json_marker() -> Value {
    Value::String(MARKER.into())
}

/// `encoded` with the one [`json_marker`] value in it replaced by a `Value::Json` holding
/// `json` (already MessagePack): a Json as deep as wanted inside any encoding.
pub fn with_json(encoded: &[u8], json: &[u8]) -> Vec<u8> {
    splice(encoded, &body(&json_marker()), &json_value(json))
}

/// The frame of request `id`: a `Fetch` on `collection` whose predicate is `predicate`
/// (MessagePack bytes).
pub fn fetch_frame(id: u64, collection: &str, predicate: &[u8]) -> Vec<u8> {
    let message = Message::Request {
        id,
        request: Request::Fetch {
            collection: collection.into(),
            selection: Selection {
                predicate: marker_predicate(),
                ..parse_selection("", &[]).expect("the empty query parses")
            },
            known: Vec::new(),
        },
    };
    splice(&message.encode(), &body(&marker_predicate()), predicate)
}

/// The frame of request `id`: a `Fetch` on `collection` for `property = <json>`, the value
/// a Json of these MessagePack bytes.
pub fn fetch_json_frame(id: u64, collection: &str, property: &str, json: &[u8]) -> Vec<u8> {
    let comparison = Predicate::Comparison {
        path: Path::simple(property),
        op: ComparisonOp::Eq,
        value: json_marker(),
    };
    fetch_frame(id, collection, &with_json(&body(&comparison), json))
}

/// The `lww` operations of an event that sets `property` to `value`.
pub fn lww_operations(property: &str, value: Value) -> Vec<u8> {
    encoding::encode(&BTreeMap::from([(property.to_owned(), value)]))
}

/// The `lww` operations of an event that sets `property` to a Json of these MessagePack
/// bytes.
pub fn lww_json_operations(property: &str, json: &[u8]) -> Vec<u8> {
    with_json(&lww_operations(property, json_marker()), json)
}

/// An event of `entity` in `collection` on top of `parent` (empty: the genesis event)
/// carrying these `lww` operations, with an id that follows the clock rules.
pub fn event(collection: &str, entity: EntityId, parent: Clock, lww: Vec<u8>) -> Event {
    let id = match parent.is_empty() {
        true => entity.genesis_event(),
        false => EventId::after(parent.iter()),
    };
    Event {
        id,
        collection: collection.into(),
        entity_id: entity,
        parent,
        operations: BTreeMap::from([("lww".to_owned(), ByteBuf::from(lww))]),
        author: String::new(),
    }
}

/// The genesis event of a new album of year `year`.
pub fn new_album(year: i64) -> Event {
    event(
        "album",
        EntityId::new(),
        Clock::new(),
        lww_operations("year", Value::I64(year)),
    )
}

/// An edit of a new album that names a parent event nobody has: its ancestors can never
/// be found.
pub fn orphan() -> Event {
    let ghost = EntityId::new().genesis_event();
    event(
        "album",
        EntityId::new(),
        Clock::from_ids([ghost]),
        lww_operations("year", Value::I64(1984)),
    )
}

/// The frame of request `id`: a commit of `events`.
pub fn commit_frame(id: u64, events: Vec<Event>) -> Vec<u8> {
    Message::Request {
        id,
        request: Request::Commit { events },
    }
    .encode()
}

/// A yrs update that a document takes without error but keeps pending (it cannot integrate
/// it), after which encoding the document panics inside yrs: the creation of the text
/// "Showbiz" with `01 02` repeated in front. Found by the fuzz tests.
pub fn pending_yrs_update() -> Vec<u8> {
    let mut update = [1u8, 2].repeat(11);
    update.extend_from_slice(&[
        1, 0, 2, 144, 249, 149, 242, 213, 132, 228, 4, 0, 40, 1, 0, 4, 110, 97, 109, 101, 1, 120,
        4, 1, 4, 110, 97, 109, 101, 7, 83, 104, 111, 119, 98, 105, 122, 0,
    ]);
    update
}
