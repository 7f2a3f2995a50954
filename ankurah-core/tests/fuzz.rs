//! Property-based fuzzing of everything that reads bytes or text from outside the process:
//! protocol messages, AnkQL text, events, entity states and the two property backends'
//! payloads (lww values, yrs updates).
//!
//! Inputs are arbitrary bytes and, more to the point, structure-aware mutations of valid
//! encodings (bits flipped, MessagePack markers and lengths inserted, chunks deleted,
//! repeated or moved), so most cases get deep into the decoders instead of failing at the
//! first byte. Every target must return a typed error or a value, never panic (proptest
//! reports a panic as a failure, with the shrunk input); values decoded must encode again
//! to the same bytes.
//!
//! Inputs nested deeper than any limit cannot be fuzzed in process: overflowing the stack
//! aborts the process, which no test harness catches. The `*_does_not_crash` tests run
//! each such input in a child process of this test binary and fail if it dies.
//!
//! `ANKURAH_FUZZ_CASES=100000 cargo test -p ankurah-core --test fuzz` runs a long campaign;
//! the default case counts keep the file well under a minute in a debug build.

use std::collections::BTreeMap;
use std::panic::PanicHookInfo;
use std::sync::{LazyLock, Mutex, Once};
use std::time::Duration;

use ankurah_core::ankql::{parse_selection, Filterable};
use ankurah_core::auth::Credential;
use ankurah_core::encoding;
use ankurah_core::property::backend::{LWWBackend, YrsBackend};
use ankurah_core::proto::{Delta, ErrorKind, Hello, Message, Request, Response, PROTOCOL_VERSION};
use ankurah_core::testing::{self, child, wire};
use ankurah_core::{
    Clock, DecodeError, Entity, EntityId, EntityState, Event, EventId, NodeId, State, SystemId,
    Value,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestRng, TestRunner};

