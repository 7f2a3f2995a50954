//! The browser demo: the album list of the two-terminal demo in a web page, written in
//! TypeScript (`www/app.ts`) against the typed JS/TS API `#[derive(Model)]` generates
//! (feature `wasm` of `ankurah`: `Album.query(ctx, ..)`, `AlbumView`, `AlbumMut`).
//!
//! This crate only starts the node: it keeps its store in IndexedDB, presents a signed
//! token from the page's getter on every connection ([`JsTokenSource`]) and connects to
//! the example server (`cargo run -p ankurah-examples --bin server`) with the browser's
//! [`WebsocketClient`]. It starts offline if it must: albums added or edited meanwhile
//! wait in the store's outbox and are sent on connection, and a reload shows what the
//! store holds. Build and serve it with `scripts/wasm.sh demo`.

#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use ankurah::signals::{Peek, Subscribe, SubscriptionGuard};
use ankurah::{ContextData, Model, Node, PermissiveAgent};
use ankurah_storage_indexeddb::IndexedDbStorage;
use ankurah_websocket::{ConnectionState, JsTokenSource, WebsocketClient};
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The model the native example client uses too, so both see the same albums.
#[derive(Model, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Album {
    /// Collaborative text.
    pub name: String,
    /// Last writer wins; the owner under the example server's rules (`everyone`: shared).
    #[active_type(LWW)]
    pub artist: String,
    /// Last writer wins.
    pub year: i32,
}

/// A running node of the page: its context for the typed API and its connection.
#[wasm_bindgen]
pub struct Demo {
    ctx: ankurah::wasm::Context,
    connection: WebsocketClient,
    _state: SubscriptionGuard,
}

/// Opens the store `database` in IndexedDB and starts connecting to the server at `url`
/// as `user`, whose token `token()` returns (a string or a promise of one) on every
/// connection. `on_state(text)` is called with the connection state on every change
/// (`Connecting`, `Connected`, `Disconnected`, `Closed`).
#[wasm_bindgen]
pub async fn start(
    database: String,
    url: String,
    user: String,
    token: js_sys::Function,
    on_state: js_sys::Function,
) -> Result<Demo, JsValue> {
    let storage = IndexedDbStorage::open(&database)
        .await
        .map_err(ankurah::wasm::error::js_error)?;
    let node = Node::new(Arc::new(storage), PermissiveAgent::new());
    node.set_credentials(JsTokenSource::new(token));
    let connection = WebsocketClient::start(node.clone(), &url);
    // Listeners must be `Send`; the browser has one thread, where this one stays.
    let on_state = SendWrapper::new(on_state);
    let state = connection.state().subscribe(move |state: ConnectionState| {
        let _ = on_state.call1(&JsValue::NULL, &JsValue::from_str(&format!("{state:?}")));
    });
    let ctx = node
        .context(&ContextData::for_principal(user))
        .map_err(ankurah::wasm::error::js_error)?;
    Ok(Demo {
        ctx: ctx.into(),
        connection,
        _state: state,
    })
}

#[wasm_bindgen]
impl Demo {
    /// The context the page reads and writes in.
    #[wasm_bindgen(getter)]
    pub fn ctx(&self) -> ankurah::wasm::Context {
        self.ctx.clone()
    }

    /// The connection state now.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        format!("{:?}", self.connection.state().peek())
    }
}

/// Turns panics into console errors with their message (the test driver prints them).
#[wasm_bindgen]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys_console_error(&info.to_string());
    }));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn web_sys_console_error(message: &str);
}
