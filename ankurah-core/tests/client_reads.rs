//! What an ephemeral node reads: `get`, `fetch` and held views reflect the durable peer
//! while connected (with no live query held), deletions reach all of them, offline reads
//! say they are local, and a client shut down offline keeps its commits.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ankurah_core::model::{Mutable, View};
use ankurah_core::signals::Subscribe;
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::{
    Context, EntityId, Limits, LocalConnector, MutationError, Node, NodeConfig, PermissiveAgent,
    PropertyError, ReadSource, RetrievalError, DEFAULT_CONTEXT,
};
use common::{album, Album, AlbumView};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT).unwrap()
}

async fn server() -> Node {
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    server.system.create().await.unwrap();
    server
}

/// A client on its own store, connected to `server`.
async fn client(server: &Node) -> (Node, Arc<MemoryStorage>, LocalConnector) {
    let storage = Arc::new(MemoryStorage::new());
    let client = Node::new(storage.clone(), PermissiveAgent::new());
    let connection = LocalConnector::new(server, &client);
    client.system.wait_system_ready().await;
    client.wait_durable_peer().await;
    (client, storage, connection)
}

/// Held views must follow remote changes within a second.
async fn within_a_second(what: &str, check: impl Fn() -> bool) {
    ankurah_core::testing::within(Duration::from_secs(1), what, check).await
}

async fn set_name(ctx: &Context, id: EntityId, name: &str) {
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    let edit = trx.edit::<Album>(&view).unwrap();
    let old = edit.name().value().unwrap().chars().count() as u32;
    edit.name().delete(0, old).unwrap();
    edit.name().insert(0, name).unwrap();
    trx.commit().await.unwrap();
}

async fn delete(ctx: &Context, id: EntityId) {
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    trx.delete(&view).unwrap();
    trx.commit().await.unwrap();
}

fn names(views: &[AlbumView]) -> Vec<String> {
    let mut names: Vec<String> = views.iter().map(|v| v.name().unwrap()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_client_without_live_queries_sees_remote_edits_and_deletes() {
    let server = server().await;
    let (a, _, _ca) = client(&server).await;
    let (b, _, _cb) = client(&server).await;
    let trx = ctx(&a).begin();
    let id = trx.create(&album("note", "a", 2001)).await.unwrap().id();
    trx.create(&album("other", "a", 1990)).await.unwrap();
    trx.commit().await.unwrap();
    let held = ctx(&a).get::<AlbumView>(id).await.unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let _signal = {
        let fired = fired.clone();
        held.subscribe(move |_: AlbumView| {
            fired.fetch_add(1, Ordering::SeqCst);
        })
    };

    // B's commit has been acknowledged: the server has it, so A's reads have it at once.
    set_name(&ctx(&b), id, "edited by b").await;
    let read = ctx(&a).get_sourced::<AlbumView>(id).await.unwrap();
    assert_eq!(read.source, ReadSource::Durable);
    assert_eq!(read.value.name().unwrap(), "edited by b");
    let fetched = ctx(&a).fetch::<AlbumView>("").await.unwrap();
    assert_eq!(names(&fetched), ["edited by b", "other"]);
    within_a_second("the held view shows b's edit", || {
        held.name().ok().as_deref() == Some("edited by b")
    })
    .await;
    within_a_second("the held view's signal fired", || {
        fired.load(Ordering::SeqCst) > 0
    })
    .await;

    // A view held without reading again follows too.
    set_name(&ctx(&b), id, "again").await;
    within_a_second("the held view shows b's second edit", || {
        held.name().ok().as_deref() == Some("again")
    })
    .await;

    delete(&ctx(&b), id).await;
    assert!(matches!(
        ctx(&a).get::<AlbumView>(id).await,
        Err(RetrievalError::Deleted { .. })
    ));
    let fetched = ctx(&a).fetch::<AlbumView>("").await.unwrap();
    assert_eq!(
        names(&fetched),
        ["other"],
        "a deleted entity is not fetched"
    );
    within_a_second("the held view is deleted", || held.is_deleted()).await;
    assert!(matches!(held.name(), Err(PropertyError::Deleted { .. })));
}

#[tokio::test]
async fn a_client_offline_during_remote_changes_catches_up_on_reconnect() {
    let server = server().await;
    let (a, _, connection) = client(&server).await;
    let (b, _, _cb) = client(&server).await;
    let trx = ctx(&a).begin();
    let kept = trx.create(&album("kept", "a", 2001)).await.unwrap().id();
    let gone = trx.create(&album("gone", "a", 2002)).await.unwrap().id();
    trx.commit().await.unwrap();
    let held_kept = ctx(&a).get::<AlbumView>(kept).await.unwrap();
    let held_gone = ctx(&a).get::<AlbumView>(gone).await.unwrap();

    connection.disconnect();
    within_a_second("a notices", || a.peer_count() == 0).await;
    set_name(&ctx(&b), kept, "renamed").await;
    delete(&ctx(&b), gone).await;
    // Offline, A answers from its store and says so.
    let read = ctx(&a).get_sourced::<AlbumView>(kept).await.unwrap();
    assert_eq!(read.source, ReadSource::Local);
    assert_eq!(read.value.name().unwrap(), "kept");
    let fetched = ctx(&a).fetch_sourced::<AlbumView>("").await.unwrap();
    assert_eq!(fetched.source, ReadSource::Local);
    assert_eq!(fetched.value.len(), 2);

    let _reconnected = LocalConnector::new(&server, &a);
    a.wait_durable_peer().await;
    within_a_second("the held views catch up", || {
        held_kept.name().ok().as_deref() == Some("renamed") && held_gone.is_deleted()
    })
    .await;
    let fetched = ctx(&a).fetch_sourced::<AlbumView>("").await.unwrap();
    assert_eq!(fetched.source, ReadSource::Durable);
    assert_eq!(names(&fetched.value), ["renamed"]);
    assert!(matches!(
        ctx(&a).get::<AlbumView>(gone).await,
        Err(RetrievalError::Deleted { .. })
    ));
}

#[tokio::test]
async fn a_fetch_brings_entities_that_stopped_matching_up_to_date() {
    let server = server().await;
    let (a, _, _ca) = client(&server).await;
    let (b, _, _cb) = client(&server).await;
    let trx = ctx(&a).begin();
    let id = trx.create(&album("moved", "a", 2001)).await.unwrap().id();
    trx.commit().await.unwrap();
    assert_eq!(
        ctx(&a)
            .fetch::<AlbumView>("year > 2000")
            .await
            .unwrap()
            .len(),
        1
    );
    // Drop every view, so the entity is only cached, not followed, before b moves it.
    let view = ctx(&b).get::<AlbumView>(id).await.unwrap();
    let trx = ctx(&b).begin();
    trx.edit::<Album>(&view).unwrap().year().set(&1999).unwrap();
    trx.commit().await.unwrap();
    assert!(ctx(&a)
        .fetch::<AlbumView>("year > 2000")
        .await
        .unwrap()
        .is_empty());
    let older = ctx(&a).fetch::<AlbumView>("year < 2000").await.unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].year().unwrap(), 1999);
}

