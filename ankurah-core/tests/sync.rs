//! Sync between nodes over the in-process connector: convergence, partitions, offline
//! outboxes, refused commits and refused peers. (The WebSocket crate runs the same protocol
//! over real sockets.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use ankurah_core::model::{Mutable, View};
use ankurah_core::proto::{ErrorKind, Hello, Message, Request, Response, PROTOCOL_VERSION};
use ankurah_core::signals::Peek;
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::sync::{queue, QueueReceiver, QueueSender};
use ankurah_core::{
    Context, EntityId, Event, LocalConnector, MutationError, Node, NodeId, PeerError,
    PermissiveAgent, DEFAULT_CONTEXT,
};
use common::{album, stored_events, Album, AlbumView, NoNickelback};

struct Setup {
    server: Node,
    clients: Vec<(Node, Arc<MemoryStorage>)>,
}

async fn setup(clients: usize) -> (Setup, Vec<LocalConnector>) {
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    server.system.create().await.unwrap();
    let mut nodes = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..clients {
        let storage = Arc::new(MemoryStorage::new());
        let client = Node::new(storage.clone(), PermissiveAgent::new());
        connections.push(LocalConnector::new(&server, &client));
        client.system.wait_system_ready().await;
        client.wait_durable_peer().await;
        nodes.push((client, storage));
    }
    (
        Setup {
            server,
            clients: nodes,
        },
        connections,
    )
}

fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT).unwrap()
}

async fn state_of(node: &Node, id: EntityId) -> Vec<u8> {
    ctx(node)
        .get::<AlbumView>(id)
        .await
        .unwrap()
        .entity()
        .to_state()
        .encode()
}

/// Polls until `check` holds (updates travel through background tasks).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn two_clients_converge_with_the_server() {
    let (setup, _connections) = setup(2).await;
    let (a, b) = (&setup.clients[0].0, &setup.clients[1].0);
    // Remote changes reach an ephemeral node through its live queries.
    let query_b = ctx(b).query_wait::<AlbumView>("year > 2000").await.unwrap();
    let _query_a = ctx(a).query_wait::<AlbumView>("year > 2000").await.unwrap();

    let trx = ctx(a).begin();
    let id = trx
        .create(&album("Origin of Symmetry", "Muse", 2001))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    eventually("b's live query sees a's album", async || {
        query_b.peek().len() == 1
    })
    .await;

    // Concurrent text edits on both clients.
    let (va, vb) = (
        ctx(a).get::<AlbumView>(id).await.unwrap(),
        ctx(b).get::<AlbumView>(id).await.unwrap(),
    );
    let (ta, tb) = (ctx(a).begin(), ctx(b).begin());
    ta.edit::<Album>(&va)
        .unwrap()
        .name()
        .insert(0, "The ")
        .unwrap();
    tb.edit::<Album>(&vb)
        .unwrap()
        .name()
        .insert(18, " (2001)")
        .unwrap();
    let (ra, rb) = tokio::join!(ta.commit(), tb.commit());
    ra.unwrap();
    rb.unwrap();

    let expected = "The Origin of Symmetry (2001)";
    eventually("everyone has both edits", async || {
        va.name().unwrap() == expected && vb.name().unwrap() == expected && {
            let server = state_of(&setup.server, id).await;
            server == state_of(a, id).await && server == state_of(b, id).await
        }
    })
    .await;
    assert_eq!(query_b.peek()[0].name().unwrap(), expected);
}

