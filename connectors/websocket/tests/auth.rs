//! Authentication in the handshake over real sockets: a server with an authenticator
//! refuses anonymous, wrongly signed and expired credentials with a typed refusal, accepts
//! HS256 and EdDSA tokens and node keys (a signature over its challenge), checks what a peer
//! writes under the identity its credential yields, and ends a session whose token expires;
//! the client then reconnects with a fresh token from its callback.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ankurah_core::auth::{
    AuthError, AuthFailure, CredentialRequest, JwtAuthenticator, JwtSigner, KeyAuthenticator,
    NodeKey, TokenClaims,
};
use ankurah_core::event::Event;
use ankurah_core::signals::{Peek, Subscribe};
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{
    AccessDenied, ContextData, Entity, EntityId, MutationError, Node, PeerError, PolicyAgent,
};
use ankurah_websocket::{ConnectionState, WebsocketClient, WebsocketError};
use common::{album, ctx, eventually, AlbumView, Server};
use parking_lot::Mutex;

const SECRET: &[u8] = b"the secret shared by the token issuer and the server";

/// Allows everything and records who wrote.
#[derive(Clone, Default)]
struct Writers(Arc<Mutex<Vec<(String, Vec<String>)>>>);

impl PolicyAgent for Writers {
    fn check_write(
        &self,
        cx: &ContextData,
        event: &Event,
        _before: Option<&Entity>,
    ) -> Result<(), AccessDenied> {
        assert_eq!(
            event.author,
            cx.principal(),
            "only events of the peer's own identity reach the write check"
        );
        self.0
            .lock()
            .push((cx.principal().to_owned(), cx.roles().to_vec()));
        Ok(())
    }
}

impl Writers {
    fn principals(&self) -> Vec<String> {
        self.0.lock().iter().map(|(who, _)| who.clone()).collect()
    }
}

/// A durable node on memory storage that records writers, served on a free loopback port
/// with `authenticator`.
async fn server(authenticator: impl ankurah_core::auth::Authenticator) -> (Server, Writers) {
    let writers = Writers::default();
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), writers.clone());
    node.system.create().await.expect("memory storage");
    node.set_authenticator(authenticator);
    (Server::start(node, "127.0.0.1:0").await, writers)
}

fn client_node() -> Node {
    Node::new(
        Arc::new(MemoryStorage::new()),
        ankurah_core::PermissiveAgent::new(),
    )
}

fn in_secs(secs: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(secs)
}

fn hs256_token(user: &str, expires: SystemTime) -> ankurah_core::auth::Token {
    JwtSigner::hs256(SECRET)
        .expect("a secret")
        .sign(&TokenClaims::new(user, expires).with_roles(["editor"]))
        .expect("signing")
}

/// Creates an album on `node` in a context acting as `user` and returns its id.
async fn create(node: &Node, user: &str, name: &str) -> Result<EntityId, MutationError> {
    let trx = node
        .context(&ContextData::for_principal(user))
        .expect("the permissive agent allows every context")
        .begin();
    let id = trx.create(&album(name, "Muse", 2001)).await?.id();
    trx.commit().await?;
    Ok(id)
}

/// The refusal a first connection attempt ended with.
async fn refusal(node: Node, url: &str) -> AuthError {
    match WebsocketClient::new(node, url).await {
        Err(WebsocketError::Peer(PeerError::Unauthenticated(refusal))) => refusal,
        Err(other) => panic!("expected an authentication refusal, got {other}"),
        Ok(_) => panic!("the server accepted a client it should have refused"),
    }
}

