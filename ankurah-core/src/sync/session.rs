//! A session with one peer: the `Hello` handshake, request/response plumbing and the message
//! loop that connectors drive through [`Node::run_peer`].
//!
//! What a peer can make this node hold is bounded: messages queue in [`queue`]s of bounded
//! size in both directions, at most [`Limits::max_requests_per_peer`] of its requests are
//! worked on at once (a request beyond that waits, so a flooding peer is slowed down, and is
//! refused as overloaded if it waits too long), answers in pieces are bounded by
//! [`Limits::max_answer_bytes`]. Every task the session starts lives in its [`TaskSet`] and
//! ends with it, releasing whatever the peer held.
//!
//! [`queue`]: crate::sync::queue

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify, Semaphore};
use tracing::Instrument;

use crate::auth::{
    AuthError, AuthFailure, Authenticated, Authenticator, CredentialRequest, CHALLENGE_BYTES,
};
use crate::collection::CollectionId;
use crate::event::Event;
use crate::id::{EntityId, EventId, NodeId};
use crate::limits::{LimitExceeded, Limits};
use crate::node::{ApplyOutcome, Node, Staging};
use crate::node_error::MutationError;
use crate::policy::ContextData;
use crate::runtime::{self, TaskSet};
use crate::sync::error::PeerError;
use crate::sync::follow::Followed;
use crate::sync::proto::{
    pieces, Delta, ErrorKind, Hello, Message, RemoteError, Request, Response, PROTOCOL_VERSION,
};
use crate::sync::queue::{QueueError, QueueReceiver, QueueSender};
use crate::sync::rate::RequestRate;
use crate::sync::server::Subscription;

/// How many rounds of asking a peer for missing ancestors one batch of events may take.
const MAX_ANCESTOR_ROUNDS: usize = 16;

/// How long a peer may take to say `Hello` or to answer a request, and how long one of its
/// requests may wait for a free slot before it is refused as overloaded.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// One connected peer, as seen from this node.
pub(crate) struct Peer {
    pub(crate) id: NodeId,
    /// Unique to this session among all sessions of the process (a peer that reconnects
    /// starts a new one).
    pub(crate) session: u64,
    pub(crate) durable: bool,
    /// The identity under which the policy agent checks what this peer sends and reads.
    pub(crate) cx: ContextData,
    pub(crate) limits: Limits,
    sender: QueueSender,
    next_request: AtomicU64,
    /// Answers this node waits for, by request id.
    awaiting: Mutex<HashMap<u64, Awaiting>>,
    /// Queries this peer subscribed to here, by its subscription id.
    pub(crate) subscriptions: Mutex<HashMap<u64, Subscription>>,
    /// The entities this peer follows here, once it followed any.
    pub(crate) followed: Mutex<Option<Arc<Followed>>>,
    /// Slots for the peer's requests being worked on.
    in_flight: Arc<Semaphore>,
    /// The request rate of the peer's identity, shared with its other sessions.
    rate: Arc<RequestRate>,
    /// The session's background work; `None` once the session ended.
    tasks: Mutex<Option<TaskSet>>,
    /// Fired when the peer stopped taking what is sent to it: the session ends.
    stalled: Notify,
}

/// A request sent to the peer whose answer has not fully arrived.
struct Awaiting {
    answer: oneshot::Sender<Response>,
    /// The pieces received so far of an answer sent in parts, and their size.
    parts: Option<Response>,
    bytes: usize,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .field("durable", &self.durable)
            .finish()
    }
}

impl Peer {
    /// Queues a message, waiting while the peer's queue is full. A peer that takes nothing
    /// of its queue for the stall limit meanwhile is disconnected: it is not reading.
    pub(crate) async fn send(&self, message: Message) -> Result<(), PeerError> {
        match self
            .sender
            .send_unless_stalled(message, self.limits.stall_limit)
            .await
        {
            Ok(()) => Ok(()),
            Err(QueueError::Stalled(stall)) => {
                tracing::warn!(?stall, "peer reads nothing of its queue; disconnecting it");
                self.stalled.notify_one();
                Err(PeerError::Overloaded(format!(
                    "the peer read nothing of what was sent to it for {stall:?}"
                )))
            }
            Err(_) => Err(PeerError::Disconnected),
        }
    }

