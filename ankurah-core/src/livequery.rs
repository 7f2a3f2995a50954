//! [`LiveQuery`]: a query whose result stays current.
//!
//! `ctx.query::<AlbumView>("year >= 2000 ORDER BY year DESC LIMIT 10")` registers the query
//! with the node's reactor and loads its first result; from then on every committed
//! transaction that changes the result produces one [`ChangeSet`]. A live query is a signal:
//! read it with [`Get`]/[`Peek`], or [`Subscribe`] to its change sets. Dropping the last
//! handle unregisters it.
//!
//! ```
//! # use ankurah_core::{Node, storage::MemoryStorage, policy::{PermissiveAgent, DEFAULT_CONTEXT}};
//! # use ankurah_core::signals::Peek;
//! # use std::sync::Arc;
//! # async fn example<V: ankurah_core::View>(ctx: ankurah_core::Context) -> Result<(), Box<dyn std::error::Error>> {
//! let recent = ctx.query_wait::<V>("year >= 2000 ORDER BY year DESC LIMIT 10").await?;
//! println!("{} albums", recent.peek().len());
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use crate::changes::ChangeSet;
use crate::context::IntoSelection;
use crate::entity::Entity;
use crate::model::View;
use crate::node::Node;
use crate::node_error::RetrievalError;
use crate::reactor::Query;
use crate::signals::{Get, Peek, Subscribe, SubscriptionGuard};

/// A live query over the views `V`. Cheap to clone; clones share the query.
pub struct LiveQuery<V> {
    query: Arc<Query>,
    node: Node,
    _view: PhantomData<fn() -> V>,
}

impl<V> Clone for LiveQuery<V> {
    fn clone(&self) -> Self {
        LiveQuery {
            query: self.query.clone(),
            node: self.node.clone(),
            _view: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for LiveQuery<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveQuery")
            .field("query", &self.query)
            .field("len", &self.query.snapshot.read().len())
            .finish()
    }
}

impl<V: View> LiveQuery<V> {
    pub(crate) fn new(query: Arc<Query>, node: Node) -> Self {
        LiveQuery {
            query,
            node,
            _view: PhantomData,
        }
    }

    /// Resolves once the first result has been loaded, or with the error that kept it from
    /// loading ([`RetrievalError::QueryFailed`]) instead of waiting for ever.
    pub async fn wait_initialized(&self) -> Result<(), RetrievalError> {
        self.query.outcome().await
    }

    /// Replaces the query; the difference is reported as one change set.
    pub async fn update_selection(&self, query: impl IntoSelection) -> Result<(), RetrievalError> {
        let selection = query.into_selection(self.node.limits())?;
        crate::context::check_properties::<V::Model>(&selection)?;
        self.query.reselect(&self.node, selection).await
    }

    pub(crate) async fn load(&self, node: &Node) -> Result<(), RetrievalError> {
        self.query.load(node).await
    }

    /// On an ephemeral node, opens the query's remote side on the durable peer (if any).
    pub(crate) async fn subscribe_remote(&self, node: &Node) -> Result<(), RetrievalError> {
        node.remote_subscribe(&self.query).await
    }

    /// The current selection.
    pub fn selection(&self) -> crate::ankql::Selection {
        self.query.selection.read().clone()
    }

    fn views(&self) -> Vec<V> {
        self.query
            .snapshot
            .read()
            .iter()
            .cloned()
            .map(V::from_entity)
            .collect()
    }
}

impl<V: View> Get<Vec<V>> for LiveQuery<V> {
    fn get(&self) -> Vec<V> {
        self.query.changed.track();
        self.views()
    }
}

impl<V: View> Peek<Vec<V>> for LiveQuery<V> {
    fn peek(&self) -> Vec<V> {
        self.views()
    }
}

/// Subscribers receive one change set per committed transaction that changed the result,
/// in commit order, on a thread where they may block; `peek`/`get` already show the change
/// when `commit` returns, the callback follows. A subscriber that falls more than 1024 change
/// sets behind receives the rest merged into one (the net difference).
impl<V: View> Subscribe<ChangeSet<V>> for LiveQuery<V> {
    fn subscribe<F: Fn(ChangeSet<V>) + Send + Sync + 'static>(
        &self,
        listener: F,
    ) -> SubscriptionGuard {
        self.query
            .changesets
            .listen(move |changes: &ChangeSet<Arc<Entity>>| {
                listener(ChangeSet::from_entities(changes.clone()))
            })
    }
}
