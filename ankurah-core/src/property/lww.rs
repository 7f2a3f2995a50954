//! [`LWW`]: the handle of a last-writer-wins property.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::backend::LWWBackend;
use super::{named, ActiveType, Property};
use crate::entity::Entity;
use crate::error::PropertyError;
use crate::signals::{Get, Peek, Subscribe, SubscriptionGuard};
use crate::value::Value;

/// A last-writer-wins property: a write replaces the value; of two concurrent writes the one
/// with the greater event id wins on every replica.
pub struct LWW<T> {
    entity: Arc<Entity>,
    property: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T: Property> LWW<T> {
    /// The current value (a tracked read, see [`Get`]).
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
        LWW { entity, property, _type: PhantomData }
    }

    fn read(entity: &Entity, property: &str) -> Result<T, PropertyError> {
        entity.track();
        T::from_value(entity.lww.get(property).unwrap_or(Value::Null)).map_err(|e| named(property, e))
    }

    fn write(entity: &Entity, property: &str, value: &T) -> Result<(), PropertyError> {
        entity.check_editable()?;
        let value = value.into_value().map_err(|e| named(property, e))?;
        entity.lww.set(property, value);
        Ok(())
    }
}

impl<T: Property> Get<Result<T, PropertyError>> for LWW<T> {
    fn get(&self) -> Result<T, PropertyError> {
        LWW::get(self)
    }
}

impl<T: Property> Peek<Result<T, PropertyError>> for LWW<T> {
    fn peek(&self) -> Result<T, PropertyError> {
        T::from_value(self.entity.lww.get(self.property).unwrap_or(Value::Null)).map_err(|e| named(self.property, e))
    }
}

impl<T: Property + 'static> Subscribe<Result<T, PropertyError>> for LWW<T> {
    fn subscribe<F: Fn(Result<T, PropertyError>) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard {
        let (entity, property) = (self.entity.clone(), self.property);
        self.entity.listen(move || listener(T::from_value(entity.lww.get(property).unwrap_or(Value::Null)).map_err(|e| named(property, e))))
    }
}

impl<T: Property + fmt::Debug> fmt::Debug for LWW<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LWW({}: {:?})", self.property, self.get())
    }
}
