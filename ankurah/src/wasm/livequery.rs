//! [`LiveQuery`]: a query whose result stays current, for JS, and the [`Subscription`]
//! that keeps a callback on it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use ankurah_core::changes::ChangeSet;
use ankurah_core::model::View;
use ankurah_core::signals::{Peek, Subscribe, SubscriptionGuard};
use js_sys::{Array, Function, Promise};
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use super::error::js_error;

#[wasm_bindgen(typescript_custom_section)]
const LIVE_QUERY_TS: &'static str = r#"
/** A live query: its result follows every commit, local or remote. */
export class LiveQuery<V> {
  private constructor();
  free(): void;
  /** The current result. */
  readonly current: V[];
  /** Resolves once the first result is loaded; rejects if that failed. */
  ready(): Promise<void>;
  /** Calls `callback` with the result once loaded and after every change, until unsubscribed. */
  subscribe(callback: (items: V[]) => void): Subscription;
}
"#;

/// The model-independent half of a live query: the generated `Album.query` wraps a
/// `LiveQuery<AlbumView>` in it, with the conversion of its views to JS.
struct Erased {
    items: Box<dyn Fn() -> Array>,
    listen: Box<dyn Fn(Function) -> SubscriptionGuard>,
    ready: Box<dyn Fn() -> Promise>,
}

/// A live query of one model's views (`Album.query(ctx, "year > 2000")`).
#[wasm_bindgen(skip_typescript)]
pub struct LiveQuery {
    query: Rc<Erased>,
}

impl std::fmt::Debug for LiveQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveQuery").finish_non_exhaustive()
    }
}

fn views<V: Clone + Into<JsValue>>(views: &[V]) -> Array {
    views.iter().cloned().map(Into::<JsValue>::into).collect()
}

impl LiveQuery {
    /// Wraps a Rust live query whose views convert to JS (the generated views do).
    pub fn new<V: View + Clone + Into<JsValue> + 'static>(
        query: ankurah_core::LiveQuery<V>,
    ) -> Self {
        let (peeked, listened, awaited) = (query.clone(), query.clone(), query);
        LiveQuery {
            query: Rc::new(Erased {
                items: Box::new(move || views(&peeked.peek())),
                listen: Box::new(move |callback: Function| {
                    // Listeners must be `Send`; in the browser they stay on its one thread.
                    let callback = SendWrapper::new(callback);
                    listened.subscribe(move |changes: ChangeSet<V>| {
                        // A throwing callback is the page's error, reported by the browser.
                        let _ = callback.call1(&JsValue::NULL, &views(&changes.resultset));
                    })
                }),
                ready: Box::new(move || {
                    let query = awaited.clone();
                    wasm_bindgen_futures::future_to_promise(async move {
                        query.wait_initialized().await.map_err(js_error)?;
                        Ok(JsValue::UNDEFINED)
                    })
                }),
            }),
        }
    }
}

#[wasm_bindgen]
impl LiveQuery {
    /// The current result.
    #[wasm_bindgen(getter)]
    pub fn current(&self) -> Array {
        (self.query.items)()
    }

    /// Resolves once the first result is loaded.
    pub fn ready(&self) -> Promise {
        (self.query.ready)()
    }

    /// Calls `callback(items)` once the first result is loaded and after every change,
    /// until `unsubscribe()`. The subscription keeps the query live meanwhile, whether or
    /// not JS keeps either object.
    pub fn subscribe(&self, callback: Function) -> Subscription {
        let guard = (self.query.listen)(callback.clone());
        let id = NEXT.with(|next| {
            let id = next.get();
            next.set(id + 1);
            id
        });
        LIVE.with(|live| live.borrow_mut().insert(id, (guard, self.query.clone())));
        let query = self.query.clone();
        let loaded = wasm_bindgen_futures::JsFuture::from((self.query.ready)());
        wasm_bindgen_futures::spawn_local(async move {
            // A failed first load rejects `ready()`; the callback waits for a change.
            let subscribed = LIVE.with(|live| live.borrow().contains_key(&id));
            if loaded.await.is_ok() && subscribed {
                let _ = callback.call1(&JsValue::NULL, &(query.items)());
            }
        });
        Subscription { id }
    }
}

thread_local! {
    /// The subscriptions JS has not unsubscribed, with their queries: a JS object's
    /// lifetime is the garbage collector's choice, so none of them ends one.
    static LIVE: RefCell<HashMap<u64, (SubscriptionGuard, Rc<Erased>)>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// A callback subscribed to a live query, until `unsubscribe()`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Subscription {
    id: u64,
}

#[wasm_bindgen]
impl Subscription {
    /// Stops the callbacks (and lets the query go, if nothing else holds it).
    pub fn unsubscribe(&self) {
        // The entry is dropped after the borrow ends: dropping a query may call back.
        let entry = LIVE.with(|live| live.borrow_mut().remove(&self.id));
        drop(entry);
    }
}