#[tokio::test]
async fn partitions_heal_without_losing_edits() {
    let (setup, mut connections) = setup(2).await;
    let (a, a_storage) = (&setup.clients[0].0, &setup.clients[0].1);
    let b = &setup.clients[1].0;
    let trx = ctx(a).begin();
    let id = trx
        .create(&album("Showbiz", "Muse", 1999))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    let query_a = ctx(a)
        .query_wait::<AlbumView>("year >= 1999 ORDER BY year")
        .await
        .unwrap();
    let _query_b = ctx(b)
        .query_wait::<AlbumView>("year >= 1999")
        .await
        .unwrap();

    // Cut a off; both sides keep editing.
    connections.remove(0).disconnect();
    eventually("a notices", async || a.peer_count() == 0).await;
    let va = ctx(a).get::<AlbumView>(id).await.unwrap();
    let trx = ctx(a).begin();
    trx.edit::<Album>(&va)
        .unwrap()
        .name()
        .insert(7, " (offline)")
        .unwrap();
    let offline = trx
        .create(&album("Absolution", "Muse", 2003))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    assert_eq!(
        a_storage.outbox().await.unwrap().len(),
        2,
        "the offline commit waits in the outbox"
    );

    let vb = ctx(b).get::<AlbumView>(id).await.unwrap();
    let trx = ctx(b).begin();
    let edit = trx.edit::<Album>(&vb).unwrap();
    edit.name().insert(0, "[b] ").unwrap();
    edit.year().set(&2000).unwrap();
    trx.commit().await.unwrap();

    // Heal.
    let _reconnected = LocalConnector::new(&setup.server, a);
    a.wait_durable_peer().await;
    eventually("the outbox drains", async || {
        a_storage.outbox().await.unwrap().is_empty()
    })
    .await;
    eventually("all replicas are identical", async || {
        let server = state_of(&setup.server, id).await;
        server == state_of(a, id).await && server == state_of(b, id).await
    })
    .await;
    assert_eq!(va.name().unwrap(), "[b] Showbiz (offline)");
    assert_eq!(va.year().unwrap(), 2000);
    assert!(
        ctx(b).get::<AlbumView>(offline).await.is_ok(),
        "the offline creation reached b"
    );
    eventually("a's live query is current", async || {
        query_a
            .peek()
            .iter()
            .map(|v| v.year().unwrap())
            .collect::<Vec<_>>()
            == [2000, 2003]
    })
    .await;
}

#[tokio::test]
async fn a_refused_commit_is_undone_locally() {
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), NoNickelback);
    server.system.create().await.unwrap();
    let client = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let _connection = LocalConnector::new(&server, &client);
    client.wait_durable_peer().await;
    let cctx = ctx(&client);

    let trx = cctx.begin();
    let id = trx.create(&album("Fine", "Muse", 2001)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = cctx.get::<AlbumView>(id).await.unwrap();

    let trx = cctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    edit.artist().set(&"Nickelback".to_string()).unwrap();
    edit.name().insert(0, "Not ").unwrap();
    let refused = trx
        .create(&album("Bad", "Nickelback", 2002))
        .await
        .unwrap()
        .id();
    let err = trx.commit().await.unwrap_err();
    assert!(
        matches!(err, MutationError::AccessDenied(_)),
        "the refusal keeps its kind: {err}"
    );
    assert_eq!(view.artist().unwrap(), "Muse", "the edit was undone");
    assert_eq!(view.name().unwrap(), "Fine", "the text edit too");
    assert!(
        cctx.get::<AlbumView>(refused).await.is_err(),
        "the refused creation is withdrawn"
    );
    assert_eq!(state_of(&client, id).await, state_of(&server, id).await);

    // Text edits after the undo travel and converge as before.
    let trx = cctx.begin();
    trx.edit::<Album>(&view)
        .unwrap()
        .name()
        .insert(4, "!")
        .unwrap();
    trx.commit().await.unwrap();
    let on_server = ctx(&server).get::<AlbumView>(id).await.unwrap();
    assert_eq!(on_server.name().unwrap(), "Fine!");
    assert_eq!(state_of(&client, id).await, state_of(&server, id).await);
}

async fn handshake_with(server: &Node, hello: Hello) -> Message {
    let (to_server, from_client) = queue(server.limits());
    let (to_client, mut from_server) = queue(server.limits());
    let session = {
        let server = server.clone();
        tokio::spawn(async move { server.run_peer(to_client, from_client).await })
    };
    to_server.send(Message::Hello(hello)).await.unwrap();
    assert!(matches!(from_server.recv().await, Some(Message::Hello(_))));
    let reply = from_server.recv().await.unwrap();
    assert!(matches!(session.await.unwrap(), Err(PeerError::Refused(_))));
    reply
}

#[tokio::test]
async fn peers_of_another_version_or_system_are_refused() {
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let system = server.system.create().await.unwrap();
    let newer = Hello {
        protocol_version: PROTOCOL_VERSION + 1,
        system_id: Some(system),
        node_id: NodeId::new(),
        durable: false,
        credential: None,
        challenge: None,
    };
    match handshake_with(&server, newer).await {
        Message::Goodbye { reason, .. } => assert!(reason.contains("protocol version"), "{reason}"),
        other => panic!("expected Goodbye, got {other:?}"),
    }
    let other_system = Hello {
        protocol_version: PROTOCOL_VERSION,
        system_id: Some(ankurah_core::SystemId::new()),
        node_id: NodeId::new(),
        durable: false,
        credential: None,
        challenge: None,
    };
    match handshake_with(&server, other_system).await {
        Message::Goodbye { reason, .. } => assert!(reason.contains("system"), "{reason}"),
        other => panic!("expected Goodbye, got {other:?}"),
    }
    assert_eq!(server.peer_count(), 0);
}

