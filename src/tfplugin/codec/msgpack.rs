//! msgpack values, as Terraform sends and receives them on every RPC.
//!
//! Null is nil; numbers are an int when they fit, a float64 when exact, else decimal text; a
//! `dynamic` value is `[type JSON bytes, value]`; unknown values are msgpack extensions (see
//! [`super::unknown`]). Encoding writes with `rmp`; decoding reads the bytes into an
//! `rmpv::ValueRef` tree (bounded depth, no allocation driven by declared lengths) and then
//! interprets that tree against the type. Must not import the JSON half of the codec.

use std::collections::BTreeMap;

use rmpv::ValueRef as M;

use super::unknown::{decode_unknown, encode_unknown};
use super::{CodecError, does_not_fit, err, infer_type, join_attr};
use crate::tfplugin::value::{Number, Type, Value};

// ---------------------------------------------------------------------------------------------
// Encoding

/// Encodes `value` as msgpack for `ty`.
pub fn to_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    encode(&mut out, value, ty, "")?;
    Ok(out)
}

/// Maps an `rmp` write error (writing to a `Vec` cannot really fail) to a codec error.
pub(super) fn w<T, E: std::fmt::Display>(r: Result<T, E>, path: &str) -> Result<T, CodecError> {
    r.map_err(|e| err(path, format!("msgpack write: {e}")))
}

