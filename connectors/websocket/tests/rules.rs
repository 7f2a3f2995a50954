//! Access rules enforced by a durable node on sled over real sockets: each user sees their
//! own albums and shared ones (here `artist` names the owner and a negative `year` marks an
//! album shared), and never receives another user's private album by any path — get,
//! fetch, subscribe, follow, pushed updates or GetEvents; a write outside the rule is
//! refused, nothing is stored and the client's state is restored; an album its owner
//! shares arrives in the other user's live query, and leaves it and the user's store when
//! unshared; a reference to a hidden entity reveals nothing.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ankurah::Ref;
use ankurah_core::auth::{JwtAuthenticator, JwtSigner, TokenClaims};
use ankurah_core::proto::{Delta, Request, Response};
use ankurah_core::rules::{RulesAgent, RulesBuilder};
use ankurah_core::signals::{Peek, Subscribe};
use ankurah_core::storage::{MemoryStorage, StorageEngine};
use ankurah_core::{ChangeSet, ItemChange};
use ankurah_core::{Context, ContextData, EntityId, MutationError, Node, PermissiveAgent};
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketClient;
use common::raw::{ask, authenticated, Reply};
use common::{album, eventually, Album, AlbumView, Server};

const SECRET: &[u8] = b"the secret of the token issuer and the server";
const READ: &str = "artist = $user.id OR year < 0";
const WRITE: &str = "$new.artist = $user.id AND ($old.artist IS NULL OR $old.artist = $user.id)";

fn token(user: &str) -> ankurah_core::auth::Token {
    JwtSigner::hs256(SECRET)
        .expect("a secret")
        .sign(&TokenClaims::new(
            user,
            SystemTime::now() + Duration::from_secs(3600),
        ))
        .expect("signing")
}

/// A durable node on sled enforcing the album rules, and `more` rules for other models.
async fn server_with(more: impl FnOnce(RulesBuilder) -> RulesBuilder) -> Server {
    let rules = more(
        RulesAgent::builder()
            .read::<Album>(READ)
            .write::<Album>(WRITE),
    )
    .build()
    .expect("valid rules");
    let node = Node::new_durable(
        Arc::new(SledStorage::new_test().expect("a sled store")),
        rules,
    );
    node.system.create().await.expect("sled");
    node.set_authenticator(JwtAuthenticator::hs256(SECRET).expect("a secret"));
    Server::start(node, "127.0.0.1:0").await
}

async fn server() -> Server {
    server_with(|rules| rules).await
}

struct User {
    storage: Arc<MemoryStorage>,
    ctx: Context,
    _connection: WebsocketClient,
}

impl User {
    async fn connect(server: &Server, name: &str) -> User {
        let storage = Arc::new(MemoryStorage::new());
        let node = Node::new(storage.clone(), PermissiveAgent::new());
        node.set_credentials(token(name));
        let connection = WebsocketClient::new(node.clone(), &server.url())
            .await
            .expect("the token is accepted");
        node.system.wait_system_ready().await;
        let ctx = node
            .context(&ContextData::for_principal(name))
            .expect("a context");
        User {
            storage,
            ctx,
            _connection: connection,
        }
    }

    async fn create(&self, artist: &str, year: i32) -> Result<EntityId, MutationError> {
        let trx = self.ctx.begin();
        let id = trx.create(&album("A", artist, year)).await?.id();
        trx.commit().await.map(|()| id)
    }

    async fn set_year(&self, id: EntityId, year: i32) -> Result<(), MutationError> {
        let trx = self.ctx.begin();
        let view = self.ctx.get::<AlbumView>(id).await.expect("readable");
        trx.edit::<Album>(&view)?.year().set(&year)?;
        trx.commit().await
    }

    /// A live query of every album (every year the tests use).
    async fn all_albums(&self) -> ankurah_core::LiveQuery<AlbumView> {
        self.ctx
            .query_wait::<AlbumView>("year > -100")
            .await
            .expect("live query")
    }

