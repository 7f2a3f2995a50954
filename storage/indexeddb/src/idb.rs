//! IndexedDB's callbacks as futures, and the conversions between keys and values and bytes.
//!
//! A transaction stays active while requests are pending and through the microtasks that
//! their success events start; `wasm-bindgen-futures` resumes a waiting task in a microtask,
//! so a task may chain requests on one transaction across `.await`s, as long as it awaits
//! nothing else meanwhile.

use std::cell::RefCell;
use std::rc::Rc;

use ankurah_core::error::StorageError;
use js_sys::{Array, Uint8Array};
use tokio::sync::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbRequest, IdbTransaction};

use crate::error::{js_error, IndexedDbError};

/// A one-shot sender shared by the callbacks of which only the first to fire reports.
type Once = Rc<RefCell<Option<oneshot::Sender<Result<(), JsValue>>>>>;

fn report(once: &Once, outcome: Result<(), JsValue>) {
    if let Some(sender) = once.borrow_mut().take() {
        // The waiting future was dropped: nobody wants the outcome.
        let _ = sender.send(outcome);
    }
}

/// Callbacks that resolve a future: `ok` on success, `fail(event)` computes the error.
struct Listeners {
    ok: Closure<dyn FnMut(web_sys::Event)>,
    fail: Closure<dyn FnMut(web_sys::Event)>,
    done: oneshot::Receiver<Result<(), JsValue>>,
}

impl Listeners {
    fn new(fail: impl Fn(&web_sys::Event) -> JsValue + 'static) -> Self {
        let (sender, done) = oneshot::channel();
        let once: Once = Rc::new(RefCell::new(Some(sender)));
        let on_ok = once.clone();
        let ok = Closure::new(move |_: web_sys::Event| report(&on_ok, Ok(())));
        let fail = Closure::new(move |event: web_sys::Event| {
            // The error is reported here; without this the transaction's own error
            // handler would see it a second time.
            event.prevent_default();
            report(&once, Err(fail(&event)))
        });
        Listeners { ok, fail, done }
    }

    async fn wait(self, operation: &'static str) -> Result<(), StorageError> {
        let Listeners { ok, fail, done } = self;
        let outcome = done.await;
        drop((ok, fail));
        match outcome {
            Ok(result) => result.map_err(js_error(operation)),
            Err(_) => Err(IndexedDbError::Js {
                operation,
                message: "the browser dropped the request".to_owned(),
            }
            .into()),
        }
    }
}

/// Waits for `request` and returns its result.
pub(crate) async fn request(
    operation: &'static str,
    request: Result<IdbRequest, JsValue>,
) -> Result<JsValue, StorageError> {
    let request = request.map_err(js_error(operation))?;
    let failed = request.clone();
    let listeners = Listeners::new(move |_| match failed.error() {
        Ok(Some(error)) => error.into(),
        _ => JsValue::from_str("request failed"),
    });
    request.set_onsuccess(Some(listeners.ok.as_ref().unchecked_ref()));
    request.set_onerror(Some(listeners.fail.as_ref().unchecked_ref()));
    let outcome = listeners.wait(operation).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    outcome?;
    request.result().map_err(js_error(operation))
}

/// Waits until `transaction` completes (its writes are durable) or fails.
pub(crate) async fn complete(
    operation: &'static str,
    transaction: &IdbTransaction,
) -> Result<(), StorageError> {
    let failed = transaction.clone();
    let listeners = Listeners::new(move |_| match failed.error() {
        Some(error) => error.into(),
        None => JsValue::from_str("transaction aborted"),
    });
    transaction.set_oncomplete(Some(listeners.ok.as_ref().unchecked_ref()));
    transaction.set_onerror(Some(listeners.fail.as_ref().unchecked_ref()));
    transaction.set_onabort(Some(listeners.fail.as_ref().unchecked_ref()));
    let outcome = listeners.wait(operation).await;
    transaction.set_oncomplete(None);
    transaction.set_onerror(None);
    transaction.set_onabort(None);
    outcome
}

/// Bytes as a JS value (a key part or a stored value).
pub(crate) fn bytes(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// The bytes of a value the engine stored; `what` names it in the error.
pub(crate) fn to_bytes(value: &JsValue, what: &'static str) -> Result<Vec<u8>, StorageError> {
    match value.dyn_ref::<Uint8Array>() {
        Some(array) => Ok(array.to_vec()),
        None => match value.dyn_ref::<js_sys::ArrayBuffer>() {
            Some(buffer) => Ok(Uint8Array::new(buffer).to_vec()),
            None => Err(IndexedDbError::Unexpected(what).into()),
        },
    }
}

/// The items of a JS array (the result of `getAll` or `getAllKeys`).
pub(crate) fn items(value: JsValue, what: &'static str) -> Result<Vec<JsValue>, StorageError> {
    match value.dyn_into::<Array>() {
        Ok(array) => Ok(array.iter().collect()),
        Err(_) => Err(IndexedDbError::Unexpected(what).into()),
    }
}

/// Part `at` of an array key.
pub(crate) fn key_part(key: &JsValue, at: u32) -> JsValue {
    match key.dyn_ref::<Array>() {
        Some(parts) => parts.get(at),
        None => JsValue::UNDEFINED,
    }
}
