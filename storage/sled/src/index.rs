//! Secondary indexes: the order-preserving encoding of [`Value`]s, and the upkeep of index
//! entries when states change (key formats in [`crate::layout`]).
//!
//! The encoding makes byte order equal [`Value::sort_cmp`], the ORDER BY order, so one index
//! serves equality, ranges and sorting:
//!
//! - Types are ordered by a leading tag, as `sort_cmp` orders kinds; NULL comes last.
//! - All numbers share one space. An `f64` maps to 8 bytes whose unsigned order is numeric
//!   order (flip the sign bit of positives, every bit of negatives). An `i64` beyond 2^53 has
//!   no exact `f64`, so it is written as its nearest `f64` followed by the exact difference
//!   (at most ±512), which orders integers that round to the same `f64` and puts them on the
//!   right side of that float. Equal numbers thus encode identically whatever their type.
//! - Strings, bytes and JSON text escape `00` as `00 FF` and end with `00 00`, so a prefix
//!   sorts before its extensions and no encoding is a prefix of another: appending the
//!   entity id keeps (value, id) order.

use ankurah_core::id::EntityId;
use ankurah_core::value::Value;
use ankurah_core::{CollectionId, StorageError};

use crate::engine_error;
use crate::layout::{self, value_tag, Record};

/// Encodes a value so that byte order is [`Value::sort_cmp`] order.
pub(crate) fn encode_value(value: &Value) -> Vec<u8> {
    match value {
        Value::Null => vec![value_tag::NULL],
        Value::Bool(b) => vec![value_tag::BOOL, u8::from(*b)],
        Value::I64(i) => encode_integer(*i),
        Value::F64(f) if f.is_nan() => vec![value_tag::NAN],
        Value::F64(f) => encode_number(*f, 0),
        Value::String(s) => escaped(value_tag::STRING, s.as_bytes()),
        Value::Bytes(b) => escaped(value_tag::BYTES, b),
        Value::EntityId(id) => [&[value_tag::ENTITY_ID][..], &id.to_bytes()].concat(),
        Value::Json(json) => escaped(value_tag::JSON, json.to_string().as_bytes()),
    }
}

/// Decodes what [`encode_value`] wrote. Equal numbers share one encoding, so a number comes
/// back as an `I64` when it is integral and in range, else as an `F64`: the two compare the
/// same everywhere, which is all an index answer needs. `None` for bytes that no encoding
/// produces.
pub(crate) fn decode_value(bytes: &[u8]) -> Option<Value> {
    let (&tag, rest) = bytes.split_first()?;
    Some(match tag {
        value_tag::NULL if rest.is_empty() => Value::Null,
        value_tag::NAN if rest.is_empty() => Value::F64(f64::NAN),
        value_tag::BOOL => match rest {
            [b] => Value::Bool(*b == 1),
            _ => return None,
        },
        value_tag::NUMBER => {
            let ordered = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
            let offset = (u16::from_be_bytes(rest.get(8..10)?.try_into().ok()?) ^ 0x8000) as i16;
            let bits = if ordered >> 63 == 1 {
                ordered & !(1 << 63)
            } else {
                !ordered
            };
            let nearest = f64::from_bits(bits);
            // An integer is its nearest f64 plus the offset; near 2^63 that f64 is out of range.
            let exact = (nearest.fract() == 0.0 && nearest.abs() <= 9_223_372_036_854_775_808.0)
                .then(|| i64::try_from(nearest as i128 + i128::from(offset)).ok())
                .flatten();
            exact.map_or(Value::F64(nearest), Value::I64)
        }
        value_tag::ENTITY_ID => Value::EntityId(EntityId::from_slice(rest).ok()?),
        value_tag::STRING => Value::String(String::from_utf8(unescape(rest)?).ok()?),
        value_tag::BYTES => Value::Bytes(unescape(rest)?),
        value_tag::JSON => Value::Json(serde_json::from_slice(&unescape(rest)?).ok()?),
        _ => return None,
    })
}

/// Undoes [`escape_into`] and checks the `00 00` terminator.
fn unescape(bytes: &[u8]) -> Option<Vec<u8>> {
    let body = bytes.strip_suffix(&[0, 0])?;
    let mut out = Vec::with_capacity(body.len());
    let mut iter = body.iter();
    while let Some(&byte) = iter.next() {
        out.push(byte);
        if byte == 0 && iter.next() != Some(&0xFF) {
            return None;
        }
    }
    Some(out)
}

/// The encoding every string starting with `prefix` starts with (no terminator).
pub(crate) fn encode_string_prefix(prefix: &str) -> Vec<u8> {
    let mut out = vec![value_tag::STRING];
    escape_into(&mut out, prefix.as_bytes());
    out
}

fn encode_integer(i: i64) -> Vec<u8> {
    let nearest = i as f64;
    // Exact in i128; at most half the gap between adjacent f64s below 2^63, so it fits i16.
    let offset = i128::from(i) - nearest as i128;
    encode_number(nearest, offset as i16)
}

/// `nearest` is the value rounded to f64, `offset` the exact value minus `nearest`.
fn encode_number(nearest: f64, offset: i16) -> Vec<u8> {
    // -0.0 equals 0.0, so it must encode the same.
    let nearest = if nearest == 0.0 { 0.0 } else { nearest };
    let bits = nearest.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    let offset = (offset as u16) ^ 0x8000;
    [
        &[value_tag::NUMBER][..],
        &ordered.to_be_bytes(),
        &offset.to_be_bytes(),
    ]
    .concat()
}

fn escaped(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 3);
    out.push(tag);
    escape_into(&mut out, bytes);
    out.extend([0, 0]);
    out
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
}

