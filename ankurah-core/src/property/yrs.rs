//! [`YrsString`]: the handle of a collaborative text property.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::backend::YrsBackend;
use super::{named, ActiveType, Property};
use crate::entity::Entity;
use crate::error::PropertyError;
use crate::value::Value;

/// Collaborative text: concurrent inserts and deletes from several nodes all survive and
/// merge the same way everywhere (the Yjs algorithm, through `yrs`).
///
/// Positions and lengths count Unicode characters, so no edit can split a character.
pub struct YrsString<T> {
    entity: Arc<Entity>,
    property: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T: Property> YrsString<T> {
    /// The current text.
    pub fn value(&self) -> Result<T, PropertyError> {
        Self::read(&self.entity, self.property)
    }

    /// Inserts `text` before character `pos`.
    pub fn insert(&self, pos: u32, text: &str) -> Result<(), PropertyError> {
        self.entity.check_editable()?;
        self.entity.yrs.insert(self.property, pos, text)
    }

    /// Deletes `len` characters from `pos`.
    pub fn delete(&self, pos: u32, len: u32) -> Result<(), PropertyError> {
        self.entity.check_editable()?;
        self.entity.yrs.delete(self.property, pos, len)
    }

    /// Replaces `len` characters from `pos` with `text`.
    pub fn overwrite(&self, pos: u32, len: u32, text: &str) -> Result<(), PropertyError> {
        self.entity.check_editable()?;
        self.entity.yrs.splice(self.property, pos, len, text)
    }

    /// Sets the whole text, as the smallest edit that produces it.
    pub fn replace(&self, text: &str) -> Result<(), PropertyError> {
        self.entity.check_editable()?;
        self.entity.yrs.replace(self.property, text)
    }
}

impl<T: Property> ActiveType<T> for YrsString<T> {
    const BACKEND: &'static str = YrsBackend::NAME;

    fn bind(entity: Arc<Entity>, property: &'static str) -> Self {
        YrsString {
            entity,
            property,
            _type: PhantomData,
        }
    }

    fn peek(entity: &Entity, property: &str) -> Result<T, PropertyError> {
        entity.check_alive(property)?;
        let value = entity.yrs.get(property).map_or(Value::Null, Value::String);
        T::from_value(value).map_err(|e| named(property, e))
    }

    fn write(entity: &Entity, property: &str, value: &T) -> Result<(), PropertyError> {
        entity.check_editable()?;
        match value.to_value().map_err(|e| named(property, e))? {
            Value::String(text) => entity.yrs.replace(property, &text),
            other => Err(PropertyError::InvalidType {
                property: property.to_owned(),
                expected: "string",
                found: other.type_name().to_owned(),
            }),
        }
    }
}

super::handle_signals!(YrsString);

impl<T: Property + fmt::Debug> fmt::Debug for YrsString<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "YrsString({}: {:?})", self.property, self.value())
    }
}
