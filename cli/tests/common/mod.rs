//! Shared by the CLI tests: the `ankurah` binary run with a timeout, a server child that is
//! always killed, a writing client, and a scratch Postgres schema.
#![allow(dead_code)] // each test file uses a part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use ankurah::auth::{JwtSigner, TokenClaims};
use ankurah::storage::MemoryStorage;
use ankurah::{Context, ContextData, EntityId, Model, Node, PermissiveAgent};
use ankurah_websocket::WebsocketClient;

/// How long any one run of the binary, or any wait for a child's output, may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The token secret of the servers the tests start.
pub const SECRET: &str = "the cli tests' secret";

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ankurah")
}

/// A test model; the CLI knows nothing of it, it reads the collection `album`.
#[derive(Model, Debug, Clone)]
pub struct Album {
    /// Collaborative text.
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

/// A signed token for `user`, good for an hour.
pub fn token(user: &str) -> String {
    let signer = JwtSigner::hs256(SECRET.as_bytes()).expect("a signer");
    let expires = SystemTime::now() + Duration::from_secs(3600);
    signer
        .sign(&TokenClaims::new(user, expires))
        .expect("a token")
        .0
}

/// Runs the binary with `args` (bounded by [`TIMEOUT`]) from a blocking thread, so the
/// test's runtime keeps serving its clients meanwhile.
pub async fn ankurah(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::new(binary())
            .args(&args)
            .env_remove("NO_COLOR")
            .env_remove("ANKURAH_TOKEN")
            .timeout(TIMEOUT)
            .output()
            .expect("running ankurah")
    })
    .await
    .expect("the blocking thread")
}

/// Like [`ankurah`], and asserts it succeeded; returns standard output.
pub async fn ankurah_ok(args: &[&str]) -> String {
    let output = ankurah(args.iter().map(|a| a.to_string()).collect()).await;
    assert!(
        output.status.success(),
        "ankurah {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Standard output as JSON values, one per line.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

/// A child process killed (and reaped) on drop, with its standard output read line by line
/// on a thread of its own.
pub struct ChildGuard {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl ChildGuard {
    /// Starts the binary with `args`, standard input piped (and kept open) and standard
    /// output read.
    pub fn spawn(args: &[&str]) -> ChildGuard {
        let mut child = Command::new(binary())
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting ankurah");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        ChildGuard { child, lines }
    }

    /// The next line of output, waiting at most [`TIMEOUT`].
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("a line of output within the timeout")
    }

    /// Reads lines until one satisfies `wanted`, which is returned.
    pub fn line_where(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .expect("the awaited line within the timeout");
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Closes standard input and waits (bounded) for the exit status.
    pub fn close_stdin_and_wait(&mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the child did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ankurah serve` on a sled store, on a free loopback port, requiring tokens signed with
/// [`SECRET`].
pub struct Server {
    /// The child; dropping it kills the server.
    pub child: ChildGuard,
    /// ws://127.0.0.1:PORT.
    pub url: String,
}

impl Server {
    /// Starts it on `dir` and waits for its `serving on` line.
    pub fn sled(dir: &std::path::Path) -> Server {
        let dir = dir.to_str().expect("a UTF-8 path");
        let child = ChildGuard::spawn(&[
            "serve",
            "--sled",
            dir,
            "--bind",
            "127.0.0.1:0",
            "--token-key",
            SECRET,
        ]);
        let line = child.line();
        let url = line
            .strip_prefix("serving on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, url }
    }
}

/// A client node of user `user` connected to `url`, writing albums.
pub struct Writer {
    /// The context of `user`.
    pub ctx: Context,
    _connection: WebsocketClient,
}

impl Writer {
    /// Connects as `user`.
    pub async fn connect(url: &str, user: &str) -> Writer {
        let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
        let user_token = token(user);
        node.set_credentials(move |_: &ankurah::auth::CredentialRequest| {
            Some(ankurah::auth::Credential::Token(user_token.clone()))
        });
        let connection = tokio::time::timeout(TIMEOUT, WebsocketClient::new(node.clone(), url))
            .await
            .expect("connected in time")
            .expect("connected");
        tokio::time::timeout(TIMEOUT, node.system.wait_system_ready())
            .await
            .expect("the system in time");
        let ctx = node
            .context(&ContextData::for_principal(user))
            .expect("a context");
        Writer {
            ctx,
            _connection: connection,
        }
    }

    /// Creates an album; returns its id.
    pub async fn create(&self, name: &str, artist: &str, year: i32) -> EntityId {
        let trx = self.ctx.begin();
        let album = trx
            .create(&Album {
                name: name.into(),
                artist: artist.into(),
                year,
            })
            .await
            .expect("created");
        let id = album.id();
        trx.commit().await.expect("committed");
        id
    }

    /// The album `id`.
    pub async fn get(&self, id: EntityId) -> AlbumView {
        self.ctx.get::<AlbumView>(id).await.expect("the album")
    }
}