#[tokio::test]
async fn anonymous_wrongly_signed_and_expired_clients_are_refused() {
    let (server, writers) = server(JwtAuthenticator::hs256(SECRET).expect("a secret")).await;

    let anonymous = refusal(client_node(), &server.url()).await;
    assert_eq!(anonymous.failure, AuthFailure::Invalid, "{anonymous}");
    assert!(
        anonymous.message.contains("requires a credential"),
        "{anonymous}"
    );

    let forger = client_node();
    let wrong_key = JwtSigner::hs256(b"another secret")
        .expect("a secret")
        .sign(&TokenClaims::new("mallory", in_secs(3600)))
        .expect("signing");
    forger.set_credentials(wrong_key);
    let forged = refusal(forger, &server.url()).await;
    assert_eq!(forged.failure, AuthFailure::Invalid, "{forged}");

    // A token of the right key but another algorithm is refused too: the server decides
    // how tokens are verified, not the token.
    let confused = client_node();
    let eddsa = JwtSigner::eddsa(&[7; 32])
        .expect("a key")
        .sign(&TokenClaims::new("mallory", in_secs(3600)))
        .expect("signing");
    confused.set_credentials(eddsa);
    assert_eq!(
        refusal(confused, &server.url()).await.failure,
        AuthFailure::Invalid
    );

    let late = client_node();
    late.set_credentials(hs256_token(
        "alice",
        SystemTime::now() - Duration::from_secs(10),
    ));
    let expired = refusal(late, &server.url()).await;
    assert_eq!(expired.failure, AuthFailure::Expired, "{expired}");

    assert_eq!(server.node.peer_count(), 0);
    assert!(writers.principals().is_empty());
}

#[tokio::test]
async fn a_token_yields_the_identity_writes_are_checked_under() {
    let (server, writers) = server(JwtAuthenticator::hs256(SECRET).expect("a secret")).await;
    let alice = client_node();
    alice.set_credentials(hs256_token("alice", in_secs(3600)));
    let _connection = WebsocketClient::new(alice.clone(), &server.url())
        .await
        .expect("alice's token is accepted");
    alice.system.wait_system_ready().await;
    create(&alice, "alice", "Showbiz").await.expect("commit");
    assert_eq!(
        writers.0.lock().clone(),
        [("alice".to_owned(), vec!["editor".to_owned()])]
    );
}

#[tokio::test]
async fn eddsa_tokens_are_verified_with_the_issuer_public_key() {
    let issuer_seed = [42u8; 32];
    let public_key = NodeKey::from_seed(&issuer_seed).public_key();
    let (server, writers) = server(JwtAuthenticator::eddsa(&public_key)).await;
    let bob = client_node();
    let token = JwtSigner::eddsa(&issuer_seed)
        .expect("a key")
        .sign(&TokenClaims::new("bob", in_secs(3600)))
        .expect("signing");
    bob.set_credentials(token);
    let _connection = WebsocketClient::new(bob.clone(), &server.url())
        .await
        .expect("bob's token is accepted");
    bob.system.wait_system_ready().await;
    create(&bob, "bob", "Origin of Symmetry")
        .await
        .expect("commit");
    assert_eq!(writers.principals(), ["bob"]);

    let other_issuer = client_node();
    other_issuer.set_credentials(
        JwtSigner::eddsa(&[43; 32])
            .expect("a key")
            .sign(&TokenClaims::new("bob", in_secs(3600)))
            .expect("signing"),
    );
    assert_eq!(
        refusal(other_issuer, &server.url()).await.failure,
        AuthFailure::Invalid
    );
}

#[tokio::test]
async fn a_node_key_proves_itself_by_signing_the_challenge() {
    let key = NodeKey::generate();
    let authenticator = KeyAuthenticator::new().allow(
        key.public_key(),
        ContextData::for_principal("replica-1").with_roles(["replica"]),
    );
    let (server, writers) = server(authenticator).await;

    let known = client_node();
    known.set_credentials(key.clone());
    let _connection = WebsocketClient::new(known.clone(), &server.url())
        .await
        .expect("the known key is accepted");
    known.system.wait_system_ready().await;
    create(&known, "replica-1", "Absolution")
        .await
        .expect("commit");
    assert_eq!(writers.principals(), ["replica-1"]);

    let stranger = client_node();
    stranger.set_credentials(NodeKey::generate());
    let unknown = refusal(stranger, &server.url()).await;
    assert!(unknown.message.contains("not known"), "{unknown}");

    // A signature made for another connection (another challenge) proves nothing here.
    let replayer = client_node();
    let recorded = key
        .sign(&CredentialRequest {
            challenge: Some(vec![0; 32]),
            client: replayer.id(),
            server: server.node.id(),
        })
        .expect("a challenge to sign");
    replayer.set_credentials(move |_: &CredentialRequest| Some(recorded.clone()));
    let replayed = refusal(replayer, &server.url()).await;
    assert_eq!(replayed.failure, AuthFailure::Invalid, "{replayed}");
}

