//! What the integration tests share: the `Album` model of the examples, a server on a free
//! loopback port, clients, and polling helpers; raw peers ([`raw`]) for tests that play a
//! hostile client (with the hand-built frames of `ankurah_core::testing::wire`); a server
//! with two honest clients that measure how it serves them meanwhile ([`fixture`]); live
//! heap figures ([`heap`]).
#![allow(dead_code, unused_imports)] // each test binary uses a different part

#[path = "../../examples/common/mod.rs"]
mod album;
pub mod fixture;
pub mod heap;
pub mod raw;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ankurah_core::model::View;
use ankurah_core::signals::{Peek, Subscribe, SubscriptionGuard};
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{Context, EntityId, Node, NodeConfig, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_websocket::{ConnectionState, ShutdownHandle, WebsocketClient, WebsocketServer};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

pub use album::{album, Album, AlbumView, Latencies};
pub use fixture::Fixture;

/// A running `WebsocketServer`.
pub struct Server {
    pub node: Node,
    pub addr: SocketAddr,
    stop: ShutdownHandle,
    serving: JoinHandle<()>,
}

impl Server {
    /// Serves `node` on `addr` (`127.0.0.1:0` for a free port).
    pub async fn start(node: Node, addr: &str) -> Server {
        Server::start_with(node, addr, |server| server).await
    }

    /// Serves `node` on `addr` with the server settings `configure` makes.
    pub async fn start_with(
        node: Node,
        addr: &str,
        configure: impl FnOnce(WebsocketServer) -> WebsocketServer,
    ) -> Server {
        let bound = configure(WebsocketServer::new(node.clone()))
            .bind(addr)
            .await
            .expect("bind");
        Server {
            node,
            addr: bound.local_addr(),
            stop: bound.shutdown_handle(),
            serving: tokio::spawn(bound.run()),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A raw connection to the server that has said nothing yet.
    pub async fn raw(&self) -> raw::Raw {
        raw::connect(&self.url()).await
    }

    /// A raw connection to the server that has said a correct `Hello`.
    pub async fn greeted(&self) -> raw::Raw {
        raw::greeted(&self.url(), self.node.system.system_id()).await
    }

    /// Shuts the server down and waits until every connection is closed.
    pub async fn stop(self) -> Node {
        self.stop.shutdown();
        self.serving.await.expect("the server task does not panic");
        self.node
    }
}

/// A durable node on memory storage, with its system created.
pub async fn memory_server_node() -> Node {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system
        .create()
        .await
        .expect("memory storage does not fail");
    node
}

/// An ephemeral node connected to `url` over WebSocket.
pub struct Client {
    pub node: Node,
    pub storage: Arc<MemoryStorage>,
    pub connection: WebsocketClient,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Client::connect_with(url, NodeConfig::default()).await
    }

    /// A client whose node has these tunables.
    pub async fn connect_with(url: &str, config: NodeConfig) -> Client {
        let storage = Arc::new(MemoryStorage::new());
        let node = Node::with_config(storage.clone(), PermissiveAgent::new(), false, config);
        let connection = WebsocketClient::new(node.clone(), url)
            .await
            .expect("connect");
        node.system.wait_system_ready().await;
        Client {
            node,
            storage,
            connection,
        }
    }

    pub fn ctx(&self) -> Context {
        ctx(&self.node)
    }

    /// Whether a durable peer acknowledged every commit of this client (its outbox is empty).
    pub async fn all_acknowledged(&self) -> bool {
        use ankurah_core::storage::StorageEngine;
        self.storage
            .outbox()
            .await
            .expect("memory storage has an outbox")
            .is_empty()
    }

    pub fn is_connected(&self) -> bool {
        self.connection.state().peek() == ConnectionState::Connected
    }

    /// Records every connection state the client goes through from now on.
    pub fn record_states(&self) -> (Arc<Mutex<Vec<ConnectionState>>>, SubscriptionGuard) {
        let seen: Arc<Mutex<Vec<ConnectionState>>> = Arc::default();
        let recorder = seen.clone();
        (
            seen,
            self.connection
                .state()
                .subscribe(move |state| recorder.lock().push(state)),
        )
    }
}

pub fn ctx(node: &Node) -> Context {
    node.context(DEFAULT_CONTEXT)
        .expect("the permissive agent allows every context")
}

/// The encoded state of an album on `node`: equal bytes mean converged replicas.
pub async fn state_of(node: &Node, id: EntityId) -> Vec<u8> {
    ctx(node)
        .get::<AlbumView>(id)
        .await
        .expect("album exists")
        .entity()
        .to_state()
        .encode()
}

/// Creates an album on `node` and returns its id.
pub async fn create(node: &Node, name: &str, year: i32) -> EntityId {
    let trx = ctx(node).begin();
    let id = trx
        .create(&album(name, "Muse", year))
        .await
        .expect("create")
        .id();
    trx.commit().await.expect("commit");
    id
}

/// Polls until `check` holds, for up to 20 s (a reconnection may wait out a 5 s backoff).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A loopback port nothing listens on (free a moment ago).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs one test body under `limit`, one test at a time in the binary (their heap figures
/// and their load would otherwise mix). A body still running at `limit` fails the test; one
/// that wedged the runtime so that even the timeout cannot fire gets the process aborted
/// with a message a little later, so a hang never hangs the run.
pub async fn serially_within<T>(limit: Duration, body: impl std::future::Future<Output = T>) -> T {
    let _turn = ONE_AT_A_TIME.lock().await;
    let _watchdog = Watchdog::arm(limit + WATCHDOG_GRACE);
    tokio::time::timeout(limit, body).await.unwrap_or_else(|_| {
        panic!("the test did not finish within {limit:?}: the server hangs or is too slow")
    })
}

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long after its limit a wedged test is aborted.
const WATCHDOG_GRACE: Duration = Duration::from_secs(30);

/// Runs the test `test` in a child process of this test binary, which runs `body` as
/// [`serially_within`] does; the test fails if the body fails, and also if it crashes the
/// process (a server overflowing its stack aborts it), without taking the other tests of the
/// binary down with it. What the child printed is printed here.
pub async fn isolated<F: std::future::Future<Output = ()>>(
    test: &'static str,
    limit: Duration,
    body: impl FnOnce() -> F,
) {
    use ankurah_core::testing::child;
    if child::is_child(test) {
        return serially_within(limit, body()).await;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let outcome = tokio::task::spawn_blocking(move || child::run(test, limit + 2 * WATCHDOG_GRACE))
        .await
        .expect("running the child does not panic");
    eprint!("{}", outcome.output);
    outcome.assert_survived();
}

/// Aborts the process unless dropped within its time.
struct Watchdog(std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn arm(limit: Duration) -> Watchdog {
        let (disarm, disarmed) = std::sync::mpsc::channel();
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = disarmed.recv_timeout(limit) {
                eprintln!("{test}: still running after {limit:?}, the runtime is wedged; aborting");
                std::process::abort();
            }
        });
        Watchdog(disarm)
    }
}
