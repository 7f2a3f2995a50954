//! Vets a yrs update (the Yjs v1 update format) before yrs decodes it.
//!
//! yrs decodes the `Any` values of an update (what map entries hold) recursively and without
//! a depth bound, so an update of a few kilobytes nesting arrays thousands deep overflows the
//! stack and aborts the process; `catch_unwind` cannot stop that. [`check_update`] walks the
//! update's blocks iteratively, reading exactly what yrs would read, and refuses an `Any`
//! nesting deeper than a limit as well as content kinds that Ankurah's documents (one root
//! text per property, and the root map of property flags) never hold.

/// Info bytes of the two blocks that are not items.
const GC: u8 = 0;
const SKIP: u8 = 10;
/// Flags of an item's info byte.
const HAS_ORIGIN: u8 = 0x80;
const HAS_RIGHT_ORIGIN: u8 = 0x40;
const HAS_PARENT_SUB: u8 = 0x20;
/// Content kinds (an item's info byte, low four bits) of Ankurah documents: deleted runs,
/// text, and the values of the property map.
const DELETED: u8 = 1;
const STRING: u8 = 4;
const ANY: u8 = 8;

/// Tags of `Any` values with a payload to skip or to descend into.
const ANY_VAR_INT: u8 = 125;
const ANY_F32: u8 = 124;
const ANY_F64: u8 = 123;
const ANY_BIG_INT: u8 = 122;
const ANY_STRING: u8 = 119;
const ANY_MAP: u8 = 118;
const ANY_ARRAY: u8 = 117;
const ANY_BUFFER: u8 = 116;

type Result<T> = std::result::Result<T, String>;

/// `Ok` if yrs can decode `update` without recursing deeper than `max_depth` levels of
/// `Any`, and it holds only content that Ankurah documents hold. Bytes yrs would refuse
/// anyway may pass: the walk only has to be exact where yrs reads on.
pub(crate) fn check_update(update: &[u8], max_depth: usize) -> Result<()> {
    blocks(update, max_depth).map(drop)
}

/// Walks the blocks of an update, returning where the delete set (ranges of ids, nothing
/// nested) starts.
fn blocks(update: &[u8], max_depth: usize) -> Result<Reader<'_>> {
    let mut reader = Reader {
        bytes: update,
        pos: 0,
    };
    let clients = reader.var_u32()?;
    for _ in 0..clients {
        let blocks = reader.var_u32()?;
        reader.var_u64()?; // client id
        reader.var_u32()?; // first clock
        for _ in 0..blocks {
            reader.block(max_depth)?;
        }
    }
    Ok(reader)
}