/// Cases per property: `ANKURAH_FUZZ_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("ANKURAH_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The default run sees the same inputs every time, so it fails or passes the same way in
/// CI; a long run (`ANKURAH_FUZZ_CASES` set) draws new ones.
fn runner(default: u32) -> TestRunner {
    let config = ProptestConfig {
        cases: cases(default),
        // Findings are reported with their shrunk input; no regression files are written.
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    match std::env::var_os("ANKURAH_FUZZ_CASES") {
        Some(_) => TestRunner::new(config),
        None => {
            let rng = TestRng::deterministic_rng(config.rng_algorithm);
            TestRunner::new_with_rng(config, rng)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The corpus: valid encodings of every kind of input, made by the real code.

struct Corpus {
    messages: Vec<Vec<u8>>,
    events: Vec<Vec<u8>>,
    states: Vec<Vec<u8>>,
    lww_operations: Vec<Vec<u8>>,
    lww_states: Vec<Vec<u8>>,
    yrs_states: Vec<Vec<u8>>,
    yrs_updates: Vec<Vec<u8>>,
}

static CORPUS: LazyLock<Corpus> = LazyLock::new(corpus);

/// Property values of every type, a Json with some structure among them.
fn values() -> Vec<(String, Value)> {
    let json = serde_json::json!({"tags": ["a", "b"], "n": 1.5, "deep": [[{"x": null}]]});
    vec![
        ("year".into(), Value::I64(2001)),
        ("ratio".into(), Value::F64(-0.25)),
        ("live".into(), Value::Bool(true)),
        ("artist".into(), Value::String("Muse".into())),
        ("cover".into(), Value::Bytes(vec![0, 1, 254, 255])),
        ("label".into(), Value::EntityId(EntityId::new())),
        ("meta".into(), Value::Json(json)),
        ("gone".into(), Value::Null),
    ]
}

fn corpus() -> Corpus {
    let (lww_genesis, lww_state) = testing::genesis("album", &values(), false);
    let text = [
        (
            "name".to_owned(),
            Value::String("Origin of Symmetry ☃".into()),
        ),
        ("note".to_owned(), Value::String(String::new())),
    ];
    let (yrs_genesis, yrs_state) = testing::genesis("album", &text, true);
    let (edit, edited) = testing::edit(&lww_state, &[("year".into(), Value::I64(2002))]);
    let (delete, deleted) = testing::delete(&edited);
    let events = [&lww_genesis, &yrs_genesis, &edit, &delete];
    let states = [&lww_state, &yrs_state, &edited, &deleted].map(|s| s.state.clone());

    // Text edits as yrs updates: a creation, then an insertion and a deletion on top.
    let created = YrsBackend::default();
    created.replace("name", "Showbiz").expect("a whole text");
    let creation = created.take_operations().expect("an edit");
    let fork = created.fork();
    fork.insert("name", 3, "…and more").expect("in range");
    fork.delete("name", 0, 2).expect("in range");
    let edits = fork.take_operations().expect("an edit");

    let selections = [
        "",
        "year > 1985 AND name LIKE 'Orig%' ORDER BY year DESC, name LIMIT 3",
        "meta.tags.0 = 'a' OR NOT (artist IN (1, 2.5, 'z', NULL, TRUE))",
        "cover IS NOT NULL AND (live = FALSE OR ratio <= -1e3)",
    ]
    .map(|q| parse_selection(q, &[]).expect("corpus queries parse"));
    let by_id = parse_selection(
        "id = ? AND label != ?",
        &[EntityId::new().into(), "x".into()],
    )
    .expect("corpus queries parse");
    let event_list = || events.iter().map(|e| (*e).clone()).collect::<Vec<Event>>();
    let state_delta = |s: &EntityState| Delta::State(s.clone());
    let mut messages = vec![
        Message::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: Some(SystemId::new()),
            node_id: NodeId::new(),
            durable: false,
            credential: None,
            challenge: None,
        }),
        Message::Goodbye {
            reason: "bye ☃".into(),
            kind: None,
        },
        Message::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: None,
            node_id: NodeId::new(),
            durable: false,
            credential: Some(Credential::NodeKey {
                public_key: vec![1; 32],
                signature: vec![2; 64],
            }),
            challenge: Some(vec![3; 32]),
        }),
        Message::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: None,
            node_id: NodeId::new(),
            durable: false,
            credential: Some(Credential::Token("a.b.c".into())),
            challenge: None,
        }),
        Message::Welcome {
            principal: "alice".into(),
            roles: vec!["editor".into()],
        },
        Message::Goodbye {
            reason: "expired".into(),
            kind: Some(ErrorKind::CredentialExpired),
        },
        request(Request::Get {
            collection: "album".into(),
            ids: vec![EntityId::new(), lww_genesis.entity_id],
            known: vec![(lww_genesis.entity_id, Clock::default())],
        }),
        request(Request::Follow {
            collection: "album".into(),
            known: vec![(lww_genesis.entity_id, Clock::default())],
        }),
        request(Request::Unfollow {
            ids: vec![lww_genesis.entity_id],
        }),
        request(Request::Subscribe {
            subscription: 9,
            collection: "album".into(),
            selection: by_id.clone(),
            known: vec![(lww_genesis.entity_id, edited.state.state.head.clone())],
        }),
        request(Request::Unsubscribe { subscription: 9 }),
        request(Request::Commit {
            events: event_list(),
        }),
        request(Request::GetEvents {
            collection: "album".into(),
            entity_id: lww_genesis.entity_id,
            ids: vec![lww_genesis.id, EventId::after([&lww_genesis.id])],
        }),
        Message::Response {
            id: u64::MAX,
            response: Response::Deltas(vec![
                state_delta(&states[0]),
                state_delta(&states[1]),
                Delta::Events {
                    collection: "album".into(),
                    entity_id: lww_genesis.entity_id,
                    events: vec![edit.clone(), delete.clone()],
                },
            ]),
        },
        Message::Part {
            id: 3,
            response: Response::Events(event_list()),
        },
        Message::Update {
            subscription: 9,
            deltas: vec![state_delta(&states[3])],
        },
        Message::Update {
            subscription: 9,
            deltas: vec![Delta::Withdrawn {
                collection: "album".into(),
                entity_id: lww_genesis.entity_id,
            }],
        },
    ];
    for response in [
        Response::Committed,
        Response::Unsubscribed,
        Response::Error(ankurah_core::RemoteError::new(
            ankurah_core::ErrorKind::AccessDenied,
            "no",
        )),
    ] {
        messages.push(Message::Response { id: 7, response });
    }
    for selection in selections {
        messages.push(request(Request::Fetch {
            collection: "album".into(),
            selection,
            known: Vec::new(),
        }));
    }

    let backend = |s: &EntityState, name: &str| s.state.backends.get(name).map(|b| b.to_vec());
    Corpus {
        messages: messages.iter().map(Message::encode).collect(),
        events: events.iter().map(|e| e.encode()).collect(),
        states: states.iter().map(EntityState::encode).collect(),
        lww_operations: events
            .iter()
            .filter_map(|e| e.operations.get("lww").map(|b| b.to_vec()))
            .collect(),
        lww_states: states.iter().filter_map(|s| backend(s, "lww")).collect(),
        yrs_states: states.iter().filter_map(|s| backend(s, "yrs")).collect(),
        yrs_updates: vec![creation, edits],
    }
}

