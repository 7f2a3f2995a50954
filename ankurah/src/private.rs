//! Not public API: what `#[derive(Model)]`, `#[derive(Property)]` and `selection!` expand to.
//!
//! Generated code names everything through `::ankurah::__private`, so a user's own `Result`,
//! `Arc` or `Clone` in scope cannot change what an expansion means. Nothing here follows
//! semver.

pub use std::boxed::Box;
pub use std::clone::Clone;
pub use std::convert::From;
pub use std::default::Default;
pub use std::fmt;
pub use std::marker::PhantomData;
pub use std::option::Option;
pub use std::result::Result;
pub use std::string::{String, ToString};
pub use std::sync::Arc;
pub use std::vec;

pub use ankurah_core::ankql::{ComparisonOp, Direction, OrderItem, Path, Predicate, Selection};
pub use ankurah_core::model::{Model, Mutable, PropertyDescriptor, View};
pub use ankurah_core::property::{ActiveType, Json, Property, Ref, YrsString, LWW};
pub use ankurah_core::{
    CollectionId, Entity, EntityId, MutationError, PropertyError, Transaction, Value, ValueType,
};

/// What the wasm classes of `#[derive(Model)]` (feature `wasm`) name.
#[cfg(feature = "wasm")]
pub mod wasm {
    pub use crate::wasm::error::js_error;
    pub use crate::wasm::*;
    pub use js_sys;
    pub use wasm_bindgen;
    pub use wasm_bindgen_futures;
}

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The descriptor of property `name` of type `T` (written `type_name`) stored by active
/// type `A`.
pub const fn descriptor<T: Property, A: ActiveType<T>>(
    name: &'static str,
    type_name: &'static str,
) -> PropertyDescriptor {
    PropertyDescriptor {
        name,
        backend: A::BACKEND,
        value_type: T::VALUE_TYPE,
        optional: T::OPTIONAL,
        type_name,
    }
}

/// `Debug` of views and edit handles: the id and every stored property as an AnkQL literal.
/// Reading through the entity, not the getters, spares field types a `Debug` bound.
pub fn debug_entity(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    entity: &Entity,
    properties: &[PropertyDescriptor],
) -> fmt::Result {
    let mut s = f.debug_struct(name);
    s.field("id", &format_args!("{}", entity.id()));
    for property in properties {
        s.field(
            property.name,
            &format_args!("{}", entity.value(property.name).unwrap_or(Value::Null)),
        );
    }
    s.finish()
}

// ---- #[derive(Property)]: serde types stored as their JSON form, scalars unwrapped ----

/// `Property::to_value` of a `#[derive(Property)]` type: its serde JSON form, with a scalar
/// as the plain value it spells (`"Open"` → `Value::String`, `7` → `Value::I64`), so that
/// every engine compares it as that value. JSON `null`, objects, arrays and integers beyond
/// `i64` stay `Json` (they round-trip exactly; queries still compare them by
/// [`Value::canonical`]).
pub fn to_json<T: Serialize>(value: &T) -> Result<Value, PropertyError> {
    let json = serde_json::to_value(value).map_err(|e| PropertyError::InvalidValue {
        property: String::new(),
        reason: e.to_string(),
    })?;
    Ok(match json {
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Number(n) if n.is_i64() || n.is_f64() => {
            Value::from_json(&serde_json::Value::Number(n))
        }
        other => Value::Json(other),
    })
}

/// `Property::from_value` of a `#[derive(Property)]` type: what [`to_json`] wrote, a plain
/// scalar or Json, read back through serde. The handle fills in the property name.
pub fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, PropertyError> {
    let json = match value {
        Value::Json(json) => json,
        Value::Bool(b) => serde_json::Value::Bool(b),
        Value::String(s) => serde_json::Value::String(s),
        Value::I64(i) => serde_json::Value::from(i),
        Value::F64(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| PropertyError::InvalidValue {
                property: String::new(),
                reason: format!("{f} is not a JSON number"),
            })?,
        Value::Null => return Err(PropertyError::Missing(String::new())),
        other => {
            return Err(PropertyError::InvalidType {
                property: String::new(),
                expected: "json",
                found: other.type_name().to_owned(),
            })
        }
    };
    serde_json::from_value(json).map_err(|e| PropertyError::InvalidValue {
        property: String::new(),
        reason: e.to_string(),
    })
}

