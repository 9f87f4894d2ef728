//! Unknown values in msgpack, as cty writes them.
//!
//! A wholly unknown value is extension 0 with one zero byte (`d4 00 00`). A refined unknown is
//! extension 12 whose payload is itself a msgpack map with small integer keys: 1 nullness (bool),
//! 2 string prefix (string), 3/4 number lower/upper bound (`[number, inclusive]`), 5/6 collection
//! length lower/upper bound (int). Keys this version does not know are skipped. Both directions
//! live here; the msgpack reading and writing themselves are `rmpv`'s and `rmp`'s, through
//! [`super::msgpack`]. Must not import the JSON half of the codec.

use rmpv::ValueRef as M;

use super::msgpack::{decode, encode_number, read_item, utf8, w};
use super::{CodecError, err};
use crate::tfplugin::value::{Number, Refinements, Type, Value};

pub(super) const EXT_UNKNOWN: i8 = 0;
pub(super) const EXT_REFINED_UNKNOWN: i8 = 12;
const REFINE_NULLNESS: i64 = 1;
const REFINE_PREFIX: i64 = 2;
const REFINE_NUM_MIN: i64 = 3;
const REFINE_NUM_MAX: i64 = 4;
const REFINE_LEN_MIN: i64 = 5;
const REFINE_LEN_MAX: i64 = 6;

/// The largest refinement payload accepted, as in cty.
const MAX_REFINEMENT_PAYLOAD: usize = 1024;

/// Writes an unknown value of `ty`: extension 0 when no refinement applies to the type, else
/// extension 12 with the refinements that do. `dynamic` unknowns are never refined.
pub(super) fn encode_unknown(
    out: &mut Vec<u8>,
    r: &Refinements,
    ty: &Type,
    path: &str,
) -> Result<(), CodecError> {
    let mut body = Vec::new();
    let n = if *ty == Type::Dynamic {
        0
    } else {
        write_refinements(&mut body, r, ty, path)?
    };
    if n == 0 {
        out.extend_from_slice(&[0xd4, EXT_UNKNOWN as u8, 0]);
        return Ok(());
    }
    let mut payload = Vec::with_capacity(body.len() + 1);
    w(rmp::encode::write_map_len(&mut payload, n), path)?;
    payload.extend_from_slice(&body);
    w(
        rmp::encode::write_ext_meta(out, payload.len() as u32, EXT_REFINED_UNKNOWN),
        path,
    )?;
    out.extend_from_slice(&payload);
    Ok(())
}

/// Writes the key/value pairs of the refinements that apply to `ty`; returns how many.
fn write_refinements(
    body: &mut Vec<u8>,
    r: &Refinements,
    ty: &Type,
    path: &str,
) -> Result<u32, CodecError> {
    let mut n = 0u32;
    if let Some(nullable) = r.nullable {
        n += 1;
        w(rmp::encode::write_sint(body, REFINE_NULLNESS), path)?;
        w(rmp::encode::write_bool(body, nullable), path)?;
    }
    match ty {
        Type::String => {
            if let Some(p) = r.string_prefix.as_deref().filter(|p| !p.is_empty()) {
                n += 1;
                w(rmp::encode::write_sint(body, REFINE_PREFIX), path)?;
                w(rmp::encode::write_str(body, p), path)?;
            }
        }
        Type::Number => {
            for (key, bound) in [
                (REFINE_NUM_MIN, &r.number_lower),
                (REFINE_NUM_MAX, &r.number_upper),
            ] {
                if let Some((num, inclusive)) = bound {
                    n += 1;
                    w(rmp::encode::write_sint(body, key), path)?;
                    w(rmp::encode::write_array_len(body, 2), path)?;
                    encode_number(body, num, path)?;
                    w(rmp::encode::write_bool(body, *inclusive), path)?;
                }
            }
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            for (key, bound) in [
                (REFINE_LEN_MIN, r.length_lower),
                (REFINE_LEN_MAX, r.length_upper),
            ] {
                if let Some(b) = bound {
                    n += 1;
                    w(rmp::encode::write_sint(body, key), path)?;
                    w(rmp::encode::write_sint(body, b as i64), path)?;
                }
            }
        }
        _ => {}
    }
    Ok(n)
}

/// Interprets extension `code` with payload `data` as an unknown value of `ty`.
pub(super) fn decode_unknown(
    code: i8,
    data: &[u8],
    ty: &Type,
    path: &str,
) -> Result<Value, CodecError> {
    if data.len() <= 1 {
        return Ok(Value::unknown());
    }
    if code != EXT_REFINED_UNKNOWN {
        return Err(err(
            path,
            format!(
                "unsupported msgpack extension type {code} with length {}",
                data.len()
            ),
        ));
    }
    if data.len() > MAX_REFINEMENT_PAYLOAD {
        return Err(err(path, "oversize unknown value refinement"));
    }
    if *ty == Type::Dynamic {
        return Ok(Value::unknown());
    }
    let mut rest = data;
    let M::Map(entries) = read_item(&mut rest, path)? else {
        return Err(err(path, "refinement payload is not a map"));
    };
    let mut refs = Refinements::default();
    for (key, value) in &entries {
        let M::Integer(key) = key else {
            return Err(err(path, "refinement key is not an integer"));
        };
        // A key beyond i64 is no refinement this version knows: skipped, like any other.
        if let Some(key) = key.as_i64() {
            refine(&mut refs, key, value, path)?;
        }
    }
    Ok(Value::Unknown(refs))
}

/// Records refinement `key` with `value` in `refs`; an unknown key is skipped.
fn refine(refs: &mut Refinements, key: i64, value: &M<'_>, path: &str) -> Result<(), CodecError> {
    match key {
        REFINE_NULLNESS => match value {
            M::Boolean(b) => refs.nullable = Some(*b),
            _ => return Err(err(path, "nullness refinement is not a bool")),
        },
        REFINE_PREFIX => match value {
            M::String(s) => refs.string_prefix = Some(utf8(s, path)?),
            _ => return Err(err(path, "string prefix refinement is not a string")),
        },
        REFINE_NUM_MIN | REFINE_NUM_MAX => {
            let bound = Some(number_bound(value, path)?);
            if key == REFINE_NUM_MIN {
                refs.number_lower = bound
            } else {
                refs.number_upper = bound
            }
        }
        REFINE_LEN_MIN | REFINE_LEN_MAX => {
            let M::Integer(b) = value else {
                return Err(err(path, "length bound refinement is not an integer"));
            };
            let b = b
                .as_u64()
                .ok_or_else(|| err(path, "negative length bound"))?;
            if key == REFINE_LEN_MIN {
                refs.length_lower = Some(b)
            } else {
                refs.length_upper = Some(b)
            }
        }
        // A refinement from a newer Terraform: its value is already read, so just skip it.
        _ => {}
    }
    Ok(())
}

/// A number bound: `[number, inclusive]`.
fn number_bound(value: &M<'_>, path: &str) -> Result<(Number, bool), CodecError> {
    let bound_ty = Type::Tuple(vec![Type::Number, Type::Bool]);
    let Value::Tuple(parts) = decode(value, &bound_ty, path)? else {
        return Err(err(path, "number bound refinement must be [number, bool]"));
    };
    match (parts.first(), parts.get(1)) {
        (Some(Value::Number(num)), Some(Value::Bool(inc))) => Ok((num.clone(), *inc)),
        _ => Err(err(path, "number bound refinement must be [number, bool]")),
    }
}