#[tokio::test]
async fn an_expired_token_ends_the_session_and_the_client_reconnects_with_a_fresh_one() {
    let (server, writers) = server(JwtAuthenticator::hs256(SECRET).expect("a secret")).await;
    let client = client_node();
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    // The first token is good for two seconds (`exp` has whole seconds: one to two in
    // practice), the fresh ones for an hour.
    client.set_credentials(move |_: &CredentialRequest| {
        let lifetime = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => 2,
            _ => 3600,
        };
        Some(hs256_token("carol", in_secs(lifetime)).to_credential())
    });
    let connection = WebsocketClient::new(client.clone(), &server.url())
        .await
        .expect("the first token is accepted");
    client.system.wait_system_ready().await;
    let states: Arc<Mutex<Vec<ConnectionState>>> = Arc::default();
    let recorder = states.clone();
    let _guard = connection
        .state()
        .subscribe(move |state| recorder.lock().push(state));

    eventually(
        "the session ends at expiry and the client reconnects",
        async || {
            issued.load(Ordering::SeqCst) >= 2
                && connection.state().peek() == ConnectionState::Connected
        },
    )
    .await;
    let seen = states.lock().clone();
    assert!(
        seen.iter().any(|state| matches!(
            state,
            ConnectionState::Disconnected { reason } if reason.contains("expired")
        )),
        "the client was told its credential expired: {seen:?}"
    );
    // The new session works under the same identity.
    create(&client, "carol", "Black Holes")
        .await
        .expect("commit");
    assert_eq!(writers.principals(), ["carol"]);
    let ctx = ctx(&server.node);
    assert_eq!(
        ctx.fetch::<AlbumView>("name = 'Black Holes'")
            .await
            .expect("fetch")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_event_whose_author_is_not_the_peer_is_refused_and_undone() {
    let (server, writers) = server(JwtAuthenticator::hs256(SECRET).expect("a secret")).await;
    let mallory = client_node();
    mallory.set_credentials(hs256_token("mallory", in_secs(3600)));
    let _connection = WebsocketClient::new(mallory.clone(), &server.url())
        .await
        .expect("mallory's token is accepted");
    mallory.system.wait_system_ready().await;

    // Mallory commits as alice: the server refuses the forgery, stores nothing, and the
    // client undoes the album.
    let forged = create(&mallory, "alice", "Forged").await;
    match forged {
        Err(MutationError::AccessDenied(denied)) => {
            assert!(denied.0.contains("\"alice\""), "{denied}");
            assert!(denied.0.contains("\"mallory\""), "{denied}");
        }
        other => panic!("expected a refused forgery, got {other:?}"),
    }
    let on_server = ctx(&server.node)
        .fetch::<AlbumView>("name = 'Forged'")
        .await
        .expect("fetch");
    assert!(on_server.is_empty(), "nothing of the forgery is stored");
    let on_client = mallory
        .context(&ContextData::for_principal("mallory"))
        .expect("context")
        .fetch::<AlbumView>("name = 'Forged'")
        .await
        .expect("fetch");
    assert!(on_client.is_empty(), "the client undid the refused album");
    assert!(writers.principals().is_empty());

    // Her own albums go through, recorded as hers.
    create(&mallory, "mallory", "Honest").await.expect("commit");
    assert_eq!(writers.principals(), ["mallory"]);
}

#[tokio::test]
async fn a_server_without_authenticator_listens_beyond_loopback_only_when_told_to() {
    let node = || Node::new_durable(Arc::new(MemoryStorage::new()), Writers::default());
    let open = ankurah_websocket::WebsocketServer::new(node())
        .bind("0.0.0.0:0")
        .await;
    match open {
        Err(WebsocketError::Anonymous { addr }) => assert!(!addr.ip().is_loopback()),
        other => panic!("an anonymous server beyond loopback is refused, got {other:?}"),
    }
    let chosen = ankurah_websocket::WebsocketServer::new(node())
        .allow_anonymous()
        .bind("0.0.0.0:0")
        .await;
    assert!(chosen.is_ok(), "anonymous access chosen explicitly");
    let guarded = node();
    guarded.set_authenticator(JwtAuthenticator::hs256(SECRET).expect("a secret"));
    let authenticated = ankurah_websocket::WebsocketServer::new(guarded)
        .bind("0.0.0.0:0")
        .await;
    assert!(
        authenticated.is_ok(),
        "a server that authenticates may listen anywhere"
    );
}

/// A durable node on memory with these limits, authenticating HS256 tokens.
async fn guarded_server(limits: ankurah_core::Limits) -> Server {
    let config = ankurah_core::NodeConfig {
        limits,
        ..Default::default()
    };
    let node = Node::with_config(
        Arc::new(MemoryStorage::new()),
        Writers::default(),
        true,
        config,
    );
    node.system.create().await.expect("memory storage");
    node.set_authenticator(JwtAuthenticator::hs256(SECRET).expect("a secret"));
    Server::start(node, "127.0.0.1:0").await
}

#[tokio::test]
async fn one_identity_may_open_only_so_many_sessions() {
    let server = guarded_server(ankurah_core::Limits {
        max_connections_per_identity: 2,
        ..Default::default()
    })
    .await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let dave = client_node();
        dave.set_credentials(hs256_token("dave", in_secs(3600)));
        sessions.push(
            WebsocketClient::new(dave, &server.url())
                .await
                .expect("within the limit"),
        );
    }
    let third = client_node();
    third.set_credentials(hs256_token("dave", in_secs(3600)));
    match WebsocketClient::new(third, &server.url()).await {
        Err(WebsocketError::Peer(PeerError::Refused(reason))) => {
            assert!(reason.contains("sessions of one identity"), "{reason}")
        }
        other => panic!("a third session of dave is refused, got {other:?}"),
    }
    let erin = client_node();
    erin.set_credentials(hs256_token("erin", in_secs(3600)));
    assert!(
        WebsocketClient::new(erin, &server.url()).await.is_ok(),
        "other identities are not affected"
    );
}