// ---- selection!: properties and values checked by the type system ----

/// One property of a model as `selection!` refers to it; `T` is the field's Rust type.
///
/// `#[derive(Model)]` generates `AlbumProperties` with one `Field` per stored property, so
/// `selection!` naming an unknown property is rustc's "no field" error, with the known ones
/// listed, at the user's token.
pub struct Field<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Field<T> {
    /// The handle of property `name`.
    pub const fn new(name: &'static str) -> Self {
        Field {
            name,
            _type: PhantomData,
        }
    }
}

/// Implemented by `#[derive(Model)]`: the typed property handles of a model.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "`selection!` needs a type with `#[derive(Model)]`"
)]
pub trait HasFields: Model {
    /// `AlbumProperties`.
    type Fields;
    /// The handles.
    const FIELDS: Self::Fields;
}

/// The type a property compares as in queries: `Option<T>` as `T`, anything else as itself.
pub trait QueryType {
    /// The non-optional type.
    type Base;
}

impl<T: QueryType> QueryType for Option<T> {
    type Base = T::Base;
}

/// A Rust value that a property of type `T` can be compared with.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` cannot be compared with a `{T}` property",
    label = "expected a value of the property's type"
)]
pub trait ValueFor<T> {
    /// The query value.
    fn into_query_value(self) -> Value;
}

/// Properties `LIKE` applies to.
#[diagnostic::on_unimplemented(message = "LIKE needs a string property, not `{Self}`")]
pub trait Text {}

impl Text for String {}

/// Properties stored as JSON, which dotted paths (`meta.tags.first`) can reach into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not JSON, so a dotted path cannot reach into it",
    note = "only `Json` properties and `#[derive(Property)]` types have inner paths"
)]
pub trait JsonBacked {}

impl JsonBacked for Json {}

/// The path of a property.
pub fn path<T>(field: &Field<T>) -> Path {
    Path::simple(field.name)
}

/// A path into a JSON property.
pub fn json_path<T: QueryType>(field: &Field<T>, keys: &[&str]) -> Path
where
    T::Base: JsonBacked,
{
    Path(
        std::iter::once(field.name)
            .chain(keys.iter().copied())
            .map(String::from)
            .collect(),
    )
}

/// A value compared with `field`, checked against its type.
pub fn value<T: QueryType, V: ValueFor<T::Base>>(_field: &Field<T>, value: V) -> Value {
    value.into_query_value()
}

/// Every value of an `IN {iterable}` capture, checked against the type of `field`.
pub fn values<T: QueryType, I>(_field: &Field<T>, values: I) -> Vec<Value>
where
    I: IntoIterator,
    I::Item: ValueFor<T::Base>,
{
    values.into_iter().map(ValueFor::into_query_value).collect()
}

/// The values of an `IN {iterable}` on a path into JSON, whose inner values have no static type.
pub fn any_values<I>(values: I) -> Vec<Value>
where
    I: IntoIterator,
    I::Item: Into<Value>,
{
    values.into_iter().map(Into::into).collect()
}

/// A LIKE pattern for `field`, which must be a string property.
pub fn pattern<T: QueryType>(_field: &Field<T>, pattern: impl Into<String>) -> String
where
    T::Base: Text,
{
    pattern.into()
}

/// The selection `selection!(M: ...)` expands to.
pub fn selection<M: HasFields>(
    predicate: Predicate,
    order_by: Vec<OrderItem>,
    limit: Option<u64>,
) -> Selection {
    Selection {
        predicate,
        order_by,
        limit,
    }
}

/// The query value of a `#[derive(Property)]` type. One whose serialization fails cannot be
/// stored either, so it becomes NULL, which matches nothing.
pub fn json_value<T: Property>(value: &T) -> Value {
    value.to_value().unwrap_or(Value::Null)
}

