//! Replicas converge byte for byte whatever the delivery order: random edits of LWW and text
//! properties on several durable nodes, events delivered in random orders with duplicates
//! and gaps (out-of-order events are staged until their parents arrive).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use ankurah_core::model::{Mutable, View};
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    Entity, EntityId, Event, EventId, Node, PermissiveAgent, Value, DEFAULT_CONTEXT,
};
use common::{album, Album, AlbumView};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const NODES: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    SetYear {
        node: usize,
        year: i32,
    },
    SetArtist {
        node: usize,
        artist: String,
    },
    Insert {
        node: usize,
        pos: usize,
        text: String,
    },
    Delete {
        node: usize,
        pos: usize,
        len: usize,
    },
    /// Deliver a random subset of `from`'s events to `to`, shuffled, some twice.
    Deliver {
        from: usize,
        to: usize,
        seed: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    prop_oneof![
        (node.clone(), 1900..2100i32).prop_map(|(node, year)| Op::SetYear { node, year }),
        (node.clone(), "[a-z]{1,6}").prop_map(|(node, artist)| Op::SetArtist { node, artist }),
        (node.clone(), 0..40usize, "[a-zé€😀 ]{1,4}").prop_map(|(node, pos, text)| Op::Insert {
            node,
            pos,
            text
        }),
        (node.clone(), 0..40usize, 1..4usize).prop_map(|(node, pos, len)| Op::Delete {
            node,
            pos,
            len
        }),
        (node.clone(), node, any::<u64>()).prop_map(|(from, to, seed)| Op::Deliver {
            from,
            to,
            seed
        }),
    ]
}

struct Replica {
    node: Node,
    storage: Arc<MemoryStorage>,
    /// Events delivered before their ancestors, handed back by the node: the receiver
    /// keeps them and delivers them again with the next batch.
    waiting: parking_lot::Mutex<Vec<Event>>,
}

impl Replica {
    async fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
        node.system.create().await.unwrap();
        Replica {
            node,
            storage,
            waiting: Default::default(),
        }
    }

    async fn events(&self, id: EntityId) -> Vec<Event> {
        common::stored_events(self.storage.as_ref(), id).await
    }

    async fn view(&self, id: EntityId) -> AlbumView {
        self.node
            .context(DEFAULT_CONTEXT)
            .unwrap()
            .get::<AlbumView>(id)
            .await
            .unwrap()
    }

    async fn state_bytes(&self, id: EntityId) -> Vec<u8> {
        self.view(id).await.entity().to_state().encode()
    }
}

async fn deliver(events: &[Event], to: &Replica, rng: &mut impl Rng, all: bool) {
    let mut batch: Vec<Event> = events
        .iter()
        .filter(|_| all || rng.random_bool(0.6))
        .cloned()
        .collect();
    let dupes: Vec<Event> = batch
        .iter()
        .filter(|_| rng.random_bool(0.2))
        .cloned()
        .collect();
    batch.extend(dupes);
    batch.shuffle(rng);
    // Deliver in a few chunks so staging across calls is exercised too.
    let chunk = rng.random_range(1..=batch.len().max(1));
    for part in batch.chunks(chunk) {
        let mut events = std::mem::take(&mut *to.waiting.lock());
        events.extend_from_slice(part);
        let outcome = to.node.apply_events(DEFAULT_CONTEXT, events).await.unwrap();
        *to.waiting.lock() = outcome.waiting;
    }
}

