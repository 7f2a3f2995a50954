//! Sessions with peers: the `Hello` handshake, request/response plumbing and the message
//! loop that connectors drive through [`Node::run_peer`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::id::{EntityId, NodeId};
use crate::node::Node;
use crate::policy::ContextData;
use crate::proto::{pieces, Delta, Hello, Message, Request, Response, PROTOCOL_VERSION};
use crate::reactor::Query;
use crate::signals::SubscriptionGuard;

/// How long a peer may take to say `Hello` or to answer a request.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a peer session ended or a request to a peer failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeerError {
    /// The peer was refused (or refused us) during the handshake.
    #[error("peer refused: {0}")]
    Refused(String),
    /// The peer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The connection closed.
    #[error("the connection to the peer closed")]
    Disconnected,
    /// The peer ended an established session, saying why (e.g. it is shutting down).
    #[error("the peer closed the session: {0}")]
    Closed(String),
    /// The peer did not answer in time.
    #[error("the peer did not answer within {0:?}")]
    Timeout(Duration),
    /// The peer answered with an error.
    #[error("the peer reported: {0}")]
    Remote(String),
    /// No durable peer is connected.
    #[error("no durable peer is connected")]
    NoDurablePeer,
}

/// One connected peer, as seen from this node.
pub(crate) struct Peer {
    pub(crate) id: NodeId,
    pub(crate) durable: bool,
    /// The identity under which the policy agent checks what this peer sends and reads.
    pub(crate) cx: ContextData,
    sender: mpsc::UnboundedSender<Message>,
    next_request: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Response>>>,
    /// The pieces received so far of answers sent in parts, by request id.
    parts: Mutex<HashMap<u64, Response>>,
    /// Queries this peer subscribed to here, with the heads it holds of each entity.
    pub(crate) subscriptions: Mutex<HashMap<u64, Subscription>>,
}

/// A peer's subscription served by this node.
pub(crate) struct Subscription {
    pub(crate) _query: Arc<Query>,
    pub(crate) _guard: SubscriptionGuard,
}

/// Heads a subscriber holds, per entity: deltas are computed against them.
pub(crate) type KnownHeads = Arc<Mutex<HashMap<EntityId, Clock>>>;

impl Peer {
    /// Queues a message; `false` if the connection is gone.
    pub(crate) fn send(&self, message: Message) -> bool {
        self.sender.send(message).is_ok()
    }

    /// Answers request `id`, in pieces if it is too large for one message.
    pub(crate) fn respond(&self, id: u64, response: Response) -> bool {
        let mut pieces = response.split().into_iter().peekable();
        while let Some(response) = pieces.next() {
            let message = match pieces.peek() {
                Some(_) => Message::Part { id, response },
                None => Message::Response { id, response },
            };
            if !self.send(message) {
                return false;
            }
        }
        true
    }

    /// Pushes deltas for a subscription, as several updates if they are too large for one.
    pub(crate) fn update(&self, subscription: u64, deltas: Vec<Delta>) -> bool {
        pieces(deltas, Delta::estimated_len)
            .into_iter()
            .all(|deltas| {
                self.send(Message::Update {
                    subscription,
                    deltas,
                })
            })
    }

    /// Adds a piece of the answer to request `id` to those received before it. Pieces of
    /// answers nobody waits for (any more) are dropped.
    fn receive_part(&self, id: u64, piece: Response) -> Result<(), PeerError> {
        if !self.pending.lock().contains_key(&id) {
            return Ok(());
        }
        let mut parts = self.parts.lock();
        let whole = match parts.remove(&id) {
            Some(earlier) => earlier
                .join(piece)
                .map_err(|e| PeerError::Protocol(e.to_string()))?,
            None => piece,
        };
        parts.insert(id, whole);
        Ok(())
    }

    /// Sends a request and waits for its response.
    pub(crate) async fn request(&self, request: Request) -> Result<Response, PeerError> {
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        if !self.send(Message::Request { id, request }) {
            self.pending.lock().remove(&id);
            return Err(PeerError::Disconnected);
        }
        match tokio::time::timeout(PEER_TIMEOUT, rx).await {
            Ok(Ok(Response::Error(reason))) => Err(PeerError::Remote(reason)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(PeerError::Disconnected),
            Err(_) => {
                self.pending.lock().remove(&id);
                Err(PeerError::Timeout(PEER_TIMEOUT))
            }
        }
    }
}

impl Node {
    /// Runs a session with one peer until either side closes it.
    ///
    /// Connectors call this with a channel pair: `outgoing` carries messages to the peer,
    /// `incoming` brings the peer's. The session starts with the `Hello` exchange (a peer
    /// of another protocol version or system is refused with a `Goodbye` naming the
    /// reason) and ends when `incoming` closes, the peer says `Goodbye`, or it breaks the
    /// protocol. Dropping the future ends the session too.
    pub async fn run_peer(
        &self,
        outgoing: mpsc::UnboundedSender<Message>,
        mut incoming: mpsc::UnboundedReceiver<Message>,
    ) -> Result<(), PeerError> {
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: self.system.system_id(),
            node_id: self.id(),
            durable: self.is_durable(),
        };
        outgoing
            .send(Message::Hello(hello))
            .map_err(|_| PeerError::Disconnected)?;
        let theirs = match tokio::time::timeout(PEER_TIMEOUT, incoming.recv()).await {
            Err(_) => return Err(PeerError::Timeout(PEER_TIMEOUT)),
            Ok(None) => return Err(PeerError::Disconnected),
            Ok(Some(Message::Hello(hello))) => hello,
            Ok(Some(Message::Goodbye { reason })) => return Err(PeerError::Refused(reason)),
            Ok(Some(_)) => {
                return Err(refuse(
                    &outgoing,
                    PeerError::Protocol("the first message must be Hello".into()),
                ))
            }
        };
        if let Err(reason) = self.check_hello(&theirs).await {
            return Err(refuse(&outgoing, PeerError::Refused(reason)));
        }
        let peer = Arc::new(Peer {
            id: theirs.node_id,
            durable: theirs.durable,
            cx: ContextData::for_principal(format!("peer {}", theirs.node_id)),
            sender: outgoing,
            next_request: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            parts: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
        });
        let _registration = Registration::new(self, &peer);

