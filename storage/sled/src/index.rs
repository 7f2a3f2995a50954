//! Secondary indexes: the upkeep of index entries when states change. Entries and the
//! encoding of their values are shared with other ordered engines
//! ([`ankurah_core::storage::ordered`]); keys are in [`crate::layout`].

use ankurah_core::storage::ordered::record::{entry_change, Record};
use ankurah_core::{CollectionId, StorageError};

use crate::engine_error;
use crate::journal::Writes;
use crate::layout;

/// Adds to `batch` the index changes of one entity whose state goes from `old` to `new`
/// (`None` when there is none), for each of `properties`. Only live states have entries, so
/// a deletion removes them all.
pub(crate) fn update<'p>(
    batch: &mut Writes,
    collection: &CollectionId,
    properties: impl IntoIterator<Item = &'p str>,
    old: Option<&Record<'_>>,
    new: Option<&Record<'_>>,
) {
    for property in properties {
        if let Some(change) = entry_change(property, old, new) {
            let prefix = layout::index_prefix(collection, property);
            let key = |entry: Vec<u8>| [prefix.as_slice(), &entry].concat();
            change.remove.into_iter().for_each(|e| batch.remove(key(e)));
            change
                .add
                .into_iter()
                .for_each(|e| batch.insert(key(e), []));
        }
    }
}

/// A step of clearing the entries of the index on (collection, property): a batch removing
/// up to `limit` of them, `None` once none is left.
pub(crate) fn clear_step(
    tree: &sled::Tree,
    collection: &CollectionId,
    property: &str,
    limit: usize,
) -> Result<Option<Writes>, StorageError> {
    let mut batch = Writes::default();
    let mut found = false;
    for key in tree
        .scan_prefix(layout::index_prefix(collection, property))
        .keys()
        .take(limit)
    {
        batch.remove(key.map_err(engine_error)?.to_vec());
        found = true;
    }
    Ok(found.then_some(batch))
}

/// A step of filling the index on (collection, property): the batch of the entries of up
/// to `limit` states of the collection, from state key `from` on, and the key the next step
/// starts from (`None` when no state is left).
pub(crate) fn fill_step(
    tree: &sled::Tree,
    collection: &CollectionId,
    property: &str,
    from: &[u8],
    limit: usize,
) -> Result<(Writes, Option<Vec<u8>>), StorageError> {
    let prefix = layout::state_prefix(collection);
    let mut batch = Writes::default();
    let mut last = None;
    let mut read = 0;
    for item in tree.range(from..).take(limit) {
        let (key, bytes) = item.map_err(engine_error)?;
        if !key.starts_with(&prefix) {
            return Ok((batch, None));
        }
        let record = Record::decode(&bytes)?;
        update(&mut batch, collection, [property], None, Some(&record));
        read += 1;
        last = Some(key);
    }
    // The least key after the last one read.
    let next = last
        .filter(|_| read == limit)
        .map(|key| [&key[..], &[0]].concat());
    Ok((batch, next))
}