    /// Queues a message if there is room now (for callers that cannot wait).
    pub(crate) fn try_send(&self, message: Message) -> bool {
        self.sender.try_send(message).is_ok()
    }

    /// Answers request `id`, in pieces if it is too large for one message.
    pub(crate) async fn respond(&self, id: u64, response: Response) -> Result<(), PeerError> {
        let mut pieces = response.split().into_iter().peekable();
        while let Some(response) = pieces.next() {
            let message = match pieces.peek() {
                Some(_) => Message::Part { id, response },
                None => Message::Response { id, response },
            };
            self.send(message).await?;
        }
        Ok(())
    }

    /// Pushes deltas for a subscription, as several updates if they are too large for one.
    pub(crate) async fn update(
        &self,
        subscription: u64,
        deltas: Vec<Delta>,
    ) -> Result<(), PeerError> {
        for deltas in pieces(deltas, Delta::estimated_len) {
            self.send(Message::Update {
                subscription,
                deltas,
            })
            .await?;
        }
        Ok(())
    }

    /// Runs `task` in the session's task set: it ends when it finishes or the session does.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(tasks) = self.tasks.lock().as_mut() {
            tasks.spawn(task.in_current_span());
        }
    }

    /// Takes a piece of the answer to request `id` (the last one if `last`). Pieces of
    /// answers nobody waits for (any more) are dropped.
    fn receive_answer(&self, id: u64, piece: Response, last: bool) -> Result<(), PeerError> {
        let mut awaiting = self.awaiting.lock();
        let Some(waiting) = awaiting.get_mut(&id) else {
            return Ok(());
        };
        waiting.bytes += piece.estimated_len();
        if let Err(error) = LimitExceeded::check(
            "answer size in bytes",
            waiting.bytes,
            self.limits.max_answer_bytes,
        ) {
            awaiting.remove(&id);
            return Err(PeerError::Overloaded(error.to_string()));
        }
        let whole = match waiting.parts.take() {
            Some(earlier) => earlier
                .join(piece)
                .map_err(|e| PeerError::Protocol(e.to_string()))?,
            None => piece,
        };
        if !last {
            waiting.parts = Some(whole);
            return Ok(());
        }
        if let Some(waiting) = awaiting.remove(&id) {
            // The requester may have timed out meanwhile; then nobody needs the answer.
            let _unwanted = waiting.answer.send(whole);
        }
        Ok(())
    }

    /// Sends a request and waits for its answer; an error answer is `PeerError::Remote`.
    pub(crate) async fn request(&self, request: Request) -> Result<Response, PeerError> {
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        self.awaiting.lock().insert(
            id,
            Awaiting {
                answer,
                parts: None,
                bytes: 0,
            },
        );
        let exchange = async {
            self.send(Message::Request { id, request }).await?;
            answered.await.map_err(|_| PeerError::Disconnected)
        };
        match runtime::timeout(PEER_TIMEOUT, exchange).await {
            Some(Ok(Response::Error(error))) => Err(PeerError::Remote(error)),
            Some(Ok(response)) => Ok(response),
            Some(Err(error)) => {
                self.awaiting.lock().remove(&id);
                Err(error)
            }
            None => {
                self.awaiting.lock().remove(&id);
                Err(PeerError::Timeout(PEER_TIMEOUT))
            }
        }
    }
}

