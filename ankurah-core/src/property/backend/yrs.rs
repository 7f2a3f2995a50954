//! Collaborative text through the `yrs` CRDT: one document per entity, one text per property.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use parking_lot::Mutex;
use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Map, Options, ReadTxn, StateVector, Text, Transact, Update};

use super::yrs_update::check_update;
use crate::error::{EventError, PropertyError};
use crate::id::EventId;
use crate::limits::Limits;
use crate::value::Value;

/// Name of the map that records which text properties were ever set, so that an empty string
/// is distinguishable from a missing property on every replica. Property names are
/// identifiers, so the empty root name cannot collide.
const PRESENT: &str = "";

/// Text properties of one entity as a yrs document.
///
/// Positions are Unicode characters: they are translated to the document's byte offsets
/// here, so no edit can split a character. The document is created on first use.
#[derive(Default)]
pub struct YrsBackend {
    inner: Mutex<Inner>,
    lender: Mutex<Lender>,
}

/// The yrs client id a replica lends to the transactions editing it.
///
/// yrs names every inserted run of characters by (client id, clock), so an id may be written
/// through one document at a time. A replica lends one id to one transaction at a time and
/// takes it back once that transaction's edits are joined in (or discarded); concurrent
/// transactions write under fresh ids. With one id per replica instead of one per
/// transaction, yrs merges consecutive characters into one run: a text typed one character
/// per transaction grows by about a byte per character, not by a client entry per edit.
#[derive(Default)]
struct Lender {
    idle: Option<ClientID>,
    lent: Option<ClientID>,
}

#[derive(Default)]
struct Inner {
    doc: Option<Doc>,
    /// The content as one encoded update, while known: the state loaded (documents are built
    /// on first use, so loading many entities costs a format check each, not a document
    /// each), or the last encoding of `doc`. Dropped whenever the document changes, so a
    /// replica that only read an entity still reports the bytes it received.
    loaded: Option<Vec<u8>>,
    /// The text of every property that was set, when known: read from the document once and
    /// copied to forks, so staging a change that leaves the text alone (an LWW edit) needs
    /// no document to report the values. Dropped whenever the document changes.
    texts: Option<BTreeMap<String, String>>,
    /// State vector at fork time and whether local edits happened since.
    local: Option<StateVector>,
    dirty: bool,
    /// The client id local edits are written under; chosen when the document is first made.
    client: Option<ClientID>,
}

impl std::fmt::Debug for YrsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YrsBackend")
            .field("values", &self.values())
            .finish()
    }
}

/// A client id of its own: random, within the 53 bits yrs keeps for Yjs.
fn fresh_client() -> ClientID {
    ClientID::new(rand::random::<u64>() & ((1 << 53) - 1))
}

/// The changes of a document since `since`, as a yrs update. yrs encodes into a buffer of at
/// least 1 KiB; the update is kept in events and states, so it is shrunk to its length.
fn encode(txn: &impl ReadTxn, since: &StateVector) -> Vec<u8> {
    let mut update = txn.encode_state_as_update_v1(since);
    update.shrink_to_fit();
    update
}

