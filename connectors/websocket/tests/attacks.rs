//! Attacks on a server, each played by a raw tokio-tungstenite peer speaking the protocol by
//! hand, while two honest `WebsocketClient`s keep working through the same server: their
//! fetches must be answered and their commits acknowledged and seen by the other within a
//! generous bound, and afterwards a new client must still be able to connect and sync.
//!
//! What each attack must get (DESIGN §8, §9): input nested deeper than the server's depth
//! limit is refused with an error (or a `Goodbye`), never evaluated, stored or crashed on;
//! a commit is stored iff it is answered `Committed`, and a refused one leaves nothing
//! behind that fails later commits; a peer that floods the server or stops reading gets
//! errors or is dropped, its queue stays bounded, and the memory it made the server use
//! comes back when it leaves.
//!
//! Memory is the live heap of this process, counted exactly by the allocator below (server,
//! clients and test alike, so tests run one at a time). Every test prints what it measured.

mod common;

use std::time::{Duration, Instant};

use ankurah_core::ankql::parse_selection;
use ankurah_core::proto::{Message, Request};
use ankurah_core::signals::Peek;
use ankurah_core::testing::wire::{
    self, commit_frame, fetch_frame, fetch_json_frame, nested_arrays, nested_not,
};
use ankurah_core::{Limits, NodeConfig};
use common::heap::{self, mib, MIB};
use common::raw::{self, reply, send_bytes, tally, Reply, PATIENCE};
use common::{album, ctx, Album, AlbumView, Client, Fixture};
use futures_util::StreamExt;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

/// No test may take longer, whatever the server does.
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// How far the live heap may stay above its baseline once an attacker has left: room for
/// the honest clients' own albums and caches, far below what any attack here piles up.
const SETTLE_TOLERANCE: usize = 32 * MIB;

/// An attack test: run in a child process of its own (`common::isolated`), so that a server
/// crashing the process fails this test alone, on a multi-threaded runtime like a server's.
macro_rules! attack {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            common::isolated(stringify!($name), TEST_LIMIT, || $body).await
        }
    };
}

/// The server's answer to one frame sent by a fresh raw peer, with the honest clients
/// probing meanwhile.
async fn answer_to(fixture: &Fixture, frame: Vec<u8>, what: &str) -> Reply {
    eprintln!("{what}: a frame of {} bytes", frame.len());
    let (answer, honest) = fixture
        .probe_during(async {
            let mut raw = fixture.greeted().await;
            send_bytes(&mut raw, frame).await;
            reply(&mut raw, 1).await
        })
        .await;
    eprintln!("{what}: the server's answer: {}", brief(&answer));
    honest.report(&format!("during {what}"));
    answer
}