    async fn fetched(&self) -> BTreeSet<EntityId> {
        let albums = self.ctx.fetch::<AlbumView>("").await.expect("fetch");
        albums.iter().map(|a| a.id()).collect()
    }

    /// Whether anything of entity `id` reached this user's node.
    async fn holds(&self, id: EntityId) -> bool {
        let collection = self
            .storage
            .collection(&"album".into())
            .await
            .expect("memory storage");
        collection.get_state(id).await.expect("memory").is_some()
    }
}

/// A server and two users connected to it.
async fn alice_and_bob() -> (Server, User, User) {
    let server = server().await;
    let alice = User::connect(&server, "alice").await;
    let bob = User::connect(&server, "bob").await;
    (server, alice, bob)
}

#[tokio::test]
async fn a_user_never_receives_another_users_private_album_by_any_path() {
    let (server, alice, bob) = alice_and_bob().await;

    // Alice's live query is open before bob writes anything, so updates are covered too.
    let live = alice.all_albums().await;
    let hers = alice.create("alice", 2001).await.expect("her album");
    let private = bob.create("bob", 2002).await.expect("his private album");
    let shared = bob.create("bob", -1).await.expect("his shared album");

    assert_eq!(alice.fetched().await, BTreeSet::from([hers, shared]));
    assert_eq!(
        bob.fetched().await,
        BTreeSet::from([private, shared]),
        "bob does not see alice's album either"
    );
    eventually(
        "alice's live query holds her album and the shared one",
        async || {
            let ids: BTreeSet<_> = live.peek().iter().map(|a| a.id()).collect();
            ids == BTreeSet::from([hers, shared])
        },
    )
    .await;
    assert!(alice.ctx.get::<AlbumView>(private).await.is_err());
    let _subscription = alice
        .ctx
        .query_wait::<AlbumView>(format!("id = '{private}'").as_str())
        .await
        .expect("a live query naming the private album");
    // Bob edits his private album: nothing of it is pushed to alice.
    bob.set_year(private, 2003).await.expect("his edit");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !alice.holds(private).await,
        "nothing of bob's private album reached alice's node"
    );

    // By hand, as alice: follow, fetch, subscribe and GetEvents of the private album.
    let mut raw = authenticated(&server.url(), token("alice").to_credential()).await;
    let collection = || "album".into();
    let known = vec![(private, Default::default())];
    let deltas_of = |reply: Reply| match reply {
        Reply::Answered(Response::Deltas(deltas)) => deltas
            .iter()
            // A `Withdrawn` carries no data: it names an entity the asker named itself.
            .filter(|delta| !matches!(delta, Delta::Withdrawn { .. }))
            .map(Delta::entity_id)
            .collect::<BTreeSet<_>>(),
        other => panic!("expected deltas, got {other:?}"),
    };
    let follow = Request::Follow {
        collection: collection(),
        known: known.clone(),
    };
    assert!(deltas_of(ask(&mut raw, 1, follow).await).is_empty());
    let everything = ankurah_core::ankql::parse_selection("", &[]).expect("parses");
    let fetch = Request::Fetch {
        collection: collection(),
        selection: everything.clone(),
        known: known.clone(),
    };
    assert_eq!(
        deltas_of(ask(&mut raw, 2, fetch).await),
        BTreeSet::from([hers, shared])
    );
    let subscribe = Request::Subscribe {
        subscription: 1,
        collection: collection(),
        selection: everything,
        known,
    };
    assert_eq!(
        deltas_of(ask(&mut raw, 3, subscribe).await),
        BTreeSet::from([hers, shared])
    );
    let get_events = Request::GetEvents {
        collection: collection(),
        entity_id: private,
        ids: vec![private.genesis_event()],
    };
    match ask(&mut raw, 4, get_events).await {
        Reply::Refused(reason) => assert!(reason.contains("album.read rule"), "{reason}"),
        other => panic!("the private album's history is refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_write_outside_the_rule_is_refused_and_undone() {
    let (server, alice, bob) = alice_and_bob().await;
    let shared = bob.create("bob", -1).await.expect("his shared album");
    // Alice can read the shared album but not take it over.
    let view = alice.ctx.get::<AlbumView>(shared).await.expect("shared");
    let trx = alice.ctx.begin();
    trx.edit::<Album>(&view)
        .expect("edit")
        .artist()
        .set(&"alice".to_owned())
        .expect("set");
    match trx.commit().await {
        Err(MutationError::AccessDenied(denied)) => {
            assert!(denied.0.contains("album.write rule"), "{denied}")
        }
        other => panic!("the takeover is refused, got {other:?}"),
    }
    assert_eq!(
        view.artist().expect("artist"),
        "bob",
        "alice's copy is restored"
    );
    let on_server = server
        .node
        .context(ankurah_core::DEFAULT_CONTEXT)
        .expect("context")
        .get::<AlbumView>(shared)
        .await
        .expect("stored");
    assert_eq!(on_server.artist().expect("artist"), "bob", "nothing stored");
    // Creating an album in someone else's name is refused too.
    assert!(matches!(
        alice.create("bob", 1999).await,
        Err(MutationError::AccessDenied(_))
    ));
}

#[tokio::test]
async fn an_album_arrives_in_a_live_query_when_shared_and_leaves_when_unshared() {
    let (_server, alice, bob) = alice_and_bob().await;
    let live = alice.all_albums().await;
    let private = bob.create("bob", 2002).await.expect("his private album");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(live.peek().is_empty());

    bob.set_year(private, -1).await.expect("sharing it");
    eventually(
        "the shared album arrives in alice's live query",
        async || live.peek().iter().any(|a| a.id() == private),
    )
    .await;

    // Bob unshares it: it leaves alice's live query, as a Remove, and her fetches.
    let removed = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = removed.clone();
    let _guard = live.subscribe(move |changes: ChangeSet<AlbumView>| {
        for change in &changes.changes {
            if let ItemChange::Remove { item } = change {
                seen.lock().push(item.id());
            }
        }
    });
    bob.set_year(private, 2005).await.expect("unsharing it");
    // Listeners are called on a queue of their own: wait for the Remove too.
    eventually(
        "the unshared album leaves alice's live query as a Remove",
        async || {
            !live.peek().iter().any(|a| a.id() == private) && removed.lock().contains(&private)
        },
    )
    .await;
    assert_eq!(*removed.lock(), [private], "only it left");
    assert!(!alice.fetched().await.contains(&private));
    assert!(alice.ctx.get::<AlbumView>(private).await.is_err());
    // Nothing of it stays on alice's node: her store holds an empty placeholder.
    let kept = alice
        .storage
        .collection(&"album".into())
        .await
        .expect("memory storage")
        .get_state(private)
        .await
        .expect("memory")
        .expect("a placeholder");
    assert!(
        kept.state.head.is_empty() && kept.state.is_deleted(),
        "{kept:?}"
    );
    let bytes = kept.encode();
    assert!(
        !bytes.windows(3).any(|w| w == b"bob"),
        "the unshared album's data is gone from alice's store"
    );

    // Shared again, it comes back.
    bob.set_year(private, -2).await.expect("sharing it again");
    eventually("the album shared again returns", async || {
        live.peek().iter().any(|a| a.id() == private)
    })
    .await;
    assert!(alice.fetched().await.contains(&private));
}

/// A track of an album: its `album` refers to an album that may be someone else's.
#[derive(ankurah::Model, Debug, Clone)]
pub struct Track {
    #[active_type(LWW)]
    pub owner: String,
    pub album: Ref<Album>,
}

/// Through a reference, nothing is read that the referenced collection's rule hides: the
/// state of bob's private album does not reach alice by way of her track that names it, nor
/// by way of his tracks, which his rule keeps from her.
#[tokio::test]
async fn a_reference_reveals_nothing_its_rule_hides() {
    let server = server_with(|rules| {
        rules
            .read::<Track>("owner = $user.id")
            .write::<Track>("$new.owner = $user.id")
    })
    .await;
    let alice = User::connect(&server, "alice").await;
    let bob = User::connect(&server, "bob").await;

    let private = bob.create("bob", 2002).await.expect("his private album");
    let track = |owner: &str| Track {
        owner: owner.into(),
        album: Ref::new(private),
    };
    let trx = bob.ctx.begin();
    let his_track = trx.create(&track("bob")).await.expect("his track").id();
    trx.commit().await.expect("his track");
    // Alice knows the album's id (ids are not secrets) and names it in a track of her own.
    let trx = alice.ctx.begin();
    let her_track = trx.create(&track("alice")).await.expect("her track").id();
    trx.commit().await.expect("a reference is hers to make");

    let query = format!("album = '{private}'");
    let tracks = alice
        .ctx
        .fetch::<TrackView>(query.as_str())
        .await
        .expect("her tracks of the album");
    assert_eq!(
        tracks.iter().map(|t| t.id()).collect::<Vec<_>>(),
        [her_track],
        "bob's track of it is his"
    );
    let referenced = tracks[0].album().expect("the reference").id();
    assert_eq!(referenced, private);
    assert!(
        alice.ctx.get::<AlbumView>(referenced).await.is_err(),
        "following the reference is a read of the album, which its rule refuses"
    );
    assert!(alice.ctx.get::<TrackView>(his_track).await.is_err());
    let _live = alice
        .ctx
        .query_wait::<TrackView>(query.as_str())
        .await
        .expect("a live query of the album's tracks");
    bob.set_year(private, 2003).await.expect("his edit");
    let trx = bob.ctx.begin();
    let view = bob.ctx.get::<TrackView>(his_track).await.expect("his");
    trx.edit::<Track>(&view)
        .expect("edit")
        .album()
        .set(&Ref::new(private))
        .expect("set");
    trx.commit().await.expect("his edit of his track");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !alice.holds(private).await,
        "nothing of the referenced album reached alice"
    );
    let tracks = alice
        .storage
        .collection(&"track".into())
        .await
        .expect("memory storage");
    assert!(
        tracks.get_state(his_track).await.expect("memory").is_none(),
        "nor bob's track"
    );
}

