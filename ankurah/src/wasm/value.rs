//! Property values between Rust and JS, through the query-time [`Value`] every property
//! type converts to: `null` for a missing value or `None`, booleans, numbers (64-bit
//! integers as numbers: exact up to 2^53), strings, `Uint8Array` for bytes, an entity id
//! or a `Ref` as its 26-character string, Json as the JS value it parses to, and dates,
//! instants and durations as numbers (days since 1970-01-01, microseconds since the epoch,
//! microseconds).

use std::str::FromStr;

use ankurah_core::property::{named, Property};
use ankurah_core::{EntityId, PropertyError, Value, ValueType};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};

use super::error::{js_error, make};

/// A property value as JS sees it.
pub fn to_js<T: Property>(value: &T) -> Result<JsValue, JsValue> {
    Ok(match value.to_value().map_err(js_error)? {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(b),
        Value::I64(n) | Value::Timestamp(n) | Value::Duration(n) => JsValue::from_f64(n as f64),
        Value::Date(days) => JsValue::from_f64(f64::from(days)),
        Value::F64(x) => JsValue::from_f64(x),
        Value::String(s) => JsValue::from_str(&s),
        Value::Bytes(bytes) => Uint8Array::from(bytes.as_slice()).into(),
        Value::EntityId(id) => JsValue::from_str(&id.to_string()),
        Value::Json(json) => js_sys::JSON::parse(&json.to_string())?,
    })
}

/// The error for a JS value that is not a `T`.
fn wrong_type<T: Property>(value: &JsValue, property: &str) -> JsValue {
    let found = value.js_typeof().as_string().unwrap_or_default();
    js_error(PropertyError::InvalidValue {
        property: property.to_owned(),
        reason: format!(
            "expected a {} value, found a JS {found}",
            T::VALUE_TYPE.name()
        ),
    })
}

/// A JS value as property type `T` of `property`: `Property` errors for a value of the
/// wrong type.
pub fn from_js<T: Property>(value: &JsValue, property: &str) -> Result<T, JsValue> {
    let converted = if value.is_null() || value.is_undefined() {
        Value::Null
    } else {
        let number = value.as_f64();
        let wrong = || wrong_type::<T>(value, property);
        match T::VALUE_TYPE {
            ValueType::Bool => Value::Bool(value.as_bool().ok_or_else(wrong)?),
            ValueType::F64 => Value::F64(number.ok_or_else(wrong)?),
            ValueType::I64 | ValueType::Date | ValueType::Timestamp | ValueType::Duration => {
                let n = number.filter(|n| n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0);
                let n = n.ok_or_else(wrong)? as i64;
                match T::VALUE_TYPE {
                    ValueType::I64 => Value::I64(n),
                    ValueType::Timestamp => Value::Timestamp(n),
                    ValueType::Duration => Value::Duration(n),
                    _ => Value::Date(i32::try_from(n).map_err(|_| wrong())?),
                }
            }
            ValueType::String => Value::String(value.as_string().ok_or_else(wrong)?),
            ValueType::Bytes => {
                Value::Bytes(value.dyn_ref::<Uint8Array>().ok_or_else(wrong)?.to_vec())
            }
            ValueType::EntityId => {
                let text = value.as_string().ok_or_else(wrong)?;
                Value::EntityId(
                    EntityId::from_str(&text).map_err(|e| make("Property", &e.to_string()))?,
                )
            }
            ValueType::Json => {
                let text = js_sys::JSON::stringify(value)?;
                let text = text.as_string().unwrap_or_default();
                Value::Json(
                    serde_json::from_str(&text).map_err(|e| make("Property", &e.to_string()))?,
                )
            }
        }
    };
    T::from_value(converted).map_err(|error| js_error(named(property, error)))
}

/// Field `property` of the JS object `object` as property type `T` (a missing field is
/// `null`).
pub fn field<T: Property>(object: &JsValue, property: &str) -> Result<T, JsValue> {
    from_js(&js_sys::Reflect::get(object, &property.into())?, property)
}