fn request(request: Request) -> Message {
    Message::Request { id: 1, request }
}

// ---------------------------------------------------------------------------------------
// Inputs: arbitrary bytes, and mutations of valid encodings.

/// One edit of an encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Copies a chunk and inserts it this many times right after itself.
    Repeat(Index, usize, usize),
    /// Copies a chunk elsewhere.
    Move(Index, usize, Index),
    Truncate(Index),
}

/// Bytes that mean something to MessagePack, and the edges of lengths and ints.
fn telling_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            0x00, 0x01, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
            0xc3, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8,
            0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
        ]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), telling_byte()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<Index>(), prop::collection::vec(telling_byte(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<Index>(), 1..16usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        // Up to 40 repetitions: nesting stays far below what overflows a stack (that is
        // what the crash tests below are for).
        (any::<Index>(), 1..12usize, 1..40usize)
            .prop_map(|(at, len, times)| Mutation::Repeat(at, len, times)),
        (any::<Index>(), 1..24usize, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Move(from, len, to)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match mutation {
        Mutation::Flip(at, bit) => bytes[at.index(len)] ^= 1 << bit,
        Mutation::Set(at, byte) => bytes[at.index(len)] = *byte,
        Mutation::Insert(at, new) => {
            let at = at.index(len + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Delete(at, n) => {
            let at = at.index(len);
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Repeat(at, n, times) => {
            let at = at.index(len);
            let chunk = bytes[at..(at + n).min(len)].to_vec();
            let end = at + chunk.len();
            bytes.splice(end..end, chunk.repeat(*times));
        }
        Mutation::Move(from, n, to) => {
            let from = from.index(len);
            let chunk = bytes[from..(from + n).min(len)].to_vec();
            let to = to.index(len + 1);
            bytes.splice(to..to, chunk);
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len)),
    }
}

/// One of `corpus`, mutated one to eight times.
fn mutated(corpus: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(corpus),
        prop::collection::vec(mutation(), 1..8),
    )
        .prop_map(|(mut bytes, mutations)| {
            mutations.iter().for_each(|m| mutate(&mut bytes, m));
            bytes
        })
}

/// Arbitrary bytes, half of them behind the envelope's version byte so they reach the
/// MessagePack decoder.
fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..512)).prop_map(|(versioned, bytes)| {
        match versioned {
            true => [&[encoding::FORMAT_VERSION][..], &bytes].concat(),
            false => bytes,
        }
    })
}

/// Arbitrary bytes or a mutation of `corpus`.
fn input(corpus: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![1 => arbitrary_bytes(), 3 => mutated(corpus)]
}

// ---------------------------------------------------------------------------------------
// Checks shared by the targets.

/// A decoding error names what was being decoded.
fn typed(error: &DecodeError, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        error.to_string().contains(what),
        "the error `{error}` does not name the {what}"
    );
    Ok(())
}

/// A decoded value encodes again to bytes that decode to the same encoding.
fn stable<T>(
    value: &T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<(), TestCaseError> {
    let bytes = encode(value);
    match decode(&bytes) {
        Ok(again) => prop_assert_eq!(encode(&again), bytes, "re-encoding is not stable"),
        Err(error) => prop_assert!(false, "a decoded value's own encoding fails: {error}"),
    }
    Ok(())
}

/// Panics raised inside yrs (which the yrs backend catches and turns into errors), with the
/// test they happened in: recorded rather than printed, and reported by the targets that
/// feed yrs.
static YRS_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_yrs_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo| {
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            if location.contains("/yrs-") {
                let test = std::thread::current().name().unwrap_or("?").to_owned();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let mut panics = YRS_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                panics.push(format!("{test}: {message} at {location}"));
            } else {
                previous(info);
            }
        }));
    });
}

