//! The two-terminal client keeps what was typed offline across an exit: an album typed
//! while the server is down, then Ctrl-D (end of input), reaches the server when the client
//! is started again.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah::storage::MemoryStorage;
use ankurah::{Model, Node, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_websocket::WebsocketServer;

/// The client's model, as the server sees it through a fetch.
#[derive(Model, Debug, Clone)]
pub struct Album {
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

fn start_client(url: &str, store: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_client"))
        .arg(url)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the client starts")
}

/// Waits (off the runtime) for the client to exit, and returns what it printed.
async fn finished(child: Child) -> String {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("the waiter does not panic")
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "the client failed: {stdout}");
    stdout
}

#[tokio::test]
async fn an_album_typed_offline_reaches_the_server_after_a_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let store = tempfile::tempdir().expect("a temporary directory");

    // The server is down: the album waits in the client's store, and the client exits.
    let mut client = start_client(&url, store.path());
    let mut input = client.stdin.take().expect("stdin");
    writeln!(input, "Typed Offline 2001").expect("the client reads");
    drop(input);
    let printed = finished(client).await;
    assert!(
        printed.contains("1 unsent change(s) stay in"),
        "the client says what is left: {printed}"
    );

    // The server comes up; the restarted client sends the album.
    let server = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    server.system.create().await.expect("a system");
    let bound = WebsocketServer::new(server.clone())
        .bind(format!("127.0.0.1:{port}").as_str())
        .await
        .expect("the port is free again");
    tokio::spawn(bound.run());
    let mut client = start_client(&url, store.path());
    let ctx = server.context(DEFAULT_CONTEXT).expect("permissive");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = ctx
            .fetch::<AlbumView>("year = 2001")
            .await
            .expect("a fetch");
        if let Some(album) = found.first() {
            assert_eq!(album.name().expect("a name"), "Typed Offline");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the album never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(client.stdin.take());
    let printed = finished(client).await;
    assert!(!printed.contains("unsent"), "nothing is left: {printed}");
}
