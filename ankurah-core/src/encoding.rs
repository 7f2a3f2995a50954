//! The one binary envelope used for events, states and backend payloads stored or sent:
//! a format-version byte followed by a MessagePack body (structs as maps with field names,
//! so other languages decode it with a standard library). Decoding never panics.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DecodeError;

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

/// Decodes what [`encode`] produced; `what` names the item in errors.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty { what })?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version {
            what,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
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
