//! [`Transaction`]: creations, edits and deletions that commit atomically, for JS.
//!
//! Creating and editing are typed by the model, which this module does not know: the
//! transaction hands itself to a hook the derive generates on the model's class
//! (`Album.__create`) or view (`view.__edit`, `view.__delete`), and returns what it returns.
//! The TypeScript declarations say so generically, so `trx.create(Album, init)` is typed
//! `Promise<AlbumMut>` and `trx.edit(view)` `AlbumMut`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::error::{js_error, make};
use ankurah_core::MutationError;

#[wasm_bindgen(typescript_custom_section)]
const TRANSACTION_TS: &'static str = r#"
/** A transaction: what it creates, edits and deletes is stored together by `commit()`, or not at all. */
export class Transaction {
  private constructor();
  free(): void;
  /** Creates an entity of `model` (a generated class such as `Album`) from `init`. */
  create<I, M>(model: { __create: (trx: Transaction, init: I) => Promise<M> }, init: NoInfer<I>): Promise<M>;
  /** An edit handle on `view`'s entity in this transaction; throws `Deleted` for a deleted one. */
  edit<M>(view: { __edit: (trx: Transaction) => M }): M;
  /** Deletes `view`'s entity when the transaction commits. */
  delete(view: { __delete: (trx: Transaction) => void }): void;
  /** Stores everything atomically; resolves once stored (and acknowledged, when online). */
  commit(): Promise<void>;
  /** Discards the transaction. */
  rollback(): void;
}
"#;

/// An open transaction (see `ankurah::Transaction`). JS may hold it from several places
/// (the hooks get their own handle on it), so it is shared; `commit` takes it.
#[wasm_bindgen(skip_typescript)]
#[derive(Clone, Debug)]
pub struct Transaction {
    inner: Rc<RefCell<Option<Rc<ankurah_core::Transaction>>>>,
}

impl From<ankurah_core::Transaction> for Transaction {
    fn from(trx: ankurah_core::Transaction) -> Self {
        Transaction {
            inner: Rc::new(RefCell::new(Some(Rc::new(trx)))),
        }
    }
}

impl Transaction {
    /// The Rust transaction, while it is open; `AlreadyCommitted` after `commit`.
    pub fn shared(&self) -> Result<Rc<ankurah_core::Transaction>, JsValue> {
        self.inner
            .borrow()
            .clone()
            .ok_or_else(|| js_error(MutationError::AlreadyCommitted))
    }

    /// Calls `target[hook](this transaction, ...args)`.
    fn call_hook(
        &self,
        target: &JsValue,
        hook: &str,
        args: &[JsValue],
    ) -> Result<JsValue, JsValue> {
        let function = Reflect::get(target, &hook.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| {
                make(
                    "InvalidArgument",
                    &format!("expected a generated model class or view (with `{hook}`)"),
                )
            })?;
        let call_args = js_sys::Array::of1(&JsValue::from(self.clone()));
        for arg in args {
            call_args.push(arg);
        }
        function.apply(target, &call_args)
    }
}

#[wasm_bindgen]
impl Transaction {
    /// Creates an entity of `model` from `init`; resolves to its edit handle.
    pub fn create(&self, model: &JsValue, init: JsValue) -> Result<JsValue, JsValue> {
        self.shared()?;
        self.call_hook(model, "__create", &[init])
    }

    /// An edit handle on `view`'s entity in this transaction.
    pub fn edit(&self, view: &JsValue) -> Result<JsValue, JsValue> {
        self.call_hook(view, "__edit", &[])
    }

    /// Deletes `view`'s entity when the transaction commits.
    pub fn delete(&self, view: &JsValue) -> Result<(), JsValue> {
        self.call_hook(view, "__delete", &[]).map(drop)
    }

    /// Stores everything atomically (see `ankurah::Transaction::commit`).
    pub fn commit(&self) -> Promise {
        let taken = self.inner.borrow_mut().take();
        wasm_bindgen_futures::future_to_promise(async move {
            let shared = taken.ok_or_else(|| js_error(MutationError::AlreadyCommitted))?;
            // A hook still holding it (a `create` in flight) would make this fail.
            let trx = Rc::try_unwrap(shared).map_err(|_| {
                make(
                    "InvalidArgument",
                    "the transaction is still in use by a create",
                )
            })?;
            trx.commit().await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Discards the transaction.
    pub fn rollback(&self) {
        self.inner.borrow_mut().take();
    }
}
