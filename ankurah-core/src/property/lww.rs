//! [`LWW`]: the handle of a last-writer-wins property.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::backend::LWWBackend;
use super::{named, ActiveType, Property};
use crate::entity::Entity;
use crate::error::PropertyError;
use crate::value::Value;

/// A last-writer-wins property: a write replaces the value; of two concurrent writes the one
/// with the greater event id wins on every replica.
pub struct LWW<T> {
    entity: Arc<Entity>,
    property: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T: Property> LWW<T> {
    /// The current value (a tracked read, see [`Get`](crate::signals::Get)).
    pub fn get(&self) -> Result<T, PropertyError> {
        Self::read(&self.entity, self.property)
    }

    /// Replaces the value (in the handle's transaction).
    pub fn set(&self, value: &T) -> Result<(), PropertyError> {
        Self::write(&self.entity, self.property, value)
    }
}

impl<T: Property> ActiveType<T> for LWW<T> {
    const BACKEND: &'static str = LWWBackend::NAME;

    fn bind(entity: Arc<Entity>, property: &'static str) -> Self {
        LWW {
            entity,
            property,
            _type: PhantomData,
        }
    }

    fn peek(entity: &Entity, property: &str) -> Result<T, PropertyError> {
        entity.check_alive(property)?;
        T::from_value(entity.lww.get(property).unwrap_or(Value::Null))
            .map_err(|e| named(property, e))
    }

    /// Refuses a value nesting deeper than the node's limit at once, rather than committing
    /// something every peer would refuse.
    fn write(entity: &Entity, property: &str, value: &T) -> Result<(), PropertyError> {
        let max_depth = entity.max_write_depth()?;
        let value = value.to_value().map_err(|e| named(property, e))?;
        value
            .check_depth(max_depth)
            .map_err(|exceeded| PropertyError::LimitExceeded {
                property: property.to_owned(),
                exceeded,
            })?;
        entity.lww.set(property, value);
        Ok(())
    }
}

super::handle_signals!(LWW);

impl<T: Property + fmt::Debug> fmt::Debug for LWW<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LWW({}: {:?})", self.property, self.get())
    }
}