/// A reply, cut short for printing.
fn brief(reply: &Reply) -> String {
    let text = format!("{reply:?}");
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// A request nested beyond the server's depth limit must be refused (an error answer or a
/// `Goodbye`), never answered and never crashed on; the server serves everyone after.
async fn refused_as_too_deep(frame: impl FnOnce(&Fixture) -> Vec<u8>, what: &str) {
    let fixture = Fixture::new().await;
    let answer = answer_to(&fixture, frame(&fixture), what).await;
    assert!(
        matches!(answer, Reply::Refused(_) | Reply::Goodbye(_)),
        "{what} nests beyond the depth limit of {}, yet got {}",
        fixture.config.limits.max_depth,
        brief(&answer)
    );
    fixture.still_works().await;
}

attack!(a_fetch_nesting_not_2_000_deep_is_refused, async {
    refused_as_too_deep(
        |_| fetch_frame(1, "album", &nested_not(2_000)),
        "a Fetch of NOT × 2,000",
    )
    .await
});

attack!(a_fetch_nesting_not_100_000_deep_is_refused, async {
    refused_as_too_deep(
        |_| fetch_frame(1, "album", &nested_not(100_000)),
        "a Fetch of NOT × 100,000",
    )
    .await
});

attack!(
    a_fetch_comparing_with_json_nesting_1_000_arrays_is_refused,
    async {
        refused_as_too_deep(
            |_| fetch_json_frame(1, "album", "artist", &nested_arrays(1_000)),
            "a Fetch comparing with a Json of 1,000 nested arrays",
        )
        .await
    }
);

attack!(
    a_fetch_comparing_with_json_nesting_100_000_arrays_is_refused,
    async {
        refused_as_too_deep(
            |_| fetch_json_frame(1, "album", "artist", &nested_arrays(100_000)),
            "a Fetch comparing with a Json of 100,000 nested arrays",
        )
        .await
    }
);

/// A commit creating an album whose lww property `artist` is a Json of `depth` nested
/// arrays must be refused, nothing of it stored or seen by the honest clients.
async fn deep_json_commit_is_refused(depth: usize) {
    let fixture = Fixture::new().await;
    let event = wire::new_album(1999);
    let mut forged = event.clone();
    forged.operations.insert(
        "lww".into(),
        wire::lww_json_operations("artist", &nested_arrays(depth)).into(),
    );
    let what = format!("a commit whose Json value nests {depth} arrays");
    let answer = answer_to(&fixture, commit_frame(1, vec![forged]), &what).await;
    assert!(
        matches!(answer, Reply::Refused(_) | Reply::Goodbye(_)),
        "{what} (depth limit {}) got {}",
        fixture.config.limits.max_depth,
        brief(&answer)
    );
    fixture.assert_nothing_stored(&event).await;
    fixture.still_works().await;
    assert!(
        fixture
            .albums_on_b
            .peek()
            .iter()
            .all(|v| v.id() != event.entity_id),
        "the honest client received the refused album"
    );
}

attack!(
    an_850_byte_commit_with_json_nesting_700_arrays_is_refused,
    deep_json_commit_is_refused(700)
);

attack!(
    a_commit_with_json_nesting_1_000_arrays_is_refused,
    deep_json_commit_is_refused(1_000)
);

attack!(
    a_commit_with_json_nesting_100_000_arrays_is_refused,
    deep_json_commit_is_refused(100_000)
);

/// Commits `events` from a raw peer that has none of their ancestors (it answers the
/// server's `GetEvents` with nothing).
async fn commit_raw(raw: &mut raw::Raw, id: u64, events: Vec<ankurah_core::Event>) -> Reply {
    send_bytes(raw, commit_frame(id, events)).await;
    reply(raw, id).await
}

/// Commits `events` as request 1 of `raw` and checks that the server refuses them.
async fn assert_commit_refused(raw: &mut raw::Raw, events: Vec<ankurah_core::Event>, what: &str) {
    let answer = commit_raw(raw, 1, events).await;
    eprintln!("{what}: {}", brief(&answer));
    assert!(
        matches!(answer, Reply::Refused(_)),
        "{what} got {}",
        brief(&answer)
    );
}

attack!(
    a_commit_naming_an_unknown_parent_is_refused_and_harms_no_later_commit,
    async {
        let fixture = Fixture::new().await;
        let mut raw = fixture.greeted().await;
        let orphan = wire::orphan();
        let what = "a commit naming a parent nobody has";
        assert_commit_refused(&mut raw, vec![orphan.clone()], what).await;
        fixture.assert_nothing_stored(&orphan).await;

        // Later, unrelated commits: of the same peer, of an honest client and of a new one.
        let mut failed = Vec::new();
        for id in 2..=4 {
            let album = wire::new_album(2000 + id as i64);
            match commit_raw(&mut raw, id, vec![album.clone()]).await {
                Reply::Answered(_) => fixture.assert_stored(&album).await,
                other => failed.push(format!("the same peer's next commit: {}", brief(&other))),
            }
        }
        let newcomer = Client::connect(&fixture.server.url()).await;
        for (who, client) in [
            ("an honest client", &fixture.a),
            ("a new client", &newcomer),
        ] {
            if let Err(error) = try_create(client).await {
                failed.push(format!("{who}'s commit: {error}"));
            }
        }
        eprintln!("later commits that failed: {failed:#?}");
        assert!(
            failed.is_empty(),
            "valid commits after a refused one failed: {failed:#?}"
        );
        let ((), honest) = fixture.probe_during(async {}).await;
        honest.report("after the refused commit");
        drop((raw, newcomer));
        fixture.still_works().await;
        fixture.assert_nothing_stored(&orphan).await;
    }
);

/// Creates an album on `client`, acknowledged by the server, or says why not.
async fn try_create(client: &Client) -> Result<(), String> {
    let trx = client.ctx().begin();
    trx.create(&album("Later", "honest", 2001))
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PATIENCE, trx.commit()).await {
        Err(_) => Err(format!("not answered within {PATIENCE:?}")),
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(())) if !client.all_acknowledged().await => Err("not acknowledged".into()),
        Ok(Ok(())) => Ok(()),
    }
}

