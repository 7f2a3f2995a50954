//! The `ankurah` binary against a real server (`ankurah serve` on sled, a child process on
//! a free loopback port) and real stores: every test starts its own, kills it on drop, and
//! bounds every wait.

mod common;
/// A scratch Postgres schema per test, as the Postgres engine's tests make them.
#[path = "../../storage/postgres/tests/common/mod.rs"]
mod postgres;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ankurah::storage::StorageEngine;
use ankurah::CollectionId;
use ankurah_storage_redb::RedbStorage;
use ankurah_storage_sled::SledStorage;
use common::*;
use serde_json::{json, Value};

fn path(path: &std::path::Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// The albums most tests start from, created by alice; returns their ids.
async fn seed(writer: &Writer) -> Vec<ankurah::EntityId> {
    let mut ids = Vec::new();
    for (name, year) in [
        ("Showbiz", 1999),
        ("Origin of Symmetry", 2001),
        ("Absolution", 2003),
    ] {
        ids.push(writer.create(name, "Muse", year).await);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_prints_a_table_and_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::sled(dir.path());
    let writer = Writer::connect(&server.url, "alice").await;
    let ids = seed(&writer).await;
    // A token the server accepts, from `ankurah token`.
    let token = ankurah_ok(&["token", "bob", "--key", SECRET]).await;
    let token = token.trim();
    let query = "year >= 2000 ORDER BY year";

    let table = ankurah_ok(&[
        "query",
        "album",
        query,
        "--server",
        &server.url,
        "--token",
        token,
    ])
    .await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["id", "artist", "name", "year"]);
    let row: Vec<&str> = lines[1].split("  ").filter(|c| !c.is_empty()).collect();
    let row: Vec<&str> = row.iter().map(|c| c.trim()).collect();
    assert_eq!(
        row,
        [
            ids[1].to_string().as_str(),
            "Muse",
            "Origin of Symmetry",
            "2001"
        ]
    );
    assert!(lines[2].starts_with(&ids[2].to_string()) && lines[2].ends_with("2003"));
    assert_eq!(lines[3], "(2 rows)");
    assert!(
        !table.contains('\x1b'),
        "colour only on a terminal: {table:?}"
    );

    let rows = json_lines(
        &ankurah_ok(&[
            "query",
            "album",
            query,
            "--json",
            "--server",
            &server.url,
            "--token",
            token,
        ])
        .await,
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], json!(ids[1].to_string()));
    assert_eq!(rows[0]["collection"], json!("album"));
    assert_eq!(rows[0]["deleted"], json!(false));
    assert_eq!(
        rows[0]["values"],
        json!({"artist": "Muse", "name": "Origin of Symmetry", "year": 2001})
    );
    assert_eq!(rows[1]["values"]["year"], json!(2003));
    assert_eq!(rows[0]["head"].as_array().map(Vec::len), Some(1));

    // The server authenticates: without a token the client is refused, said once on stderr.
    let refused = ankurah(
        ["query", "album", "", "--server", &server.url]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");

    // A query that does not parse names where.
    let bad = ankurah(
        [
            "query",
            "album",
            "year >",
            "--server",
            &server.url,
            "--token",
            token,
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid query"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_a_commit_made_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::sled(dir.path());
    let writer = Writer::connect(&server.url, "alice").await;
    writer.create("Origin of Symmetry", "Muse", 2001).await;
    let token = token("bob");
    let mut watcher = ChildGuard::spawn(&[
        "watch",
        "album",
        "year >= 2000",
        "--json",
        "--server",
        &server.url,
        "--token",
        &token,
    ]);
    let parse = |line: &str| -> Value { serde_json::from_str(line).expect("a JSON line") };
    // The first result: the album is in it, then the row count.
    let first = parse(&watcher.line());
    assert_eq!(first["change"], json!("initial"), "{first}");
    assert_eq!(
        first["entity"]["values"]["name"],
        json!("Origin of Symmetry")
    );
    assert_eq!(parse(&watcher.line())["rows"], json!(1));

    // Another client commits meanwhile: the watcher prints it as it arrives.
    writer.create("Absolution", "Muse", 2003).await;
    let added = parse(&watcher.line_where(|l| l.contains("Absolution")));
    assert_eq!(added["change"], json!("add"));
    assert_eq!(added["entity"]["values"]["year"], json!(2003));
    assert_eq!(parse(&watcher.line())["rows"], json!(2));

    // One that does not match the query is not printed; an edit that makes one leave is.
    writer.create("Showbiz", "Muse", 1999).await;
    let id = writer.create("Black Holes", "Muse", 2006).await;
    let entered = parse(&watcher.line_where(|l| l.contains("Black Holes")));
    assert_eq!(entered["change"], json!("add"));
    let view = writer.get(id).await;
    let trx = writer.ctx.begin();
    view.edit(&trx).unwrap().year().set(&1990).unwrap();
    trx.commit().await.unwrap();
    let removed = parse(&watcher.line_where(|l| l.contains("\"remove\"")));
    assert_eq!(removed["entity"]["id"], json!(id.to_string()));

    // The end of standard input ends it, successfully.
    assert!(watcher.close_stdin_and_wait().success());
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_at_history_blame_heads_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::sled(dir.path());
    let writer = Writer::connect(&server.url, "alice").await;
    let id = writer.create("Origin of Symmetry", "Muse", 2001).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let between = now_ms().to_string();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let view = writer.get(id).await;
    let trx = writer.ctx.begin();
    view.edit(&trx).unwrap().year().set(&2002).unwrap();
    trx.commit().await.unwrap();
    let trx = writer.ctx.begin();
    view.edit(&trx).unwrap().name().insert(0, "The ").unwrap();
    trx.commit().await.unwrap();

    let token = token("bob");
    let id = id.to_string();
    let run = |args: &[&str]| {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend([
            "--server".into(),
            server.url.clone(),
            "--token".into(),
            token.clone(),
        ]);
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ankurah_ok(&refs).await
        }
    };

    let now = &json_lines(&run(&["get", "album", &id, "--json"]).await)[0];
    assert_eq!(now["values"]["year"], json!(2002));
    assert_eq!(now["values"]["name"], json!("The Origin of Symmetry"));
    let then = &json_lines(&run(&["get", "album", &id, "--json", "--at", &between]).await)[0];
    assert_eq!(
        then["values"],
        json!({"artist": "Muse", "name": "Origin of Symmetry", "year": 2001})
    );
    // A clock works as a moment too: the genesis event (whose id is the entity's).
    let genesis = &json_lines(&run(&["get", "album", &id, "--json", "--at", &id]).await)[0];
    assert_eq!(genesis["values"]["year"], json!(2001));

    let history = json_lines(&run(&["history", "album", &id, "--json"]).await);
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0]["event"], json!(id));
    assert_eq!(history[0]["changed"], json!(["artist", "name", "year"]));
    assert_eq!(history[1]["changed"], json!(["year"]));
    assert_eq!(history[2]["changed"], json!(["name"]));
    assert!(history
        .iter()
        .all(|entry| entry["author"] == json!("alice")));
    assert_eq!(history[2]["parent"], json!([history[1]["event"]]));
    let table = run(&["history", "album", &id]).await;
    assert_eq!(table.lines().count(), 5, "{table}");

    let head = now["head"].clone();
    assert_eq!(head, json!([history[2]["event"]]));
    let blame = json_lines(&run(&["blame", "album", &id, "--json"]).await);
    let of = |property: &str| {
        blame
            .iter()
            .find(|line| line["property"] == json!(property))
            .unwrap_or_else(|| panic!("no blame for {property}: {blame:?}"))
            .clone()
    };
    assert_eq!(of("year")["event"], history[1]["event"]);
    assert_eq!(of("year")["value"], json!(2002));
    assert_eq!(of("year")["author"], json!("alice"));
    assert_eq!(of("artist")["event"], json!(id));
    assert_eq!(of("name")["event"], history[2]["event"]);
    assert_eq!(
        of("name")["touched"],
        json!([history[0]["event"], history[2]["event"]])
    );

    let heads = json_lines(&run(&["heads", "album", &id, "--json"]).await);
    assert_eq!(heads[0]["head"], head);

    let dot = run(&["events", "album", &id, "--dot"]).await;
    let (e1, e2, e3) = (
        &history[0]["event"],
        &history[1]["event"],
        &history[2]["event"],
    );
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    assert!(dot.starts_with(&format!("digraph \"{id}\"")), "{dot}");
    assert!(
        dot.contains(&format!("\"{}\" -> \"{}\";", s(e1), s(e2))),
        "{dot}"
    );
    assert!(
        dot.contains(&format!("\"{}\" -> \"{}\";", s(e2), s(e3))),
        "{dot}"
    );
    assert_eq!(dot.matches(" -> ").count(), 2, "{dot}");
    assert_eq!(dot.matches("style=bold").count(), 1, "only the head: {dot}");
    let events = json_lines(&run(&["events", "album", &id, "--json"]).await);
    let flags: Vec<&Value> = events.iter().map(|e| &e["head"]).collect();
    assert_eq!(flags, [&json!(false), &json!(false), &json!(true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_index_and_its_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::sled(dir.path());
    let writer = Writer::connect(&server.url, "alice").await;
    seed(&writer).await;
    writer.create("Hullabaloo", "Muse", 2001).await;
    drop(writer);
    drop(server); // one process at a time on a sled store
    let sled = path(dir.path());
    let explain = |query: &'static str| {
        let sled = sled.clone();
        async move {
            json_lines(&ankurah_ok(&["explain", "album", query, "--json", "--sled", &sled]).await)
                .remove(0)
        }
    };
    let equality = explain("year = 2001").await;
    assert_eq!(equality["engine"], json!("sled"));
    assert_eq!(equality["index"], json!("year"));
    assert_eq!(equality["candidates"], json!(2));
    assert_eq!(equality["estimated"], json!(false));
    let range = explain("year > 2000 AND artist = 'Muse'").await;
    assert_eq!(range["index"], json!("artist"), "equality before range");
    assert_eq!(range["candidates"], json!(4));
    let scan = explain("NOT year = 1").await;
    assert_eq!(scan["index"], Value::Null);
    assert_eq!(scan["candidates"], json!(4));

    let text = ankurah_ok(&["explain", "album", "year >= 2003", "--sled", &sled]).await;
    assert!(text.contains("index      year"), "{text}");
    assert!(text.contains("candidates 1"), "{text}");

    let refused = ankurah(
        ["explain", "album", "", "--server", "ws://127.0.0.1:1"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("local store"));
}

/// Every state (encoded) and every event of a store's `album` collection.
async fn contents(engine: &dyn StorageEngine) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    assert_eq!(
        engine.collections().await.unwrap(),
        [CollectionId::from("album")]
    );
    let collection = engine.collection(&"album".into()).await.unwrap();
    let states = collection.scan_states(None, 10_000).await.unwrap();
    let mut events = Vec::new();
    for state in &states {
        for event in collection
            .dump_entity_events(state.entity_id)
            .await
            .unwrap()
        {
            events.push(event.encode());
        }
    }
    (states.iter().map(|s| s.encode()).collect(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_from_sled_loads_into_postgres_redb_and_sled_identically() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::sled(&data);
    let writer = Writer::connect(&server.url, "alice").await;
    let ids = seed(&writer).await;
    let view = writer.get(ids[0]).await;
    let trx = writer.ctx.begin();
    view.edit(&trx).unwrap().name().insert(0, "Early ").unwrap();
    trx.commit().await.unwrap();
    let trx = writer.ctx.begin();
    writer.get(ids[2]).await.delete(&trx).unwrap();
    trx.commit().await.unwrap();
    drop(writer);
    drop(server);

    let file = path(&dir.path().join("albums.dump"));
    let sled = path(&data);
    ankurah_ok(&["dump", "--sled", &sled, "--out", &file]).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = json_lines(&text);
    assert_eq!(lines[0]["format"], json!("ankurah-dump"));
    assert_eq!(lines[0]["version"], json!(1));
    assert_eq!(lines.len(), 5, "header, three entities, trailer");
    assert_eq!(lines[4], json!({"end": {"entities": 3, "events": 5}}));
    // Standard output holds the same dump, but for the time it was written.
    let piped = ankurah_ok(&["dump", "--sled", &sled]).await;
    assert_eq!(
        piped.lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );

    let source = SledStorage::open(&data).unwrap();
    let expected = contents(&source).await;
    let system = source.system_id().await.unwrap();
    assert!(system.is_some());
    drop(source);
    let query = |store: Vec<String>| async move {
        let mut args = vec![
            "query".to_owned(),
            "album".into(),
            "ORDER BY year".into(),
            "--json".into(),
        ];
        args.extend(store);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ankurah_ok(&refs).await
    };
    let rows = query(vec!["--sled".into(), sled.clone()]).await;
    assert_eq!(
        json_lines(&rows).len(),
        2,
        "the deleted album is not listed"
    );

    // Into redb and into another sled store.
    let redb = path(&dir.path().join("copy.redb"));
    ankurah_ok(&["load", "--redb", &redb, &file]).await;
    let copy = RedbStorage::open(&redb).unwrap();
    assert_eq!(contents(&copy).await, expected);
    assert_eq!(copy.system_id().await.unwrap(), system);
    drop(copy);
    assert_eq!(query(vec!["--redb".into(), redb.clone()]).await, rows);
    let plan = ankurah_ok(&["explain", "album", "year = 2001", "--json", "--redb", &redb]).await;
    let plan = &json_lines(&plan)[0];
    assert_eq!(plan["engine"], json!("redb"));
    assert_eq!(
        (&plan["index"], &plan["candidates"]),
        (&json!("year"), &json!(1))
    );
    let sled_copy = path(&dir.path().join("copy"));
    ankurah_ok(&["load", "--sled", &sled_copy, &file]).await;
    let copy = SledStorage::open(&sled_copy).unwrap();
    assert_eq!(contents(&copy).await, expected);
    drop(copy);

    // Into Postgres, twice: the second load changes nothing.
    let Some(scratch) = postgres::Scratch::new("dump_from_sled_loads_into_postgres") else {
        return;
    };
    let postgres = ["--postgres", scratch.url(), "--schema", scratch.schema()];
    for _ in 0..2 {
        let mut args = vec!["load"];
        args.extend(postgres);
        args.push(&file);
        ankurah_ok(&args).await;
        let store = scratch.open().await;
        assert_eq!(contents(&store).await, expected);
        assert_eq!(store.system_id().await.unwrap(), system);
    }
    assert_eq!(query(postgres.map(String::from).to_vec()).await, rows);
    let mut explain = vec!["explain", "album", "year = 2001", "--json"];
    explain.extend(postgres);
    let plan = &json_lines(&ankurah_ok(&explain).await)[0];
    assert_eq!(plan["engine"], json!("postgres"));
    assert_eq!(plan["estimated"], json!(true));
    // And back out of Postgres: the same entities and events.
    let mut dump = vec!["dump"];
    dump.extend(postgres);
    let again = ankurah_ok(&dump).await;
    assert_eq!(
        again.lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_refuses_bad_dumps_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(&dir.path().join("target.redb"));
    let header = r#"{"format":"ankurah-dump","version":1,"system":null,"created":"2026-12-02T18:00:00Z","source":"test"}"#;
    let cases = [
        (
            header.replace("\"version\":1", "\"version\":2")
                + "\n{\"end\":{\"entities\":0,\"events\":0}}\n",
            "version 2 is not supported",
        ),
        (
            "{\"format\":\"tar\"}\n".to_owned(),
            "line 1: not an ankurah dump",
        ),
        (
            format!("{header}\n{{\"end\":{{\"entities\":0,\"events\":0}}}}\n{{}}\n"),
            "line 3: a line after the trailer",
        ),
        (
            format!("{header}\n{{\"collection\":\"album\",\"id\":\"nope\"}}\n"),
            "line 2: ",
        ),
        (format!("{header}\n"), "cut short"),
        (
            format!("{header}\n{{\"end\":{{\"entities\":1,\"events\":0}}}}\n"),
            "line 2: the trailer counts 1 entities",
        ),
    ];
    for (index, (dump, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{index}.dump"));
        std::fs::write(&file, dump).unwrap();
        let output = ankurah(
            ["load", "--redb", &store, &path(&file)]
                .map(String::from)
                .to_vec(),
        )
        .await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "case {index} loaded");
        assert!(stderr.contains(expected), "case {index}: {stderr}");
    }
    // An empty valid dump loads.
    let empty = dir.path().join("empty.dump");
    std::fs::write(
        &empty,
        format!("{header}\n{{\"end\":{{\"entities\":0,\"events\":0}}}}\n"),
    )
    .unwrap();
    ankurah_ok(&["load", "--redb", &store, &path(&empty)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_teaches_with_examples() {
    let help = ankurah_ok(&["--help"]).await;
    assert!(
        help.contains("Examples:") && help.contains("ankurah serve --sled"),
        "{help}"
    );
    for command in [
        "serve", "query", "watch", "get", "history", "blame", "heads", "events", "explain", "dump",
        "load", "token",
    ] {
        let help = ankurah_ok(&[command, "--help"]).await;
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
    let missing = ankurah(["query", "album"].map(String::from).to_vec()).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--server"));
}
