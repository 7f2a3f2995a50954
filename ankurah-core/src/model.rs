//! The traits `#[derive(Model)]` implements: [`Model`] for the plain struct, [`View`] for its
//! read handle and [`Mutable`] for its edit handle.

use std::sync::Arc;

use crate::collection::CollectionId;
use crate::context::Context;
use crate::entity::Entity;
use crate::error::PropertyError;
use crate::id::EntityId;
use crate::node_error::RetrievalError;
use crate::property::Ref;
use crate::signals::{Subscribe, SubscriptionGuard};
use crate::transaction::Transaction;
use crate::value::ValueType;

/// A plain struct whose instances are stored as entities of one collection.
pub trait Model: Sized + Send + Sync + 'static {
    /// The live read handle (`AlbumView`).
    type View: View<Model = Self>;
    /// The edit handle bound to a transaction (`AlbumMut<'t>`).
    type Mutable<'t>: Mutable<'t, Model = Self>;

    /// Name of the collection holding this model's entities.
    fn collection() -> CollectionId;

    /// The stored properties, in declaration order.
    fn properties() -> &'static [PropertyDescriptor];

    /// Writes every stored field into a new, editable entity.
    fn initialize(&self, entity: &Entity) -> Result<(), PropertyError>;
}

/// A cheap-to-clone, live read handle on one entity: getters read the current state.
pub trait View: Clone + Send + Sync + 'static {
    /// The model this view reads.
    type Model: Model<View = Self>;

    /// Wraps a resident entity (of the model's collection).
    fn from_entity(entity: Arc<Entity>) -> Self;

    /// The entity behind the view.
    fn entity(&self) -> &Arc<Entity>;

    /// The entity's id.
    fn id(&self) -> EntityId {
        self.entity().id()
    }

    /// Whether the entity was deleted, here or (once the deletion reached this node) on
    /// another node. The view stays valid; reading a field of a deleted entity returns
    /// [`PropertyError::Deleted`].
    fn is_deleted(&self) -> bool {
        self.entity().is_deleted()
    }
}

/// Views are signals: a subscriber hears of every committed transaction that changes the
/// entity, never of uncommitted edits.
impl<V: View> Subscribe<V> for V {
    fn subscribe<F: Fn(V) + Send + Sync + 'static>(&self, listener: F) -> SubscriptionGuard {
        let view = self.clone();
        self.entity().listen(move || listener(view.clone()))
    }
}

/// An edit handle on one entity inside a transaction; writes become part of its commit.
pub trait Mutable<'t>: Sized {
    /// The model this handle edits.
    type Model: Model;

    /// Wraps a transaction's editable fork of an entity.
    fn new(entity: Arc<Entity>, trx: &'t Transaction) -> Self;

    /// The editable entity.
    fn entity(&self) -> &Arc<Entity>;

    /// The entity's id.
    fn id(&self) -> EntityId {
        self.entity().id()
    }
}

/// Static description of one stored property of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropertyDescriptor {
    /// The field name, which is the property name.
    pub name: &'static str,
    /// The backend storing it (`"lww"` or `"yrs"`).
    pub backend: &'static str,
    /// The type of its values.
    pub value_type: ValueType,
    /// Whether it may be NULL (`Option<T>`).
    pub optional: bool,
    /// The field's Rust type as written (`Ref<User>`, `Option<i32>`), named in errors.
    pub type_name: &'static str,
}

// Following a reference needs a context: it lives here, above the data layer.

impl<M: Model> Ref<M> {
    /// Reads the referenced entity through `ctx`; errors as [`Context::get`] does.
    pub async fn get(&self, ctx: &Context) -> Result<M::View, RetrievalError> {
        ctx.get::<M::View>(self.id()).await
    }
}

impl<M: Model> From<&M::View> for Ref<M> {
    fn from(view: &M::View) -> Self {
        Ref::new(view.id())
    }
}
