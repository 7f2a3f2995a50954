//! [`Context`]: a node seen through one identity; every read and write goes through it so
//! the policy agent can check it.

use std::sync::Arc;

use crate::ankql::{parse_selection_with, ParseError, Selection};
use crate::changes::ChangeSet;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::id::EntityId;
use crate::limits::Limits;
use crate::livequery::LiveQuery;
use crate::model::{Model, View};
use crate::node::Node;
use crate::node_error::RetrievalError;
use crate::policy::ContextData;
use crate::reactor::Query;
use crate::signals::{Subscribe, SubscriptionGuard};
use crate::sourced::Sourced;
use crate::transaction::Transaction;
use crate::value::Value;

/// A node acting for one [`ContextData`]. Cheap to clone.
///
/// ```
/// # use ankurah_core::{Node, storage::MemoryStorage, policy::{PermissiveAgent, DEFAULT_CONTEXT}};
/// # use std::sync::Arc;
/// let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
/// let ctx = node.context(DEFAULT_CONTEXT).expect("the permissive agent allows every context");
/// let trx = ctx.begin(); // create and edit entities, then `trx.commit().await`
/// # drop(trx);
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    node: Node,
    cx: ContextData,
}

impl Context {
    pub(crate) fn new(node: Node, cx: ContextData) -> Self {
        Context { node, cx }
    }

    /// The node this context reads and writes.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The identity the policy agent sees.
    pub fn data(&self) -> &ContextData {
        &self.cx
    }

    /// Starts a transaction. Nothing it does is visible until [`Transaction::commit`];
    /// dropping it discards its changes.
    pub fn begin(&self) -> Transaction {
        Transaction::new(self.clone())
    }

    /// The entity `id` of `V`'s collection. Errors if it does not exist or was deleted.
    ///
    /// On a connected ephemeral node the answer reflects the durable peer, and the node
    /// follows the entity from then on (so a view held stays current); offline it is the
    /// local copy. [`Context::get_sourced`] says which.
    pub async fn get<V: View>(&self, id: EntityId) -> Result<V, RetrievalError> {
        Ok(self.get_sourced(id).await?.value)
    }

    /// [`Context::get`], with where the answer came from.
    pub async fn get_sourced<V: View>(&self, id: EntityId) -> Result<Sourced<V>, RetrievalError> {
        let read = self.read_entity(&V::Model::collection(), id).await?;
        Ok(Sourced {
            value: V::from_entity(read.value),
            source: read.source,
        })
    }

    /// [`Context::get_sourced`] for any collection.
    pub(crate) async fn read_entity(
        &self,
        collection: &CollectionId,
        id: EntityId,
    ) -> Result<Sourced<Arc<Entity>>, RetrievalError> {
        let source = self.node.read_through_get(collection, id).await?;
        let entity = alive(collection, id, self.node.load_entity(collection, id).await?)?;
        self.node
            .inner
            .policy
            .check_read(&self.cx, collection, &entity)?;
        Ok(Sourced {
            value: entity,
            source,
        })
    }

    /// A live query: registered at once, first result loaded in the background (see
    /// [`LiveQuery::wait_initialized`]). Must be called inside a tokio runtime.
    pub fn query<V: View>(
        &self,
        query: impl IntoSelection,
    ) -> Result<LiveQuery<V>, RetrievalError> {
        let live = self.register::<V>(query)?;
        let (node, query) = (self.node.clone(), live.clone());
        crate::runtime::spawn(async move {
            // A failed load is kept in the query for `wait_initialized`; the remote side is
            // opened all the same, as its updates can recover the query.
            if let Err(error) = query.load(&node).await {
                tracing::warn!(%error, "a live query failed its first load");
            }
            if let Err(error) = query.subscribe_remote(&node).await {
                tracing::warn!(
                    query = %query.selection(),
                    %error,
                    "a live query could not subscribe on the durable peer; it resubscribes on reconnect"
                );
            }
        });
        Ok(live)
    }

    /// A live query whose first result is loaded when this returns; a failed load is
    /// returned as [`RetrievalError::QueryFailed`].
    pub async fn query_wait<V: View>(
        &self,
        query: impl IntoSelection,
    ) -> Result<LiveQuery<V>, RetrievalError> {
        let live = self.register::<V>(query)?;
        live.load(&self.node).await?;
        live.subscribe_remote(&self.node).await?;
        Ok(live)
    }

    /// Calls `listener` with the first result (as `Initial` changes) and then with every
    /// change set, until the guard is dropped. The result is loaded when this returns; the
    /// calls follow on a thread where the listener may block (see [`crate::signals`]).
    pub async fn subscribe<V: View, F>(
        &self,
        query: impl IntoSelection,
        listener: F,
    ) -> Result<LiveQueryGuard<V>, RetrievalError>
    where
        F: Fn(ChangeSet<V>) + Send + Sync + 'static,
    {
        let live = self.register::<V>(query)?;
        let guard = live.subscribe(listener);
        live.load(&self.node).await?;
        live.subscribe_remote(&self.node).await?;
        Ok(LiveQueryGuard {
            _guard: guard,
            query: live,
        })
    }