attack!(a_batch_with_one_bad_event_is_refused_whole, async {
    let fixture = Fixture::new().await;
    let mut raw = fixture.greeted().await;
    let (good, bad) = (wire::new_album(1997), wire::orphan());
    let mut batch = vec![good.clone(), bad.clone()];
    batch.sort_by_key(|e| e.id);
    let what = "a batch of a good event and one naming a parent nobody has";
    assert_commit_refused(&mut raw, batch, what).await;
    fixture.assert_nothing_stored(&bad).await;
    fixture.assert_nothing_stored(&good).await;
    drop(raw);
    fixture.still_works().await;
});

attack!(
    an_edit_whose_text_update_yrs_cannot_integrate_harms_nobody,
    async {
        let fixture = Fixture::new().await;
        let id = common::create(&fixture.a.node, "Origin of Symmetry", 2001).await;
        let (state, _) = fixture.stored("album", id).await;
        let head = state.expect("the album is stored").head;
        let mut edit = wire::event("album", id, head, Vec::new());
        edit.operations.clear();
        edit.operations
            .insert("yrs".into(), wire::pending_yrs_update().into());
        let mut raw = fixture.greeted().await;
        let answer = commit_raw(&mut raw, 1, vec![edit.clone()]).await;
        eprintln!("an edit with a yrs update left pending: {}", brief(&answer));
        // Whatever the answer, the album is still served and editable.
        let honest_edit = async {
            let view = fixture.a.ctx().get::<AlbumView>(id).await.unwrap();
            let trx = fixture.a.ctx().begin();
            trx.edit::<Album>(&view).unwrap().year().set(&2002).unwrap();
            match tokio::time::timeout(PATIENCE, trx.commit()).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err("not answered".into()),
            }
        };
        let edited = honest_edit.await;
        let fetched = tokio::time::timeout(
            PATIENCE,
            fixture.b.ctx().fetch::<AlbumView>(("id = ?", [id])),
        )
        .await;
        let served = matches!(&fetched, Ok(Ok(albums)) if albums.len() == 1);
        eprintln!("then an honest edit of the album: {edited:?}; fetching it works: {served}");
        assert!(
            matches!(answer, Reply::Answered(_) | Reply::Refused(_)),
            "the server neither took nor refused the edit: {}",
            brief(&answer)
        );
        assert!(
            edited.is_ok() && served,
            "the album is harmed: edit {edited:?}, fetch {fetched:?}"
        );
        drop(raw);
        fixture.still_works().await;
    }
);

/// Creates `count` albums on `writer`, each with an artist of `artist_bytes`.
async fn seed(writer: &Client, count: usize, artist_bytes: usize) {
    let artist = "a".repeat(artist_bytes);
    for n in 0..count {
        let trx = writer.ctx().begin();
        trx.create(&album(&format!("Seed {n}"), &artist, 1900 + n as i32))
            .await
            .unwrap();
        trx.commit().await.unwrap();
    }
}

/// The size of the answer to `Fetch year > 0`, as a raw peer receives it.
async fn answer_bytes(fixture: &Fixture) -> usize {
    let mut raw = fixture.greeted().await;
    match raw::ask(&mut raw, 1, fetch_every_album()).await {
        Reply::Answered(response) => Message::Response { id: 1, response }.encode().len(),
        other => panic!("an honest fetch got {other:?}"),
    }
}

/// Fetch every album.
fn fetch_every_album() -> Request {
    Request::Fetch {
        collection: "album".into(),
        selection: parse_selection("year > 0", &[]).unwrap(),
        known: Vec::new(),
    }
}

/// Subscription `id` (also the request id) to every album.
fn subscribe_every_album(id: u64) -> Request {
    Request::Subscribe {
        subscription: id,
        collection: "album".into(),
        selection: parse_selection("year > 0", &[]).unwrap(),
        known: Vec::new(),
    }
}

/// Figures of the live heap around an attack.
struct Heap {
    baseline: usize,
}

impl Heap {
    /// Starts measuring: the current heap is the baseline and the peak is reset.
    fn measure() -> Heap {
        assert!(heap::installed(), "the counting allocator is installed");
        heap::reset_peak();
        Heap {
            baseline: heap::current(),
        }
    }

    /// Waits until the heap is back within [`SETTLE_TOLERANCE`] of the baseline (up to 30
    /// s), prints the figures and checks it is.
    async fn assert_settles(&self, peak: usize, what: &str) {
        let target = self.baseline + SETTLE_TOLERANCE;
        let settled = heap::settle_below(target, Duration::from_secs(30)).await;
        eprintln!(
            "live heap: baseline {}, peak {} (+{}), settled {} (+{})",
            mib(self.baseline),
            mib(peak),
            mib(peak.saturating_sub(self.baseline)),
            mib(settled),
            mib(settled.saturating_sub(self.baseline)),
        );
        assert!(
            settled <= target,
            "after {what}, the live heap stays at {} above its baseline (allowed: {})",
            mib(settled - self.baseline),
            mib(SETTLE_TOLERANCE)
        );
    }
}