macro_rules! query_types {
    ($($t:ty),*) => {$( impl QueryType for $t { type Base = Self; } )*};
}
query_types!(
    i8,
    i16,
    i32,
    i64,
    isize,
    u8,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    bool,
    String,
    Vec<u8>,
    EntityId,
    Json
);

impl<M> QueryType for Ref<M> {
    type Base = Self;
}

/// Numbers compare numerically across widths and with floats (DESIGN §4), so every number
/// is a valid value for every numeric property.
macro_rules! numeric_values {
    ($($field:ty),*) => {$(
        numeric_values!(@for $field: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);
    )*};
    (@for $field:ty: $($value:ty),*) => {$(
        #[diagnostic::do_not_recommend]
        impl ValueFor<$field> for $value {
            fn into_query_value(self) -> Value {
                Number::number(self)
            }
        }
    )*};
}
numeric_values!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

/// Conversion of any Rust number to a query value.
trait Number {
    fn number(self) -> Value;
}

macro_rules! number {
    (exact: $($t:ty),*; wide: $($w:ty),*) => {
        $( impl Number for $t { fn number(self) -> Value { Value::from(self) } } )*
        // Beyond i64 no stored integer can be, but as a float the value still orders
        // correctly against every one of them.
        $( impl Number for $w {
            fn number(self) -> Value { i64::try_from(self).map_or(Value::F64(self as f64), Value::I64) }
        } )*
    };
}
number!(exact: i8, i16, i32, i64, u8, u16, u32, f32, f64; wide: isize, u64, usize);

// Written out rather than generated, so that rustc's "but `ValueFor<String>` is implemented
// for `&str`" hint quotes a readable impl.

#[diagnostic::do_not_recommend]
impl ValueFor<bool> for bool {
    fn into_query_value(self) -> Value {
        Value::Bool(self)
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<String> for String {
    fn into_query_value(self) -> Value {
        Value::String(self)
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<String> for &str {
    fn into_query_value(self) -> Value {
        Value::String(self.to_owned())
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<String> for &String {
    fn into_query_value(self) -> Value {
        Value::String(self.clone())
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Vec<u8>> for Vec<u8> {
    fn into_query_value(self) -> Value {
        Value::Bytes(self)
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Vec<u8>> for &[u8] {
    fn into_query_value(self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Vec<u8>> for &Vec<u8> {
    fn into_query_value(self) -> Value {
        Value::Bytes(self.clone())
    }
}

#[diagnostic::do_not_recommend]
impl<const N: usize> ValueFor<Vec<u8>> for &[u8; N] {
    fn into_query_value(self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<EntityId> for EntityId {
    fn into_query_value(self) -> Value {
        Value::EntityId(self)
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Json> for Json {
    fn into_query_value(self) -> Value {
        Value::Json(self.0)
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Json> for &Json {
    fn into_query_value(self) -> Value {
        Value::Json(self.0.clone())
    }
}

#[diagnostic::do_not_recommend]
impl ValueFor<Json> for serde_json::Value {
    fn into_query_value(self) -> Value {
        Value::Json(self)
    }
}

#[diagnostic::do_not_recommend]
impl<M> ValueFor<Ref<M>> for Ref<M> {
    fn into_query_value(self) -> Value {
        Value::EntityId(self.id())
    }
}

#[diagnostic::do_not_recommend]
impl<M> ValueFor<Ref<M>> for EntityId {
    fn into_query_value(self) -> Value {
        Value::EntityId(self)
    }
}

/// Dates, instants and durations compare only with their own type in typed queries.
#[cfg(feature = "chrono")]
mod time {
    use super::{QueryType, Value, ValueFor};
    use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

    macro_rules! time_values {
        ($($t:ty),*) => {$(
            impl QueryType for $t {
                type Base = Self;
            }

            #[diagnostic::do_not_recommend]
            impl ValueFor<$t> for $t {
                fn into_query_value(self) -> Value {
                    Value::from(self)
                }
            }

            #[diagnostic::do_not_recommend]
            impl ValueFor<$t> for &$t {
                fn into_query_value(self) -> Value {
                    Value::from(*self)
                }
            }
        )*};
    }
    time_values!(NaiveDate, DateTime<Utc>, TimeDelta);
}