/// Adds to `batch` the index changes of one entity whose state goes from `old` to `new`
/// (`None` when there is none), for each of `properties`. Only live states have entries, so
/// a deletion removes them all.
pub(crate) fn update<'p>(
    batch: &mut sled::Batch,
    collection: &CollectionId,
    properties: impl IntoIterator<Item = &'p str>,
    id: EntityId,
    old: Option<&Record<'_>>,
    new: Option<&Record<'_>>,
) {
    let (old, new) = (
        old.filter(|r| !r.is_deleted()),
        new.filter(|r| !r.is_deleted()),
    );
    for property in properties {
        let prefix = layout::index_prefix(collection, property);
        let entry = |record: &Record<'_>| {
            layout::index_key(&prefix, &encode_value(record.value_or_null(property)), id)
        };
        let (old_key, new_key) = (old.map(entry), new.map(entry));
        if old_key != new_key {
            old_key.into_iter().for_each(|key| batch.remove(key));
            new_key.into_iter().for_each(|key| batch.insert(key, &[]));
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
) -> Result<Option<sled::Batch>, StorageError> {
    let mut batch = sled::Batch::default();
    let mut found = false;
    for key in tree
        .scan_prefix(layout::index_prefix(collection, property))
        .keys()
        .take(limit)
    {
        batch.remove(key.map_err(engine_error)?);
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
) -> Result<(sled::Batch, Option<Vec<u8>>), StorageError> {
    let prefix = layout::state_prefix(collection);
    let mut batch = sled::Batch::default();
    let mut last = None;
    let mut read = 0;
    for item in tree.range(from..).take(limit) {
        let (key, bytes) = item.map_err(engine_error)?;
        if !key.starts_with(&prefix) {
            return Ok((batch, None));
        }
        let record = Record::decode(&bytes)?;
        update(
            &mut batch,
            collection,
            [property],
            record.state.entity_id,
            None,
            Some(&record),
        );
        read += 1;
        last = Some(key);
    }
    // The least key after the last one read.
    let next = last
        .filter(|_| read == limit)
        .map(|key| [&key[..], &[0]].concat());
    Ok((batch, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// Values that stress the encoding: integers around 2^53 and 2^63 and floats equal to or
    /// between them, signed zeros, infinities, NaN, strings and bytes with NUL and prefixes.
    fn value() -> impl Strategy<Value = Value> {
        let big = 1i64 << 53;
        let edge_ints = prop_oneof![
            (-3i64..3).prop_map(move |d| big + d),
            (-3i64..3).prop_map(move |d| -big + d),
            (0i64..1100).prop_map(|d| i64::MAX - d),
            (0i64..1100).prop_map(|d| i64::MIN + d),
            -5i64..5,
        ];
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            edge_ints.clone().prop_map(Value::I64),
            edge_ints.prop_map(|i| Value::F64(i as f64)),
            any::<f64>().prop_map(Value::F64),
            prop::sample::select(vec![
                0.0,
                -0.0,
                0.5,
                -0.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                i64::MAX as f64
            ])
            .prop_map(Value::F64),
            "[a\0\u{e9}]{0,4}".prop_map(Value::String),
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFF]), 0..4)
                .prop_map(Value::Bytes),
            any::<[u8; 16]>().prop_map(|b| Value::EntityId(EntityId::from_bytes(b))),
            "[a\0\"]{0,3}".prop_map(|s| Value::Json(serde_json::json!({ "k": s }))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Byte order is ORDER BY order, and equal-sorting values encode identically.
        #[test]
        fn byte_order_is_sort_order(a in value(), b in value()) {
            prop_assert_eq!(encode_value(&a).cmp(&encode_value(&b)), a.sort_cmp(&b), "{:?} vs {:?}", a, b);
        }

        /// What an index key holds can be read back as a value that sorts and compares equal.
        #[test]
        fn encodings_decode_to_equal_values(a in value()) {
            let decoded = decode_value(&encode_value(&a)).expect("our encodings decode");
            prop_assert_eq!(decoded.sort_cmp(&a), Ordering::Equal);
            prop_assert_eq!(encode_value(&decoded), encode_value(&a));
        }

        /// No encoding is a proper prefix of another, so appending an entity id keeps order.
        #[test]
        fn encodings_are_prefix_free(a in value(), b in value()) {
            let (x, y) = (encode_value(&a), encode_value(&b));
            prop_assert!(x == y || !(x.starts_with(&y) || y.starts_with(&x)), "{:?} vs {:?}", a, b);
        }

        /// Every string with a prefix encodes to something starting with the prefix's encoding.
        #[test]
        fn string_prefixes_prefix_encodings(prefix in "[a\0]{0,3}", rest in "[a\0]{0,3}") {
            let encoded = encode_value(&Value::String(format!("{prefix}{rest}")));
            prop_assert!(encoded.starts_with(&encode_string_prefix(&prefix)));
        }
    }

    #[test]
    fn integers_and_floats_interleave_exactly() {
        let big = 1i64 << 53;
        let ordered = [
            Value::F64(f64::NEG_INFINITY),
            Value::I64(i64::MIN),
            Value::I64(-big - 1),
            Value::F64(-(big as f64)),
            Value::F64(-1.5),
            Value::I64(-1),
            Value::F64(0.5),
            Value::I64(big),
            Value::I64(big + 1),
            Value::F64((big + 2) as f64),
            Value::I64(i64::MAX),
            Value::F64(2f64.powi(63)),
            Value::F64(f64::INFINITY),
            Value::F64(f64::NAN),
            Value::String(String::new()),
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                encode_value(&pair[0]).cmp(&encode_value(&pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
        }
        assert_eq!(encode_value(&Value::I64(1)), encode_value(&Value::F64(1.0)));
        assert_eq!(
            encode_value(&Value::F64(-0.0)),
            encode_value(&Value::I64(0))
        );
    }
}
