//! [`Ref`]: a typed reference from a property to an entity of another model.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Property;
use crate::error::PropertyError;
use crate::id::EntityId;
use crate::value::{Value, ValueType};

/// A reference to an entity of model `M`, stored as its [`EntityId`].
///
/// A bare `EntityId` property says nothing about what it points at; a `Ref<Artist>` does, so
/// [`Ref::get`] returns an `ArtistView` and a typed query refuses a `Ref<Label>` value.
/// Nothing keeps the target alive: if it is deleted, `get` reports that.
pub struct Ref<M> {
    id: EntityId,
    // `fn() -> M`: a reference neither owns an `M` nor inherits its auto traits.
    _model: PhantomData<fn() -> M>,
}

impl<M> Ref<M> {
    /// A reference to the entity `id`.
    pub fn new(id: EntityId) -> Self {
        Ref {
            id,
            _model: PhantomData,
        }
    }

    /// The id of the referenced entity.
    pub fn id(&self) -> EntityId {
        self.id
    }
}

impl<M> From<EntityId> for Ref<M> {
    fn from(id: EntityId) -> Self {
        Ref::new(id)
    }
}

impl<M> Property for Ref<M> {
    const VALUE_TYPE: ValueType = ValueType::EntityId;
    fn to_value(&self) -> Result<Value, PropertyError> {
        Ok(Value::EntityId(self.id))
    }
    fn from_value(value: Value) -> Result<Self, PropertyError> {
        EntityId::from_value(value).map(Ref::new)
    }
}

// Manual impls: derives would demand the same trait of `M`, which a model need not have.
impl<M> Clone for Ref<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Ref<M> {}

impl<M> PartialEq for Ref<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<M> Eq for Ref<M> {}

impl<M> PartialOrd for Ref<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<M> Ord for Ref<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

impl<M> Hash for Ref<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<M> fmt::Debug for Ref<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.id)
    }
}

impl<M> fmt::Display for Ref<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id, f)
    }
}

/// Serialized exactly as the [`EntityId`] it holds.
impl<M> Serialize for Ref<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(serializer)
    }
}

impl<'de, M> Deserialize<'de> for Ref<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EntityId::deserialize(deserializer).map(Ref::new)
    }
}
