//! Target `codec`: the value codec on arbitrary bytes against an arbitrary type.
//!
//! Input: a mode byte (bit 0: 0 msgpack, 1 JSON), a type ([`crate::types`]), then the value's
//! bytes. Decoding must never panic. What decodes must round-trip in its own codec
//! ([`crate::roundtrip`]); a wholly known value must also cross to the other codec and back
//! unchanged (msgpack → JSON → value, JSON → msgpack → value), unless it holds an infinite
//! number, which JSON cannot carry (encoding must then fail cleanly).

use meshfed::tfplugin::codec;
use meshfed::tfplugin::value::{Number, Type, Value};

use crate::roundtrip::{assert_json_round_trip, assert_msgpack_round_trip};
use crate::types::read_type;

/// The input's codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Msgpack = 0,
    Json = 1,
}

/// The input the target reads as `bytes` in `mode` against `ty` (for the seed corpus).
pub fn input(mode: Mode, ty_bytes: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![mode as u8];
    out.extend_from_slice(ty_bytes);
    out.extend_from_slice(bytes);
    out
}

pub fn check(data: &[u8]) {
    let Some((mode, mut rest)) = crate::split_selector(data) else {
        return;
    };
    let ty = read_type(&mut rest);
    if mode & 1 == 0 {
        check_msgpack(rest, &ty);
    } else {
        check_json(rest, &ty);
    }
}

fn check_msgpack(bytes: &[u8], ty: &Type) {
    let Ok(v) = codec::from_msgpack(bytes, ty) else {
        return;
    };
    assert_msgpack_round_trip(&v, ty);
    if v.is_wholly_known() {
        if has_non_finite(&v) {
            assert!(
                codec::to_json(&v, ty).is_err(),
                "an infinite number encoded as JSON: {v:?}"
            );
        } else {
            assert_json_round_trip(&v, ty);
        }
    }
}

fn check_json(bytes: &[u8], ty: &Type) {
    let Ok(v) = codec::from_json(bytes, ty) else {
        if let Ok(lenient) = codec::from_json_lenient(bytes, ty) {
            // Lenient decoding (how stored state is read) also accepts attributes the type
            // lacks, and drops them: what it returns must still be a value of the type.
            assert_msgpack_round_trip(&lenient, ty);
        }
        return;
    };
    assert!(v.is_wholly_known(), "JSON decoded to an unknown: {v:?}");
    let lenient = codec::from_json_lenient(bytes, ty).expect("strict JSON decodes leniently");
    assert!(
        lenient == v,
        "lenient JSON decoding differs from strict for {ty}\nstrict:  {v:?}\nlenient: {lenient:?}"
    );
    assert_json_round_trip(&v, ty);
    assert_msgpack_round_trip(&v, ty);
}

/// Whether `v` holds a number JSON cannot carry (an infinity, or NaN).
fn has_non_finite(v: &Value) -> bool {
    match v {
        Value::Number(Number::Float(f)) => !f.is_finite(),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            items.iter().any(has_non_finite)
        }
        Value::Map(m) | Value::Object(m) => m.values().any(has_non_finite),
        Value::Dynamic(_, inner) => has_non_finite(inner),
        _ => false,
    }
}
