//! Reads of the past: for random histories (several replicas, concurrent edits and deletes,
//! random delivery), the state `get_at` returns at time T is, byte for byte, the state of a
//! replica that received exactly the events up to T, and `fetch_at` agrees with a query on
//! that replica; `history`, `diff` and `blame` name the right events and authors.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ankurah_core::model::View;
use ankurah_core::policy::ContextData;
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    At, Clock, Context, EntityId, Event, EventId, Node, PermissiveAgent, RetrievalError, Value,
    DEFAULT_CONTEXT,
};
use common::{Album, AlbumView};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const NODES: usize = 3;
const ALBUMS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    SetYear {
        node: usize,
        album: usize,
        year: i32,
    },
    Insert {
        node: usize,
        album: usize,
        pos: usize,
        text: String,
    },
    Delete {
        node: usize,
        album: usize,
    },
    /// Every event `from` holds, delivered to `to` in a random causal-respecting batch.
    Deliver {
        from: usize,
        to: usize,
        seed: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let (node, album) = (0..NODES, 0..ALBUMS);
    prop_oneof![
        4 => (node.clone(), album.clone(), 1990..2010i32)
            .prop_map(|(node, album, year)| Op::SetYear { node, album, year }),
        3 => (node.clone(), album.clone(), 0..20usize, "[a-z ]{1,3}")
            .prop_map(|(node, album, pos, text)| Op::Insert { node, album, pos, text }),
        1 => (node.clone(), album).prop_map(|(node, album)| Op::Delete { node, album }),
        3 => (node.clone(), node, any::<u64>())
            .prop_map(|(from, to, seed)| Op::Deliver { from, to, seed }),
    ]
}

async fn durable() -> (Node, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    (node, storage)
}

/// Every event a store holds of the albums, in id order.
async fn all_events(storage: &MemoryStorage, ids: &[EntityId]) -> Vec<Event> {
    let mut all = BTreeMap::new();
    for id in ids {
        for event in common::stored_events(storage, *id).await {
            all.insert(event.id, event);
        }
    }
    all.into_values().collect()
}

/// `events` applied to `node`, shuffled: staging sorts out the order.
async fn deliver(node: &Node, mut events: Vec<Event>, seed: u64) {
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut pending = events;
    // Events arriving before their parents come back; deliver them again until all are in.
    for _ in 0..pending.len() + 1 {
        if pending.is_empty() {
            break;
        }
        pending = node
            .apply_events(DEFAULT_CONTEXT, pending)
            .await
            .unwrap()
            .waiting;
    }
    assert!(pending.is_empty(), "every delivered event applied");
}

/// The moment that includes every event made up to the millisecond of `id`.
fn moment_of(id: EventId) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(id.timestamp_ms())
}