    fn register<V: View>(&self, query: impl IntoSelection) -> Result<LiveQuery<V>, RetrievalError> {
        let selection = query.into_selection(self.node.limits())?;
        check_properties::<V::Model>(&selection)?;
        let registered = self.register_query(V::Model::collection(), selection);
        Ok(LiveQuery::new(registered, self.node.clone()))
    }

    /// Registers a live query with the node's reactor.
    pub(crate) fn register_query(
        &self,
        collection: CollectionId,
        selection: Selection,
    ) -> Arc<Query> {
        self.node.inner.reactor.register(collection, selection)
    }

    /// The entities of `V`'s collection matching an AnkQL query (text, text with `?`
    /// arguments, or a [`Selection`]), ordered and limited as it says.
    ///
    /// On a connected ephemeral node the answer reflects the durable peer (entities changed
    /// or deleted there since this node saw them are brought up to date first); offline it
    /// is what the local store holds. [`Context::fetch_sourced`] says which.
    pub async fn fetch<V: View>(
        &self,
        query: impl IntoSelection,
    ) -> Result<Vec<V>, RetrievalError> {
        Ok(self.fetch_sourced(query).await?.value)
    }

    /// [`Context::fetch`], with where the answer came from.
    pub async fn fetch_sourced<V: View>(
        &self,
        query: impl IntoSelection,
    ) -> Result<Sourced<Vec<V>>, RetrievalError> {
        let selection = query.into_selection(self.node.limits())?;
        check_properties::<V::Model>(&selection)?;
        let read = self
            .read_entities(&V::Model::collection(), &selection)
            .await?;
        Ok(Sourced {
            value: read.value.into_iter().map(V::from_entity).collect(),
            source: read.source,
        })
    }

    /// [`Context::fetch_sourced`] for any collection.
    pub(crate) async fn read_entities(
        &self,
        collection: &CollectionId,
        selection: &Selection,
    ) -> Result<Sourced<Vec<Arc<Entity>>>, RetrievalError> {
        let source = self.node.read_through_fetch(collection, selection).await?;
        let entities = self.node.fetch_entities(collection, selection).await?;
        // Entities the policy hides are left out, as rows hidden by row-level security.
        let value = entities
            .into_iter()
            .filter(|entity| self.can_read(collection, entity))
            .collect();
        Ok(Sourced { value, source })
    }

    /// Whether the policy lets this context read `entity`.
    pub(crate) fn can_read(&self, collection: &CollectionId, entity: &Entity) -> bool {
        self.node
            .inner
            .policy
            .check_read(&self.cx, collection, entity)
            .is_ok()
    }
}

/// The entity `id` if it exists and is not deleted, else the error a read of it returns.
pub(crate) fn alive<E: std::ops::Deref<Target = Entity>>(
    collection: &CollectionId,
    id: EntityId,
    entity: Option<E>,
) -> Result<E, RetrievalError> {
    let collection = collection.to_string();
    match entity {
        None => Err(RetrievalError::NotFound { collection, id }),
        Some(entity) if entity.is_deleted() => Err(RetrievalError::Deleted { collection, id }),
        Some(entity) => Ok(entity),
    }
}

/// Refuses queries the model proves can never match: unknown properties (listing the ones
/// it has), paths into properties without inner values (such as a `Ref`), and values of a
/// type the property never compares with (see [`crate::typecheck`]).
pub(crate) fn check_properties<M: Model>(selection: &Selection) -> Result<(), RetrievalError> {
    crate::typecheck::check_selection(M::collection().as_str(), M::properties(), selection)
}

/// Anything that names a query: AnkQL text, text with `?` arguments, or a [`Selection`].
pub trait IntoSelection {
    /// Parses (if needed) into a selection, under the node's `limits` (see
    /// [`parse_selection_with`]); a `Selection` built in the process is taken as it is.
    fn into_selection(self, limits: &Limits) -> Result<Selection, ParseError>;
}

impl IntoSelection for Selection {
    fn into_selection(self, _limits: &Limits) -> Result<Selection, ParseError> {
        Ok(self)
    }
}

impl IntoSelection for &str {
    fn into_selection(self, limits: &Limits) -> Result<Selection, ParseError> {
        parse_selection_with(self, &[], limits)
    }
}

impl IntoSelection for String {
    fn into_selection(self, limits: &Limits) -> Result<Selection, ParseError> {
        parse_selection_with(&self, &[], limits)
    }
}

impl<A: Into<Value>, const N: usize> IntoSelection for (&str, [A; N]) {
    fn into_selection(self, limits: &Limits) -> Result<Selection, ParseError> {
        let args: Vec<Value> = self.1.into_iter().map(Into::into).collect();
        parse_selection_with(self.0, &args, limits)
    }
}

impl IntoSelection for (&str, Vec<Value>) {
    fn into_selection(self, limits: &Limits) -> Result<Selection, ParseError> {
        parse_selection_with(self.0, &self.1, limits)
    }
}

/// Keeps a [`Context::subscribe`] subscription alive; dropping it unsubscribes.
#[must_use = "dropping the guard unsubscribes at once"]
#[derive(Debug)]
pub struct LiveQueryGuard<V> {
    _guard: SubscriptionGuard,
    query: LiveQuery<V>,
}

impl<V> LiveQueryGuard<V> {
    /// The live query behind the subscription.
    pub fn query(&self) -> &LiveQuery<V> {
        &self.query
    }
}