async fn run(ops: Vec<Op>) {
    let mut replicas: Vec<Replica> = Vec::new();
    for _ in 0..NODES {
        replicas.push(Replica::new().await);
    }
    let ctx = replicas[0].node.context(DEFAULT_CONTEXT).unwrap();
    let trx = ctx.begin();
    let id = trx
        .create(&album("start", "nobody", 2000))
        .await
        .unwrap()
        .id();
    trx.commit().await.unwrap();
    let genesis = replicas[0].events(id).await;
    for replica in &replicas[1..] {
        replica
            .node
            .apply_events(DEFAULT_CONTEXT, genesis.clone())
            .await
            .unwrap();
    }

    for op in ops {
        match op {
            Op::Deliver { from, to, seed } => {
                let events = replicas[from].events(id).await;
                deliver(
                    &events,
                    &replicas[to],
                    &mut rand::rngs::StdRng::seed_from_u64(seed),
                    false,
                )
                .await;
            }
            Op::SetYear { node, .. }
            | Op::SetArtist { node, .. }
            | Op::Insert { node, .. }
            | Op::Delete { node, .. } => {
                let replica = &replicas[node];
                let view = replica.view(id).await;
                let len = view.name().unwrap().chars().count();
                let ctx = replica.node.context(DEFAULT_CONTEXT).unwrap();
                let trx = ctx.begin();
                let edit = view.edit_in(&trx);
                match op {
                    Op::SetYear { year, .. } => edit.year().set(&year).unwrap(),
                    Op::SetArtist { artist, .. } => edit.artist().set(&artist).unwrap(),
                    Op::Insert { pos, text, .. } => {
                        edit.name().insert((pos % (len + 1)) as u32, &text).unwrap()
                    }
                    Op::Delete { pos, len: n, .. } if len > 0 => {
                        let pos = pos % len;
                        edit.name()
                            .delete(pos as u32, n.min(len - pos) as u32)
                            .unwrap()
                    }
                    Op::Delete { .. } | Op::Deliver { .. } => {}
                }
                trx.commit().await.unwrap();
            }
        }
    }

    // Heal: everyone receives everything, in random orders with duplicates.
    let mut all: BTreeMap<EventId, Event> = BTreeMap::new();
    for replica in &replicas {
        all.extend(replica.events(id).await.into_iter().map(|e| (e.id, e)));
    }
    let all: Vec<Event> = all.into_values().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for replica in &replicas {
        deliver(&all, replica, &mut rng, true).await;
    }

    // Byte-identical states everywhere, equal to a replay in id order.
    let reference = replicas[0].state_bytes(id).await;
    for replica in &replicas[1..] {
        assert_eq!(
            replica.state_bytes(id).await,
            reference,
            "replicas diverged"
        );
    }
    // A fresh replica fed every event once, in id order, holds the same bytes; and a state
    // loaded from bytes re-encodes to them.
    let fresh = Replica::new().await;
    fresh
        .node
        .apply_events(DEFAULT_CONTEXT, all.clone())
        .await
        .unwrap();
    assert_eq!(
        fresh.state_bytes(id).await,
        reference,
        "an in-order replay diverged"
    );
    let loaded = Entity::from_state(&replicas[0].view(id).await.entity().to_state()).unwrap();
    assert_eq!(loaded.to_state().encode(), reference);

    // LWW: the write with the greatest event id wins; a descendant's id is always greater
    // than its ancestors', so a causal successor always beats what it overwrote.
    let view = replicas[0].view(id).await;
    let head = view.entity().head();
    for event in &all {
        assert!(event.parent.iter().all(|p| *p < event.id));
        assert!(
            !head.iter().any(|h| event.parent.contains(h)),
            "head contains an ancestor"
        );
    }
    let last_year = all
        .iter()
        .rev()
        .find_map(|event| {
            let ops = event.operations.get("lww")?;
            let writes: BTreeMap<String, Value> =
                ankurah_core::encoding::decode("lww operations", ops).unwrap();
            writes.get("year").cloned()
        })
        .expect("the genesis event writes the year");
    assert_eq!(Value::I64(i64::from(view.year().unwrap())), last_year);
}

trait EditIn {
    fn edit_in<'t>(&self, trx: &'t ankurah_core::Transaction) -> common::AlbumMut<'t>;
}

impl EditIn for AlbumView {
    fn edit_in<'t>(&self, trx: &'t ankurah_core::Transaction) -> common::AlbumMut<'t> {
        trx.edit::<Album>(self).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge(ops in proptest::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run(ops));
    }
}

#[tokio::test]
async fn concurrent_lww_writes_resolve_by_event_id_everywhere() {
    let a_storage = Arc::new(MemoryStorage::new());
    let b_storage = Arc::new(MemoryStorage::new());
    let a = Node::new_durable(a_storage.clone(), PermissiveAgent::new());
    let b = Node::new_durable(b_storage.clone(), PermissiveAgent::new());
    a.system.create().await.unwrap();
    b.system.create().await.unwrap();
    let (actx, bctx) = (
        a.context(DEFAULT_CONTEXT).unwrap(),
        b.context(DEFAULT_CONTEXT).unwrap(),
    );
    let trx = actx.begin();
    let id = trx.create(&album("x", "a", 1)).await.unwrap().id();
    trx.commit().await.unwrap();
    let dump = |s: Arc<MemoryStorage>| async move { common::stored_events(s.as_ref(), id).await };
    b.apply_events(DEFAULT_CONTEXT, dump(a_storage.clone()).await)
        .await
        .unwrap();

    // Concurrent writes on both nodes.
    for (ctx, year) in [(&actx, 10), (&bctx, 20)] {
        let view = ctx.get::<AlbumView>(id).await.unwrap();
        let trx = ctx.begin();
        trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
        trx.commit().await.unwrap();
    }
    let a_events = dump(a_storage.clone()).await;
    let b_events = dump(b_storage.clone()).await;
    let winner = if a_events.last().unwrap().id > b_events.last().unwrap().id {
        10
    } else {
        20
    };
    a.apply_events(DEFAULT_CONTEXT, b_events).await.unwrap();
    b.apply_events(DEFAULT_CONTEXT, a_events).await.unwrap();
    let (va, vb) = (
        actx.get::<AlbumView>(id).await.unwrap(),
        bctx.get::<AlbumView>(id).await.unwrap(),
    );
    assert_eq!(va.year().unwrap(), winner);
    assert_eq!(vb.year().unwrap(), winner);
    assert_eq!(va.entity().head().len(), 2, "two concurrent heads");

    // A write made after seeing both (a causal descendant) beats both.
    let trx = actx.begin();
    trx.edit::<Album>(&va).unwrap().year().set(&30).unwrap();
    trx.commit().await.unwrap();
    b.apply_events(DEFAULT_CONTEXT, dump(a_storage.clone()).await)
        .await
        .unwrap();
    assert_eq!(vb.year().unwrap(), 30);
    assert_eq!(vb.entity().head().len(), 1);
    assert_eq!(
        va.entity().to_state().encode(),
        vb.entity().to_state().encode()
    );
}
