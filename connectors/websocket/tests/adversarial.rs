//! Peers that break the protocol, played with raw tokio-tungstenite sockets: each is told why
//! in a `Goodbye` and disconnected, while the server and its well-behaved clients carry on.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ankurah_core::ankql::parse_selection;
use ankurah_core::model::View;
use ankurah_core::proto::{Delta, Message, Request, MAX_MESSAGE_BYTES, PROTOCOL_VERSION};
use ankurah_core::signals::Peek;
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::{Event, LocalConnector, Node, PermissiveAgent, SystemId};
use common::raw::{ask, goodbye, hello, send, until_closed, Reply};
use common::{album, create, ctx, eventually, memory_server_node, state_of};
use common::{Album, AlbumView, Client, Fixture, Server};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Frame;

#[tokio::test]
async fn a_garbage_frame_gets_a_goodbye() {
    let fixture = Fixture::new().await;
    let mut raw = fixture.raw().await;
    raw.send(Frame::Binary(vec![0xde, 0xad, 0xbe, 0xef].into()))
        .await
        .unwrap();
    let reason = goodbye(&until_closed(&mut raw).await).to_string();
    assert!(reason.starts_with("undecodable frame"), "{reason}");
    fixture.still_works().await;
}

#[tokio::test]
async fn a_text_frame_gets_a_goodbye() {
    let fixture = Fixture::new().await;
    let mut raw = fixture.greeted().await;
    raw.send(Frame::Text(r#"{"Hello": {}}"#.into()))
        .await
        .unwrap();
    let reason = goodbye(&until_closed(&mut raw).await).to_string();
    assert!(reason.contains("binary frames"), "{reason}");
    fixture.still_works().await;
}

#[tokio::test]
async fn another_protocol_version_is_refused() {
    let fixture = Fixture::new().await;
    let mut raw = fixture.raw().await;
    send(&mut raw, &hello(fixture.server.node.system.system_id(), 99)).await;
    let messages = until_closed(&mut raw).await;
    assert!(
        matches!(messages[0], Message::Hello(_)),
        "the server introduces itself first"
    );
    let reason = goodbye(&messages);
    assert!(reason.contains("protocol version 99"), "{reason}");
    fixture.still_works().await;
}

#[tokio::test]
async fn another_system_is_refused() {
    let fixture = Fixture::new().await;
    let mut raw = fixture.raw().await;
    send(&mut raw, &hello(Some(SystemId::new()), PROTOCOL_VERSION)).await;
    let reason = goodbye(&until_closed(&mut raw).await).to_string();
    assert!(reason.contains("system"), "{reason}");
    fixture.still_works().await;
}

#[tokio::test]
async fn an_oversized_message_gets_a_goodbye() {
    let fixture = Fixture::new().await;
    let (mut sink, mut stream) = fixture.greeted().await.split();
    // Sent concurrently: the server answers after the frame header, long before the body is in.
    tokio::spawn(async move {
        sink.send(Frame::Binary(vec![0; MAX_MESSAGE_BYTES + 1].into()))
            .await
    });
    let read = async {
        let mut reasons = Vec::new();
        while let Some(Ok(frame)) = stream.next().await {
            if let Frame::Binary(bytes) = frame {
                if let Ok(Message::Goodbye { reason, .. }) = Message::decode(&bytes) {
                    reasons.push(reason);
                }
            }
        }
        reasons
    };
    let reasons = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server closes the connection");
    assert!(
        reasons.iter().any(|r| r.contains("too large")),
        "{reasons:?}"
    );
    fixture.still_works().await;
}

/// An ephemeral node that reads from the server, then works offline: its outbox holds events
/// never sent, for the attacks below to tamper with.
async fn offline_events(fixture: &Fixture, edit: impl AsyncFnOnce(&Node)) -> (Node, Vec<Event>) {
    let storage = Arc::new(MemoryStorage::new());
    let forger = Node::new(storage.clone(), PermissiveAgent::new());
    let connection = LocalConnector::new(&fixture.server.node, &forger);
    forger.wait_durable_peer().await;
    forger.system.wait_system_ready().await;
    ctx(&forger).fetch::<AlbumView>("year > 0").await.unwrap();
    connection.disconnect();
    eventually("the forger is offline", async || forger.peer_count() == 0).await;
    edit(&forger).await;
    let events = storage.outbox().await.unwrap();
    (forger, events)
}

#[tokio::test]
async fn an_event_filed_under_another_collection_is_refused() {
    let fixture = Fixture::new().await;
    let id = create(&fixture.a.node, "Showbiz", 1999).await;
    let (_, mut events) = offline_events(&fixture, async |forger| {
        let trx = ctx(forger).begin();
        trx.edit::<Album>(&ctx(forger).get::<AlbumView>(id).await.unwrap())
            .unwrap()
            .year()
            .set(&1066)
            .unwrap();
        trx.commit().await.unwrap();
    })
    .await;
    // The album's edit, claimed to belong to another collection.
    events[0].collection = "bogus".into();

    let mut raw = fixture.greeted().await;
    match ask(&mut raw, 1, Request::Commit { events }).await {
        Reply::Refused(reason) => assert!(
            reason.contains("belongs to collection `bogus`, not `album`"),
            "{reason}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    drop(raw);
    assert!(fixture
        .storage
        .collection(&"bogus".into())
        .await
        .unwrap()
        .get_state(id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        ctx(&fixture.server.node)
            .get::<AlbumView>(id)
            .await
            .unwrap()
            .year()
            .unwrap(),
        1999
    );
    assert_eq!(
        state_of(&fixture.server.node, id).await,
        state_of(&fixture.a.node, id).await
    );
    fixture.still_works().await;
}

#[tokio::test]
async fn a_client_cannot_push_updates_to_the_server() {
    let fixture = Fixture::new().await;
    let mut new_id = None;
    let (forger, _) = offline_events(&fixture, async |forger| {
        new_id = Some(create(forger, "Forged", 2001).await)
    })
    .await;
    let new_id = new_id.unwrap();
    // A state the server never saw a commit for, pushed as if the server had subscribed.
    let state = ctx(&forger)
        .get::<AlbumView>(new_id)
        .await
        .unwrap()
        .entity()
        .to_state();

    let mut raw = fixture.greeted().await;
    send(
        &mut raw,
        &Message::Update {
            subscription: 1,
            deltas: vec![Delta::State(state)],
        },
    )
    .await;
    let reason = goodbye(&until_closed(&mut raw).await).to_string();
    assert!(reason.contains("updates"), "{reason}");
    assert!(
        ctx(&fixture.server.node)
            .get::<AlbumView>(new_id)
            .await
            .is_err(),
        "the forged state was not stored"
    );
    fixture.still_works().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected() {
    let server = Server::start_with(memory_server_node().await, "127.0.0.1:0", |server| {
        server.silence_limit(Duration::from_secs(1))
    })
    .await;
    let mut raw = server.greeted().await;
    let subscribe = Message::Request {
        id: 1,
        request: Request::Subscribe {
            subscription: 1,
            collection: "album".into(),
            selection: parse_selection("year > 0", &[]).unwrap(),
            known: Vec::new(),
        },
    };
    send(&mut raw, &subscribe).await;
    // Read until the subscription is answered, then never again.
    while let Some(Ok(frame)) = raw.next().await {
        if let Frame::Binary(bytes) = frame {
            if let Ok(Message::Response { id: 1, .. }) = Message::decode(&bytes) {
                break;
            }
        }
    }
    let (mut sink, _unread) = raw.split();
    // The client keeps pinging, so it is not silent; it just never reads.
    let pinging = tokio::spawn(async move {
        loop {
            if sink.send(Frame::Ping(Default::default())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // 40 MiB of updates: far more than the socket buffers between the two hold.
    let artist = "x".repeat(256 * 1024);
    for year in 1..=160 {
        let trx = ctx(&server.node).begin();
        trx.create(&album("Large", &artist, year)).await.unwrap();
        trx.commit().await.unwrap();
    }
    eventually(
        "the server dropped the client that stopped reading",
        async || server.node.peer_count() == 0,
    )
    .await;
    pinging.abort();

    // Everyone else is served as before.
    let client = Client::connect(&server.url()).await;
    let albums = client
        .ctx()
        .query_wait::<AlbumView>("year > 0")
        .await
        .unwrap();
    assert_eq!(albums.peek().len(), 160);
}