/// The state bytes of album `id` on `node`, or why there is none.
async fn state_on(ctx: &Context, id: EntityId) -> Result<Vec<u8>, String> {
    match ctx.get::<AlbumView>(id).await {
        Ok(view) => Ok(view.entity().to_state().encode()),
        Err(RetrievalError::NotFound { .. }) => Err("not found".into()),
        Err(RetrievalError::Deleted { .. }) => Err("deleted".into()),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

async fn state_at(ctx: &Context, id: EntityId, at: SystemTime) -> Result<Vec<u8>, String> {
    match ctx.get_at::<AlbumView>(id, at).await {
        Ok(view) => Ok(view.entity().to_state().encode()),
        Err(RetrievalError::NotFound { .. }) => Err("not found".into()),
        Err(RetrievalError::Deleted { .. }) => Err("deleted".into()),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

async fn run(ops: Vec<Op>) {
    let mut replicas = Vec::new();
    for _ in 0..NODES {
        replicas.push(durable().await);
    }
    let contexts: Vec<Context> = replicas
        .iter()
        .enumerate()
        .map(|(n, (node, _))| {
            node.context(&ContextData::for_principal(format!("user{n}")))
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for n in 0..ALBUMS {
        ids.push(common::create(&contexts[n % NODES], &format!("album{n}"), 2000).await);
    }
    let created = all_events_of(&replicas, &ids).await;
    for (node, _) in &replicas {
        deliver(node, created.clone(), 1).await;
    }

    for op in ops {
        // Events of different steps mostly land in different milliseconds.
        tokio::time::sleep(Duration::from_millis(1)).await;
        match op {
            Op::Deliver { from, to, seed } => {
                let events = all_events(&replicas[from].1, &ids).await;
                deliver(&replicas[to].0, events, seed).await;
            }
            Op::SetYear { node, album, .. }
            | Op::Insert { node, album, .. }
            | Op::Delete { node, album } => {
                let ctx = &contexts[node];
                let Ok(view) = ctx.get::<AlbumView>(ids[album]).await else {
                    continue; // deleted here already
                };
                let trx = ctx.begin();
                match op {
                    Op::SetYear { year, .. } => {
                        trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap()
                    }
                    Op::Insert { pos, text, .. } => {
                        let len = view.name().unwrap().chars().count();
                        let edit = trx.edit::<Album>(&view).unwrap();
                        edit.name().insert((pos % (len + 1)) as u32, &text).unwrap()
                    }
                    _ => trx.delete(&view).unwrap(),
                }
                trx.commit().await.unwrap();
            }
        }
    }

    // Heal: the first replica gets everything and answers the reads of the past.
    let all = all_events_of(&replicas, &ids).await;
    let (subject, _) = &replicas[0];
    deliver(subject, all.clone(), 9).await;
    let ctx = subject.context(DEFAULT_CONTEXT).unwrap();

    let mut moments: Vec<SystemTime> = all.iter().map(|e| moment_of(e.id)).collect();
    moments.push(moment_of(all[0].id) - Duration::from_millis(1));
    moments.sort();
    moments.dedup();
    for at in moments {
        let cut = at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let upto: Vec<Event> = all
            .iter()
            .filter(|e| e.id.timestamp_ms() <= cut)
            .cloned()
            .collect();
        let (reference, _) = durable().await;
        deliver(&reference, upto, 3).await;
        let reference = reference.context(DEFAULT_CONTEXT).unwrap();
        for id in &ids {
            assert_eq!(
                state_at(&ctx, *id, at).await,
                state_on(&reference, *id).await,
                "album {id} at {at:?}"
            );
        }
        for query in [
            "year >= 2000",
            "year < 2000 OR name LIKE '%a%'",
            "ORDER BY year DESC LIMIT 2",
        ] {
            let past: Vec<EntityId> = ctx
                .fetch_at::<AlbumView>(query, at)
                .await
                .unwrap()
                .iter()
                .map(|v| v.id())
                .collect();
            let then: Vec<EntityId> = reference
                .fetch::<AlbumView>(query)
                .await
                .unwrap()
                .iter()
                .map(|v| v.id())
                .collect();
            assert_eq!(past, then, "`{query}` at {at:?}");
        }
    }
}

async fn all_events_of(replicas: &[(Node, Arc<MemoryStorage>)], ids: &[EntityId]) -> Vec<Event> {
    let mut all = BTreeMap::new();
    for (_, storage) in replicas {
        for event in all_events(storage, ids).await {
            all.insert(event.id, event);
        }
    }
    all.into_values().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn the_past_is_what_a_replica_held_then(ops in proptest::collection::vec(op(), 1..24)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}

/// Two users edit the same album concurrently on two replicas, then exchange events.
async fn concurrent_edits() -> (Node, EntityId, [EventId; 4]) {
    let (alice, alice_store) = durable().await;
    let (bob, bob_store) = durable().await;
    let alice_cx = alice.context(&ContextData::for_principal("alice")).unwrap();
    let bob_cx = bob.context(&ContextData::for_principal("bob")).unwrap();
    let id = common::create(&alice_cx, "Origin", 2001).await;
    deliver(
        &bob,
        common::stored_events(alice_store.as_ref(), id).await,
        1,
    )
    .await;

    let edit = |ctx: Context, year: i32, text: &'static str| async move {
        let view = ctx.get::<AlbumView>(id).await.unwrap();
        let trx = ctx.begin();
        let album = trx.edit::<Album>(&view).unwrap();
        album.year().set(&year).unwrap();
        album.name().insert(0, text).unwrap();
        trx.commit().await.unwrap();
    };
    edit(alice_cx.clone(), 2002, "A").await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    edit(bob_cx.clone(), 2003, "B").await;
    // Alice renames once more, without having seen Bob's edit: her text edit is the newest.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let view = alice_cx.get::<AlbumView>(id).await.unwrap();
    let trx = alice_cx.begin();
    trx.edit::<Album>(&view)
        .unwrap()
        .name()
        .insert(1, "a")
        .unwrap();
    trx.commit().await.unwrap();

    deliver(
        &alice,
        common::stored_events(bob_store.as_ref(), id).await,
        2,
    )
    .await;
    let events = common::stored_events(alice_store.as_ref(), id).await;
    assert_eq!(events.len(), 4, "genesis, alice, bob, alice again");
    let ids = [events[0].id, events[1].id, events[2].id, events[3].id];
    (alice, id, ids)
}

#[tokio::test]
async fn blame_names_the_winning_write_and_every_text_edit() {
    let (node, id, [genesis, alice, bob, alice_again]) = concurrent_edits().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    assert_eq!(view.year().unwrap(), 2003, "bob's later write wins");

    let blame: BTreeMap<String, _> = ctx
        .blame::<AlbumView>(id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.property.clone(), b))
        .collect();
    let year = &blame["year"];
    assert_eq!((year.event, year.author.as_str()), (bob, "bob"));
    assert_eq!(year.touched, vec![genesis, alice, bob]);
    assert_eq!(year.time, bob.time());
    let artist = &blame["artist"];
    assert_eq!((artist.event, artist.author.as_str()), (genesis, "alice"));
    let name = &blame["name"];
    assert_eq!(
        (name.event, name.author.as_str()),
        (alice_again, "alice"),
        "the last text edit gave the name its value"
    );
    assert_eq!(name.touched, vec![genesis, alice, bob, alice_again]);

    let history = ctx.history::<AlbumView>(id).await.unwrap();
    let summary: Vec<(EventId, &str, Vec<&str>)> = history
        .iter()
        .map(|h| {
            (
                h.id,
                h.author.as_str(),
                h.changed.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (genesis, "alice", vec!["artist", "name", "year"]),
            (alice, "alice", vec!["name", "year"]),
            (bob, "bob", vec!["name", "year"]),
            (alice_again, "alice", vec!["name"]),
        ]
    );
    assert_eq!(
        history[3].parent,
        Clock::from_ids([alice]),
        "alice had not seen bob's edit"
    );
}

#[tokio::test]
async fn diff_and_clocks_name_moments_of_one_entity() {
    let (node, id, [genesis, alice, bob, _]) = concurrent_edits().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let diff = ctx
        .diff::<AlbumView>(id, Clock::from_ids([genesis]), Clock::from_ids([bob]))
        .await
        .unwrap();
    let changed: Vec<(&str, Option<&Value>, Option<&Value>)> = diff
        .iter()
        .map(|d| (d.property.as_str(), d.before.as_ref(), d.after.as_ref()))
        .collect();
    assert_eq!(
        changed,
        vec![
            (
                "name",
                Some(&Value::from("Origin")),
                Some(&Value::from("BOrigin"))
            ),
            ("year", Some(&Value::I64(2001)), Some(&Value::I64(2003))),
        ],
        "bob's edit was made on the genesis state alone"
    );
    let both = ctx
        .get_at::<AlbumView>(id, Clock::from_ids([alice, bob]))
        .await
        .unwrap();
    assert_eq!(both.year().unwrap(), 2003);
    assert_eq!(both.name().unwrap().len(), "ABOrigin".len());
    // Before the entity existed.
    let before = moment_of(genesis) - Duration::from_millis(1);
    assert!(matches!(
        ctx.get_at::<AlbumView>(id, before).await,
        Err(RetrievalError::NotFound { .. })
    ));
    assert!(
        ctx.diff::<AlbumView>(id, before, moment_of(genesis))
            .await
            .unwrap()
            .len()
            == 3
    );
}

#[tokio::test]
async fn a_deleted_entity_is_found_in_the_past_and_its_history_stays() {
    let (node, _) = durable().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let id = common::create(&ctx, "Gone", 1999).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let alive = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    trx.delete(&view).unwrap();
    trx.commit().await.unwrap();

    assert!(matches!(
        ctx.get::<AlbumView>(id).await,
        Err(RetrievalError::Deleted { .. })
    ));
    assert!(matches!(
        ctx.get_at::<AlbumView>(id, SystemTime::now()).await,
        Err(RetrievalError::Deleted { .. })
    ));
    let then = ctx.get_at::<AlbumView>(id, alive).await.unwrap();
    assert_eq!(then.name().unwrap(), "Gone");
    let found = ctx
        .fetch_at::<AlbumView>("year = 1999", alive)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the deleted album matched then");
    assert!(ctx
        .fetch::<AlbumView>("year = 1999")
        .await
        .unwrap()
        .is_empty());
    let history = ctx.history::<AlbumView>(id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[1].deleted && !history[0].deleted);

    let unknown = EntityId::new();
    assert!(matches!(
        ctx.history::<AlbumView>(unknown).await,
        Err(RetrievalError::NotFound { .. })
    ));
    assert!(
        "yesterday".parse::<At>().is_err(),
        "a moment that does not parse is an error"
    );
    assert_eq!(
        "1970-01-01T00:00:01Z".parse::<At>().unwrap(),
        "1000".parse::<At>().unwrap()
    );
}

#[tokio::test]
async fn dynamic_access_reads_any_collection_as_maps() {
    let (node, _) = durable().await;
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let id = common::create(&ctx, "Showbiz", 1999).await;
    let albums = ctx.dynamic("album");
    let map = albums.get(id).await.unwrap();
    assert_eq!(map.values.get("name"), Some(&Value::from("Showbiz")));
    assert_eq!(map.values.get("year"), Some(&Value::I64(1999)));
    assert_eq!(
        map.head,
        ctx.get::<AlbumView>(id).await.unwrap().entity().head()
    );
    let found = albums.fetch("year < 2000").await.unwrap();
    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    assert!(ctx.dynamic("nothing").fetch("").await.unwrap().is_empty());
    assert!(matches!(
        albums.fetch("year <").await,
        Err(RetrievalError::Parse(_))
    ));

    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let log = seen.clone();
    let _guard = albums
        .subscribe("year >= 2000", move |changes| {
            log.lock()
                .extend(changes.changes.iter().map(|c| (c.kind(), c.entity().id)));
        })
        .await
        .unwrap();
    common::set_year(&ctx, id, 2005).await;
    common::eventually("the map query sees the album enter", || {
        seen.lock().iter().any(|(_, seen)| *seen == id)
    })
    .await;
    assert_eq!(albums.events(id).await.unwrap().len(), 2);
}
