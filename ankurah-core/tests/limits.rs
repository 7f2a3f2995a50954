//! The node's [`Limits`] on what it stores and what peers send: over a limit is a typed
//! error naming it, nothing is stored, and the refusal keeps its kind across the wire.

mod common;

use std::sync::Arc;

use ankurah_core::model::Mutable;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    ErrorKind, Limits, LocalConnector, MutationError, Node, NodeConfig, PermissiveAgent,
    RetrievalError, DEFAULT_CONTEXT,
};
use common::{album, AlbumView};

fn node_with(limits: Limits, durable: bool) -> Node {
    let config = NodeConfig {
        limits,
        ..NodeConfig::default()
    };
    Node::with_config(
        Arc::new(MemoryStorage::new()),
        PermissiveAgent::new(),
        durable,
        config,
    )
}

#[tokio::test]
async fn an_entity_over_the_size_limit_is_refused_and_not_stored() {
    let node = node_with(
        Limits {
            max_entity_bytes: 1_000,
            ..Limits::default()
        },
        true,
    );
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx
        .create(&album(&"x".repeat(5_000), "artist", 2000))
        .await
        .unwrap()
        .id();
    match trx.commit().await {
        Err(MutationError::LimitExceeded(error)) => {
            assert_eq!(error.limit, 1_000);
            assert!(error.to_string().contains("entity state size"), "{error}");
        }
        other => panic!("expected a limit error, got {other:?}"),
    }
    assert!(matches!(
        ctx.get::<AlbumView>(id).await,
        Err(RetrievalError::NotFound { .. })
    ));
    // Within the limit all is well.
    let trx = ctx.begin();
    trx.create(&album("short", "artist", 2000)).await.unwrap();
    trx.commit().await.unwrap();
}

#[tokio::test]
async fn a_commit_over_the_servers_limit_is_refused_with_its_kind_and_undone() {
    let server = node_with(
        Limits {
            max_transaction_events: 3,
            ..Limits::default()
        },
        true,
    );
    server.system.create().await.unwrap();
    let client = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    let _connection = LocalConnector::new(&server, &client);
    client.system.wait_system_ready().await;
    client.wait_durable_peer().await;
    let ctx = client.context(DEFAULT_CONTEXT).unwrap();

    let trx = ctx.begin();
    let mut ids = Vec::new();
    for year in 0..5 {
        ids.push(trx.create(&album("a", "b", year)).await.unwrap().id());
    }
    match trx.commit().await {
        Err(MutationError::Rejected(error)) => {
            assert_eq!(error.kind, ErrorKind::LimitExceeded, "{error}");
            assert!(error.message.contains("events in one commit"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    for id in ids {
        assert!(
            ctx.get::<AlbumView>(id).await.is_err(),
            "undone on the client"
        );
        let on_server = server.context(DEFAULT_CONTEXT).unwrap();
        assert!(on_server.get::<AlbumView>(id).await.is_err(), "not stored");
    }
}
