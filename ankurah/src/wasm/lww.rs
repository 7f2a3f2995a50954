//! [`LWW`]: a last-writer-wins field of an edit handle, for JS.

use std::rc::Rc;

use ankurah_core::property::Property;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use super::error::js_error;
use super::value::{from_js, to_js};

#[wasm_bindgen(typescript_custom_section)]
const LWW_TS: &'static str = r#"
/** A last-writer-wins field in a transaction (`album.year` of an `AlbumMut`). */
export class LWW<T> {
  private constructor();
  free(): void;
  /** The value, this transaction's write included. */
  get(): T;
  /** Writes `value`; throws `Property` for a value of the wrong type. */
  set(value: T): void;
}
"#;

/// What a register does, whatever its Rust type.
trait Register {
    fn get(&self) -> Result<JsValue, JsValue>;
    fn set(&self, value: &JsValue) -> Result<(), JsValue>;
}

/// A Rust register and the name of its property.
struct Named<T: Property> {
    register: ankurah_core::LWW<T>,
    property: &'static str,
}

impl<T: Property> Register for Named<T> {
    fn get(&self) -> Result<JsValue, JsValue> {
        to_js(&self.register.get().map_err(js_error)?)
    }

    fn set(&self, value: &JsValue) -> Result<(), JsValue> {
        let value = from_js::<T>(value, self.property)?;
        self.register.set(&value).map_err(js_error)
    }
}

/// A last-writer-wins field of an edit handle; values convert as the view's getters do.
#[wasm_bindgen(skip_typescript)]
pub struct LWW {
    inner: Rc<dyn Register>,
}

impl std::fmt::Debug for LWW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LWW").finish_non_exhaustive()
    }
}

impl LWW {
    /// The JS handle on `register`, the field `property`.
    pub fn new<T: Property + 'static>(
        register: ankurah_core::LWW<T>,
        property: &'static str,
    ) -> Self {
        LWW {
            inner: Rc::new(Named { register, property }),
        }
    }
}

#[wasm_bindgen]
impl LWW {
    /// The value, this transaction's write included.
    pub fn get(&self) -> Result<JsValue, JsValue> {
        self.inner.get()
    }

    /// Writes `value`.
    pub fn set(&self, value: &JsValue) -> Result<(), JsValue> {
        self.inner.set(value)
    }
}
