//! Typed property values and the handles that read and write them.
//!
//! A model field's Rust type implements [`Property`] (conversion to and from [`Value`]); the
//! field's *active type* decides how concurrent writes merge: [`LWW`] keeps the write with the
//! greatest event id, [`YrsString`] merges text edits character by character. Both store their
//! data in a [`backend`], one per entity, whose state is a join-semilattice.

pub mod backend;
mod json;
mod lww;
mod reference;
#[cfg(feature = "chrono")]
mod time;
mod yrs;

pub use json::Json;
pub use lww::LWW;
pub use reference::Ref;
pub use yrs::YrsString;

/// Property handles are signals: a tracked read, an untracked one, and a subscription that
/// fires once per committed transaction changing the entity.
macro_rules! handle_signals {
    ($handle:ident) => {
        impl<T: $crate::property::Property>
            $crate::signals::Get<Result<T, $crate::error::PropertyError>> for $handle<T>
        {
            fn get(&self) -> Result<T, $crate::error::PropertyError> {
                <Self as $crate::property::ActiveType<T>>::read(&self.entity, self.property)
            }
        }

        impl<T: $crate::property::Property>
            $crate::signals::Peek<Result<T, $crate::error::PropertyError>> for $handle<T>
        {
            fn peek(&self) -> Result<T, $crate::error::PropertyError> {
                <Self as $crate::property::ActiveType<T>>::peek(&self.entity, self.property)
            }
        }

        impl<T: $crate::property::Property + 'static>
            $crate::signals::Subscribe<Result<T, $crate::error::PropertyError>> for $handle<T>
        {
            fn subscribe<F>(&self, listener: F) -> $crate::signals::SubscriptionGuard
            where
                F: Fn(Result<T, $crate::error::PropertyError>) + Send + Sync + 'static,
            {
                let (entity, property) = (self.entity.clone(), self.property);
                self.entity.listen(move || {
                    listener(<Self as $crate::property::ActiveType<T>>::peek(
                        &entity, property,
                    ))
                })
            }
        }
    };
}
use handle_signals;

use crate::error::PropertyError;
use crate::id::EntityId;
use crate::value::{Value, ValueType};

/// A Rust type that can be stored as a property value.
///
/// Implemented for `String`, `bool`, integers, floats, `Vec<u8>`, [`EntityId`], [`Json`],
/// [`Ref`], with the `chrono` feature `chrono::NaiveDate`, `chrono::DateTime<Utc>` and
/// `chrono::TimeDelta`, `Option<T>` of those, and (through `#[derive(Property)]`) any serde
/// type. How each becomes a query [`Value`] is tabled in the [`crate::value`] module docs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored as a model property",
    label = "not a property type",
    note = "property types: String, bool, integers, f32, f64, Vec<u8>, EntityId, Json, Ref<M>, chrono's NaiveDate, DateTime<Utc> and TimeDelta (feature `chrono`), Option<T> of these, and serde types with #[derive(Property)]",
    note = "a field that should not be stored can be marked #[model(ephemeral)]"
)]
pub trait Property: Sized {
    /// The value type used to check typed queries and describe models.
    const VALUE_TYPE: ValueType;
    /// Whether `None` is a valid value.
    const OPTIONAL: bool = false;

    /// Converts to a query value.
    fn to_value(&self) -> Result<Value, PropertyError>;

    /// Converts back; `Value::Null` stands for a missing value.
    fn from_value(value: Value) -> Result<Self, PropertyError>;
}

/// The error for a stored value of the wrong type; the property name is filled in by the handle.
pub(crate) fn invalid_type(expected: &'static str, found: &Value) -> PropertyError {
    PropertyError::InvalidType {
        property: String::new(),
        expected,
        found: found.type_name().to_owned(),
    }
}

/// Fills the property name into an error raised by a [`Property`] conversion (which
/// knows the value, not the field it came from).
pub fn named(property: &str, error: PropertyError) -> PropertyError {
    match error {
        PropertyError::InvalidType {
            expected, found, ..
        } => PropertyError::InvalidType {
            property: property.to_owned(),
            expected,
            found,
        },
        PropertyError::InvalidValue { reason, .. } => PropertyError::InvalidValue {
            property: property.to_owned(),
            reason,
        },
        PropertyError::Missing(_) => PropertyError::Missing(property.to_owned()),
        other => other,
    }
}