/// Prints how many yrs-internal panics the backend caught during `test`, if any.
fn report_yrs_panics(test: &str) {
    let panics = YRS_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    let ours: Vec<&String> = panics.iter().filter(|p| p.starts_with(test)).collect();
    if let Some(first) = ours.first() {
        eprintln!(
            "{test}: {} inputs made yrs panic inside the backend (caught there and answered \
             as errors); the first: {first}",
            ours.len()
        );
    }
}

/// Loads a state into an entity and reads everything from it, as a node serving it would.
fn exercise(state: &EntityState) {
    if let Ok(entity) = Entity::from_state(state) {
        let _ = entity.values();
        let _ = entity.to_state().encode();
    }
}

/// An item to evaluate fuzzed queries against.
struct Sample(BTreeMap<String, Value>);

impl Filterable for Sample {
    fn entity_id(&self) -> EntityId {
        EntityId::from_bytes([7; 16])
    }
    fn value(&self, property: &str) -> Option<Value> {
        self.0.get(property).cloned()
    }
}

/// AnkQL tokens, good and bad, for token soups.
fn token() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "(",
        ")",
        "((",
        "))",
        "NOT",
        "not",
        "AND",
        "OR",
        "year",
        "meta.tags.0",
        "id",
        "\"odd name\"",
        ".",
        ",",
        "=",
        "==",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "LIKE",
        "NOT LIKE",
        "IN",
        "IS",
        "IS NOT",
        "NULL",
        "TRUE",
        "FALSE",
        "'str'",
        "''",
        "'it''s'",
        "'unterminated",
        "\"",
        "42",
        "-1",
        "1.5",
        "-0.25e3",
        "1e999",
        "99999999999999999999",
        "?",
        "ORDER BY",
        "ASC",
        "DESC",
        "LIMIT",
        "%",
        "_",
        "\\",
        "é",
        "☃",
        "\u{0}",
        "--",
        ";",
        "*",
    ]);
    prop_oneof![
        8 => fixed.prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn ankql_text() -> impl Strategy<Value = String> {
    let soup = (
        prop::collection::vec(token(), 0..40),
        prop::sample::select(vec![" ", "", "  ", "\n\t"]),
    )
        .prop_map(|(tokens, gap)| tokens.join(gap));
    // Deep parentheses and NOT chains, unbalanced as often as not.
    let deep = (0..3_000usize, 0..3_000usize, any::<bool>()).prop_map(|(open, close, not)| {
        let prefix = match not {
            true => "NOT ".repeat(open),
            false => "(".repeat(open),
        };
        format!("{prefix}year = 1{}", ")".repeat(close))
    });
    prop_oneof![6 => soup, 2 => deep, 1 => "\\PC{0,64}"]
}

fn argument() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        "\\PC{0,8}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ]
}

// ---------------------------------------------------------------------------------------
// The targets.

/// Runs `check` on `cases` inputs of `strategy` (or `ANKURAH_FUZZ_CASES`), failing with the
/// shrunk input if one fails or panics; then reports the yrs panics the backend caught.
fn fuzz<S: Strategy>(
    test: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    record_yrs_panics();
    if let Err(failure) = runner(cases).run(&strategy, check) {
        panic!("{test}: {failure}");
    }
    report_yrs_panics(test);
}

#[test]
fn messages_decode_or_say_why() {
    fuzz(
        "messages_decode_or_say_why",
        2_000,
        input(&CORPUS.messages),
        |bytes| match Message::decode(&bytes) {
            Ok(message) => stable(&message, Message::encode, Message::decode),
            Err(error) => typed(&error, "message"),
        },
    );
}

#[test]
fn events_decode_or_say_why() {
    fuzz(
        "events_decode_or_say_why",
        2_000,
        input(&CORPUS.events),
        |bytes| {
            let event = match Event::decode(&bytes) {
                Ok(event) => event,
                Err(error) => return typed(&error, "event"),
            };
            let _ = event.validate();
            for (backend, operations) in &event.operations {
                let _ = match backend.as_str() {
                    "lww" => LWWBackend::default().apply_operations(operations, event.id),
                    "yrs" => YrsBackend::default().apply_operations(operations, event.id),
                    _ => Ok(()),
                };
            }
            stable(&event, Event::encode, Event::decode)
        },
    );
}