/// Decodes and applies a yrs update. yrs is third-party code fed with outside bytes, so the
/// update is vetted first (see [`check_update`]) and a panic inside yrs is turned into an
/// error instead of taking the node down.
fn apply_update(doc: &Doc, bytes: &[u8]) -> Result<(), String> {
    check_update(bytes, Limits::DEPTH_CEILING)?;
    catch_unwind(AssertUnwindSafe(|| {
        let update = Update::decode_v1(bytes).map_err(|e| e.to_string())?;
        doc.transact_mut()
            .apply_update(update)
            .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("the update could not be decoded".to_owned()))
}

/// Checks that bytes decode as a yrs update, without integrating them.
fn decodes(bytes: &[u8]) -> Result<(), String> {
    check_update(bytes, Limits::DEPTH_CEILING)?;
    catch_unwind(|| {
        Update::decode_v1(bytes)
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .unwrap_or_else(|_| Err("the update could not be decoded".to_owned()))
}

impl YrsBackend {
    /// The name of this backend in events and states.
    pub const NAME: &'static str = "yrs";

    /// Loads a state produced by [`Self::to_state_buffer`]. The bytes are checked to decode
    /// now; the document is built when first read or edited.
    pub fn from_state_buffer(bytes: &[u8]) -> Result<Self, EventError> {
        decodes(bytes).map_err(|reason| EventError::BadState {
            backend: Self::NAME,
            reason,
        })?;
        Ok(Self::with(Inner {
            loaded: Some(bytes.to_vec()),
            ..Inner::default()
        }))
    }

    /// The text of a property, `None` if it was never set.
    pub fn get(&self, property: &str) -> Option<String> {
        self.inner.lock().texts().get(property).cloned()
    }

    /// Every text property that was ever set.
    pub fn values(&self) -> BTreeMap<String, Value> {
        let mut inner = self.inner.lock();
        inner
            .texts()
            .iter()
            .map(|(name, text)| (name.clone(), Value::String(text.clone())))
            .collect()
    }

    /// Runs a local edit of one property's text; `edit` gets the current string and returns
    /// the byte range to remove and the text to insert there.
    fn edit(
        &self,
        property: &str,
        edit: impl FnOnce(&str) -> Result<Option<(u32, u32, String)>, PropertyError>,
    ) -> Result<(), PropertyError> {
        let mut inner = self.inner.lock();
        if inner.local.is_none() {
            let since = inner.writable().transact().state_vector();
            inner.local = Some(since);
        }
        {
            let doc = inner.writable();
            let present = doc.get_or_insert_map(PRESENT);
            let text = doc.get_or_insert_text(property);
            let mut txn = doc.transact_mut();
            let current = text.get_string(&txn);
            let change = edit(&current)?;
            if !present.contains_key(&txn, property) {
                present.insert(&mut txn, property, true);
            }
            if let Some((start, remove, insert)) = change {
                if remove > 0 {
                    text.remove_range(&mut txn, start, remove);
                }
                if !insert.is_empty() {
                    text.insert(&mut txn, start, &insert);
                }
            }
        }
        inner.dirty = true;
        inner.texts = None;
        inner.loaded = None;
        Ok(())
    }

    /// Inserts `chunk` at character position `pos`.
    pub fn insert(&self, property: &str, pos: u32, chunk: &str) -> Result<(), PropertyError> {
        self.splice(property, pos, 0, chunk)
    }

    /// Deletes `len` characters starting at character position `pos`.
    pub fn delete(&self, property: &str, pos: u32, len: u32) -> Result<(), PropertyError> {
        self.splice(property, pos, len, "")
    }

    /// Replaces `len` characters at `pos` with `chunk`.
    pub fn splice(
        &self,
        property: &str,
        pos: u32,
        len: u32,
        chunk: &str,
    ) -> Result<(), PropertyError> {
        self.edit(property, |current| {
            let start = char_to_byte(current, pos, len)?;
            let end = pos
                .checked_add(len)
                .and_then(|end| char_to_byte(current, end, 0).ok())
                .ok_or_else(|| out_of_range(current, pos, len))?;
            Ok(Some((start, end - start, chunk.to_owned())))
        })
    }

    /// Sets the whole text, as a minimal edit (common prefix and suffix are kept), so that
    /// concurrent edits elsewhere in the text survive.
    pub fn replace(&self, property: &str, value: &str) -> Result<(), PropertyError> {
        self.edit(property, |current| {
            let prefix = common_prefix(current, value);
            let suffix = common_prefix_rev(&current[prefix..], &value[prefix..]);
            let remove = current.len() - prefix - suffix;
            let insert = &value[prefix..value.len() - suffix];
            Ok(Some((prefix as u32, remove as u32, insert.to_owned())))
        })
    }

    /// Encoded local edits since the fork (a yrs update), if any, and forgets them.
    pub fn take_operations(&self) -> Option<Vec<u8>> {
        let mut inner = self.inner.lock();
        if !std::mem::take(&mut inner.dirty) {
            return None;
        }
        let since = inner.local.take().unwrap_or_default();
        let update = encode(&inner.doc.as_ref()?.transact(), &since);
        if since.is_empty() {
            // An update from nothing is the whole document (a creation, typically): keep it
            // as the loaded state, with the texts read now, so that staging the change
            // neither re-applies nor re-encodes it and the entity holds no document until
            // it is edited again.
            inner.texts();
            inner.doc = None;
            inner.loaded = Some(update.clone());
        }
        Some(update)
    }

    /// Applies an event's update.
    pub fn apply_operations(&self, operations: &[u8], id: EventId) -> Result<(), EventError> {
        self.merge(operations)
            .map_err(|reason| EventError::BadOperations {
                backend: Self::NAME,
                id,
                reason,
            })
    }

    /// Joins another replica's state (a full-document update) into this one.
    pub fn merge_state(&self, bytes: &[u8]) -> Result<(), EventError> {
        self.merge(bytes).map_err(|reason| EventError::BadState {
            backend: Self::NAME,
            reason,
        })
    }

    fn merge(&self, bytes: &[u8]) -> Result<(), String> {
        let mut inner = self.inner.lock();
        if inner.loaded.as_deref() == Some(bytes) {
            // Joining a state with itself changes nothing.
            return Ok(());
        }
        inner.texts = None;
        if inner.doc.is_none() && inner.loaded.is_none() {
            // Into an empty backend an update is a whole state (it depends on nothing): keep
            // it to build the document on first use, as a loaded state is kept.
            decodes(bytes)?;
            inner.loaded = Some(bytes.to_vec());
            return Ok(());
        }
        let applied = apply_update(inner.writable(), bytes);
        inner.loaded = None;
        applied
    }

    /// The content encoded as one update from the empty state, identical on every replica
    /// with the same content; `None` if there is none.
    pub fn to_state_buffer(&self) -> Option<Vec<u8>> {
        self.inner.lock().canonical()
    }

    /// Moves the content out, leaving this backend empty; pending local edits are dropped
    /// (they were taken as operations already). The result lends the client id the content
    /// was written under.
    pub(crate) fn take(&self) -> YrsBackend {
        let mut inner = std::mem::take(&mut *self.inner.lock());
        inner.local = None;
        inner.dirty = false;
        let idle = inner.client;
        let taken = Self::with(inner);
        taken.lender.lock().idle = idle;
        taken
    }

    /// Takes over `other`'s content.
    pub(crate) fn adopt(&self, other: YrsBackend) {
        *self.inner.lock() = other.inner.into_inner();
    }

    /// An independent copy with the same content (and a client id of its own).
    pub fn fork(&self) -> Self {
        self.copy(None)
    }

    /// A copy for a transaction: it writes under this replica's client id unless another
    /// transaction holds it. Give it back with [`Self::return_client`] once the transaction's
    /// edits are joined into this replica or discarded.
    pub(crate) fn lend_client(&self) -> Self {
        let mut lender = self.lender.lock();
        let client = match lender.lent {
            Some(_) => None,
            None => {
                let client = lender.idle.take().unwrap_or_else(fresh_client);
                lender.lent = Some(client);
                Some(client)
            }
        };
        self.copy(client)
    }

    /// Takes back the client id lent to `copy`, if it is still this replica's to lend.
    pub(crate) fn return_client(&self, copy: &YrsBackend) {
        let client = copy.inner.lock().client;
        let mut lender = self.lender.lock();
        if lender.lent.is_some() && lender.lent == client {
            lender.idle = lender.lent.take();
        }
    }

    /// Stops lending the current client id: the replica was reset to a state that may lack
    /// edits written under it, so its clock there could repeat.
    pub(crate) fn retire_client(&self) {
        *self.lender.lock() = Lender::default();
    }

    fn copy(&self, client: Option<ClientID>) -> Self {
        // One lock for both, so the texts describe exactly the state copied.
        let inner = self.inner.lock();
        let (loaded, texts) = (inner.encoded(), inner.texts.clone());
        Self::with(Inner {
            loaded,
            texts,
            client,
            ..Inner::default()
        })
    }

    fn with(inner: Inner) -> Self {
        Self {
            inner: Mutex::new(inner),
            lender: Mutex::default(),
        }
    }
}

impl Inner {
    /// The content encoded as one update from the empty state; `None` if there is none.
    fn encoded(&self) -> Option<Vec<u8>> {
        if let Some(bytes) = &self.loaded {
            return Some(bytes.clone());
        }
        let txn = self.doc.as_ref()?.transact();
        if txn.state_vector().is_empty() {
            return None;
        }
        Some(encode(&txn, &StateVector::default()))
    }

    /// The content in the form every replica holding it encodes identically, `None` if there
    /// is none.
    ///
    /// yrs merges runs of characters written under one client id only where a transaction
    /// changed them, so two documents with the same content can differ in how far their runs
    /// are merged, depending on the order updates arrived in. Integrating the whole content
    /// in one transaction of a new document merges every run that can be, whatever the
    /// history. Bytes received or created whole are kept as they are: every replica holding
    /// that content unchanged holds those bytes.
    fn canonical(&mut self) -> Option<Vec<u8>> {
        if self.loaded.is_none() {
            let update = self.encoded()?;
            let whole = Doc::new();
            self.loaded = Some(match apply_update(&whole, &update) {
                Ok(()) => encode(&whole.transact(), &StateVector::default()),
                // Our own encoding integrates; were it not to, the content is all there.
                Err(_) => update,
            });
        }
        self.loaded.clone()
    }

    /// The text of every set property, read from the document when not known.
    fn texts(&mut self) -> &BTreeMap<String, String> {
        if self.texts.is_none() {
            let texts = match self.doc() {
                None => BTreeMap::new(),
                Some(doc) => {
                    let present = doc.get_or_insert_map(PRESENT);
                    let names: Vec<String> =
                        present.keys(&doc.transact()).map(str::to_owned).collect();
                    names
                        .into_iter()
                        .map(|name| {
                            let text = doc
                                .get_or_insert_text(name.as_str())
                                .get_string(&doc.transact());
                            (name, text)
                        })
                        .collect()
                }
            };
            self.texts = Some(texts);
        }
        self.texts.get_or_insert_with(BTreeMap::new)
    }

    /// The document, made empty if there is no content yet.
    fn writable(&mut self) -> &Doc {
        self.doc();
        let doc = match self.doc.take() {
            Some(doc) => doc,
            None => self.new_doc(),
        };
        self.doc.insert(doc)
    }

    fn new_doc(&mut self) -> Doc {
        let client_id = *self.client.get_or_insert_with(fresh_client);
        Doc::with_options(Options {
            client_id,
            skip_gc: false,
            ..Options::default()
        })
    }

    /// The document, built from the loaded state on first use; `None` if there is neither.
    fn doc(&mut self) -> Option<&Doc> {
        if self.doc.is_none() {
            self.loaded.as_ref()?;
            let doc = self.new_doc();
            // The bytes decoded when loaded, so this does not fail; if it did, the state is
            // kept as it is rather than replaced by an empty document.
            apply_update(&doc, self.loaded.as_deref()?).ok()?;
            self.doc = Some(doc);
        }
        self.doc.as_ref()
    }
}

fn out_of_range(current: &str, pos: u32, len: u32) -> PropertyError {
    PropertyError::OutOfRange {
        pos,
        len,
        text_len: current.chars().count() as u32,
    }
}

/// Byte offset of character `pos`; `pos` may equal the length (end of text).
fn char_to_byte(current: &str, pos: u32, len: u32) -> Result<u32, PropertyError> {
    let pos_usize = pos as usize;
    match current.char_indices().nth(pos_usize) {
        Some((byte, _)) => Ok(byte as u32),
        None if current.chars().count() == pos_usize => Ok(current.len() as u32),
        None => Err(out_of_range(current, pos, len)),
    }
}

/// Length in bytes of the longest common prefix, on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

/// Length in bytes of the longest common suffix, on a character boundary.
fn common_prefix_rev(a: &str, b: &str) -> usize {
    a.chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(c, _)| c.len_utf8())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> EventId {
        crate::id::EntityId::new().genesis_event()
    }

    #[test]
    fn a_creation_is_kept_as_its_own_state() {
        let created = YrsBackend::default();
        created.replace("name", "Origin").unwrap();
        let operations = created.take_operations().expect("an edit");
        assert_eq!(created.to_state_buffer().as_deref(), Some(&operations[..]));
        assert_eq!(created.get("name").as_deref(), Some("Origin"));

        // Staging the creation joins the operations into the same state: nothing changes.
        created.apply_operations(&operations, id()).unwrap();
        assert_eq!(created.to_state_buffer().as_deref(), Some(&operations[..]));

        // A later edit builds the document from that state and reports only itself.
        let fork = created.fork();
        fork.insert("name", 6, " of Symmetry").unwrap();
        let edit = fork.take_operations().expect("an edit");
        created.apply_operations(&edit, id()).unwrap();
        assert_eq!(created.get("name").as_deref(), Some("Origin of Symmetry"));
        let replica = YrsBackend::from_state_buffer(&operations).unwrap();
        replica.apply_operations(&edit, id()).unwrap();
        assert_eq!(replica.to_state_buffer(), created.to_state_buffer());
    }

    /// Edits as (position, characters to delete, text to insert), applied where they fit.
    fn edits() -> impl proptest::strategy::Strategy<Value = Vec<(u32, u32, String)>> {
        proptest::collection::vec((0..20u32, 0..4u32, "[ab€😀]{0,3}"), 1..12)
    }

    fn apply(backend: &YrsBackend, edits: &[(u32, u32, String)]) {
        for (pos, len, text) in edits {
            let length = backend.get("name").map_or(0, |t| t.chars().count() as u32);
            let pos = (*pos).min(length);
            let len = (*len).min(length - pos);
            backend.splice("name", pos, len, text).unwrap();
        }
    }

    /// The bytes of `bytes` once integrated into a document and encoded again.
    fn rebuilt(bytes: &[u8]) -> Vec<u8> {
        let backend = YrsBackend::from_state_buffer(bytes).unwrap();
        backend.get("name");
        backend.to_state_buffer().unwrap()
    }

    proptest::proptest! {
        /// A creation's update is stored as the state without building a document, so it
        /// must already be the canonical form.
        #[test]
        fn a_creation_update_is_canonical(edits in edits()) {
            let created = YrsBackend::default();
            apply(&created, &edits);
            let update = created.take_operations().unwrap();
            proptest::prop_assert_eq!(rebuilt(&update), update);
        }
    }

    #[test]
    fn encoded_updates_are_no_larger_than_their_content() {
        let backend = YrsBackend::default();
        backend.replace("name", "x").unwrap();
        let operations = backend.take_operations().unwrap();
        assert_eq!(operations.capacity(), operations.len());
    }
}