impl Node {
    /// Applies events that wait for `missing` ancestors once the ancestors, asked of the
    /// peer that sent the events (never of anyone else), are here: round after round, since
    /// their own parents may be missing too, until nothing is missing or the peer has
    /// nothing more. With [`Staging::Whole`] nothing is stored unless everything is.
    /// Returns the last outcome; its `missing` is what could not be found.
    pub(crate) async fn resolve_ancestors(
        &self,
        peer: &Arc<Peer>,
        mut waiting: Vec<Event>,
        mut missing: Vec<(CollectionId, EntityId, EventId)>,
        staging: Staging,
    ) -> Result<ApplyOutcome, MutationError> {
        let mut outcome = ApplyOutcome::default();
        for _ in 0..MAX_ANCESTOR_ROUNDS {
            if waiting.is_empty() || missing.is_empty() {
                break;
            }
            let mut fetched = Vec::new();
            for ((collection, entity_id), ids) in group_missing(&missing) {
                let request = Request::GetEvents {
                    collection,
                    entity_id,
                    ids,
                };
                match peer.request(request).await? {
                    Response::Events(events) => fetched.extend(events),
                    other => {
                        return Err(PeerError::Protocol(format!(
                            "unexpected answer to GetEvents: {other:?}"
                        ))
                        .into())
                    }
                }
            }
            if fetched.is_empty() {
                break;
            }
            self.check_authors(peer, &fetched)?;
            waiting.extend(fetched);
            peer.limits.check_events(&waiting)?;
            outcome = self.apply(&peer.cx, waiting, staging).await?;
            waiting = std::mem::take(&mut outcome.waiting);
            missing = outcome.missing.clone();
        }
        outcome.waiting = waiting;
        outcome.missing = missing;
        Ok(outcome)
    }

    /// Refuses events whose author is not the authenticated peer (nor someone the policy
    /// agent lets it send for), on a node that authenticates its peers; anonymous peers
    /// have no identity to check authorship against.
    pub(crate) fn check_authors(&self, peer: &Peer, events: &[Event]) -> Result<(), MutationError> {
        if !self.requires_authentication() {
            return Ok(());
        }
        for event in events {
            if let Err(denied) = self.inner.policy.check_author(&peer.cx, event) {
                tracing::warn!(event = %event.id, author = %event.author, "forged authorship refused");
                return Err(MutationError::AccessDenied(denied));
            }
        }
        Ok(())
    }

