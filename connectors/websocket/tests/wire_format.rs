//! Pins the bytes that `docs/PROTOCOL.md` shows, so the document cannot drift from the code.

use std::collections::BTreeMap;

use ankurah_core::proto::{ErrorKind, Hello, Message, RemoteError, Request, Response};
use ankurah_core::{encoding, Clock, EntityId, Event, EventId, NodeId, SystemId, Value};
use serde_bytes::ByteBuf;

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_wire(message: Message, expected: &str) {
    let bytes = message.encode();
    assert_eq!(hex(&bytes), expected, "{message:?}");
    assert_eq!(Message::decode(&bytes).unwrap(), message);
}

#[test]
fn hello() {
    let hello = Hello {
        protocol_version: 1,
        system_id: Some(SystemId::from_bytes([2; 16])),
        node_id: NodeId::from_bytes([1; 16]),
        durable: false,
        credential: None,
        challenge: None,
    };
    assert_wire(
        Message::Hello(hello),
        "01 81 a5 48 65 6c 6c 6f 84 b0 70 72 6f 74 6f 63 6f 6c 5f 76 65 72 73 69 6f 6e 01 a9 73 79 73 74 65 6d 5f 69 64 \
         c4 10 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 a7 6e 6f 64 65 5f 69 64 \
         c4 10 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 a7 64 75 72 61 62 6c 65 c2",
    );
}

#[test]
fn goodbye_and_responses() {
    assert_wire(
        Message::Goodbye {
            reason: "bye".into(),
            kind: None,
        },
        "01 81 a7 47 6f 6f 64 62 79 65 81 a6 72 65 61 73 6f 6e a3 62 79 65",
    );
    assert_wire(
        Message::Response { id: 7, response: Response::Committed },
        "01 81 a8 52 65 73 70 6f 6e 73 65 82 a2 69 64 07 a8 72 65 73 70 6f 6e 73 65 a9 43 6f 6d 6d 69 74 74 65 64",
    );
    assert_wire(
        Message::Response {
            id: 7,
            response: Response::Error(RemoteError::new(ErrorKind::AccessDenied, "no")),
        },
        "01 81 a8 52 65 73 70 6f 6e 73 65 82 a2 69 64 07 a8 72 65 73 70 6f 6e 73 65 81 a5 45 72 72 6f 72 \
         82 a4 6b 69 6e 64 ac 41 63 63 65 73 73 44 65 6e 69 65 64 a7 6d 65 73 73 61 67 65 a2 6e 6f",
    );
}

#[test]
fn commit_of_a_genesis_event() {
    let id = [0x03; 16];
    // The lww payload is itself an envelope: property → value.
    let writes = BTreeMap::from([("year".to_string(), Value::I64(2001))]);
    let lww = encoding::encode(&writes);
    assert_eq!(hex(&lww), "01 81 a4 79 65 61 72 81 a3 49 36 34 cd 07 d1");
    let event = Event {
        id: EventId::from_bytes(id),
        collection: "album".into(),
        entity_id: EntityId::from_bytes(id),
        parent: Clock::new(),
        operations: BTreeMap::from([("lww".to_string(), ByteBuf::from(lww))]),
        author: String::new(),
    };
    assert_wire(
        Message::Request { id: 2, request: Request::Commit { events: vec![event] } },
        "01 81 a7 52 65 71 75 65 73 74 82 a2 69 64 02 a7 72 65 71 75 65 73 74 81 a6 43 6f 6d 6d 69 74 81 a6 65 76 65 6e 74 73 91 \
         85 a2 69 64 c4 10 03 03 03 03 03 03 03 03 03 03 03 03 03 03 03 03 \
         aa 63 6f 6c 6c 65 63 74 69 6f 6e a5 61 6c 62 75 6d \
         a9 65 6e 74 69 74 79 5f 69 64 c4 10 03 03 03 03 03 03 03 03 03 03 03 03 03 03 03 03 \
         a6 70 61 72 65 6e 74 90 \
         aa 6f 70 65 72 61 74 69 6f 6e 73 81 a3 6c 77 77 c4 0f 01 81 a4 79 65 61 72 81 a3 49 36 34 cd 07 d1",
    );
}