#[test]
fn entity_states_decode_or_say_why() {
    fuzz(
        "entity_states_decode_or_say_why",
        2_000,
        input(&CORPUS.states),
        |bytes| match EntityState::decode(&bytes) {
            Ok(state) => {
                exercise(&state);
                stable(&state, EntityState::encode, EntityState::decode)
            }
            Err(error) => typed(&error, "entity state"),
        },
    );
}

#[test]
fn states_decode_or_say_why() {
    // A bare `State`: the `state` field of an entity state, cut out by a mutation or not.
    fuzz(
        "states_decode_or_say_why",
        1_000,
        input(&CORPUS.states),
        |bytes| match encoding::decode::<State>("state", &bytes) {
            Ok(state) => {
                let collection = "album".into();
                exercise(&EntityState {
                    entity_id: EntityId::new(),
                    collection,
                    state,
                });
                Ok(())
            }
            Err(error) => typed(&error, "state"),
        },
    );
}

#[test]
fn lww_payloads_load_or_say_why() {
    let strategy = (input(&CORPUS.lww_operations), input(&CORPUS.lww_states));
    fuzz(
        "lww_payloads_load_or_say_why",
        2_000,
        strategy,
        |(operations, state)| {
            let backend = LWWBackend::default();
            if backend
                .apply_operations(&operations, EventId::after([]))
                .is_ok()
            {
                let _ = (backend.values(), backend.to_state_buffer());
            }
            if let Ok(loaded) = LWWBackend::from_state_buffer(&state) {
                let _ = loaded.merge_state(&backend.to_state_buffer());
                let _ = (loaded.values(), loaded.to_state_buffer());
            }
            Ok(())
        },
    );
}

#[test]
fn yrs_updates_apply_or_say_why() {
    let strategy = (
        input(&CORPUS.yrs_updates),
        prop::sample::select(&CORPUS.yrs_states[..]),
    );
    fuzz(
        "yrs_updates_apply_or_say_why",
        2_000,
        strategy,
        |(update, base)| {
            // Onto a document built from a real state, and into an empty backend.
            let built = YrsBackend::from_state_buffer(&base).expect("corpus states load");
            let _ = built.values();
            for backend in [&built, &YrsBackend::default()] {
                let _ = backend.apply_operations(&update, EventId::after([]));
                let _ = (
                    backend.values(),
                    backend.get("name"),
                    backend.to_state_buffer(),
                );
            }
            // As a state of its own.
            if let Ok(loaded) = YrsBackend::from_state_buffer(&update) {
                let _ = (loaded.values(), loaded.to_state_buffer());
            }
            Ok(())
        },
    );
}

#[test]
fn ankql_parses_or_points_at_the_error() {
    let strategy = (ankql_text(), prop::collection::vec(argument(), 0..4));
    fuzz(
        "ankql_parses_or_points_at_the_error",
        2_000,
        strategy,
        |(text, args)| {
            match parse_selection(&text, &args) {
                Ok(selection) => {
                    let _ = selection.to_string();
                    let sample = Sample(values().into_iter().collect());
                    let _ = selection.predicate.evaluate(&sample);
                }
                Err(error) => {
                    prop_assert!(
                        error.offset <= text.len(),
                        "offset {} beyond the text",
                        error.offset
                    );
                    prop_assert!(
                        text.is_char_boundary(error.offset),
                        "offset {} inside a character",
                        error.offset
                    );
                    prop_assert!(!error.message.is_empty());
                }
            }
            Ok(())
        },
    );
}

