//! All-or-nothing writes of several keys without sled's batches.
//!
//! sled 0.34 applies a [`sled::Batch`] (and a transaction) under a lock shared by every
//! database of the process, taken exclusively, and writes its log buffer out twice for each
//! one. With many stores in one process (the clients of a test or a benchmark, one store per
//! tenant), every commit anywhere waits for the others' writes to the file, and any sled
//! call may wait behind a batch that waits for a flush. The engine never makes one.
//!
//! A write of several keys goes through the journal instead. First the whole set of changes
//! is inserted as one record under the journal key (one insert is atomic in sled), replacing
//! the record of the write before. Then the changes are applied key by key with plain
//! inserts and removes. sled recovers a prefix of its log: after a crash, the store holds the
//! operations up to some point, in the order they were made. So if any change of a write
//! survived, its record did too, and [`Journal::recover`] applies the record again when the
//! store opens (applying a change twice changes nothing).
//!
//! The record stays after its write is complete, to be replaced by the next one: removing it
//! would cost a sled operation per write. A record left over is therefore always the last
//! write to each of its keys, and applying it again on open is harmless. A write of one key
//! needs no record (one operation is atomic); it removes the record first if one is left, so
//! that a record never applies over a later write. One write goes through the journal at a
//! time, so the order of records and changes in the log is the order of the writes.
use ankurah_core::error::DecodeError;
use ankurah_core::StorageError;
use parking_lot::Mutex;

use crate::{engine_error, layout};

/// Changes of several keys that must happen together, in order (of two changes of one key,
/// the later wins).
#[derive(Debug, Default)]
pub(crate) struct Writes {
    changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    bytes: usize,
}

impl Writes {
    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.push(key.into(), Some(value.into()));
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.push(key.into(), None);
    }

    fn push(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.bytes += key.len() + value.as_ref().map_or(0, Vec::len);
        self.changes.push((key, value));
    }

    /// Applies the changes with plain sled operations, in order.
    fn apply_plainly(&self, tree: &sled::Tree) -> Result<(), StorageError> {
        for (key, value) in &self.changes {
            match value {
                Some(value) => tree.insert(key, value.as_slice()).map(drop),
                None => tree.remove(key).map(drop),
            }
            .map_err(engine_error)?;
        }
        Ok(())
    }

    /// The record: per change a tag (`I` insert, `R` remove), the key and for an insert the
    /// value, each as an 8-byte big-endian length and the bytes.
    fn encode(&self) -> Vec<u8> {
        let mut record = Vec::with_capacity(self.bytes + 25 * self.changes.len());
        let mut put = |bytes: &[u8]| {
            record.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            record.extend_from_slice(bytes);
        };
        for (key, value) in &self.changes {
            put(if value.is_some() { b"I" } else { b"R" });
            put(key);
            if let Some(value) = value {
                put(value);
            }
        }
        record
    }

    fn decode(mut record: &[u8]) -> Result<Self, DecodeError> {
        let mut writes = Writes::default();
        while !record.is_empty() {
            match take(&mut record)?.as_slice() {
                b"I" => {
                    let key = take(&mut record)?;
                    writes.insert(key, take(&mut record)?);
                }
                b"R" => writes.remove(take(&mut record)?),
                _ => return Err(malformed("unknown change tag")),
            }
        }
        Ok(writes)
    }
}

fn malformed(reason: &str) -> DecodeError {
    DecodeError::Malformed {
        what: "sled journal record",
        reason: reason.to_owned(),
    }
}

/// The next length-prefixed field of a record.
fn take(record: &mut &[u8]) -> Result<Vec<u8>, DecodeError> {
    let (length, rest) = record
        .split_first_chunk::<8>()
        .ok_or_else(|| malformed("truncated length"))?;
    let length = usize::try_from(u64::from_be_bytes(*length))
        .ok()
        .filter(|&length| length <= rest.len())
        .ok_or_else(|| malformed("truncated bytes"))?;
    let (bytes, rest) = rest.split_at(length);
    *record = rest;
    Ok(bytes.to_vec())
}

/// Applies [`Writes`] to one tree all or nothing, one at a time.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Held for each write; `true` while the last write's record is under the journal key.
    recorded: Mutex<bool>,
}