#[tokio::test]
async fn the_past_of_a_hidden_album_stays_hidden() {
    let (_server, alice, bob) = alice_and_bob().await;
    let private = bob.create("bob", 2001).await.expect("his album");
    let shared = bob.create("bob", -2001).await.expect("his shared album");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    bob.set_year(shared, 2002).await.expect("unshared now");
    bob.set_year(private, -2002).await.expect("shared now");

    // The history of what alice may read now is hers to see, whatever it was then...
    let history = alice
        .ctx
        .history::<AlbumView>(private)
        .await
        .expect("readable now");
    assert_eq!(history.len(), 2);
    // ...and that of what she may not read now is not, nor its state then.
    for denied in [
        alice.ctx.history::<AlbumView>(shared).await.map(drop),
        alice.ctx.blame::<AlbumView>(shared).await.map(drop),
        alice
            .ctx
            .get_at::<AlbumView>(shared, before)
            .await
            .map(drop),
    ] {
        assert!(
            matches!(denied, Err(ankurah_core::RetrievalError::AccessDenied(_))),
            "{denied:?}"
        );
    }
    // A query of the past shows what she could have read then: the album shared then.
    let then: BTreeSet<EntityId> = alice
        .ctx
        .fetch_at::<AlbumView>("", before)
        .await
        .expect("fetch_at")
        .iter()
        .map(|a| a.id())
        .collect();
    assert_eq!(then, BTreeSet::from([shared]));
    assert!(
        !alice.holds(shared).await,
        "reading the past stored nothing of it"
    );
}