#[tokio::test]
async fn a_fetch_matching_more_than_one_request_may_name_brings_all_of_them_up_to_date() {
    // The server takes at most two known heads per request; the client keeps nothing
    // resident, so that only its reads can bring its store up to date.
    let tight = Limits {
        max_ids_per_request: 2,
        ..Limits::default()
    };
    let server = Node::with_config(
        Arc::new(MemoryStorage::new()),
        PermissiveAgent::new(),
        true,
        NodeConfig {
            limits: tight.clone(),
            ..NodeConfig::default()
        },
    );
    server.system.create().await.unwrap();
    let a = Node::with_config(
        Arc::new(MemoryStorage::new()),
        PermissiveAgent::new(),
        false,
        NodeConfig {
            limits: tight,
            resident_entities: 0,
            ..NodeConfig::default()
        },
    );
    let _ca = LocalConnector::new(&server, &a);
    a.wait_durable_peer().await;
    let (b, _, _cb) = client(&server).await;
    let trx = ctx(&a).begin();
    let mut ids = Vec::new();
    for year in 2001..2006 {
        ids.push(trx.create(&album("x", "a", year)).await.unwrap().id());
    }
    trx.commit().await.unwrap();
    assert_eq!(ctx(&a).fetch::<AlbumView>("").await.unwrap().len(), 5);
    for id in &ids[1..] {
        delete(&ctx(&b), *id).await;
    }
    let left = ctx(&a).fetch::<AlbumView>("").await.unwrap();
    assert_eq!(left.iter().map(|v| v.id()).collect::<Vec<_>>(), ids[..1]);
}

