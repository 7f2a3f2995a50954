//! [`ChangeSet`] and [`ItemChange`]: what a live query reports per committed transaction.

use crate::model::View;

/// One entity's change in a live query's result set.
#[derive(Debug, Clone)]
pub enum ItemChange<V> {
    /// Part of the first result.
    Initial { item: V },
    /// Entered the result set.
    Add { item: V },
    /// Still in the result set, with new values.
    Update { item: V },
    /// Left the result set (no longer matches, deleted, or pushed out of the LIMIT window).
    Remove { item: V },
}

/// The kind of an [`ItemChange`], for matching without the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Initial,
    Add,
    Update,
    Remove,
}

impl<V> ItemChange<V> {
    /// What happened.
    pub fn kind(&self) -> ChangeKind {
        match self {
            ItemChange::Initial { .. } => ChangeKind::Initial,
            ItemChange::Add { .. } => ChangeKind::Add,
            ItemChange::Update { .. } => ChangeKind::Update,
            ItemChange::Remove { .. } => ChangeKind::Remove,
        }
    }

    /// The entity concerned.
    pub fn entity(&self) -> &V {
        match self {
            ItemChange::Initial { item }
            | ItemChange::Add { item }
            | ItemChange::Update { item }
            | ItemChange::Remove { item } => item,
        }
    }

    pub(crate) fn map<W>(self, f: impl FnOnce(V) -> W) -> ItemChange<W> {
        match self {
            ItemChange::Initial { item } => ItemChange::Initial { item: f(item) },
            ItemChange::Add { item } => ItemChange::Add { item: f(item) },
            ItemChange::Update { item } => ItemChange::Update { item: f(item) },
            ItemChange::Remove { item } => ItemChange::Remove { item: f(item) },
        }
    }
}

/// Everything one transaction changed in one live query, with the result set after it.
#[derive(Debug, Clone)]
pub struct ChangeSet<V> {
    /// The query's whole result, in query order, after the transaction.
    pub resultset: Vec<V>,
    /// The changes, in result order for additions and updates.
    pub changes: Vec<ItemChange<V>>,
}

impl<V: View> ChangeSet<V> {
    pub(crate) fn from_entities(set: ChangeSet<std::sync::Arc<crate::entity::Entity>>) -> Self {
        ChangeSet {
            resultset: set.resultset.into_iter().map(V::from_entity).collect(),
            changes: set
                .changes
                .into_iter()
                .map(|c| c.map(V::from_entity))
                .collect(),
        }
    }
}
