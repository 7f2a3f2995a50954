//! [`ChangeSet`] and [`ItemChange`]: what a live query reports per committed transaction.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::entity::Entity;
use crate::id::EntityId;
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

impl<V> ChangeSet<V> {
    /// The same changes of each item turned into a `W`.
    pub(crate) fn map<W>(self, f: impl Fn(V) -> W) -> ChangeSet<W> {
        ChangeSet {
            resultset: self.resultset.into_iter().map(&f).collect(),
            changes: self.changes.into_iter().map(|c| c.map(&f)).collect(),
        }
    }
}

impl<V: View> ChangeSet<V> {
    pub(crate) fn from_entities(set: ChangeSet<Arc<Entity>>) -> Self {
        set.map(V::from_entity)
    }
}

impl ChangeSet<Arc<Entity>> {
    /// Folds `later`, the next change set of the same query, into this one, which then
    /// describes the net change from before `self` to after `later`: how a listener that
    /// fell far behind receives its backlog (see [`crate::signals`]). An entity that entered
    /// and left in between is not mentioned; one that left and came back is an update.
    pub(crate) fn absorb(&mut self, later: Self) {
        // Per entity, in order of first mention: its first change (which tells whether it
        // was in the result before) and its latest item.
        let mut order: Vec<EntityId> = Vec::new();
        let mut first: HashMap<EntityId, (ChangeKind, Arc<Entity>)> = HashMap::new();
        for change in self.changes.drain(..).chain(later.changes) {
            let item = change.entity().clone();
            match first.entry(item.id()) {
                Entry::Occupied(mut seen) => seen.get_mut().1 = item,
                Entry::Vacant(slot) => {
                    order.push(item.id());
                    slot.insert((change.kind(), item));
                }
            }
        }
        let was_in = |kind: ChangeKind| matches!(kind, ChangeKind::Update | ChangeKind::Remove);
        let after: HashSet<EntityId> = later.resultset.iter().map(|e| e.id()).collect();
        let mut changes: Vec<ItemChange<Arc<Entity>>> = order
            .iter()
            .filter(|id| !after.contains(id))
            .filter_map(|id| first.get(id))
            .filter(|(kind, _)| was_in(*kind))
            .map(|(_, item)| ItemChange::Remove { item: item.clone() })
            .collect();
        for item in &later.resultset {
            let Some((kind, _)) = first.get(&item.id()) else {
                continue;
            };
            let item = item.clone();
            changes.push(match kind {
                ChangeKind::Initial => ItemChange::Initial { item },
                ChangeKind::Add => ItemChange::Add { item },
                ChangeKind::Update | ChangeKind::Remove => ItemChange::Update { item },
            });
        }
        self.resultset = later.resultset;
        self.changes = changes;
    }

    /// [`Self::absorb`] as a listener queue's merge.
    pub(crate) fn merge_queued(last: &mut Arc<Self>, later: Arc<Self>) {
        Arc::make_mut(last).absorb(Arc::unwrap_or_clone(later));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::CollectionId;

    fn entity() -> Arc<Entity> {
        Arc::new(Entity::empty(EntityId::new(), CollectionId::from("album")))
    }

    fn summary(set: &ChangeSet<Arc<Entity>>) -> Vec<(ChangeKind, EntityId)> {
        set.changes
            .iter()
            .map(|c| (c.kind(), c.entity().id()))
            .collect()
    }

    #[test]
    fn absorbing_keeps_the_net_difference() {
        let (kept, gone, passing, back, new) = (entity(), entity(), entity(), entity(), entity());
        // Before: kept, gone, back. First set: passing enters, back leaves, kept changes.
        let mut set = ChangeSet {
            resultset: vec![kept.clone(), gone.clone(), passing.clone()],
            changes: vec![
                ItemChange::Add {
                    item: passing.clone(),
                },
                ItemChange::Remove { item: back.clone() },
                ItemChange::Update { item: kept.clone() },
            ],
        };
        // Second set: passing and gone leave, back returns, new enters.
        set.absorb(ChangeSet {
            resultset: vec![new.clone(), kept.clone(), back.clone()],
            changes: vec![
                ItemChange::Remove {
                    item: passing.clone(),
                },
                ItemChange::Remove { item: gone.clone() },
                ItemChange::Add { item: back.clone() },
                ItemChange::Add { item: new.clone() },
            ],
        });
        assert_eq!(
            summary(&set),
            [
                (ChangeKind::Remove, gone.id()),
                (ChangeKind::Add, new.id()),
                (ChangeKind::Update, kept.id()),
                (ChangeKind::Update, back.id()),
            ]
        );
        let ids = |v: &[Arc<Entity>]| v.iter().map(|e| e.id()).collect::<Vec<_>>();
        assert_eq!(ids(&set.resultset), [new.id(), kept.id(), back.id()]);
    }

    #[test]
    fn an_initial_result_stays_initial() {
        let (a, b) = (entity(), entity());
        let mut set = ChangeSet {
            resultset: vec![a.clone()],
            changes: vec![ItemChange::Initial { item: a.clone() }],
        };
        set.absorb(ChangeSet {
            resultset: vec![a.clone(), b.clone()],
            changes: vec![
                ItemChange::Update { item: a.clone() },
                ItemChange::Add { item: b.clone() },
            ],
        });
        assert_eq!(
            summary(&set),
            [(ChangeKind::Initial, a.id()), (ChangeKind::Add, b.id())]
        );
    }
}
