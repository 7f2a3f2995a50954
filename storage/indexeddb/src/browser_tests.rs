//! Node-level checks of the engine for the browser tests (feature `conformance`): a model
//! derived with `#[derive(Model)]` written through a node on IndexedDB, read back by another
//! node after the page reloads (no server anywhere: the data comes from IndexedDB), and a
//! deletion that stays deleted across the reload.

use std::sync::Arc;

use ankurah::{policy::DEFAULT_CONTEXT, Model, Node, PermissiveAgent};
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