pub(super) fn encode(
    out: &mut Vec<u8>,
    value: &Value,
    ty: &Type,
    path: &str,
) -> Result<(), CodecError> {
    match (value, ty) {
        (Value::Null, _) => w(rmp::encode::write_nil(out), path),
        (Value::Unknown(r), _) => encode_unknown(out, r, ty, path),
        (Value::Dynamic(inner_ty, inner), Type::Dynamic) => {
            w(rmp::encode::write_array_len(out, 2), path)?;
            let tj =
                serde_json::to_vec(&inner_ty.to_json()).map_err(|e| err(path, e.to_string()))?;
            w(rmp::encode::write_bin(out, &tj), path)?;
            encode(out, inner, inner_ty, path)
        }
        (v, Type::Dynamic) => {
            // A known value under `dynamic` without its type: infer the simple cases.
            let inferred = infer_type(v)
                .ok_or_else(|| err(path, "a dynamic value must carry its type (Value::Dynamic)"))?;
            encode(
                out,
                &Value::Dynamic(inferred.clone(), Box::new(v.clone())),
                ty,
                path,
            )
        }
        (Value::Dynamic(_, inner), _) => encode(out, inner, ty, path),
        (Value::Bool(b), Type::Bool) => w(rmp::encode::write_bool(out, *b), path),
        (Value::String(s), Type::String) => w(rmp::encode::write_str(out, s), path),
        (Value::Number(n), Type::Number) => encode_number(out, n, path),
        (Value::List(items), Type::List(et)) | (Value::Set(items), Type::Set(et)) => {
            w(rmp::encode::write_array_len(out, items.len() as u32), path)?;
            for (i, item) in items.iter().enumerate() {
                encode(out, item, et, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Tuple(items), Type::Tuple(ets)) => encode_tuple(out, items, ets, path),
        (Value::Map(m), Type::Map(et)) => {
            w(rmp::encode::write_map_len(out, m.len() as u32), path)?;
            for (k, v) in m {
                w(rmp::encode::write_str(out, k), path)?;
                encode(out, v, et, &format!("{path}[{k:?}]"))?;
            }
            Ok(())
        }
        (Value::Object(m), Type::Object(attrs)) => encode_object(out, m, attrs, path),
        (v, t) => Err(does_not_fit(path, v, t)),
    }
}

pub(super) fn encode_number(out: &mut Vec<u8>, n: &Number, path: &str) -> Result<(), CodecError> {
    match n {
        Number::Int(i) => w(rmp::encode::write_sint(out, *i), path).map(|_| ()),
        Number::Float(f) => w(rmp::encode::write_f64(out, *f), path),
        Number::Big(s) => w(rmp::encode::write_str(out, s), path),
    }
}

fn encode_tuple(
    out: &mut Vec<u8>,
    items: &[Value],
    ets: &[Type],
    path: &str,
) -> Result<(), CodecError> {
    if items.len() != ets.len() {
        return Err(err(
            path,
            format!("tuple has {} elements, type has {}", items.len(), ets.len()),
        ));
    }
    w(rmp::encode::write_array_len(out, items.len() as u32), path)?;
    for (i, (item, et)) in items.iter().zip(ets).enumerate() {
        encode(out, item, et, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

/// Every attribute of the type is written (nil when the value lacks it), in the type's order.
fn encode_object(
    out: &mut Vec<u8>,
    m: &BTreeMap<String, Value>,
    attrs: &BTreeMap<String, Type>,
    path: &str,
) -> Result<(), CodecError> {
    if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
        return Err(err(path, format!("unsupported attribute {extra:?}")));
    }
    w(rmp::encode::write_map_len(out, attrs.len() as u32), path)?;
    for (k, at) in attrs {
        w(rmp::encode::write_str(out, k), path)?;
        let p = join_attr(path, k);
        match m.get(k) {
            Some(v) => encode(out, v, at, &p)?,
            None => w(rmp::encode::write_nil(out), &p)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decodes msgpack bytes as a value of `ty`.
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut rest = bytes;
    let item = read_item(&mut rest, "")?;
    if !rest.is_empty() {
        return Err(err(
            "",
            format!("{} trailing bytes after value", rest.len()),
        ));
    }
    decode(&item, ty, "")
}

/// Reads one complete msgpack item from the front of `rest`, advancing it.
///
/// `rmpv` reads the reserved marker `0xc1` (which no encoder writes, cty's included) as nil.
pub(super) fn read_item<'a>(rest: &mut &'a [u8], path: &str) -> Result<M<'a>, CodecError> {
    rmpv::decode::read_value_ref(rest).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            err(path, "unexpected end of msgpack data")
        } else {
            err(path, format!("invalid msgpack: {e}"))
        }
    })
}

/// Interprets one msgpack item as a value of `ty`.
pub(super) fn decode(m: &M<'_>, ty: &Type, path: &str) -> Result<Value, CodecError> {
    // Nulls and unknowns are possible for every type.
    match m {
        M::Nil => return Ok(Value::Null),
        M::Ext(code, data) => return decode_unknown(*code, data, ty, path),
        _ => {}
    }
    match (ty, m) {
        (Type::Dynamic, _) => decode_dynamic(m, path),
        (Type::Bool, M::Boolean(b)) => Ok(Value::Bool(*b)),
        (Type::String, M::String(s)) => Ok(Value::String(utf8(s, path)?)),
        (Type::Number, _) => decode_number(m, path),
        (Type::List(et), M::Array(items)) => Ok(Value::List(decode_items(items, et, path)?)),
        (Type::Set(et), M::Array(items)) => Ok(Value::Set(decode_items(items, et, path)?)),
        (Type::Tuple(ets), M::Array(items)) => decode_tuple(items, ets, path),
        (Type::Map(et), M::Map(entries)) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let k = key(k, path)?;
                let v = decode(v, et, &format!("{path}[{k:?}]"))?;
                out.insert(k, v);
            }
            Ok(Value::Map(out))
        }
        (Type::Object(attrs), M::Map(entries)) => decode_object(entries, attrs, path),
        _ => Err(mismatch(path, ty, m)),
    }
}

/// `[type JSON (bytes or string), value]`; a null or unknown inner value stays untyped.
fn decode_dynamic(m: &M<'_>, path: &str) -> Result<Value, CodecError> {
    let M::Array(pair) = m else {
        return Err(err(path, "dynamic value must be a [type, value] pair"));
    };
    let [tj, inner] = pair.as_slice() else {
        return Err(err(path, "dynamic value must be a [type, value] pair"));
    };
    let tj = match tj {
        M::Binary(b) => *b,
        M::String(s) => s.as_bytes(),
        _ => return Err(err(path, "dynamic value's type must be JSON bytes")),
    };
    let tjv: serde_json::Value =
        serde_json::from_slice(tj).map_err(|e| err(path, format!("dynamic type JSON: {e}")))?;
    let inner_ty = Type::from_json(&tjv).map_err(|e| err(path, e.to_string()))?;
    Ok(match decode(inner, &inner_ty, path)? {
        inner @ (Value::Null | Value::Unknown(_)) => inner,
        known => Value::Dynamic(inner_ty, Box::new(known)),
    })
}

