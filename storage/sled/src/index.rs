//! Secondary indexes: the upkeep of index entries when states change. Entries and the
//! encoding of their values are shared with other ordered engines
//! ([`ankurah_core::storage::ordered`]); keys are in [`crate::layout`].

use ankurah_core::storage::ordered::record::{entry_change, Record};
use ankurah_core::{CollectionId, StorageError};

use crate::backend_error;
use crate::layout;

/// Adds to `batch` the index changes of one entity whose state goes from `old` to `new`
/// (`None` when there is none), for each of `properties`. Only live states have entries, so
/// a deletion removes them all.
pub(crate) fn update<'p>(
    batch: &mut sled::Batch,
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
                .for_each(|e| batch.insert(key(e), &[]));
        }
    }
}

/// The batch that creates the index on (collection, property): an entry per live state, and
/// the catalog key that makes writers maintain it from then on.
pub(crate) fn build(
    tree: &sled::Tree,
    collection: &CollectionId,
    property: &str,
) -> Result<sled::Batch, StorageError> {
    let mut batch = sled::Batch::default();
    for item in tree.scan_prefix(layout::state_prefix(collection)) {
        let (_, bytes) = item.map_err(backend_error)?;
        let record = Record::decode(&bytes)?;
        update(&mut batch, collection, [property], None, Some(&record));
    }
    batch.insert(layout::catalog_key(collection, property), &[]);
    Ok(batch)
}