        if peer.durable && !self.is_durable() {
            let (node, peer) = (self.clone(), peer.clone());
            tokio::spawn(async move { node.on_durable_peer(&peer).await });
        }

        let result = loop {
            let Some(message) = incoming.recv().await else {
                break Ok(());
            };
            match message {
                // Commits are applied here, in arrival order; only one that lacks ancestors
                // goes on in a task, which asks this peer for them (the answers come here).
                Message::Request {
                    id,
                    request: Request::Commit { events },
                } => self.receive_commit(&peer, id, events).await,
                Message::Request { id, request } => {
                    let (node, peer) = (self.clone(), peer.clone());
                    tokio::spawn(async move {
                        let response = node.serve(&peer, request).await;
                        peer.respond(id, response);
                    });
                }
                Message::Part { id, response } => {
                    if let Err(error) = peer.receive_part(id, response) {
                        break Err(refuse(&peer.sender, error));
                    }
                }
                Message::Response { id, response } => match peer.receive_part(id, response) {
                    Ok(()) => {
                        let whole = peer.parts.lock().remove(&id);
                        let waiting = peer.pending.lock().remove(&id);
                        if let (Some(response), Some(waiting)) = (whole, waiting) {
                            let _ = waiting.send(response);
                        }
                    }
                    Err(error) => break Err(refuse(&peer.sender, error)),
                },
                // Only durable nodes push updates, and only ephemeral nodes subscribe. Anything
                // else would write states past the commit path, unvalidated and unchecked by
                // the policy agent.
                Message::Update { .. } if self.is_durable() || !peer.durable => {
                    break Err(refuse(
                        &peer.sender,
                        PeerError::Protocol(
                            "only a durable node may send updates, to an ephemeral one".into(),
                        ),
                    ));
                }
                Message::Update { deltas, .. } => self.receive_update(&peer, deltas).await,
                Message::Goodbye { reason } => break Err(PeerError::Closed(reason)),
                Message::Hello(_) => {
                    break Err(refuse(
                        &peer.sender,
                        PeerError::Protocol("Hello sent twice".into()),
                    ))
                }
            }
        };
        result
    }

    async fn check_hello(&self, hello: &Hello) -> Result<(), String> {
        if hello.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "protocol version {} is not supported; this node speaks version {PROTOCOL_VERSION}",
                hello.protocol_version
            ));
        }
        let ours = match self.system.system_id() {
            Some(id) => Some(id),
            None => self.inner.storage.system_id().await.ok().flatten(),
        };
        match (ours, hello.system_id) {
            (Some(ours), Some(theirs)) if ours != theirs => Err(format!(
                "peer belongs to system {theirs}, this node to system {ours}"
            )),
            (_, None) if hello.durable => {
                Err("the durable peer has no system yet (call `node.system.create()` on it)".into())
            }
            (None, _) if self.is_durable() => Err("this durable node has no system yet".into()),
            (_, Some(theirs)) if hello.durable && !self.is_durable() => {
                self.system.join(theirs);
                // Remember the system so a later connection to another one is refused.
                let _ = self.inner.storage.set_system_id(theirs).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A connected durable peer, if any.
    pub(crate) fn durable_peer(&self) -> Option<Arc<Peer>> {
        self.inner
            .peers
            .lock()
            .values()
            .find(|p| p.durable)
            .cloned()
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.inner.peers.lock().len()
    }

    /// Resolves once a durable peer is connected.
    pub async fn wait_durable_peer(&self) {
        let mut changes = self.inner.peers_changed.subscribe();
        while self.durable_peer().is_none() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Keeps a peer in the node's peer table for the life of its session, however the session
/// ends (returned, failed, or its future dropped).
struct Registration {
    node: Node,
    peer: Arc<Peer>,
}

impl Registration {
    fn new(node: &Node, peer: &Arc<Peer>) -> Self {
        node.inner.peers.lock().insert(peer.id, peer.clone());
        node.inner.peers_changed.send_modify(|n| *n += 1);
        Registration {
            node: node.clone(),
            peer: peer.clone(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.node.inner.peers.lock().remove(&self.peer.id);
        self.node.inner.peers_changed.send_modify(|n| *n += 1);
        // Waiting requests fail with `Disconnected`; served subscriptions end.
        self.peer.pending.lock().clear();
        self.peer.parts.lock().clear();
        self.peer.subscriptions.lock().clear();
    }
}

fn refuse(outgoing: &mpsc::UnboundedSender<Message>, error: PeerError) -> PeerError {
    let _ = outgoing.send(Message::Goodbye {
        reason: error.to_string(),
    });
    error
}
