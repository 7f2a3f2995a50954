//! The order-preserving encoding of [`Value`]s that index keys are made of: byte order equals
//! [`Value::sort_cmp`], the ORDER BY order, so one index serves equality, ranges and sorting.
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
//!
//! | tag    | type                 | bytes after the tag                                          |
//! |--------|----------------------|--------------------------------------------------------------|
//! | `01`   | bool                 | `00` or `01`                                                 |
//! | `02`   | number (I64 and F64) | nearest f64 (sign-flipped bits, 8 bytes BE), then the exact integer's offset from it (i16, sign-flipped, 2 bytes BE) |
//! | `03`   | NaN                  | nothing                                                      |
//! | `04`   | string               | UTF-8 bytes, `00` escaped as `00 FF`, ended by `00 00`         |
//! | `05`   | bytes                | escaped and ended like strings                               |
//! | `06`   | entity id            | 16 bytes                                                     |
//! | `07`   | json                 | its compact text, escaped and ended like strings (objects and arrays only) |
//! | `08`   | date                 | days since 1970-01-01 (i32, sign-flipped, 4 bytes BE)         |
//! | `09`   | timestamp            | microseconds since the epoch (i64, sign-flipped, 8 bytes BE)  |
//! | `0A`   | duration             | microseconds (i64, sign-flipped, 8 bytes BE)                  |
//! | `0B`   | NULL                 | nothing                                                      |
//!
//! A value is encoded as queries compare it ([`Value::canonical`]): a Json scalar as the plain
//! value it spells, so `Json("Open")` and `String("Open")` share one key.
//!
//! No tag is `FF`, which makes `FF` an upper bound of every encoded value. This encoding is
//! part of the on-disk format of the engines that store it (sled, redb): changing it means
//! bumping their format versions.

use crate::id::EntityId;
use crate::value::Value;

/// Tags of encoded values, in [`Value::sort_cmp`] order of their types. None is `FF`.
pub mod tag {
    /// `false`, `true`.
    pub const BOOL: u8 = 0x01;
    /// `I64` and `F64` alike.
    pub const NUMBER: u8 = 0x02;
    /// Not a number, after every number.
    pub const NAN: u8 = 0x03;
    /// UTF-8 text.
    pub const STRING: u8 = 0x04;
    /// Raw bytes.
    pub const BYTES: u8 = 0x05;
    /// An entity id.
    pub const ENTITY_ID: u8 = 0x06;
    /// JSON text of an object or array.
    pub const JSON: u8 = 0x07;
    /// A date.
    pub const DATE: u8 = 0x08;
    /// A timestamp.
    pub const TIMESTAMP: u8 = 0x09;
    /// A duration.
    pub const DURATION: u8 = 0x0A;
    /// NULL (missing or `None`), after everything.
    pub const NULL: u8 = 0x0B;
}

/// Encodes a value so that byte order is [`Value::sort_cmp`] order.
pub fn encode_value(value: &Value) -> Vec<u8> {
    match &*value.canonical() {
        Value::Null => vec![tag::NULL],
        Value::Bool(b) => vec![tag::BOOL, u8::from(*b)],
        Value::I64(i) => encode_integer(*i),
        Value::F64(f) if f.is_nan() => vec![tag::NAN],
        Value::F64(f) => encode_number(*f, 0),
        Value::String(s) => escaped(tag::STRING, s.as_bytes()),
        Value::Bytes(b) => escaped(tag::BYTES, b),
        Value::EntityId(id) => [&[tag::ENTITY_ID][..], &id.to_bytes()].concat(),
        Value::Json(json) => escaped(tag::JSON, json.to_string().as_bytes()),
        Value::Date(days) => [&[tag::DATE][..], &((*days as u32) ^ 1 << 31).to_be_bytes()].concat(),
        Value::Timestamp(micros) => signed(tag::TIMESTAMP, *micros),
        Value::Duration(micros) => signed(tag::DURATION, *micros),
    }
}

/// A tag and an `i64` whose unsigned big-endian order is its numeric order.
fn signed(kind: u8, i: i64) -> Vec<u8> {
    [&[kind][..], &((i as u64) ^ 1 << 63).to_be_bytes()].concat()
}

/// Reads what [`signed`] wrote after the tag.
fn read_signed(rest: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(rest.try_into().ok()?) ^ 1 << 63) as i64)
}

/// Decodes what [`encode_value`] wrote. Equal numbers share one encoding, so a number comes
/// back as an `I64` when it is integral and in range, else as an `F64`: the two compare the
/// same everywhere, which is all an index answer needs. `None` for bytes that no encoding
/// produces.
pub fn decode_value(bytes: &[u8]) -> Option<Value> {
    let (&tag, rest) = bytes.split_first()?;
    Some(match tag {
        tag::NULL if rest.is_empty() => Value::Null,
        tag::NAN if rest.is_empty() => Value::F64(f64::NAN),
        tag::BOOL => match rest {
            [b] => Value::Bool(*b == 1),
            _ => return None,
        },
        tag::NUMBER => {
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
        tag::ENTITY_ID => Value::EntityId(EntityId::from_slice(rest).ok()?),
        tag::STRING => Value::String(String::from_utf8(unescape(rest)?).ok()?),
        tag::BYTES => Value::Bytes(unescape(rest)?),
        tag::JSON => Value::Json(serde_json::from_slice(&unescape(rest)?).ok()?),
        tag::DATE => Value::Date((u32::from_be_bytes(rest.try_into().ok()?) ^ 1 << 31) as i32),
        tag::TIMESTAMP => Value::Timestamp(read_signed(rest)?),
        tag::DURATION => Value::Duration(read_signed(rest)?),
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
pub fn encode_string_prefix(prefix: &str) -> Vec<u8> {
    let mut out = vec![tag::STRING];
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
        &[tag::NUMBER][..],
        &ordered.to_be_bytes(),
        &offset.to_be_bytes(),
    ]
    .concat()
}

fn escaped(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 3);
    out.push(kind);
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
            "[a\0]{0,2}".prop_map(|s| Value::Json(serde_json::json!(s))),
            (-3i64..3).prop_map(|i| Value::Json(serde_json::json!(i))),
            Just(Value::Json(serde_json::Value::Null)),
            any::<i32>().prop_map(Value::Date),
            any::<i64>().prop_map(Value::Timestamp),
            any::<i64>().prop_map(Value::Duration),
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