/// A cursor over an update, decoding integers as yrs's lib0 decoder does.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8> {
        let byte = *self.bytes.get(self.pos).ok_or("the update ends early")?;
        self.pos += 1;
        Ok(byte)
    }

    fn skip(&mut self, len: u64) -> Result<()> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|&end| end <= self.bytes.len())
            .ok_or("the update ends early")?;
        self.pos = end;
        Ok(())
    }

    /// A lib0 variable-length unsigned integer as yrs reads it into `bits` bits: seven bits
    /// per byte, least significant first, shifts wrapping at the width, at most 11 bytes.
    fn var(&mut self, bits: u32) -> Result<u64> {
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        };
        let (mut value, mut shift) = (0u64, 0u32);
        loop {
            let byte = self.u8()?;
            value |= (u64::from(byte & 0x7f) << (shift % bits)) & mask;
            shift += 7;
            if byte < 0x80 {
                return Ok(value);
            }
            if shift > 70 {
                return Err("an integer of the update is too long".into());
            }
        }
    }

    fn var_u32(&mut self) -> Result<u64> {
        self.var(32)
    }

    fn var_u64(&mut self) -> Result<u64> {
        self.var(64)
    }

    /// A lib0 variable-length signed integer (only its length matters here).
    fn var_i64(&mut self) -> Result<()> {
        let mut byte = self.u8()?;
        let mut shift = 6;
        while byte >= 0x80 {
            byte = self.u8()?;
            shift += 7;
            if byte >= 0x80 && shift > 70 {
                return Err("an integer of the update is too long".into());
            }
        }
        Ok(())
    }

    /// A length-prefixed string or buffer.
    fn buf(&mut self) -> Result<()> {
        let len = self.var_u32()?;
        self.skip(len)
    }

    /// One block: a GC or skip range, or an item with its origins, parent and content.
    fn block(&mut self, max_depth: usize) -> Result<()> {
        let info = self.u8()?;
        if info == GC || info == SKIP {
            return self.var_u32().map(drop);
        }
        for flag in [HAS_ORIGIN, HAS_RIGHT_ORIGIN] {
            if info & flag != 0 {
                self.var_u64()?; // client
                self.var_u32()?; // clock
            }
        }
        if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
            if self.var_u32()? == 1 {
                self.buf()?; // the parent's name
            } else {
                self.var_u64()?; // the parent's id
                self.var_u32()?;
            }
            if info & HAS_PARENT_SUB != 0 {
                self.buf()?;
            }
        }
        match info & 0x0f {
            DELETED => self.var_u32().map(drop),
            STRING => self.buf(),
            ANY => {
                let values = self.var_u32()?;
                (0..values).try_for_each(|_| self.any(max_depth))
            }
            kind => Err(format!(
                "the update holds content of kind {kind}, which Ankurah documents never hold"
            )),
        }
    }

    /// One `Any` value, walked with an explicit stack of the arrays and maps it is inside.
    fn any(&mut self, max_depth: usize) -> Result<()> {
        /// An open array or map: values still to read, and whether each comes with a key.
        struct Open {
            left: u64,
            keyed: bool,
        }
        let mut open = vec![Open {
            left: 1,
            keyed: false,
        }];
        while let Some(top) = open.last_mut() {
            if top.left == 0 {
                open.pop();
                continue;
            }
            top.left -= 1;
            if top.keyed {
                self.buf()?;
            }
            match self.u8()? {
                ANY_VAR_INT => self.var_i64()?,
                ANY_F32 => self.skip(4)?,
                ANY_F64 | ANY_BIG_INT => self.skip(8)?,
                ANY_STRING | ANY_BUFFER => self.buf()?,
                tag @ (ANY_MAP | ANY_ARRAY) => {
                    if open.len() > max_depth {
                        return Err(format!(
                            "the update nests values deeper than the limit of {max_depth}"
                        ));
                    }
                    let left = self.var_u64()?;
                    open.push(Open {
                        left,
                        keyed: tag == ANY_MAP,
                    });
                }
                // Undefined, null, booleans; yrs refuses any other tag.
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;

    /// An update of one client's one item under the root named `t` holding `any` (encoded).
    fn item_with_any(any: &[u8]) -> Vec<u8> {
        let mut update = vec![1, 1, 1, 0, ANY, 1, 1, b't', 1];
        update.extend_from_slice(any);
        update.push(0); // empty delete set
        update
    }

    /// `[[...[null]...]]` nested `depth` arrays deep.
    fn nested_arrays(depth: usize) -> Vec<u8> {
        let mut any = [ANY_ARRAY, 1].repeat(depth);
        any.push(126);
        any
    }

    #[test]
    fn any_values_nest_up_to_the_limit() {
        assert_eq!(check_update(&item_with_any(&nested_arrays(8)), 8), Ok(()));
        assert_eq!(
            check_update(&item_with_any(&nested_arrays(9)), 8),
            Err("the update nests values deeper than the limit of 8".into())
        );
        assert!(check_update(&item_with_any(&nested_arrays(1_000_000)), 8).is_err());
        // Maps nest too, and their keys are skipped.
        let mut maps = [ANY_MAP, 1, 1, b'k'].repeat(9);
        maps.push(120);
        assert!(check_update(&item_with_any(&maps), 8).is_err());
        assert!(check_update(&item_with_any(&maps), 9).is_ok());
    }

    /// The walk reads real updates exactly as yrs does: it ends where the delete set starts,
    /// which then reads to the end.
    #[test]
    fn the_walk_follows_real_updates_to_their_delete_set() {
        use yrs::{Doc, Map, ReadTxn, StateVector, Text, Transact};
        let (a, b) = (Doc::with_client_id(1), Doc::with_client_id(2));
        let mut updates = Vec::new();
        for (round, doc) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
            let before = doc.transact().state_vector();
            {
                let text = doc.get_or_insert_text("name");
                let flags = doc.get_or_insert_map("");
                let mut txn = doc.transact_mut();
                let len = text.len(&txn);
                text.insert(&mut txn, len / 2, &"hello ".repeat(round + 1));
                if len > 4 {
                    text.remove_range(&mut txn, 1, 3);
                }
                flags.insert(&mut txn, "name", true);
            }
            let update = doc.transact().encode_state_as_update_v1(&before);
            for other in [&a, &b] {
                let decoded = yrs::Update::decode_v1(&update).unwrap();
                other.transact_mut().apply_update(decoded).unwrap();
            }
            updates.push(update);
        }
        updates.push(
            a.transact()
                .encode_state_as_update_v1(&StateVector::default()),
        );
        for update in updates {
            let mut reader = blocks(&update, 1).unwrap();
            for _ in 0..reader.var_u32().unwrap() {
                reader.var_u64().unwrap();
                for _ in 0..reader.var_u32().unwrap() {
                    reader.var_u32().unwrap();
                    reader.var_u32().unwrap();
                }
            }
            assert_eq!(reader.pos, update.len());
        }
    }

    #[test]
    fn content_that_documents_never_hold_is_refused() {
        // An item holding an embed (kind 5) under the root `t`.
        let embed = [1, 1, 1, 0, 5, 1, 1, b't', 2, b'{', b'}', 0];
        assert!(check_update(&embed, 8)
            .unwrap_err()
            .contains("content of kind 5"));
    }
}
