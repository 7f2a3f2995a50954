//! The browser demo: the album list of the two-terminal demo in a web page.
//!
//! The page's node is ephemeral, keeps its store in IndexedDB (`ankurah-demo`) and connects
//! to the example server (`cargo run -p ankurah-examples --bin server`) with the browser's
//! [`WebsocketClient`]. It starts offline if it must: albums added meanwhile wait in the
//! store's outbox and are sent on connection, and a reload shows what the store holds.
//! Build and serve it with `scripts/wasm.sh demo`.

#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use ankurah::changes::ChangeSet;
use ankurah::signals::{Subscribe, SubscriptionGuard};
use ankurah::{Context, LiveQuery, Model, Node, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_storage_indexeddb::IndexedDbStorage;
use ankurah_websocket::{ConnectionState, WebsocketClient};
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The model the native example client uses too, so both see the same albums.
#[derive(Model, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Album {
    /// Collaborative text.
    pub name: String,
    /// Last writer wins.
    #[active_type(LWW)]
    pub artist: String,
    /// Last writer wins.
    pub year: i32,
}

fn js(error: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&error.to_string())
}

/// The running demo: a node, its connection and the live list of albums.
#[wasm_bindgen]
pub struct Demo {
    ctx: Context,
    _connection: WebsocketClient,
    _albums: LiveQuery<AlbumView>,
    _guards: Vec<SubscriptionGuard>,
}

/// The albums as the page shows them: `name (year)`, in year order.
fn lines(albums: &[AlbumView]) -> js_sys::Array {
    albums
        .iter()
        .map(|album| {
            let name = album.name().unwrap_or_default();
            let year = album.year().unwrap_or_default();
            JsValue::from_str(&format!("{name} ({year})"))
        })
        .collect()
}

/// Starts the demo against the server at `url`: `on_albums(lines)` is called with the
/// albums whenever they change, `on_state(text)` with the connection state.
#[wasm_bindgen]
pub async fn start(
    url: String,
    on_albums: js_sys::Function,
    on_state: js_sys::Function,
) -> Result<Demo, JsValue> {
    let storage = IndexedDbStorage::open("ankurah-demo").await.map_err(js)?;
    let node = Node::new(Arc::new(storage), PermissiveAgent::new());
    let connection = WebsocketClient::start(node.clone(), &url);
    // Listeners must be `Send`; the browser has one thread, where these stay.
    let on_state = SendWrapper::new(on_state);
    let state = connection.state().subscribe(move |state: ConnectionState| {
        let _ = on_state.call1(&JsValue::NULL, &JsValue::from_str(&format!("{state:?}")));
    });
    let ctx = node.context(DEFAULT_CONTEXT).map_err(js)?;
    let albums = ctx.query::<AlbumView>("ORDER BY year").map_err(js)?;
    let on_albums = SendWrapper::new(on_albums);
    let listed = albums.subscribe(move |changes: ChangeSet<AlbumView>| {
        let _ = on_albums.call1(&JsValue::NULL, &lines(&changes.resultset).into());
    });
    Ok(Demo {
        ctx,
        _connection: connection,
        _albums: albums,
        _guards: vec![state, listed],
    })
}

#[wasm_bindgen]
impl Demo {
    /// Adds an album; resolves once it is stored (and acknowledged, when online).
    pub async fn add(&self, name: String, year: i32) -> Result<(), JsValue> {
        let trx = self.ctx.begin();
        trx.create(&Album {
            name,
            artist: "browser".into(),
            year,
        })
        .await
        .map_err(js)?;
        trx.commit().await.map_err(js)
    }
}