/// Bytes a peer's queue may hold at most under `limits`, answering requests whose answers
/// are `answer` bytes: the queued messages and the requests in progress, twice over for the
/// decoded and encoded copies.
fn queue_bound(limits: &Limits, answer: usize) -> usize {
    (limits.max_queued_messages + limits.max_requests_per_peer) * answer * 2
}

attack!(
    a_peer_that_sends_10_000_fetches_and_never_reads_harms_nobody,
    async {
        const FETCHES: u64 = 10_000;
        let fixture = Fixture::new().await;
        seed(&fixture.a, 16, 2048).await;
        let answer = answer_bytes(&fixture).await;
        let mut idle = common::fixture::Honest::default();
        fixture.probe(&mut idle).await;
        idle.report("idle");

        let memory = Heap::measure();
        let (sink, unread) = fixture.greeted().await.split();
        let frames = (1..=FETCHES).map(|id| raw::frame(id, fetch_every_album()));
        let (((sink, sent), peak), honest) = fixture
            .probe_during(async {
                let flooded = raw::flood(sink, frames).await.unwrap();
                // Until the server has done what it will with them.
                let peak =
                    heap::until_steady(Duration::from_secs(3), Duration::from_secs(60)).await;
                (flooded, peak)
            })
            .await;
        eprintln!(
            "a peer sent {sent} of {FETCHES} Fetches (answers of {answer} bytes) and read nothing"
        );
        honest.report("while it did");
        drop((sink, unread));
        memory
            .assert_settles(peak, "a peer that never read left")
            .await;
        let bound = queue_bound(&fixture.config.limits, answer) + SETTLE_TOLERANCE;
        assert!(
            peak - memory.baseline <= bound,
            "the server held {} for a peer that reads nothing: its queue is not bounded \
             (allowed: {})",
            mib(peak - memory.baseline),
            mib(bound)
        );
        fixture.still_works().await;
    }
);

attack!(huge_valid_commits_are_accepted_and_memory_settles, async {
    const TEXT_BYTES: usize = 15_000_000;
    const COMMITS: usize = 3;
    // Limits that admit a 15 MB event (the defaults are lower); nothing else changed.
    let limits = Limits {
        max_event_bytes: 16 * MIB,
        max_entity_bytes: 16 * MIB,
        max_transaction_bytes: 16 * MIB,
        ..Limits::default()
    };
    let config = NodeConfig {
        limits,
        ..NodeConfig::default()
    };
    let fixture = Fixture::with_config(config.clone()).await;
    let memory = Heap::measure();
    let ((), honest) = fixture
        .probe_during(async {
            let writer = Client::connect_with(&fixture.server.url(), config.clone()).await;
            for n in 0..COMMITS {
                let started = Instant::now();
                let name = char::from(b'a' + n as u8).to_string().repeat(TEXT_BYTES);
                let trx = ctx(&writer.node).begin();
                let id = trx
                    .create(&album(&name, "huge", 3000 + n as i32))
                    .await
                    .unwrap()
                    .id();
                tokio::time::timeout(PATIENCE * 6, trx.commit())
                    .await
                    .expect("a huge commit is answered")
                    .expect("a huge valid commit is accepted");
                assert!(
                    writer.all_acknowledged().await,
                    "the server acknowledged the huge commit"
                );
                common::eventually("the other client sees the huge album", async || {
                    fixture.albums_on_b.peek().iter().any(|v| {
                        v.id() == id && v.name().is_ok_and(|name| name.len() == TEXT_BYTES)
                    })
                })
                .await;
                eprintln!(
                    "commit {n} of a {} MB text: acknowledged and seen in {:.1} s, heap now {}",
                    TEXT_BYTES / 1_000_000,
                    started.elapsed().as_secs_f64(),
                    mib(heap::current())
                );
            }
            writer.connection.shutdown().await;
        })
        .await;
    honest.report("during the huge commits");
    let peak = heap::peak();
    // What stays: the texts in the server's storage (event, state, value) and resident
    // entity (document, text), the same in the reader's, and the capacity of the buffers
    // that carried them to the reader: about a dozen copies.
    let kept = heap::settle_below(
        memory.baseline + COMMITS * 10 * TEXT_BYTES,
        Duration::from_secs(10),
    )
    .await;
    eprintln!(
        "live heap after {COMMITS} commits of {} MB: baseline {}, peak {}, settled {}",
        TEXT_BYTES / 1_000_000,
        mib(memory.baseline),
        mib(peak),
        mib(kept)
    );
    let per_text = (kept.saturating_sub(memory.baseline)) / COMMITS;
    eprintln!(
        "that is {:.1} copies of each text kept",
        per_text as f64 / TEXT_BYTES as f64
    );
    assert!(
        per_text <= 16 * TEXT_BYTES,
        "each huge commit leaves {} live on the heap",
        mib(per_text)
    );
    fixture.still_works().await;
});

