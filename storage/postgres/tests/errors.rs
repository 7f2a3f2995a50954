//! Bad data and bad names give typed errors, never panics, and never half a commit.

mod common;

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