/// Found by `yrs_updates_apply_or_say_why` (the inputs as it printed them): a creation
/// update of the text "Showbiz" with `01 02` repeated in front applies to a document built
/// from a real state without error (yrs keeps what it cannot integrate as pending), and
/// then encoding the document panics inside yrs (`yrs-0.28.1/src/transaction.rs:390`, in
/// `merge_pending_v1`: `unwrap()` on `Err(EndOfBuffer(1))`), reached from
/// `YrsBackend::to_state_buffer` → `Inner::canonical` → `Inner::encoded` → `encode`, outside
/// the backend's `catch_unwind`. A durable node applying such an edit to a stored entity
/// panics when it encodes the entity's new state.
#[test]
fn a_yrs_update_left_pending_does_not_panic_when_encoded() {
    let base = [
        1, 3, 249, 249, 140, 180, 162, 132, 246, 1, 0, 40, 1, 0, 4, 110, 97, 109, 101, 1, 120, 4,
        1, 4, 110, 97, 109, 101, 22, 79, 114, 105, 103, 105, 110, 32, 111, 102, 32, 83, 121, 109,
        109, 101, 116, 114, 121, 32, 226, 152, 131, 40, 1, 0, 4, 110, 111, 116, 101, 1, 120, 0,
    ];
    let update = wire::pending_yrs_update();
    let backend = YrsBackend::from_state_buffer(&base).expect("a real state loads");
    assert_eq!(backend.get("name").as_deref(), Some("Origin of Symmetry ☃"));
    let applied = backend.apply_operations(&update, EventId::after([]));
    eprintln!("applying the update: {applied:?}");
    let _ = backend.to_state_buffer();
}

#[test]
fn the_corpus_is_valid() {
    let corpus = &*CORPUS;
    assert!(corpus.messages.iter().all(|m| Message::decode(m).is_ok()));
    assert!(corpus.events.iter().all(|e| Event::decode(e).is_ok()));
    assert!(corpus.states.iter().all(|s| EntityState::decode(s).is_ok()));
    assert!(!corpus.yrs_states.is_empty() && !corpus.lww_states.is_empty());
}

// ---------------------------------------------------------------------------------------
// Inputs nested beyond any limit, each decoded in a child process.

/// Runs `work` in a child process of this test binary (the test `name` again) and fails if
/// the child dies: a stack overflow aborts the process, which no harness survives.
fn survives(name: &str, work: fn()) {
    match child::is_child(name) {
        true => work(),
        false => child::run(name, Duration::from_secs(120)).assert_survived(),
    }
}

/// The outcome of decoding deep input, printed by the child; the value (if any) is dropped
/// there too, which recurses as deep as decoding did.
fn decode_and_drop<T>(what: &str, decoded: Result<T, impl std::fmt::Display>) {
    match decoded {
        Ok(value) => {
            drop(value);
            eprintln!("{what}: decoded");
        }
        Err(error) => eprintln!("{what}: refused: {error}"),
    }
}

#[test]
fn a_message_with_not_2_000_deep_does_not_crash() {
    survives("a_message_with_not_2_000_deep_does_not_crash", || {
        let frame = wire::fetch_frame(1, "album", &wire::nested_not(2_000));
        decode_and_drop("NOT × 2,000", Message::decode(&frame));
    });
}

#[test]
fn a_message_with_not_100_000_deep_does_not_crash() {
    survives("a_message_with_not_100_000_deep_does_not_crash", || {
        let frame = wire::fetch_frame(1, "album", &wire::nested_not(100_000));
        decode_and_drop("NOT × 100,000", Message::decode(&frame));
    });
}

#[test]
fn a_message_with_json_100_000_deep_does_not_crash() {
    survives("a_message_with_json_100_000_deep_does_not_crash", || {
        let frame = wire::fetch_json_frame(1, "album", "meta", &wire::nested_arrays(100_000));
        decode_and_drop("Json × 100,000", Message::decode(&frame));
    });
}

#[test]
fn lww_operations_with_json_1_000_deep_do_not_crash() {
    survives("lww_operations_with_json_1_000_deep_do_not_crash", || {
        let operations = wire::lww_json_operations("meta", &wire::nested_arrays(1_000));
        let backend = LWWBackend::default();
        decode_and_drop(
            "lww operations, Json × 1,000",
            backend.apply_operations(&operations, EventId::after([])),
        );
    });
}

#[test]
fn an_entity_state_with_json_100_000_deep_does_not_crash() {
    survives(
        "an_entity_state_with_json_100_000_deep_does_not_crash",
        || {
            let (_, stored) =
                testing::genesis("album", &[("meta".into(), wire::json_marker())], false);
            let mut state = stored.state;
            let lww = state
                .state
                .backends
                .get("lww")
                .expect("an lww state")
                .to_vec();
            let deep = wire::with_json(&lww, &wire::nested_arrays(100_000));
            state.state.backends.insert("lww".into(), deep.into());
            let bytes = state.encode();
            let loaded = EntityState::decode(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|state| Entity::from_state(&state).map_err(|e| e.to_string()));
            decode_and_drop("entity state, Json × 100,000", loaded);
        },
    );
}