macro_rules! int_property {
    ($($t:ty),*) => {$(
        impl Property for $t {
            const VALUE_TYPE: ValueType = ValueType::I64;
            fn to_value(&self) -> Result<Value, PropertyError> {
                i64::try_from(*self).map(Value::I64).map_err(|_| PropertyError::InvalidValue {
                    property: String::new(),
                    reason: format!("{self} does not fit in a 64-bit signed integer"),
                })
            }
            fn from_value(value: Value) -> Result<Self, PropertyError> {
                match value {
                    Value::I64(i) => <$t>::try_from(i).map_err(|_| PropertyError::InvalidValue {
                        property: String::new(),
                        reason: format!("{i} does not fit in {}", stringify!($t)),
                    }),
                    Value::Null => Err(PropertyError::Missing(String::new())),
                    other => Err(invalid_type(stringify!($t), &other)),
                }
            }
        }
    )*};
}
int_property!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);

macro_rules! simple_property {
    ($t:ty, $vt:ident, $variant:ident, $name:literal) => {
        impl Property for $t {
            const VALUE_TYPE: ValueType = ValueType::$vt;
            fn to_value(&self) -> Result<Value, PropertyError> {
                Ok(Value::$variant(self.clone()))
            }
            fn from_value(value: Value) -> Result<Self, PropertyError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    Value::Null => Err(PropertyError::Missing(String::new())),
                    other => Err(invalid_type($name, &other)),
                }
            }
        }
    };
}
simple_property!(String, String, String, "string");
simple_property!(bool, Bool, Bool, "bool");
simple_property!(Vec<u8>, Bytes, Bytes, "bytes");
simple_property!(EntityId, EntityId, EntityId, "entity id");

impl Property for f64 {
    const VALUE_TYPE: ValueType = ValueType::F64;
    fn to_value(&self) -> Result<Value, PropertyError> {
        Ok(Value::F64(*self))
    }
    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::F64(f) => Ok(f),
            // Integral floats may have been written by another language's client as integers.
            Value::I64(i) => Ok(i as f64),
            Value::Null => Err(PropertyError::Missing(String::new())),
            other => Err(invalid_type("f64", &other)),
        }
    }
}

impl Property for f32 {
    const VALUE_TYPE: ValueType = ValueType::F64;
    fn to_value(&self) -> Result<Value, PropertyError> {
        Ok(Value::F64(f64::from(*self)))
    }
    fn from_value(value: Value) -> Result<Self, PropertyError> {
        f64::from_value(value).map(|f| f as f32)
    }
}

impl<T: Property> Property for Option<T> {
    const VALUE_TYPE: ValueType = T::VALUE_TYPE;
    const OPTIONAL: bool = true;
    fn to_value(&self) -> Result<Value, PropertyError> {
        self.as_ref().map_or(Ok(Value::Null), T::to_value)
    }
    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// How a field is stored and merged: implemented by [`LWW`] and [`YrsString`]. The derive
/// macro reads and writes fields through this trait.
pub trait ActiveType<T: Property>: Sized {
    /// Name of the backend holding the field.
    const BACKEND: &'static str;

    /// A handle on `property` of `entity`.
    fn bind(entity: std::sync::Arc<crate::entity::Entity>, property: &'static str) -> Self;

    /// Reads the current value from an entity without recording a signal dependency.
    fn peek(entity: &crate::entity::Entity, property: &str) -> Result<T, PropertyError>;

    /// Reads the current value, recording a dependency of the running signal observer.
    fn read(entity: &crate::entity::Entity, property: &str) -> Result<T, PropertyError> {
        entity.track();
        Self::peek(entity, property)
    }

    /// Writes a whole value into an editable entity (used by `create`).
    fn write(
        entity: &crate::entity::Entity,
        property: &str,
        value: &T,
    ) -> Result<(), PropertyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_check_ranges_and_types() {
        assert_eq!(300i32.to_value().unwrap(), Value::I64(300));
        assert!(u8::from_value(Value::I64(300)).is_err());
        assert!(u64::MAX.to_value().is_err());
        assert!(matches!(
            bool::from_value(Value::I64(1)),
            Err(PropertyError::InvalidType { .. })
        ));
        assert_eq!(Option::<i32>::from_value(Value::Null).unwrap(), None);
        assert!(matches!(
            i32::from_value(Value::Null),
            Err(PropertyError::Missing(_))
        ));
    }
}