attack!(a_flood_of_subscriptions_is_cut_off_at_the_limit, async {
    let fixture = Fixture::new().await;
    let limit = fixture.config.limits.max_subscriptions_per_peer;
    let requests = (limit + 1_000) as u64;
    let memory = Heap::measure();
    let (sink, mut stream) = fixture.greeted().await.split();
    let frames = (1..=requests).map(|id| raw::frame(id, subscribe_every_album(id)));
    let ((counted, (sink, sent)), honest) = fixture
        .probe_during(async {
            let sending = raw::flood(sink, frames);
            let counted = tally(&mut stream, 1..=requests, PATIENCE).await;
            (counted, sending.await.unwrap())
        })
        .await;
    eprintln!("a peer sent {sent} Subscribes (limit {limit}): {counted:?}");
    honest.report("during the flood");
    let peak = heap::peak();
    assert!(
        counted.answered <= limit,
        "{} subscriptions of one peer accepted, beyond the limit of {limit}",
        counted.answered
    );
    assert!(
        counted.refused > 0 || counted.ended.is_some(),
        "the peer over the limit got neither an error nor a disconnection: {counted:?}"
    );
    drop((sink, stream));
    memory
        .assert_settles(peak, "the subscribing peer left")
        .await;
    fixture.still_works().await;
});

attack!(requests_of_a_peer_whose_queue_is_full_are_refused, async {
    const SUBSCRIPTIONS: u64 = 8;
    const UPDATE_BYTES: usize = 16 * 1024;
    /// How long the server has to refuse or drop the peer before it reads again.
    const GRACE: Duration = Duration::from_secs(15);
    let fixture = Fixture::new().await;
    let limits = fixture.config.limits.clone();
    let memory = Heap::measure();
    let mut attacker = fixture.greeted().await;
    for id in 1..=SUBSCRIPTIONS {
        let answer = raw::ask(&mut attacker, id, subscribe_every_album(id)).await;
        assert!(matches!(answer, Reply::Answered(_)), "{answer:?}");
    }
    let (sink, mut stream) = attacker.split();

    // Twice the queue limit in updates of 16 KiB, far beyond what socket buffers hold.
    let commits = limits.max_queued_messages as u64 * 2 / SUBSCRIPTIONS + 1;
    // By a writer of its own: the honest clients' probes check that theirs are
    // acknowledged one by one.
    let writer = Client::connect(&fixture.server.url()).await;
    let ((), honest) = fixture
        .probe_during(seed(&writer, commits as usize, UPDATE_BYTES))
        .await;
    honest.report(&format!(
        "while {commits} commits filled the queue of a peer that stopped reading"
    ));
    let late: Vec<u64> = (1_000..1_004).collect();
    let (sink, sent) = raw::flood(
        sink,
        late.clone()
            .into_iter()
            .map(|id| raw::frame(id, fetch_every_album())),
    )
    .await
    .unwrap();
    let with_attacker = fixture.server.node.peer_count();
    let dropped = async {
        while fixture.server.node.peer_count() >= with_attacker {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let dropped = tokio::time::timeout(GRACE, dropped).await.is_ok();
    let counted = tally(&mut stream, late, PATIENCE).await;
    eprintln!(
        "{sent} requests sent with a full queue; dropped within {GRACE:?}: {dropped}; \
             then read: {counted:?}"
    );
    assert!(
        dropped || counted.ended.is_some() || (counted.refused > 0 && counted.answered == 0),
        "requests sent while the peer's queue was full were served as usual: {counted:?}"
    );
    drop((sink, stream, writer));
    // The seeded albums stay (in storage and caches), so the heap is not expected back
    // at its baseline; the figures show what the queue cost.
    eprintln!(
        "live heap: baseline {}, peak {}, after the peer left {}",
        mib(memory.baseline),
        mib(heap::peak()),
        mib(heap::current())
    );
    fixture.still_works().await;
});