/// An ephemeral peer played by hand: the queues to and from the server, after `Hello`.
async fn raw_peer(
    server: &Node,
) -> (
    QueueSender,
    QueueReceiver,
    tokio::task::JoinHandle<Result<(), PeerError>>,
) {
    let (to_server, from_peer) = queue(server.limits());
    let (to_peer, mut from_server) = queue(server.limits());
    let session = {
        let server = server.clone();
        tokio::spawn(async move { server.run_peer(to_peer, from_peer).await })
    };
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        system_id: server.system.system_id(),
        node_id: NodeId::new(),
        durable: false,
        credential: None,
        challenge: None,
    };
    to_server.send(Message::Hello(hello)).await.unwrap();
    assert!(matches!(from_server.recv().await, Some(Message::Hello(_))));
    (to_server, from_server, session)
}

/// Commits `events` as request `id`, answering the server's `GetEvents` from `known`
/// (nothing else), and returns the answer and how many `GetEvents` came.
async fn commit_raw(
    to_server: &QueueSender,
    from_server: &mut QueueReceiver,
    id: u64,
    events: Vec<Event>,
    known: &[Event],
) -> (Response, usize) {
    let commit = Message::Request {
        id,
        request: Request::Commit { events },
    };
    to_server.send(commit).await.unwrap();
    let mut asked = 0;
    loop {
        match from_server.recv().await.expect("the server answers") {
            Message::Request {
                id: ask,
                request: Request::GetEvents { ids, .. },
            } => {
                asked += 1;
                let events = known
                    .iter()
                    .filter(|e| ids.contains(&e.id))
                    .cloned()
                    .collect();
                let answer = Message::Response {
                    id: ask,
                    response: Response::Events(events),
                };
                to_server.send(answer).await.unwrap();
            }
            Message::Response {
                id: answered,
                response,
            } if answered == id => return (response, asked),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_commit_with_ancestors_nobody_has_is_refused_whole_and_harms_no_later_commit() {
    // History made elsewhere: an album with three events, and a second, unrelated album.
    let origin_storage = Arc::new(MemoryStorage::new());
    let origin = Node::new_durable(origin_storage.clone(), PermissiveAgent::new());
    origin.system.create().await.unwrap();
    let octx = ctx(&origin);
    let trx = octx.begin();
    let first = trx.create(&album("a", "b", 1)).await.unwrap().id();
    let second = trx.create(&album("c", "d", 2)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = octx.get::<AlbumView>(first).await.unwrap();
    for year in [2, 3] {
        let trx = octx.begin();
        trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
        trx.commit().await.unwrap();
    }
    let history = stored_events(origin_storage.as_ref(), first).await;
    let unrelated = stored_events(origin_storage.as_ref(), second).await;

    let storage = Arc::new(MemoryStorage::new());
    let server = Node::new_durable(storage.clone(), PermissiveAgent::new());
    server.system.create().await.unwrap();
    let (to_server, mut from_server, _session) = raw_peer(&server).await;
    let stored = |id| {
        let storage = storage.clone();
        async move { stored_events(storage.as_ref(), id).await.len() }
    };

    // The last event alone, its ancestors unknown to the committer too: refused, and the
    // good event committed beside it is not stored either.
    let batch = vec![unrelated[0].clone(), history[2].clone()];
    let (answer, asked) = commit_raw(&to_server, &mut from_server, 1, batch, &[]).await;
    match answer {
        Response::Error(error) => {
            assert_eq!(error.kind, ErrorKind::InvalidEvent, "{error}");
            assert!(error.message.contains("unknown to both peers"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        asked, 1,
        "the committer alone is asked, once it has nothing more"
    );
    assert_eq!(
        (stored(first).await, stored(second).await),
        (0, 0),
        "nothing stored"
    );

    // Later commits are not affected: no question about the old gap, and they are stored.
    let (answer, asked) = commit_raw(&to_server, &mut from_server, 2, unrelated.clone(), &[]).await;
    assert_eq!((answer, asked), (Response::Committed, 0));
    assert_eq!(stored(second).await, 1);
    let (answer, asked) = commit_raw(&to_server, &mut from_server, 3, history.clone(), &[]).await;
    assert_eq!((answer, asked), (Response::Committed, 0));
    assert_eq!(stored(first).await, 3);
    assert_eq!(
        state_of(&server, first).await,
        state_of(&origin, first).await
    );
}

#[tokio::test]
async fn a_commit_whose_ancestors_are_unknown_fetches_them_from_the_sender() {
    // Events made elsewhere: a creation and two edits, each the parent of the next.
    let origin_storage = Arc::new(MemoryStorage::new());
    let origin = Node::new_durable(origin_storage.clone(), PermissiveAgent::new());
    origin.system.create().await.unwrap();
    let octx = ctx(&origin);
    let trx = octx.begin();
    let id = trx.create(&album("a", "b", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = octx.get::<AlbumView>(id).await.unwrap();
    for year in [2, 3] {
        let trx = octx.begin();
        trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
        trx.commit().await.unwrap();
    }
    let history = stored_events(origin_storage.as_ref(), id).await;
    assert_eq!(history.len(), 3);

    // A raw peer commits only the last event; the server must ask it for the others.
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    server.system.create().await.unwrap();
    let (to_server, mut from_server, session) = raw_peer(&server).await;
    let last = vec![history[2].clone()];
    let (answer, asked) = commit_raw(&to_server, &mut from_server, 7, last, &history).await;
    assert_eq!(answer, Response::Committed);
    assert!(asked >= 1);
    assert_eq!(
        ctx(&server)
            .get::<AlbumView>(id)
            .await
            .unwrap()
            .year()
            .unwrap(),
        3
    );
    assert_eq!(state_of(&server, id).await, state_of(&origin, id).await);
    drop(to_server);
    session.await.unwrap().unwrap();
}

/// The next message from the server that is not a request of its own.
async fn next_from(from_server: &mut QueueReceiver) -> Message {
    tokio::time::timeout(Duration::from_secs(10), from_server.recv())
        .await
        .expect("the server sends within the bound")
        .expect("the session is open")
}

#[tokio::test]
async fn a_followed_entity_is_pushed_until_unfollowed_and_follows_are_bounded() {
    let server = Node::with_config(
        Arc::new(MemoryStorage::new()),
        PermissiveAgent::new(),
        true,
        ankurah_core::NodeConfig {
            limits: ankurah_core::Limits {
                max_followed_per_peer: 2,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    server.system.create().await.unwrap();
    let sctx = ctx(&server);
    let trx = sctx.begin();
    let id = trx.create(&album("a", "b", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let (to_server, mut from_server, _session) = raw_peer(&server).await;
    let follow = |id: u64, ids: Vec<EntityId>| Message::Request {
        id,
        request: Request::Follow {
            collection: "album".into(),
            known: ids
                .into_iter()
                .map(|e| (e, ankurah_core::Clock::default()))
                .collect(),
        },
    };

    to_server.send(follow(1, vec![id])).await.unwrap();
    match next_from(&mut from_server).await {
        Message::Response {
            id: 1,
            response: Response::Deltas(deltas),
        } => assert_eq!(deltas.len(), 1, "the state of the followed entity"),
        other => panic!("unexpected {other:?}"),
    }
    let view = sctx.get::<AlbumView>(id).await.unwrap();
    let trx = sctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&2).unwrap();
    trx.commit().await.unwrap();
    match next_from(&mut from_server).await {
        Message::Update {
            subscription: ankurah_core::proto::FOLLOWED,
            deltas,
        } => assert_eq!(deltas.len(), 1),
        other => panic!("unexpected {other:?}"),
    }

    // Over the limit: refused, and nothing of the request is followed.
    to_server
        .send(follow(2, vec![EntityId::new(), EntityId::new()]))
        .await
        .unwrap();
    match next_from(&mut from_server).await {
        Message::Response {
            id: 2,
            response: Response::Error(error),
        } => assert_eq!(error.kind, ErrorKind::LimitExceeded, "{error}"),
        other => panic!("unexpected {other:?}"),
    }

    let unfollow = Message::Request {
        id: 3,
        request: Request::Unfollow { ids: vec![id] },
    };
    to_server.send(unfollow).await.unwrap();
    assert!(matches!(
        next_from(&mut from_server).await,
        Message::Response {
            id: 3,
            response: Response::Unfollowed
        }
    ));
    let trx = sctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&3).unwrap();
    trx.commit().await.unwrap();
    // An update would be on its way by now; the next message must be the answer to a
    // later request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let get = Message::Request {
        id: 4,
        request: Request::Get {
            collection: "album".into(),
            ids: vec![id],
            known: vec![],
        },
    };
    to_server.send(get).await.unwrap();
    assert!(matches!(
        next_from(&mut from_server).await,
        Message::Response { id: 4, .. }
    ));
}
