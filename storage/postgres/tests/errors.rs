//! Bad data and bad names give typed errors, never panics, and never half a commit.

mod common;

use std::sync::Arc;

use ankurah_core::ankql::parse_selection;
use ankurah_core::storage::{CommitBatch, StorageEngine};
use ankurah_core::testing::genesis;
use ankurah_core::{CollectionId, StorageError, Value};
use ankurah_storage_postgres::PostgresStorage;
use common::Scratch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_errors() {
    let Some(scratch) = Scratch::new("corrupt_rows_are_errors") else {
        return;
    };
    let engine = scratch.open().await;
    let (event, state) = genesis("album", &[("n".into(), 1.into())], false);
    engine
        .commit(CommitBatch {
            events: vec![event.clone()],
            states: vec![state.clone()],
        })
        .await
        .expect("commit");
    let client = scratch.connect().await;
    let schema = engine.schema().replace('"', "\"\"");
    client
        .batch_execute(&format!(
            r#"UPDATE "{schema}"."album" SET state = '\x01ff', head = '\x00';
               UPDATE "{schema}"."album:events" SET event = '\x01c1'"#
        ))
        .await
        .expect("corrupting");

    let album = engine
        .collection(&CollectionId::from("album"))
        .await
        .expect("album");
    let id = state.state.entity_id;
    assert!(matches!(
        album.get_state(id).await,
        Err(StorageError::Decode(_))
    ));
    let all = parse_selection("n = 1 ORDER BY n", &[]).expect("query");
    assert!(matches!(
        album.fetch_states(&all).await,
        Err(StorageError::Decode(_))
    ));
    assert!(matches!(
        album.get_events(id, &[event.id]).await,
        Err(StorageError::Decode(_))
    ));
    assert!(matches!(
        album.dump_entity_events(id).await,
        Err(StorageError::Decode(_))
    ));
    let (edit_event, edited) = ankurah_core::testing::edit(&state, &[("n".into(), 2.into())]);
    let commit = engine
        .commit(CommitBatch {
            events: vec![edit_event],
            states: vec![edited],
        })
        .await;
    assert!(
        matches!(commit, Err(StorageError::Decode(_))),
        "a commit onto a corrupt row: {commit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_format_version_is_refused() {
    let Some(scratch) = Scratch::new("another_format_version_is_refused") else {
        return;
    };
    let engine = scratch.open().await;
    let schema = engine.schema().replace('"', "\"\"");
    let client = scratch.connect().await;
    client
        .batch_execute(&format!(
            r#"UPDATE "{schema}"."ankurah:meta" SET value = '0' WHERE key = 'format'"#
        ))
        .await
        .expect("downgrading");
    let url = std::env::var("ANKURAH_POSTGRES_URL").expect("the scratch has a URL");
    match PostgresStorage::open_in_schema(&url, engine.schema()).await {
        Err(StorageError::FormatVersion {
            found, expected, ..
        }) => assert_eq!((found.as_str(), expected.as_str()), ("0", "1")),
        other => panic!("expected a format version error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_postgres_cannot_hold_are_refused_before_anything_is_written() {
    let Some(scratch) =
        Scratch::new("names_postgres_cannot_hold_are_refused_before_anything_is_written")
    else {
        return;
    };
    let engine = scratch.open().await;
    for name in ["a:b", &"c".repeat(57), ""] {
        assert!(
            matches!(
                engine.collection(&CollectionId::from(name)).await,
                Err(StorageError::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
    let fine = genesis("album", &[("n".into(), 1.into())], false);
    let too_long = genesis("album", &[("p".repeat(60), Value::I64(1))], false);
    let batch = CommitBatch {
        events: vec![fine.0.clone(), too_long.0],
        states: vec![fine.1.clone(), too_long.1],
    };
    assert!(matches!(
        engine.commit(batch).await,
        Err(StorageError::InvalidName { .. })
    ));
    let album = engine
        .collection(&CollectionId::from("album"))
        .await
        .expect("album");
    assert_eq!(
        album
            .get_state(fine.1.state.entity_id)
            .await
            .expect("get_state"),
        None,
        "nothing of the batch was stored"
    );
    assert_eq!(
        album
            .get_events(fine.0.entity_id, &[fine.0.id])
            .await
            .expect("get_events"),
        vec![]
    );
    match PostgresStorage::open("not a url").await {
        Err(error @ StorageError::Engine { engine, .. }) => {
            assert_eq!(engine, "postgres");
            assert_eq!(error.code(), None, "the driver refused it, not the server");
            let source = std::error::Error::source(&error).expect("the driver's error");
            assert!(source.is::<tokio_postgres::Error>(), "{source:?}");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

/// A commit the server refuses surfaces with the server's SQLSTATE and its message, and
/// stores nothing. The constraint is deferred, so the refusal comes from the COMMIT itself:
/// the server answered, so this is a refused commit, not one of unknown durability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_commit_carries_the_sqlstate() {
    let Some(scratch) = Scratch::new("a_refused_commit_carries_the_sqlstate") else {
        return;
    };
    let engine = scratch.open().await;
    let first = genesis("album", &[("n".into(), 1.into())], false);
    engine
        .commit(CommitBatch {
            events: vec![first.0],
            states: vec![first.1],
        })
        .await
        .expect("commit");
    let schema = engine.schema().replace('"', "\"\"");
    scratch
        .connect()
        .await
        .batch_execute(&format!(
            r#"ALTER TABLE "{schema}"."album" ADD CONSTRAINT "one n" UNIQUE ("n:int") DEFERRABLE INITIALLY DEFERRED"#
        ))
        .await
        .expect("adding a constraint behind the engine's back");

    let second = genesis("album", &[("n".into(), 1.into())], false);
    let refused = engine
        .commit(CommitBatch {
            events: vec![second.0.clone()],
            states: vec![second.1.clone()],
        })
        .await
        .expect_err("a duplicate of a unique value");
    assert!(
        matches!(
            refused,
            StorageError::Engine {
                engine: "postgres",
                ..
            }
        ),
        "{refused:?}"
    );
    assert_eq!(refused.code(), Some("23505"), "unique_violation: {refused}");
    assert!(refused.to_string().contains("one n"), "{refused}");
    let album = engine
        .collection(&CollectionId::from("album"))
        .await
        .expect("album");
    assert_eq!(
        album
            .get_state(second.1.state.entity_id)
            .await
            .expect("get_state"),
        None
    );
    assert_eq!(
        album
            .get_events(second.0.entity_id, &[second.0.id])
            .await
            .expect("get_events"),
        vec![]
    );
}

/// A TCP proxy to the server whose connections can be cut, as a network failure would.
struct Proxy {
    port: u16,
    connections: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards every connection to `server` (host, port).
    async fn start(server: (String, u16)) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let port = listener.local_addr().expect("its address").port();
        let connections = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let accepting = tokio::spawn({
            let connections = connections.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let server = server.clone();
                    let forwarding = tokio::spawn(async move {
                        if let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await {
                            // Ends when either side closes, or when cut.
                            let copied =
                                tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            drop(copied);
                        }
                    });
                    connections.lock().push(forwarding.abort_handle());
                }
            }
        });
        Proxy {
            port,
            connections,
            accepting,
        }
    }

    /// Drops every forwarded connection: clients see their connection break.
    fn cut(&self) {
        self.accepting.abort();
        for connection in self.connections.lock().drain(..) {
            connection.abort();
        }
    }
}

/// A data commit whose COMMIT gets no answer, because the connection broke while the server
/// worked on it, may or may not have happened: it is a flush error, not a refused commit.
/// The server is kept busy at COMMIT by a deferred trigger that sleeps; the connection is
/// cut once the server is seen sleeping there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_without_an_answer_is_a_flush_error() {
    let Some(scratch) = Scratch::new("a_commit_without_an_answer_is_a_flush_error") else {
        return;
    };
    let engine = scratch.open().await;
    let (event, state) = genesis("album", &[("n".into(), 1.into())], false);
    engine
        .commit(CommitBatch {
            events: vec![event],
            states: vec![state],
        })
        .await
        .expect("commit");

    let url = std::env::var("ANKURAH_POSTGRES_URL").expect("the scratch has a URL");
    let config: tokio_postgres::Config = url.parse().expect("a valid URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        other => panic!("this test needs a TCP server, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let proxy = Proxy::start((host, port)).await;
    let application = format!("flush_test_{}", engine.schema());
    let mut proxied = format!(
        "host=127.0.0.1 port={} application_name={application} user={} dbname={}",
        proxy.port,
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or("postgres"),
    );
    if let Some(password) = config.get_password() {
        proxied.push_str(&format!(" password={}", String::from_utf8_lossy(password)));
    }
    let through = PostgresStorage::open_in_schema(&proxied, engine.schema())
        .await
        .expect("opening through the proxy");

    let schema = engine.schema().replace('"', "\"\"");
    let observer = scratch.connect().await;
    observer
        .batch_execute(&format!(
            r#"CREATE FUNCTION "{schema}".linger() RETURNS trigger LANGUAGE plpgsql
                   AS $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
               CREATE CONSTRAINT TRIGGER linger AFTER INSERT ON "{schema}"."album"
                   DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".linger()"#
        ))
        .await
        .expect("a trigger that holds up COMMIT");

    let (event, state) = genesis("album", &[("n".into(), 2.into())], false);
    let commit = tokio::spawn(async move {
        through
            .commit(CommitBatch {
                events: vec![event],
                states: vec![state],
            })
            .await
    });
    let sleeping = "SELECT pid FROM pg_stat_activity
                    WHERE application_name = $1 AND query = 'COMMIT' AND wait_event = 'PgSleep'";
    let mut backend = None;
    for _ in 0..1500 {
        if let Some(row) = observer
            .query_opt(sleeping, &[&application])
            .await
            .expect("pg_stat_activity")
        {
            backend = Some(row.get::<_, i32>(0));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let backend = backend.expect("the server reached COMMIT and its trigger");
    proxy.cut();
    let result = commit.await.expect("the commit task");
    // The server would go on and commit after its sleep; end it so the schema can go.
    observer
        .execute("SELECT pg_terminate_backend($1)", &[&backend])
        .await
        .expect("ending the server's session");
    match result {
        Err(StorageError::Flush {
            engine, earlier, ..
        }) => assert_eq!((engine, earlier), ("postgres", false)),
        other => panic!("expected a flush error, got {other:?}"),
    }
}