    /// Runs a session with one peer until either side closes it.
    ///
    /// Connectors call this with a pair of [`queue`](crate::sync::queue)s: `outgoing`
    /// carries messages to the peer, `incoming` brings the peer's. The session starts with
    /// the `Hello` exchange (a peer of another protocol version or system is refused with a
    /// `Goodbye` naming the reason) and ends when `incoming` closes, the peer says
    /// `Goodbye`, or it breaks the protocol. Dropping the future ends the session too.
    pub async fn run_peer(
        &self,
        outgoing: QueueSender,
        mut incoming: QueueReceiver,
    ) -> Result<(), PeerError> {
        let authenticator = self.inner.auth.authenticator();
        let credentials = self.inner.auth.credentials();
        let challenge = authenticator.as_ref().map(|_| {
            let mut challenge = vec![0u8; CHALLENGE_BYTES];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut challenge);
            challenge
        });
        let mut hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            system_id: self.system.system_id(),
            node_id: self.id(),
            durable: self.is_durable(),
            credential: None,
            challenge: challenge.clone(),
        };
        // A node presenting a credential needs the peer's challenge first.
        if credentials.is_none() {
            send_hello(&outgoing, hello.clone()).await?;
        }
        let theirs = match runtime::timeout(PEER_TIMEOUT, incoming.recv()).await {
            None => return Err(PeerError::Timeout(PEER_TIMEOUT)),
            Some(None) => return Err(PeerError::Disconnected),
            Some(Some(Message::Hello(hello))) => hello,
            Some(Some(Message::Goodbye { reason, kind })) => {
                return Err(goodbye_error(reason, kind, PeerError::Refused))
            }
            Some(Some(_)) => {
                let error = PeerError::Protocol("the first message must be Hello".into());
                return Err(refuse(&outgoing, error));
            }
        };
        if let Some(source) = &credentials {
            let request = CredentialRequest {
                challenge: theirs.challenge.clone(),
                client: self.id(),
                server: theirs.node_id,
            };
            hello.credential = source.credential(&request).await;
            send_hello(&outgoing, hello).await?;
        }
        let span = tracing::info_span!("peer", peer = %theirs.node_id, durable = theirs.durable);
        async move {
            if let Err(reason) = self.check_hello(&theirs).await {
                tracing::warn!(%reason, "handshake refused");
                return Err(refuse(&outgoing, PeerError::Refused(reason)));
            }
            let authenticated = match authenticate(&authenticator, &theirs, challenge, self.id()) {
                Ok(authenticated) => authenticated,
                Err(refusal) => {
                    tracing::warn!(%refusal, "credential refused");
                    return Err(refuse(&outgoing, PeerError::Unauthenticated(refusal)));
                }
            };
            if authenticator.is_some() {
                let identity = &authenticated.identity;
                let open = self.sessions_of(identity);
                if let Err(exceeded) = LimitExceeded::check(
                    "sessions of one identity",
                    open + 1,
                    self.limits().max_connections_per_identity,
                ) {
                    tracing::warn!(principal = identity.principal(), %exceeded, "session refused");
                    return Err(refuse(&outgoing, PeerError::Overloaded(exceeded.to_string())));
                }
                tracing::info!(principal = identity.principal(), "peer authenticated");
                let welcome = Message::Welcome {
                    principal: identity.principal().to_owned(),
                    roles: identity.roles().to_vec(),
                };
                outgoing
                    .send(welcome)
                    .await
                    .map_err(|_| PeerError::Disconnected)?;
            }
            // A peer that sent a challenge authenticates this node: its answer comes first.
            if theirs.challenge.is_some() {
                await_welcome(&outgoing, &mut incoming).await?;
            }
            let limits = self.limits().clone();
            let rate = self.inner.request_rates.of(
                authenticator.is_some().then_some(&authenticated.identity),
                limits.max_requests_per_second_per_identity,
            );
            static SESSIONS: AtomicU64 = AtomicU64::new(0);
            let peer = Arc::new(Peer {
                id: theirs.node_id,
                session: SESSIONS.fetch_add(1, Ordering::Relaxed),
                durable: theirs.durable,
                cx: authenticated.identity,
                in_flight: Arc::new(Semaphore::new(limits.max_requests_per_peer.max(1))),
                rate,
                limits,
                sender: outgoing,
                next_request: AtomicU64::new(1),
                awaiting: Mutex::new(HashMap::new()),
                subscriptions: Mutex::new(HashMap::new()),
                followed: Mutex::new(None),
                tasks: Mutex::new(Some(TaskSet::default())),
                stalled: Notify::new(),
            });
            let _registration = Registration::new(self, &peer);
            tracing::info!("peer connected");
            if peer.durable && !self.is_durable() {
                let node = self.clone();
                let on_connect = peer.clone();
                peer.spawn(async move { node.on_durable_peer(&on_connect).await });
            }
            let ended = match authenticated.expires_at {
                None => self.serve_messages(&peer, &mut incoming).await,
                Some(expires_at) => {
                    let left = expires_at
                        .duration_since(SystemTime::now())
                        .unwrap_or_default();
                    match runtime::timeout(left, self.serve_messages(&peer, &mut incoming)).await
                    {
                        Some(ended) => ended,
                        None => {
                            let expired = AuthError::new(
                                AuthFailure::Expired,
                                "the credential of this session has expired; reconnect with a fresh one",
                            );
                            tracing::info!("credential expired; ending the session");
                            Err(refuse(&peer.sender, PeerError::Unauthenticated(expired)))
                        }
                    }
                }
            };
            match &ended {
                Ok(()) => tracing::info!("peer disconnected"),
                Err(error) => tracing::info!(%error, "peer session ended"),
            }
            ended
        }
        .instrument(span)
        .await
    }

    /// The message loop of an established session.
    async fn serve_messages(
        &self,
        peer: &Arc<Peer>,
        incoming: &mut QueueReceiver,
    ) -> Result<(), PeerError> {
        loop {
            let message = tokio::select! {
                message = incoming.recv() => match message {
                    Some(message) => message,
                    None => return Ok(()),
                },
                _ = peer.stalled.notified() => {
                    return Err(PeerError::Overloaded(format!(
                        "the peer read nothing of what was sent to it for {:?}",
                        peer.limits.stall_limit
                    )))
                }
            };
            if let Message::Request { .. } = &message {
                let wait = peer.rate.reserve();
                if !wait.is_zero() {
                    tracing::debug!(
                        principal = peer.cx.principal(),
                        ?wait,
                        "identity over its request rate; the request waits"
                    );
                    runtime::sleep(wait).await;
                }
            }
            match message {
                // Commits are applied here, in arrival order (a client's next commit builds
                // on its previous one).
                Message::Request {
                    id,
                    request: Request::Commit { events },
                } => self.receive_commit(peer, id, events).await?,
                Message::Request { id, request } => self.dispatch(peer, id, request).await?,
                Message::Part { id, response } => {
                    if let Err(error) = peer.receive_answer(id, response, false) {
                        return Err(refuse(&peer.sender, error));
                    }
                }
                Message::Response { id, response } => {
                    if let Err(error) = peer.receive_answer(id, response, true) {
                        return Err(refuse(&peer.sender, error));
                    }
                }
                // Only durable nodes push updates, and only ephemeral nodes subscribe. Anything
                // else would write states past the commit path, unvalidated and unchecked by
                // the policy agent.
                Message::Update { .. } if self.is_durable() || !peer.durable => {
                    let error = PeerError::Protocol(
                        "only a durable node may send updates, to an ephemeral one".into(),
                    );
                    return Err(refuse(&peer.sender, error));
                }
                Message::Update { deltas, .. } => self.receive_update(peer, deltas).await,
                Message::Goodbye { reason, kind } => {
                    return Err(goodbye_error(reason, kind, PeerError::Closed))
                }
                Message::Hello(_) | Message::Welcome { .. } => {
                    let error = PeerError::Protocol("Hello or Welcome sent twice".into());
                    return Err(refuse(&peer.sender, error));
                }
            }
        }
    }

    /// Starts work on a request once one of the peer's request slots is free; a peer whose
    /// requests wait longer than [`PEER_TIMEOUT`] for one is told it is overloading the node.
    async fn dispatch(&self, peer: &Arc<Peer>, id: u64, request: Request) -> Result<(), PeerError> {
        let slot = runtime::timeout(PEER_TIMEOUT, peer.in_flight.clone().acquire_owned()).await;
        let Some(Ok(slot)) = slot else {
            tracing::warn!(
                limit = peer.limits.max_requests_per_peer,
                "peer's requests wait too long for a slot; refused as overloaded"
            );
            let refusal = RemoteError::new(
                ErrorKind::Overloaded,
                format!(
                    "more than {} requests at once for {PEER_TIMEOUT:?}",
                    peer.limits.max_requests_per_peer
                ),
            );
            return peer.respond(id, Response::Error(refusal)).await;
        };
        let (node, serving) = (self.clone(), peer.clone());
        let span = tracing::debug_span!("request", id);
        peer.spawn(tracing::Instrument::instrument(
            async move {
                let _slot = slot;
                let response = node.serve(&serving, request).await;
                if let Err(error) = serving.respond(id, response).await {
                    tracing::debug!(%error, "answer not delivered");
                }
            },
            span,
        ));
        Ok(())
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
            None => self
                .inner
                .storage
                .system_id()
                .await
                .map_err(|e| format!("this node cannot read its system: {e}"))?,
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
                if let Err(error) = self.inner.storage.set_system_id(theirs).await {
                    tracing::error!(%error, "could not store the system id");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// How many sessions peers authenticated as `identity` have open here.
    pub(crate) fn sessions_of(&self, identity: &ContextData) -> usize {
        self.inner
            .peers
            .lock()
            .values()
            .filter(|peer| peer.cx == *identity)
            .count()
    }

    /// How many subscriptions peers authenticated as `identity` hold here.
    pub(crate) fn subscriptions_of(&self, identity: &ContextData) -> usize {
        self.inner
            .peers
            .lock()
            .values()
            .filter(|peer| peer.cx == *identity)
            .map(|peer| peer.subscriptions.lock().len())
            .sum()
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
/// ends (returned, failed, or its future dropped), and ends everything the session started.
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
        // Waiting requests fail with `Disconnected`; served subscriptions end; the session's
        // tasks are aborted (they hold the peer, so they would otherwise keep it alive).
        self.peer.awaiting.lock().clear();
        self.peer.subscriptions.lock().clear();
        drop(self.peer.followed.lock().take());
        drop(self.peer.tasks.lock().take());
    }
}

/// Says `Goodbye` with the reason (if the queue has room: a peer that reads nothing is
/// dropped without one) and returns the error that ends the session.
fn refuse(outgoing: &QueueSender, error: PeerError) -> PeerError {
    let (reason, kind) = match &error {
        PeerError::Unauthenticated(refusal) => (refusal.to_string(), Some(refusal.kind())),
        other => (other.to_string(), None),
    };
    let goodbye = Message::Goodbye { reason, kind };
    if outgoing.try_send(goodbye).is_err() {
        tracing::debug!("no room left for the goodbye");
    }
    error
}

async fn send_hello(outgoing: &QueueSender, hello: Hello) -> Result<(), PeerError> {
    outgoing
        .send(Message::Hello(hello))
        .await
        .map_err(|_| PeerError::Disconnected)
}

/// Who the peer of `theirs` is: what `authenticator` makes of its credential over the
/// `challenge` this node sent, or an anonymous identity on a node without one.
/// The error a peer's `Goodbye` ends the session with: a typed refusal of this node's
/// credential, or `otherwise` with the reason.
fn goodbye_error(
    reason: String,
    kind: Option<ErrorKind>,
    otherwise: fn(String) -> PeerError,
) -> PeerError {
    match AuthError::from_goodbye(kind, &reason) {
        Some(refusal) => PeerError::Unauthenticated(refusal),
        None => otherwise(reason),
    }
}

/// Waits for the peer's verdict on this node's credential: `Welcome`, or a `Goodbye` saying
/// why it was refused.
async fn await_welcome(
    outgoing: &QueueSender,
    incoming: &mut QueueReceiver,
) -> Result<(), PeerError> {
    match runtime::timeout(PEER_TIMEOUT, incoming.recv()).await {
        None => Err(PeerError::Timeout(PEER_TIMEOUT)),
        Some(None) => Err(PeerError::Disconnected),
        Some(Some(Message::Welcome { principal, .. })) => {
            tracing::info!(%principal, "accepted by the peer");
            Ok(())
        }
        Some(Some(Message::Goodbye { reason, kind })) => {
            Err(goodbye_error(reason, kind, PeerError::Refused))
        }
        Some(Some(_)) => {
            let error = PeerError::Protocol(
                "a peer that sent a challenge must answer the credential with Welcome or Goodbye"
                    .into(),
            );
            Err(refuse(outgoing, error))
        }
    }
}

fn authenticate(
    authenticator: &Option<Arc<dyn Authenticator>>,
    theirs: &Hello,
    challenge: Option<Vec<u8>>,
    this_node: NodeId,
) -> Result<Authenticated, AuthError> {
    let Some(authenticator) = authenticator else {
        return Ok(Authenticated {
            identity: ContextData::for_principal(format!("peer {}", theirs.node_id)),
            expires_at: None,
        });
    };
    let Some(credential) = &theirs.credential else {
        return Err(AuthError::new(
            AuthFailure::Missing,
            "this node requires a credential in Hello; give the connecting node one with `Node::set_credentials`",
        ));
    };
    let request = CredentialRequest {
        challenge,
        client: theirs.node_id,
        server: this_node,
    };
    authenticator.authenticate(credential, &request)
}

/// Groups missing event ids by the collection and entity of the events waiting on them:
/// one `GetEvents` request each.
fn group_missing(
    missing: &[(CollectionId, EntityId, EventId)],
) -> HashMap<(CollectionId, EntityId), Vec<EventId>> {
    let mut groups: HashMap<_, Vec<_>> = HashMap::new();
    for (collection, entity, id) in missing {
        groups
            .entry((collection.clone(), *entity))
            .or_default()
            .push(*id);
    }
    groups
}
