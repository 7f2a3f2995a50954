//! The one binary envelope used for events, states and backend payloads stored or sent:
//! a format-version byte followed by a MessagePack body (structs as maps with field names,
//! so other languages decode it with a standard library). Decoding never panics, and never
//! recurses deeper than a bound checked first (see [`decode_nested`]).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DecodeError;
use crate::limits::{LimitExceeded, Limits};

/// Current envelope version of every encoded item.
pub const FORMAT_VERSION: u8 = 1;

/// Encodes `item` behind the version byte.
pub fn encode<T: Serialize + ?Sized>(item: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    // Writing into a Vec cannot fail for our types: they have string keys and no custom
    // serializers that error.
    rmp_serde::encode::write_named(&mut out, item).expect("serializing into memory cannot fail");
    out
}

/// Deepest nesting of MessagePack arrays and maps that [`decode`] accepts: what any item
/// within [`Limits::DEPTH_CEILING`] needs (see [`nesting_for`]), and shallow enough that
/// decoding it cannot exhaust a 2 MiB stack.
pub const MAX_NESTING: usize = nesting_for(Limits::DEPTH_CEILING);

/// The MessagePack nesting that an item needs whose predicates and Json values nest at most
/// `depth` deep: a protocol message's own levels (under 16), two levels per AND or OR of a
/// predicate (`{"And": [a, b]}`), and then a Json value inside a condition.
pub const fn nesting_for(depth: usize) -> usize {
    3 * depth + 16
}

/// What [`check_nesting`] measures, as its errors name it.
pub const NESTING: &str = "encoded nesting depth";

/// Decodes what [`encode`] produced, nesting at most [`MAX_NESTING`] levels; `what` names the
/// item in errors.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    decode_nested(what, bytes, MAX_NESTING)
}

/// [`decode`], refusing a body whose arrays and maps nest more than `max_nesting` levels.
///
/// The depth is measured first, without recursion, because deserializing recurses once per
/// level: an item of a few kilobytes nested thousands deep would otherwise overflow the
/// stack and abort the process. (rmp-serde's own depth limit does not count enum variants,
/// which is how `{"Not": {"Not": …}}` nests, so it cannot be relied on.)
pub fn decode_nested<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    max_nesting: usize,
) -> Result<T, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty { what })?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version {
            what,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    check_nesting(body, max_nesting)
        .map_err(|exceeded| DecodeError::LimitExceeded { what, exceeded })?;
    let mut reader = body;
    let item = rmp_serde::decode::from_read(&mut reader).map_err(|e| DecodeError::Malformed {
        what,
        reason: e.to_string(),
    })?;
    if !reader.is_empty() {
        return Err(DecodeError::Malformed {
            what,
            reason: format!("{} trailing bytes", reader.len()),
        });
    }
    Ok(item)
}

/// `Ok` if the MessagePack value at the start of `body` nests arrays and maps at most `limit`
/// levels (a scalar is depth 0, `[1]` depth 1). Reads with an explicit stack and stops one
/// level past the limit. Bytes that are not MessagePack end the scan quietly: decoding them
/// reports what is wrong.
pub fn check_nesting(body: &[u8], limit: usize) -> Result<(), LimitExceeded> {
    // Values still to read in each open array or map, innermost last; first the top value.
    let mut pending: Vec<u64> = vec![1];
    let mut pos = 0;
    while let Some(left) = pending.last_mut() {
        if *left == 0 {
            pending.pop();
            continue;
        }
        *left -= 1;
        let Some(next) = Marker::read(body, pos) else {
            return Ok(());
        };
        match next {
            Marker::Skip(len) => pos += len,
            Marker::Container { header, values } => {
                LimitExceeded::check(NESTING, pending.len(), limit)?;
                pos += header;
                pending.push(values);
            }
        }
    }
    Ok(())
}

/// What one MessagePack item at a position holds, as far as nesting goes.
enum Marker {
    /// A scalar, string, binary or extension of this many bytes in all.
    Skip(usize),
    /// An array or map: its header's length, and how many values follow (two per map entry).
    Container { header: usize, values: u64 },
}

impl Marker {
    /// The item at `pos`, or `None` if the bytes end first or are no MessagePack.
    fn read(body: &[u8], pos: usize) -> Option<Marker> {
        let marker = *body.get(pos)?;
        // Big-endian unsigned integer of `n` bytes after the marker.
        let length = |n: usize| -> Option<u64> {
            let bytes = body.get(pos + 1..pos + 1 + n)?;
            Some(bytes.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)))
        };
        let sized = |n: usize, extra: usize| -> Option<Marker> {
            let len = usize::try_from(length(n)?).ok()?;
            let total = (1 + n + extra).checked_add(len)?;
            (pos.checked_add(total)? <= body.len()).then_some(Marker::Skip(total))
        };
        let container = |header: usize, count: u64, per_entry: u64| Marker::Container {
            header,
            values: count * per_entry,
        };
        Some(match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => Marker::Skip(1),
            0x80..=0x8f => container(1, u64::from(marker & 0x0f), 2),
            0x90..=0x9f => container(1, u64::from(marker & 0x0f), 1),
            0xa0..=0xbf => Marker::Skip(1 + usize::from(marker & 0x1f)),
            0xc4 | 0xd9 => sized(1, 0)?,
            0xc5 | 0xda => sized(2, 0)?,
            0xc6 | 0xdb => sized(4, 0)?,
            0xc7 => sized(1, 1)?,
            0xc8 => sized(2, 1)?,
            0xc9 => sized(4, 1)?,
            0xca => Marker::Skip(5),
            0xcb => Marker::Skip(9),
            0xcc | 0xd0 => Marker::Skip(2),
            0xcd | 0xd1 => Marker::Skip(3),
            0xce | 0xd2 => Marker::Skip(5),
            0xcf | 0xd3 => Marker::Skip(9),
            0xd4 => Marker::Skip(3),
            0xd5 => Marker::Skip(4),
            0xd6 => Marker::Skip(6),
            0xd7 => Marker::Skip(10),
            0xd8 => Marker::Skip(18),
            0xdc => container(3, length(2)?, 1),
            0xdd => container(5, length(4)?, 1),
            0xde => container(3, length(2)?, 2),
            0xdf => container(5, length(4)?, 2),
            // 0xc1 is never used.
            0xc1 => return None,
        })
    }
}