impl Journal {
    /// Completes the last journaled write, which a crash may have interrupted, and makes
    /// that durable; then the journal is ready for the store's writes.
    pub(crate) fn recover(tree: &sled::Tree) -> Result<Self, StorageError> {
        let key = layout::journal_key();
        let recorded = match tree.get(key).map_err(engine_error)? {
            Some(record) => {
                let writes = Writes::decode(&record)?;
                tracing::debug!(
                    changes = writes.changes.len(),
                    "sled: applying the last journaled write again, in case a crash cut it short"
                );
                writes.apply_plainly(tree)?;
                tree.flush().map_err(crate::flush_error)?;
                true
            }
            None => false,
        };
        Ok(Journal {
            recorded: Mutex::new(recorded),
        })
    }

    /// Applies `writes` to `tree`: after a crash, all of them are there or none (once the
    /// store is opened again). Durable after the next flush. Blocks.
    pub(crate) fn apply(&self, tree: &sled::Tree, writes: Writes) -> Result<(), StorageError> {
        let mut recorded = self.recorded.lock();
        let key = layout::journal_key();
        match writes.changes.len() {
            0 => Ok(()),
            // A single operation is atomic by itself.
            1 => {
                if *recorded {
                    tree.remove(key).map_err(engine_error)?;
                    *recorded = false;
                }
                writes.apply_plainly(tree)
            }
            _ => {
                tree.insert(key, writes.encode()).map_err(engine_error)?;
                *recorded = true;
                writes.apply_plainly(tree)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_to_the_changes_they_encode() {
        let mut writes = Writes::default();
        writes.insert(b"a".to_vec(), b"1".to_vec());
        writes.remove(b"b".to_vec());
        writes.insert(b"".to_vec(), b"".to_vec());
        let decoded = Writes::decode(&writes.encode()).expect("a record");
        assert_eq!(decoded.changes, writes.changes);
        assert_eq!(decoded.bytes, writes.bytes);
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut writes = Writes::default();
        writes.insert(b"key".to_vec(), b"value".to_vec());
        let record = writes.encode();
        for cut in 1..record.len() {
            assert!(Writes::decode(&record[..cut]).is_err(), "cut at {cut}");
        }
        let mut unknown = record.clone();
        unknown[8] = b'X';
        assert!(Writes::decode(&unknown).is_err());
    }

    /// A crash after the record and some of the changes: opening completes the write.
    #[test]
    fn an_interrupted_write_is_completed_on_open() {
        let dir = tempfile::tempdir().expect("a directory");
        {
            let db = sled::open(dir.path()).expect("a database");
            let tree = db.open_tree(layout::TREE).expect("a tree");
            tree.insert(b"gone", b"old").expect("insert");
            let mut writes = Writes::default();
            writes.insert(b"first".to_vec(), b"1".to_vec());
            writes.remove(b"gone".to_vec());
            writes.insert(b"last".to_vec(), b"2".to_vec());
            tree.insert(layout::journal_key(), writes.encode())
                .expect("the record");
            tree.insert(b"first", b"1").expect("the first change");
            tree.flush().expect("flush");
        }
        let db = sled::open(dir.path()).expect("reopened");
        let tree = db.open_tree(layout::TREE).expect("a tree");
        Journal::recover(&tree).expect("recovered");
        assert_eq!(tree.get(b"first").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(tree.get(b"gone").unwrap(), None);
        assert_eq!(tree.get(b"last").unwrap().as_deref(), Some(&b"2"[..]));
    }

    /// The record left by a complete write never undoes a later write of one key.
    #[test]
    fn a_left_record_never_applies_over_a_later_write() {
        let dir = tempfile::tempdir().expect("a directory");
        {
            let db = sled::open(dir.path()).expect("a database");
            let tree = db.open_tree(layout::TREE).expect("a tree");
            let journal = Journal::recover(&tree).expect("a journal");
            let mut both = Writes::default();
            both.insert(b"a".to_vec(), b"1".to_vec());
            both.insert(b"b".to_vec(), b"1".to_vec());
            journal.apply(&tree, both).expect("a journaled write");
            assert!(tree.get(layout::journal_key()).unwrap().is_some());
            let mut one = Writes::default();
            one.remove(b"a".to_vec());
            journal.apply(&tree, one).expect("a write of one key");
            assert_eq!(tree.get(layout::journal_key()).unwrap(), None);
            tree.flush().expect("flush");
        }
        let db = sled::open(dir.path()).expect("reopened");
        let tree = db.open_tree(layout::TREE).expect("a tree");
        Journal::recover(&tree).expect("recovered");
        assert_eq!(tree.get(b"a").unwrap(), None);
        assert_eq!(tree.get(b"b").unwrap().as_deref(), Some(&b"1"[..]));
    }
}
