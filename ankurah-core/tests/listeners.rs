//! Listeners are user code: they run off the commit path, so one that panics or is slow
//! harms neither commits nor other listeners; and a live query whose load fails says so.
//!
//! The runtime has two workers, so a listener that blocked an async worker would stall the
//! test visibly.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ankurah_core::model::{Model, View};
use ankurah_core::signals::{Peek, Subscribe};
use ankurah_core::state::{EntityState, State};
use ankurah_core::storage::{MemoryStorage, StorageEngine, StoredState};
use ankurah_core::{
    ChangeKind, ChangeSet, Clock, Context, EntityId, Node, PermissiveAgent, RetrievalError, Value,
    DEFAULT_CONTEXT,
};
use common::{create, eventually, record, set_year, Album, AlbumView};
use parking_lot::Mutex;
use serde_bytes::ByteBuf;

const SLEEP: Duration = Duration::from_secs(1);

async fn context() -> (Context, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    node.system.create().await.unwrap();
    (node.context(DEFAULT_CONTEXT).unwrap(), storage)
}

fn added(names: impl IntoIterator<Item = String>) -> Vec<Vec<(ChangeKind, String)>> {
    names
        .into_iter()
        .map(|name| vec![(ChangeKind::Add, name)])
        .collect()
}

/// A listener that sleeps through its first call; says when that call began and ended.
struct Sleeper {
    entered: Arc<AtomicBool>,
    returned: Arc<AtomicBool>,
}

impl Sleeper {
    fn new() -> Self {
        Sleeper {
            entered: Arc::default(),
            returned: Arc::default(),
        }
    }

