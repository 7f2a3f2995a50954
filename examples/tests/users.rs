//! The two-terminal demo has users: each client presents a token for its `--name`, and the
//! server's rules let it see its own albums and the shared ones, never another user's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ankurah::storage::StorageEngine;
use ankurah::Node;
use ankurah_storage_sled::SledStorage;
use ankurah_websocket::WebsocketServer;

fn start_client(url: &str, name: &str, store: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_client"))
        .args([url, "--name", name, "--store"])
        .arg(store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the client starts")
}

#[tokio::test]
async fn each_user_sees_their_own_albums_and_the_shared_ones() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let storage = Arc::new(SledStorage::open(data.path()).expect("sled"));
    let server = Node::new_durable(
        storage.clone(),
        ankurah_examples::rules().expect("the demo's rules are valid"),
    );
    server.set_authenticator(ankurah_examples::authenticator().expect("the demo secret"));
    server.system.create().await.expect("a system");
    let bound = WebsocketServer::new(server.clone())
        .bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("ws://{}", bound.local_addr());
    tokio::spawn(bound.run());

    // Bob types a private album and a shared one, and quits once the server has them.
    let bob_store = tempfile::tempdir().expect("a temporary directory");
    let mut bob = start_client(&url, "bob", bob_store.path());
    let mut input = bob.stdin.take().expect("stdin");
    writeln!(input, "Bob Private 2003\n+Shared By Bob 2004").expect("bob's client reads");
    // Quitting before the connection is up would leave them for the next start.
    let albums = storage
        .collection(&"album".into())
        .await
        .expect("the album collection");
    let everything = ankurah::ankql::parse_selection("", &[]).expect("the empty query");
    for _ in 0..3000 {
        if albums
            .fetch_states(&everything)
            .await
            .expect("a scan")
            .len()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(input);
    let bob = tokio::task::spawn_blocking(move || bob.wait_with_output())
        .await
        .expect("the waiter does not panic")
        .expect("bob's client runs");
    let printed = String::from_utf8_lossy(&bob.stdout);
    assert!(bob.status.success(), "bob's client failed: {printed}");
    assert!(
        !printed.contains("unsent"),
        "the server has bob's albums: {printed}"
    );

    // Alice types one of hers and watches her live query until it holds two albums.
    let alice_store = tempfile::tempdir().expect("a temporary directory");
    let mut alice = start_client(&url, "alice", alice_store.path());
    let mut input = alice.stdin.take().expect("stdin");
    writeln!(input, "Alice Private 2001").expect("alice's client reads");
    let stdout = alice.stdout.take().expect("stdout");
    let (done, shown) = tokio::sync::oneshot::channel();
    // Reads to the end, so the client never writes to a closed pipe.
    let reader = std::thread::spawn(move || {
        let mut seen: Vec<String> = Vec::new();
        let mut done = Some(done);
        for line in BufReader::new(stdout).lines() {
            seen.push(line.expect("utf-8 output"));
            let complete = seen.last().is_some_and(|l| l == "-- 2 albums")
                && seen.iter().any(|l| l.contains("Alice Private"))
                && seen.iter().any(|l| l.contains("Shared By Bob"));
            if complete {
                if let Some(done) = done.take() {
                    let _ = done.send(());
                }
            }
        }
        seen
    });
    tokio::time::timeout(Duration::from_secs(60), shown)
        .await
        .expect("alice sees her album and the shared one within a minute")
        .expect("the reader reports");
    drop(input);
    let status = tokio::task::spawn_blocking(move || alice.wait())
        .await
        .expect("the waiter does not panic")
        .expect("alice's client runs");
    assert!(status.success());
    let seen = reader.join().expect("the reader does not panic");
    assert!(
        !seen.iter().any(|line| line.contains("Bob Private")),
        "alice never sees bob's private album: {seen:?}"
    );
}