/// An identity's requests over all its sessions are admitted at its rate, a second's worth
/// at once and then one at a time: more sessions buy no more requests. The requests beyond
/// the rate wait (none is refused); another identity is not held up meanwhile.
#[tokio::test]
async fn one_identity_may_send_only_so_many_requests_a_second() {
    use common::raw::{authenticated, flood, frame, tally};
    use futures_util::StreamExt;

    const RATE: u32 = 20;
    const EACH: u64 = 30;
    let server = guarded_server(ankurah_core::Limits {
        max_requests_per_second_per_identity: RATE,
        ..Default::default()
    })
    .await;
    let get = |id| {
        let request = ankurah_core::proto::Request::Get {
            collection: "album".into(),
            ids: vec![EntityId::new()],
            known: Vec::new(),
        };
        frame(id, request)
    };
    let credential = || hs256_token("dave", in_secs(3600)).to_credential();
    let started = std::time::Instant::now();
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (sink, stream) = authenticated(&server.url(), credential()).await.split();
        let _sending = flood(sink, (1..=EACH).map(get));
        readers.push(stream);
    }
    // Erin's few requests are within her own budget.
    let (sink, mut erin) = authenticated(
        &server.url(),
        hs256_token("erin", in_secs(3600)).to_credential(),
    )
    .await
    .split();
    let _sending = flood(sink, (1..=5).map(get));
    let hers = tally(&mut erin, 1..=5, Duration::from_secs(10)).await;
    assert_eq!(hers.answered, 5, "{hers:?}");
    let erin_done = started.elapsed();
    for stream in &mut readers {
        let his = tally(stream, 1..=EACH, Duration::from_secs(10)).await;
        assert_eq!(his.answered as u64, EACH, "every request answered: {his:?}");
    }
    let dave_done = started.elapsed();
    // 60 requests: 20 at once, the other 40 at 20 a second, so two seconds at the least
    // (a slower machine only makes it longer).
    let least = Duration::from_secs_f64((2 * EACH - u64::from(RATE)) as f64 / f64::from(RATE));
    assert!(
        dave_done >= least.mul_f64(0.95),
        "dave's two sessions were served faster than his rate allows: {dave_done:?}"
    );
    assert!(
        erin_done < dave_done,
        "erin ({erin_done:?}) is not queued behind dave ({dave_done:?})"
    );
}
