//! A text edited in many small transactions keeps a state proportional to its content: the
//! node writes an entity's text under one yrs client id, whatever the number of transactions.

mod common;

use std::sync::Arc;

use ankurah_core::model::Mutable;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{EntityId, Node, PermissiveAgent, DEFAULT_CONTEXT};
use common::{album, stored_state, Album, AlbumView};

/// Types `count` characters at the end of the album's name, one transaction each.
async fn type_characters(node: &Node, id: EntityId, count: u32) {
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    for _ in 0..count {
        let length = view.name().unwrap().chars().count() as u32;
        let trx = ctx.begin();
        trx.edit::<Album>(&view)
            .unwrap()
            .name()
            .insert(length, "x")
            .unwrap();
        trx.commit().await.unwrap();
    }
}

async fn text_state_len(storage: &MemoryStorage, id: EntityId) -> usize {
    stored_state(storage, id).await.state.backends["yrs"].len()
}

#[tokio::test]
async fn typing_one_character_per_transaction() {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let trx = node.context(DEFAULT_CONTEXT).unwrap().begin();
    let id = trx.create(&album("", "a", 2000)).await.unwrap().id();
    trx.commit().await.unwrap();

    type_characters(&node, id, 1000).await;
    let typed = text_state_len(&storage, id).await;
    // One client entry per transaction would take about 20 bytes per character.
    assert!(typed < 1200, "{typed} bytes for 1000 characters");

    // A node that loads the entity from storage continues under one id of its own.
    drop(node);
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    type_characters(&node, id, 1000).await;
    let retyped = text_state_len(&storage, id).await;
    assert!(retyped < 2300, "{retyped} bytes for 2000 characters");
}

#[tokio::test]
async fn concurrent_transactions_write_under_different_ids() {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx.create(&album("ab", "a", 2000)).await.unwrap().id();
    trx.commit().await.unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();

    // Both transactions insert at the same position of the same state; each holds its own
    // client id, so both inserts survive and the order between them is yrs's, the same on
    // every replica.
    let (first, second) = (ctx.begin(), ctx.begin());
    trx_insert(&first, &view, "1");
    trx_insert(&second, &view, "2");
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let name = view.name().unwrap();
    assert!(name == "a12b" || name == "a21b", "{name}");

    // A node reading the stored state agrees.
    let replica = Node::new_durable(storage.clone(), PermissiveAgent::new());
    replica.system.create().await.unwrap();
    let again = replica
        .context(DEFAULT_CONTEXT)
        .unwrap()
        .get::<AlbumView>(id)
        .await
        .unwrap();
    assert_eq!(again.name().unwrap(), name);
}

fn trx_insert(trx: &ankurah_core::Transaction, view: &AlbumView, text: &str) {
    trx.edit::<Album>(view)
        .unwrap()
        .name()
        .insert(1, text)
        .unwrap();
}
