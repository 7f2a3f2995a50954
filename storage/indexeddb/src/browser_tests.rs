//! Node-level checks of the engine for the browser tests (feature `conformance`): a model
//! derived with `#[derive(Model)]` written through a node on IndexedDB, read back by another
//! node after the page reloads (no server anywhere: the data comes from IndexedDB), and a
//! deletion that stays deleted across the reload.

use std::sync::Arc;

use ankurah::{policy::DEFAULT_CONTEXT, Model, Node, PermissiveAgent, Transaction};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::IndexedDbStorage;

/// The model the browser tests write.
#[derive(Model, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Album {
    /// Collaborative text.
    pub name: String,
    /// Last writer wins.
    pub year: i32,
}

fn js(error: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&error.to_string())
}

/// A durable node on the database `name`, its system created or loaded.
async fn node_on(name: &str) -> Result<Node, JsValue> {
    let storage = IndexedDbStorage::open(name).await.map_err(js)?;
    let node = Node::new_durable(Arc::new(storage), PermissiveAgent::new());
    node.system.create().await.map_err(js)?;
    Ok(node)
}

/// Writes two albums into the database `name` and deletes the second.
#[wasm_bindgen]
pub async fn write_albums(name: String) -> Result<(), JsValue> {
    let node = node_on(&name).await?;
    let ctx = node.context(DEFAULT_CONTEXT).map_err(js)?;
    let trx = ctx.begin();
    let kept = Album {
        name: "Origin of Symmetry".into(),
        year: 2001,
    };
    let album = trx.create(&kept).await.map_err(js)?;
    album.name().insert(0, "The ").map_err(js)?;
    trx.create(&Album {
        name: "Absolution".into(),
        year: 2003,
    })
    .await
    .map_err(js)?;
    trx.commit().await.map_err(js)?;

    let doomed = ctx.fetch::<AlbumView>("year = 2003").await.map_err(js)?;
    let trx = ctx.begin();
    for view in &doomed {
        view.delete(&trx).map_err(js)?;
    }
    trx.commit().await.map_err(js)?;
    Ok(())
}

/// The albums a new node on the database `name` finds after 2000, as `name:year` lines in
/// year order.
#[wasm_bindgen]
pub async fn read_albums(name: String) -> Result<String, JsValue> {
    let node = node_on(&name).await?;
    let ctx = node.context(DEFAULT_CONTEXT).map_err(js)?;
    let views = ctx
        .fetch::<AlbumView>("year > 2000 ORDER BY year")
        .await
        .map_err(js)?;
    let mut lines = Vec::new();
    for view in views {
        lines.push(format!(
            "{}:{}",
            view.name().map_err(js)?,
            view.year().map_err(js)?
        ));
    }
    Ok(lines.join("\n"))
}

/// A live query on a node on IndexedDB: its listener (drained as a task of its own in the
/// browser) sees an album committed after the initial result, within a second.
#[wasm_bindgen]
pub async fn live_query(name: String) -> Result<(), JsValue> {
    use ankurah::changes::ChangeSet;
    use ankurah::signals::Subscribe;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let node = node_on(&name).await?;
    let ctx = node.context(DEFAULT_CONTEXT).map_err(js)?;
    let query = ctx
        .query_wait::<AlbumView>("year >= 2010")
        .await
        .map_err(js)?;
    let added = Arc::new(AtomicUsize::new(0));
    let seen = added.clone();
    let _guard = query.subscribe(move |changes: ChangeSet<AlbumView>| {
        seen.fetch_add(changes.changes.len(), Ordering::SeqCst);
    });
    let trx = ctx.begin();
    trx.create(&Album {
        name: "Drones".into(),
        year: 2015,
    })
    .await
    .map_err(js)?;
    trx.commit().await.map_err(js)?;
    ankurah_core::testing::within(
        std::time::Duration::from_secs(1),
        "the listener sees the album",
        || added.load(Ordering::SeqCst) == 1,
    )
    .await;
    Ok(())
}

/// Milliseconds since `start` (`Date.now()`), for the benchmark.
fn since(start: f64) -> f64 {
    js_sys::Date::now() - start
}

/// The browser benchmark behind docs/PERFORMANCE.md: `count` albums created one commit each
/// through a node on IndexedDB, then 100 range queries of about 10 albums each through the
/// index, then one query reading every album. Returns the figures as JSON.
#[wasm_bindgen]
pub async fn bench(name: String, count: u32) -> Result<String, JsValue> {
    let node = node_on(&name).await?;
    let ctx = node.context(DEFAULT_CONTEXT).map_err(js)?;
    let start = js_sys::Date::now();
    for i in 0..count {
        let trx = ctx.begin();
        create_album(&trx, i).await?;
        trx.commit().await.map_err(js)?;
    }
    let commit_ms = since(start);
    let queries = 100;
    let start = js_sys::Date::now();
    for q in 0..queries {
        let low = (q * 37) % count.max(1);
        let found = ctx
            .fetch::<AlbumView>(format!("year >= {low} AND year < {}", low + 10).as_str())
            .await
            .map_err(js)?;
        if found.is_empty() {
            return Err(js(format!("no album in [{low}, {})", low + 10)));
        }
    }
    let range_ms = since(start);
    let start = js_sys::Date::now();
    let all = ctx.fetch::<AlbumView>("year >= 0").await.map_err(js)?;
    let scan_ms = since(start);
    if all.len() != count as usize {
        return Err(js(format!("{} albums of {count}", all.len())));
    }
    Ok(format!(
        "{{\"count\":{count},\"commit_ms_each\":{:.3},\"range_query_ms_each\":{:.3},\"fetch_all_ms\":{:.1}}}",
        commit_ms / f64::from(count.max(1)),
        range_ms / f64::from(queries),
        scan_ms
    ))
}

/// Creates album number `i` of a benchmark (named after it, of year `i`) in `trx`.
async fn create_album(trx: &Transaction, i: u32) -> Result<(), JsValue> {
    let year = i32::try_from(i).map_err(js)?;
    trx.create(&Album {
        name: format!("album {i}"),
        year,
    })
    .await
    .map_err(js)
    .map(drop)
}

/// The bulk benchmark behind docs/PERFORMANCE.md: `count` albums created in transactions of
/// 100 through a node on IndexedDB, then a new node on the same database loading all of
/// them (a live query's first result, as a page's first load). Returns the figures as JSON.
#[wasm_bindgen]
pub async fn bench_bulk(name: String, count: u32) -> Result<String, JsValue> {
    let ctx = node_on(&name).await?.context(DEFAULT_CONTEXT).map_err(js)?;
    let start = js_sys::Date::now();
    for batch in (0..count).collect::<Vec<_>>().chunks(100) {
        let trx = ctx.begin();
        for &i in batch {
            create_album(&trx, i).await?;
        }
        trx.commit().await.map_err(js)?;
    }
    let create_ms = since(start);
    let fresh = node_on(&name).await?.context(DEFAULT_CONTEXT).map_err(js)?;
    let start = js_sys::Date::now();
    let all = fresh
        .query_wait::<AlbumView>("year >= 0")
        .await
        .map_err(js)?;
    let load_ms = since(start);
    let loaded = ankurah::signals::Peek::peek(&all).len();
    if loaded != count as usize {
        return Err(js(format!(
            "the first load found {loaded} albums of {count}"
        )));
    }
    Ok(format!(
        "{{\"count\":{count},\"created_per_s_in_transactions_of_100\":{:.0},\"first_load_ms\":{:.1}}}",
        f64::from(count) / (create_ms / 1000.0),
        load_ms
    ))
}
