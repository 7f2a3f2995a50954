//! A server on memory storage with two honest clients, `a` writing and `b` watching every
//! album, for tests that attack the server and check how it serves everyone else meanwhile
//! and afterwards.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ankurah_core::signals::Peek;
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::{EntityId, Event, LiveQuery, Node, NodeConfig, PermissiveAgent, State};
use futures_util::future::join;

use super::raw::{Raw, PATIENCE};
use super::{album, ctx, eventually, AlbumView, Client, Latencies, Server};

pub struct Fixture {
    pub server: Server,
    /// The server's storage, to check what it stored.
    pub storage: Arc<MemoryStorage>,
    /// The tunables of the server and of its honest clients.
    pub config: NodeConfig,
    pub a: Client,
    pub b: Client,
    /// Every album with a year, as `b` sees it.
    pub albums_on_b: LiveQuery<AlbumView>,
    /// An album the honest clients read back while probing.
    reference: EntityId,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with_config(NodeConfig::default()).await
    }

    /// A fixture whose server and clients have these tunables.
    pub async fn with_config(config: NodeConfig) -> Fixture {
        let storage = Arc::new(MemoryStorage::new());
        let node = Node::with_config(
            storage.clone(),
            PermissiveAgent::new(),
            true,
            config.clone(),
        );
        node.system.create().await.unwrap();
        let server = Server::start(node, "127.0.0.1:0").await;
        let (a, b) = (
            Client::connect_with(&server.url(), config.clone()).await,
            Client::connect_with(&server.url(), config.clone()).await,
        );
        let albums_on_b = b.ctx().query_wait::<AlbumView>("year > 0").await.unwrap();
        let reference = super::create(&a.node, "Reference", 1).await;
        Fixture {
            server,
            storage,
            config,
            a,
            b,
            albums_on_b,
            reference,
        }
    }

    /// A raw connection that has said a correct `Hello`.
    pub async fn greeted(&self) -> Raw {
        self.server.greeted().await
    }

    /// A raw connection that has said nothing.
    pub async fn raw(&self) -> Raw {
        self.server.raw().await
    }

    /// What the server's storage holds of an entity: its state and its events.
    pub async fn stored(&self, collection: &str, id: EntityId) -> (Option<State>, Vec<Event>) {
        let store = self.storage.collection(&collection.into()).await.unwrap();
        let state = store.get_state(id).await.unwrap().map(|s| s.state);
        (state, store.dump_entity_events(id).await.unwrap())
    }

    /// Checks that the server stored nothing of the entity of `event`.
    pub async fn assert_nothing_stored(&self, event: &Event) {
        let (state, events) = self
            .stored(event.collection.as_str(), event.entity_id)
            .await;
        assert!(
            state.is_none() && events.is_empty(),
            "the server stored entity {} of a refused commit: state {:?}, events {:?}",
            event.entity_id,
            state.map(|s| s.head),
            events.iter().map(|e| e.id).collect::<Vec<_>>()
        );
    }

    /// Checks that the server stored `event` and a state of its entity that includes it.
    pub async fn assert_stored(&self, event: &Event) {
        let (state, events) = self
            .stored(event.collection.as_str(), event.entity_id)
            .await;
        assert!(
            events.iter().any(|e| e.id == event.id),
            "event {} of a commit answered `Committed` is not stored",
            event.id
        );
        assert!(
            state.is_some_and(|s| s.head.contains(&event.id)),
            "the stored state of entity {} lacks its committed event {}",
            event.entity_id,
            event.id
        );
    }

    /// The honest clients are served as before, a new client can connect and sync, and
    /// only the honest clients remain connected.
    pub async fn still_works(&self) {
        assert!(
            self.a.is_connected() && self.b.is_connected(),
            "the honest clients are still connected"
        );
        let mut honest = Honest::default();
        self.probe(&mut honest).await;
        let newcomer = tokio::time::timeout(PATIENCE, Client::connect(&self.server.url()))
            .await
            .expect("the server accepts a new connection");
        let id = super::create(&newcomer.node, "Newcomer", 2025).await;
        self.until_b_sees(id).await;
        drop(newcomer);
        eventually("only the honest clients remain", async || {
            self.server.node.peer_count() == 2
        })
        .await;
    }

    async fn until_b_sees(&self, id: EntityId) {
        eventually("b sees the new album", async || {
            self.albums_on_b.peek().iter().any(|v| v.id() == id)
        })
        .await;
    }

    /// One round of honest work, each step required to finish within [`PATIENCE`]: `a`
    /// fetches an album through the server, commits a new one (acknowledged by the server:
    /// nothing left in its outbox), and `b` sees it.
    pub async fn probe(&self, honest: &mut Honest) {
        let started = Instant::now();
        let fetched = tokio::time::timeout(
            PATIENCE,
            self.a
                .ctx()
                .fetch::<AlbumView>(("id = ?", [self.reference])),
        )
        .await
        .unwrap_or_else(|_| panic!("an honest fetch was not answered within {PATIENCE:?}"))
        .expect("an honest fetch succeeds");
        assert_eq!(fetched.len(), 1, "an honest fetch finds the album");
        honest.fetch.push(started.elapsed());

        let started = Instant::now();
        let trx = ctx(&self.a.node).begin();
        let id = trx
            .create(&album("Honest", "honest", 2000))
            .await
            .expect("create")
            .id();
        tokio::time::timeout(PATIENCE, trx.commit())
            .await
            .unwrap_or_else(|_| panic!("an honest commit was not answered within {PATIENCE:?}"))
            .expect("the server accepts an honest commit");
        assert!(
            self.a.all_acknowledged().await,
            "the server did not acknowledge an honest commit (it stays in the outbox)"
        );
        honest.commit.push(started.elapsed());

        tokio::time::timeout(PATIENCE, self.until_b_sees(id))
            .await
            .unwrap_or_else(|_| {
                panic!("an honest commit did not reach the other client within {PATIENCE:?}")
            });
        honest.visible.push(started.elapsed());
    }

    /// Runs `attack` while the honest clients keep probing (at least once), and returns
    /// what the attack returned with their figures.
    pub async fn probe_during<T>(&self, attack: impl Future<Output = T>) -> (T, Honest) {
        let done = AtomicBool::new(false);
        let attacking = async {
            let outcome = attack.await;
            done.store(true, Ordering::Relaxed);
            outcome
        };
        let probing = async {
            let mut honest = Honest::default();
            loop {
                self.probe(&mut honest).await;
                if done.load(Ordering::Relaxed) {
                    break honest;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        join(attacking, probing).await
    }
}

/// How the honest clients were served: latency of a fetch, of a commit until the server
/// acknowledged it, and of a commit until the other client saw it.
#[derive(Debug, Default)]
pub struct Honest {
    pub fetch: Latencies,
    pub commit: Latencies,
    pub visible: Latencies,
}

impl Honest {
    /// Prints the figures, headed by `when`.
    pub fn report(&self, when: &str) {
        eprintln!("honest clients {when}:");
        eprintln!("  fetch              {}", self.fetch.summary());
        eprintln!("  commit → ack       {}", self.commit.summary());
        eprintln!("  commit → visible   {}", self.visible.summary());
    }
}