    fn callback<T>(&self) -> impl Fn(T) + Send + Sync + 'static {
        let (entered, returned) = (self.entered.clone(), self.returned.clone());
        move |_| {
            if !entered.swap(true, Ordering::SeqCst) {
                std::thread::sleep(SLEEP);
                returned.store(true, Ordering::SeqCst);
            }
        }
    }

    fn in_first_call(&self) -> bool {
        self.entered.load(Ordering::SeqCst) && !self.returned.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_listener_harms_no_commit_and_no_other_listener() {
    let (ctx, _) = context().await;
    let all = ctx.query_wait::<AlbumView>("year > 0").await.unwrap();
    let recent = ctx.query_wait::<AlbumView>("year > 1000").await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let _panicking = {
        let calls = calls.clone();
        all.subscribe(move |_: ChangeSet<AlbumView>| {
            calls.fetch_add(1, Ordering::SeqCst);
            panic!("a listener bug");
        })
    };
    let (same_query, _g1) = record(&all);
    let (other_query, _g2) = record(&recent);

    let names: Vec<String> = (0..10).map(|i| format!("album {i}")).collect();
    for (i, name) in names.iter().enumerate() {
        create(&ctx, name, 2000 + i as i32).await;
    }
    eventually("every listener heard every commit", || {
        same_query.lock().len() >= 10
            && other_query.lock().len() >= 10
            && calls.load(Ordering::SeqCst) >= 10
    })
    .await;
    assert_eq!(*same_query.lock(), added(names.clone()));
    assert_eq!(*other_query.lock(), added(names));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        10,
        "the panicking listener is still called for each later change set"
    );
    assert_eq!(all.peek().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_live_query_listener_delays_no_commit_and_no_other_listener() {
    let (ctx, _) = context().await;
    let all = ctx.query_wait::<AlbumView>("year > 0").await.unwrap();
    let recent = ctx.query_wait::<AlbumView>("year > 1000").await.unwrap();
    // Two sleepers: had they run on the two async workers, nothing would move for 1 s.
    let (sleeper, other_sleeper) = (Sleeper::new(), Sleeper::new());
    let _s1 = all.subscribe(sleeper.callback::<ChangeSet<AlbumView>>());
    let _s2 = recent.subscribe(other_sleeper.callback::<ChangeSet<AlbumView>>());
    let (log, _g) = record(&all);

    create(&ctx, "first", 2000).await;
    eventually("both sleepers are asleep", || {
        sleeper.in_first_call() && other_sleeper.in_first_call()
    })
    .await;
    let names: Vec<String> = (0..20).map(|i| format!("album {i}")).collect();
    for (i, name) in names.iter().enumerate() {
        create(&ctx, name, 2001 + i as i32).await;
    }
    assert_eq!(all.peek().len(), 21, "reads see each commit at once");
    eventually("the other listener heard all 21 commits", || {
        log.lock().len() >= 21
    })
    .await;
    assert!(
        sleeper.in_first_call() && other_sleeper.in_first_call(),
        "20 commits and their deliveries finished while the sleepers were in their first call"
    );
    let expected = added(std::iter::once("first".to_owned()).chain(names));
    assert_eq!(*log.lock(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_view_listener_delays_no_commit_and_no_other_listener() {
    let (ctx, _) = context().await;
    let id = create(&ctx, "a", 2000).await;
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let sleeper = Sleeper::new();
    let _s = view.subscribe(sleeper.callback::<AlbumView>());
    let years: Arc<Mutex<Vec<i32>>> = Arc::default();
    let _g = {
        let years = years.clone();
        view.subscribe(move |v: AlbumView| years.lock().push(v.year().unwrap_or_default()))
    };

    set_year(&ctx, id, 2001).await;
    eventually("the sleeper is asleep", || sleeper.in_first_call()).await;
    for year in 2002..2022 {
        set_year(&ctx, id, year).await;
        assert_eq!(
            view.year().unwrap(),
            year,
            "the view shows the commit at once"
        );
    }
    eventually("the other listener heard all 21 commits", || {
        years.lock().len() >= 21
    })
    .await;
    assert!(
        sleeper.in_first_call(),
        "20 commits and their notifications finished while the sleeper was in its first call"
    );
    assert_eq!(years.lock().len(), 21, "one call per committed transaction");
    assert_eq!(years.lock().last(), Some(&2021));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_far_behind_gets_its_backlog_merged_and_still_ends_up_right() {
    let (ctx, _) = context().await;
    let all = ctx.query_wait::<AlbumView>("year > 0").await.unwrap();
    let (entered, started) = mpsc::channel::<()>();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let held: Arc<Mutex<HashSet<EntityId>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let _guard = {
        let (held, calls) = (held.clone(), calls.clone());
        all.subscribe(move |changes: ChangeSet<AlbumView>| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                entered.send(()).unwrap_or_default();
                gate.lock()
                    .recv_timeout(Duration::from_secs(60))
                    .unwrap_or_default();
            }
            // Replaying the changes onto what the listener holds gives the result.
            let mut held = held.lock();
            for change in &changes.changes {
                let id = change.entity().id();
                match change.kind() {
                    ChangeKind::Initial | ChangeKind::Add => assert!(held.insert(id)),
                    ChangeKind::Update => assert!(held.contains(&id)),
                    ChangeKind::Remove => assert!(held.remove(&id)),
                }
            }
        })
    };
    let first = create(&ctx, "first", 1).await;
    tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    // More commits than a listener may have waiting, some of them taking entities out.
    let mut ids = vec![first];
    for year in 2..1100 {
        ids.push(create(&ctx, "x", year).await);
    }
    for id in ids.iter().step_by(7) {
        set_year(&ctx, *id, -1).await;
    }
    release.send(()).unwrap();
    let current: HashSet<EntityId> = all.peek().iter().map(|v| v.id()).collect();
    eventually("the listener caught up", || *held.lock() == current).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1 + 1024,
        "the first call, then the backlog it may hold, the last one merged"
    );
}

/// A stored album whose state cannot be decoded, though its values match `year > 2000`.
fn corrupt_album() -> StoredState {
    let id = EntityId::new();
    let backends = BTreeMap::from([("lww".to_owned(), ByteBuf::from(vec![0xff, 0x00, 0x13]))]);
    StoredState {
        state: EntityState {
            entity_id: id,
            collection: Album::collection(),
            state: State {
                head: Clock::new(),
                backends,
            },
        },
        values: BTreeMap::from([("year".to_owned(), Value::I64(2001))]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_query_whose_load_fails_says_so_and_recovers() {
    let (ctx, storage) = context().await;
    let albums = storage.collection(&Album::collection()).await.unwrap();
    let corrupt = corrupt_album();
    albums.set_state(&corrupt).await.unwrap();

    let waited = ctx.query_wait::<AlbumView>("year > 2000").await;
    assert!(matches!(waited, Err(RetrievalError::QueryFailed { .. })));
    let live = ctx.query::<AlbumView>("year > 2000").unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), live.wait_initialized())
        .await
        .expect("a failed load is reported, not waited on for ever");
    let Err(RetrievalError::QueryFailed { query, reason, .. }) = outcome else {
        panic!("expected a failed load, got {outcome:?}");
    };
    assert_eq!(query, "year > 2000");
    assert!(matches!(*reason, RetrievalError::State(_)), "{reason}");
    assert!(live.peek().is_empty());

    // Once the bad state is repaired, the next change reloads the query.
    let repaired = StoredState {
        state: EntityState {
            state: State::default(),
            ..corrupt.state
        },
        values: BTreeMap::new(),
    };
    albums.set_state(&repaired).await.unwrap();
    let (log, _guard) = record(&live);
    create(&ctx, "fresh", 2005).await;
    assert_eq!(live.peek().len(), 1);
    live.wait_initialized().await.unwrap();
    eventually("the reload was reported", || !log.lock().is_empty()).await;
    assert_eq!(*log.lock(), added(["fresh".to_owned()]));
}