#[tokio::test]
async fn a_durable_node_without_a_system_refuses_commits() {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let trx = ctx(&node).begin();
    trx.create(&album("x", "y", 1)).await.unwrap();
    let error = trx.commit().await.unwrap_err();
    assert!(matches!(error, MutationError::NoSystem), "{error:?}");
    assert!(
        error.to_string().contains("node.system.create()"),
        "{error}"
    );
    node.system.create().await.unwrap();
    let trx = ctx(&node).begin();
    trx.create(&album("x", "y", 1)).await.unwrap();
    trx.commit().await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_the_outbox_and_then_takes_no_commits() {
    let server = server().await;
    let (a, storage, connection) = client(&server).await;
    connection.disconnect();
    within_a_second("a notices", || a.peer_count() == 0).await;
    let trx = ctx(&a).begin();
    let offline = trx.create(&album("offline", "a", 2001)).await.unwrap().id();
    trx.commit().await.unwrap();

    // Reconnected, shutdown returns once the server has acknowledged the outbox.
    let _reconnected = LocalConnector::new(&server, &a);
    a.wait_durable_peer().await;
    let shutdown = a.shutdown().await.unwrap();
    assert_eq!(shutdown.unsent, 0);
    assert!(storage.outbox().await.unwrap().is_empty());
    assert!(ctx(&server).get::<AlbumView>(offline).await.is_ok());
    let trx = ctx(&a).begin();
    trx.create(&album("late", "a", 2002)).await.unwrap();
    assert!(matches!(trx.commit().await, Err(MutationError::ShutDown)));

    // Offline, it returns at once with what is left for the next start.
    let (c, _, connection) = client(&server).await;
    connection.disconnect();
    within_a_second("c notices", || c.peer_count() == 0).await;
    let trx = ctx(&c).begin();
    trx.create(&album("left", "c", 2003)).await.unwrap();
    trx.commit().await.unwrap();
    assert_eq!(c.shutdown().await.unwrap().unsent, 1);
}

/// Each client's answer to `query`, as (id, year) pairs, next to the server's.
async fn answers(nodes: &[Node], query: &str) -> Vec<Vec<(EntityId, i32)>> {
    let mut all = Vec::new();
    for node in nodes {
        let mut rows: Vec<(EntityId, i32)> = ctx(node)
            .fetch::<AlbumView>(query)
            .await
            .unwrap()
            .iter()
            .map(|v| (v.id(), v.year().unwrap()))
            .collect();
        rows.sort();
        all.push(rows);
    }
    all
}

/// Random creates, edits and deletes on random clients, with random disconnects; at each
/// quiet point (every client connected again, outboxes drained) every client's fetch of
/// several queries equals the server's.
#[tokio::test]
async fn random_changes_on_random_clients_agree_with_the_server_at_quiet_points() {
    const CLIENTS: usize = 3;
    const QUERIES: [&str; 4] = [
        "",
        "year > 2005",
        "year <= 2005",
        "year >= 2003 AND year < 2008",
    ];
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let server = server().await;
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let (node, storage, connection) = client(&server).await;
            clients.push((node, storage, Some(connection)));
        }
        let mut ids: Vec<EntityId> = Vec::new();
        for round in 0..6 {
            for _ in 0..12 {
                let which = rng.random_range(0..CLIENTS);
                let (node, _, connection) = &mut clients[which];
                let cx = ctx(node);
                match rng.random_range(0..10) {
                    0 => {
                        if let Some(connection) = connection.take() {
                            connection.disconnect();
                            within_a_second("the client notices", || node.peer_count() == 0).await;
                        }
                    }
                    1..=3 => {
                        let trx = cx.begin();
                        let year = rng.random_range(2000..2010);
                        ids.push(trx.create(&album("a", "r", year)).await.unwrap().id());
                        trx.commit().await.unwrap();
                    }
                    4..=7 if !ids.is_empty() => {
                        let id = ids[rng.random_range(0..ids.len())];
                        // A client may not have seen it (offline) or see it deleted.
                        if let Ok(view) = cx.get::<AlbumView>(id).await {
                            let trx = cx.begin();
                            let year = rng.random_range(2000..2010);
                            trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
                            trx.commit().await.unwrap();
                        }
                    }
                    _ if !ids.is_empty() => {
                        let id = ids[rng.random_range(0..ids.len())];
                        if let Ok(view) = cx.get::<AlbumView>(id).await {
                            let trx = cx.begin();
                            trx.delete(&view).unwrap();
                            trx.commit().await.unwrap();
                        }
                    }
                    _ => {}
                }
            }
            // Quiet point: everyone back, every outbox acknowledged.
            for (node, storage, connection) in &mut clients {
                if connection.is_none() {
                    *connection = Some(LocalConnector::new(&server, node));
                    node.wait_durable_peer().await;
                }
                for _ in 0..500 {
                    if storage.outbox().await.unwrap().is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                assert!(storage.outbox().await.unwrap().is_empty(), "seed {seed}");
            }
            let mut nodes = vec![server.clone()];
            nodes.extend(clients.iter().map(|(node, _, _)| node.clone()));
            for query in QUERIES {
                let answers = answers(&nodes, query).await;
                let by_node: BTreeMap<usize, &Vec<(EntityId, i32)>> =
                    answers.iter().enumerate().collect();
                for (i, answer) in &by_node {
                    assert_eq!(
                        *answer, &answers[0],
                        "seed {seed}, round {round}, query `{query}`: node {i} differs from the server"
                    );
                }
            }
        }
    }
}