/// An int (a big one when beyond `i64`), a float, or decimal text.
fn decode_number(m: &M<'_>, path: &str) -> Result<Value, CodecError> {
    let n = match m {
        M::Integer(i) => match i.as_i64() {
            Some(i) => Number::Int(i),
            // Beyond i64: what the same number sent as text reads as (a float when it is one).
            None => Number::parse(&i.to_string()).unwrap_or_else(|| Number::Big(i.to_string())),
        },
        // Terraform's numbers have no NaN (infinities they have): refuse it rather than hold a
        // value that could never be sent back.
        M::F32(f) if f.is_nan() => return Err(err(path, "NaN is not a number".to_string())),
        M::F64(f) if f.is_nan() => return Err(err(path, "NaN is not a number".to_string())),
        M::F32(f) => Number::Float(f64::from(*f)),
        M::F64(f) => Number::Float(*f),
        M::String(s) => {
            let s = utf8(s, path)?;
            Number::parse(&s).ok_or_else(|| err(path, format!("{s:?} is not a number")))?
        }
        other => return Err(mismatch(path, &Type::Number, other)),
    };
    Ok(Value::Number(n))
}

fn decode_items(items: &[M<'_>], et: &Type, path: &str) -> Result<Vec<Value>, CodecError> {
    items
        .iter()
        .enumerate()
        .map(|(i, m)| decode(m, et, &format!("{path}[{i}]")))
        .collect()
}

fn decode_tuple(items: &[M<'_>], ets: &[Type], path: &str) -> Result<Value, CodecError> {
    if items.len() != ets.len() {
        return Err(err(
            path,
            format!("tuple of {} elements, expected {}", items.len(), ets.len()),
        ));
    }
    items
        .iter()
        .zip(ets)
        .enumerate()
        .map(|(i, (m, et))| decode(m, et, &format!("{path}[{i}]")))
        .collect::<Result<_, _>>()
        .map(Value::Tuple)
}

/// Attributes absent from the map are null; one the type does not have is an error.
fn decode_object(
    entries: &[(M<'_>, M<'_>)],
    attrs: &BTreeMap<String, Type>,
    path: &str,
) -> Result<Value, CodecError> {
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let k = key(k, path)?;
        let at = attrs
            .get(&k)
            .ok_or_else(|| err(path, format!("unsupported attribute {k:?}")))?;
        let v = decode(v, at, &join_attr(path, &k))?;
        out.insert(k, v);
    }
    for k in attrs.keys() {
        out.entry(k.clone()).or_insert(Value::Null);
    }
    Ok(Value::Object(out))
}

fn key(m: &M<'_>, path: &str) -> Result<String, CodecError> {
    match m {
        M::String(s) => utf8(s, path),
        other => Err(err(
            path,
            format!("map key must be a string, found {}", kind(other)),
        )),
    }
}

pub(super) fn utf8(s: &rmpv::Utf8StringRef<'_>, path: &str) -> Result<String, CodecError> {
    s.as_str()
        .map(str::to_string)
        .ok_or_else(|| err(path, "string is not valid UTF-8"))
}

/// The kind of a msgpack item, for error messages.
fn kind(m: &M<'_>) -> &'static str {
    match m {
        M::Nil => "nil",
        M::Boolean(_) => "bool",
        M::Integer(_) => "integer",
        M::F32(_) | M::F64(_) => "float",
        M::String(_) => "string",
        M::Binary(_) => "binary",
        M::Array(_) => "array",
        M::Map(_) => "map",
        M::Ext(..) => "extension",
    }
}

fn mismatch(path: &str, ty: &Type, m: &M<'_>) -> CodecError {
    err(path, format!("expected {ty}, found msgpack {}", kind(m)))
}
