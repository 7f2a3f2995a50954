//! Concurrent commits on one sled node share flushes (group commit) and still behave as if
//! they ran one after another: each is durable when it returns, live queries hear of each
//! once, edits of one entity from many tasks all land, and a commit whose future is dropped
//! halfway neither blocks later commits nor goes half-published.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ankurah::changes::ChangeSet;
use ankurah::signals::{Peek, Subscribe};
use ankurah::storage::StorageEngine;
use ankurah::{Model, Node, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_storage_sled::SledStorage;

#[derive(Model, Debug, Clone)]
pub struct Album {
    #[active_type(LWW)]
    pub name: String,
    pub year: i32,
}

const TASKS: i32 = 16;
const PER_TASK: i32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_are_durable_published_once_and_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let shared_id;
    let published = {
        let node = Node::new_durable(
            Arc::new(SledStorage::open(dir.path()).unwrap()),
            PermissiveAgent::new(),
        );
        node.system.create().await.unwrap();
        let ctx = node.context(DEFAULT_CONTEXT).unwrap();
        let trx = ctx.begin();
        shared_id = trx
            .create(&Album {
                name: "shared".into(),
                year: 1,
            })
            .await
            .unwrap()
            .id();
        trx.commit().await.unwrap();
        let shared = ctx.get::<AlbumView>(shared_id).await.unwrap();

        let live = ctx.query_wait::<AlbumView>("year > 1").await.unwrap();
        let added = Arc::new(Mutex::new(Vec::new()));
        let recorder = added.clone();
        let _guard = live.subscribe(move |changes: ChangeSet<AlbumView>| {
            recorder
                .lock()
                .unwrap()
                .extend(changes.changes.iter().map(|c| c.entity().id()));
        });

        // Each transaction creates an album and bumps the shared one, all tasks at once.
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (ctx, shared) = (ctx.clone(), shared.clone());
                tokio::spawn(async move {
                    for i in 0..PER_TASK {
                        let trx = ctx.begin();
                        trx.create(&Album {
                            name: format!("{task}-{i}"),
                            year: 2 + task * PER_TASK + i,
                        })
                        .await
                        .unwrap();
                        let bump = trx.edit::<Album>(&shared).unwrap();
                        bump.name().set(&format!("{task}-{i}")).unwrap();
                        trx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let total = (TASKS * PER_TASK) as usize;
        assert_eq!(live.peek().len(), total);
        // The listener runs after the commits return, on another thread: wait for it.
        let announced = || {
            let mut heard = added.lock().unwrap().clone();
            heard.sort();
            heard.dedup();
            heard.len()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while announced() < total && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(announced(), total, "each new album was announced");

        // Commits dropped while they wait for their flush still finish in the background,
        // and later commits are not held up by them. A committer in the background keeps a
        // flush in progress (sled flushes inline), so a commit has one to wait for.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let (ctx, stop) = (ctx.clone(), stop.clone());
            tokio::spawn(async move {
                let mut committed = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let trx = ctx.begin();
                    trx.create(&Album {
                        name: "busy".into(),
                        year: 7000 + committed,
                    })
                    .await
                    .unwrap();
                    trx.commit().await.unwrap();
                    committed += 1;
                }
                committed as usize
            })
        };
        let (mut dropped, mut attempts) = (0, 0);
        while dropped == 0 && attempts < 500 {
            let trx = ctx.begin();
            trx.create(&Album {
                name: "dropped".into(),
                year: 5000 + attempts,
            })
            .await
            .unwrap();
            attempts += 1;
            tokio::select! {
                biased;
                result = trx.commit() => result.unwrap(),
                () = std::future::ready(()) => dropped += 1,
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let busy = busy.await.unwrap();
        assert!(dropped > 0, "a commit was dropped before it was durable");
        let trx = ctx.begin();
        trx.create(&Album {
            name: "after".into(),
            year: 6999,
        })
        .await
        .unwrap();
        trx.commit().await.unwrap();
        // A dropped commit that was written finishes in the background; one dropped while
        // it still waited for the commit lock was never made, and is discarded. Wait for
        // the background work to settle, then everything published must be on disk.
        let in_range = || {
            live.peek()
                .iter()
                .filter(|v| (5000..7000).contains(&v.year().unwrap()))
                .count()
        };
        let least = (attempts - dropped) as usize + 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = in_range();
        while std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = in_range();
            if now == seen && now >= least {
                break;
            }
            seen = now;
        }
        assert!(seen >= least, "commits that returned were published");
        assert_eq!(live.peek().len(), total + seen + busy);
        seen
    };

    // Everything that returned is on disk. (The tasks that finished the dropped commits let
    // go of the database shortly after they are done.)
    let mut attempts = 0;
    let storage = loop {
        match SledStorage::open(dir.path()) {
            Ok(storage) => break Arc::new(storage),
            Err(error) if attempts == 100 => panic!("the database stays locked: {error}"),
            Err(_) => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let node = Node::new_durable(storage.clone(), PermissiveAgent::new());
    let ctx = node.context(DEFAULT_CONTEXT).unwrap();
    let stored: Vec<AlbumView> = ctx.fetch("year > 1 AND year < 5000").await.unwrap();
    assert_eq!(stored.len(), (TASKS * PER_TASK) as usize);
    let after: Vec<AlbumView> = ctx.fetch("year >= 5000 AND year < 7000").await.unwrap();
    assert_eq!(after.len(), published, "everything published is durable");
    // Every bump of the shared album is in its history, one event per transaction.
    let history = storage
        .collection(&Album::collection())
        .await
        .unwrap()
        .dump_entity_events(shared_id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1 + (TASKS * PER_TASK) as usize);
}
