//! [`Json`]: a schemaless property that queries can address by path (`meta.tags.first`).

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use super::{invalid_type, Property};
use crate::error::PropertyError;
use crate::value::{Value, ValueType};

/// A JSON document stored as one property. Queries reach inside with dotted paths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json(pub serde_json::Value);

impl Json {
    /// Wraps a JSON value.
    pub fn new(value: serde_json::Value) -> Self {
        Json(value)
    }
}

impl Deref for Json {
    type Target = serde_json::Value;
    fn deref(&self) -> &serde_json::Value {
        &self.0
    }
}

impl DerefMut for Json {
    fn deref_mut(&mut self) -> &mut serde_json::Value {
        &mut self.0
    }
}

impl From<serde_json::Value> for Json {
    fn from(value: serde_json::Value) -> Self {
        Json(value)
    }
}

impl Property for Json {
    const VALUE_TYPE: ValueType = ValueType::Json;
    fn to_value(&self) -> Result<Value, PropertyError> {
        Ok(Value::Json(self.0.clone()))
    }
    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::Json(j) => Ok(Json(j)),
            Value::Null => Err(PropertyError::Missing(String::new())),
            other => Err(invalid_type("json", &other)),
        }
    }
}
