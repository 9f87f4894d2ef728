//! The value codec: `DynamicValue` bytes (msgpack or JSON) to and from [`Value`], always against a
//! [`Type`], as Terraform's cty library encodes them.
//!
//! msgpack: null is nil; a wholly unknown value is extension 0 (`d4 00 00`); a refined unknown is
//! extension 12 whose payload is a map of small integer keys (1 nullness, 2 string prefix,
//! 3/4 number bounds as `[number, inclusive]`, 5/6 length bounds); numbers are an int when they
//! fit, a float64 when exact, else decimal text; a `dynamic` value is `[type JSON bytes, value]`.
//! JSON (used for stored state) cannot hold unknowns; `dynamic` is `{"value": …, "type": …}`.
//! Knows nothing of Kubernetes or of meshfed's resources.

use std::collections::BTreeMap;

use rmp::Marker;

use super::value::{Number, Refinements, Type, Value};

/// A value could not be encoded or decoded; `path` says where, in Terraform's notation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CodecError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> CodecError {
    CodecError {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

const EXT_UNKNOWN: i8 = 0;
const EXT_REFINED_UNKNOWN: i8 = 12;
const REFINE_NULLNESS: i64 = 1;
const REFINE_PREFIX: i64 = 2;
const REFINE_NUM_MIN: i64 = 3;
const REFINE_NUM_MAX: i64 = 4;
const REFINE_LEN_MIN: i64 = 5;
const REFINE_LEN_MAX: i64 = 6;

// ---------------------------------------------------------------------------------------------
// msgpack encoding

/// Encodes `value` as msgpack for `ty`.
pub fn to_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    encode(&mut out, value, ty, "")?;
    Ok(out)
}

fn w<T, E: std::fmt::Display>(r: Result<T, E>, path: &str) -> Result<T, CodecError> {
    r.map_err(|e| err(path, format!("msgpack write: {e}")))
}

fn encode(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &str) -> Result<(), CodecError> {
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
        (Value::Tuple(items), Type::Tuple(ets)) => {
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
        (Value::Map(m), Type::Map(et)) => {
            w(rmp::encode::write_map_len(out, m.len() as u32), path)?;
            for (k, v) in m {
                w(rmp::encode::write_str(out, k), path)?;
                encode(out, v, et, &format!("{path}[{k:?}]"))?;
            }
            Ok(())
        }
        (Value::Object(m), Type::Object(attrs)) => {
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
        (v, t) => Err(err(
            path,
            format!("value {} does not fit type {t}", kind_of(v)),
        )),
    }
}

fn encode_number(out: &mut Vec<u8>, n: &Number, path: &str) -> Result<(), CodecError> {
    match n {
        Number::Int(i) => w(rmp::encode::write_sint(out, *i), path).map(|_| ()),
        Number::Float(f) => w(rmp::encode::write_f64(out, *f), path),
        Number::Big(s) => w(rmp::encode::write_str(out, s), path),
    }
}

fn encode_unknown(
    out: &mut Vec<u8>,
    r: &Refinements,
    ty: &Type,
    path: &str,
) -> Result<(), CodecError> {
    let mut body = Vec::new();
    let mut n = 0u32;
    if *ty != Type::Dynamic {
        if let Some(nullable) = r.nullable {
            n += 1;
            w(rmp::encode::write_sint(&mut body, REFINE_NULLNESS), path)?;
            w(rmp::encode::write_bool(&mut body, nullable), path)?;
        }
        match ty {
            Type::String => {
                if let Some(p) = r.string_prefix.as_deref().filter(|p| !p.is_empty()) {
                    n += 1;
                    w(rmp::encode::write_sint(&mut body, REFINE_PREFIX), path)?;
                    w(rmp::encode::write_str(&mut body, p), path)?;
                }
            }
            Type::Number => {
                for (key, bound) in [
                    (REFINE_NUM_MIN, &r.number_lower),
                    (REFINE_NUM_MAX, &r.number_upper),
                ] {
                    if let Some((num, inclusive)) = bound {
                        n += 1;
                        w(rmp::encode::write_sint(&mut body, key), path)?;
                        w(rmp::encode::write_array_len(&mut body, 2), path)?;
                        encode_number(&mut body, num, path)?;
                        w(rmp::encode::write_bool(&mut body, *inclusive), path)?;
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
                        w(rmp::encode::write_sint(&mut body, key), path)?;
                        w(rmp::encode::write_sint(&mut body, b as i64), path)?;
                    }
                }
            }
            _ => {}
        }
    }
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

fn join_attr(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
        Value::Dynamic(..) => "dynamic",
    }
}

/// The type of a known value whose type is evident from the value alone.
pub fn infer_type(v: &Value) -> Option<Type> {
    Some(match v {
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::Dynamic(t, _) => t.clone(),
        Value::Object(m) => Type::Object(
            m.iter()
                .map(|(k, v)| infer_type(v).map(|t| (k.clone(), t)))
                .collect::<Option<_>>()?,
        ),
        Value::Tuple(items) => Type::Tuple(items.iter().map(infer_type).collect::<Option<_>>()?),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// msgpack decoding

/// Decodes msgpack bytes as a value of `ty`.
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(ty, "")?;
    if r.pos != bytes.len() {
        return Err(err(
            "",
            format!("{} trailing bytes after value", bytes.len() - r.pos),
        ));
    }
    Ok(v)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, path: &str) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| err(path, "unexpected end of msgpack data"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, path: &str) -> Result<u8, CodecError> {
        Ok(self.take(1, path)?[0])
    }
    fn be(&mut self, n: usize, path: &str) -> Result<u64, CodecError> {
        Ok(self
            .take(n, path)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    fn peek_marker(&self, path: &str) -> Result<Marker, CodecError> {
        self.buf
            .get(self.pos)
            .map(|b| Marker::from_u8(*b))
            .ok_or_else(|| err(path, "unexpected end of msgpack data"))
    }

    /// Reads one msgpack item's header and, for scalars, its value.
    fn item(&mut self, path: &str) -> Result<Item<'a>, CodecError> {
        let m = Marker::from_u8(self.u8(path)?);
        Ok(match m {
            Marker::Null => Item::Nil,
            Marker::True => Item::Bool(true),
            Marker::False => Item::Bool(false),
            Marker::FixPos(n) => Item::Int(i128::from(n)),
            Marker::FixNeg(n) => Item::Int(i128::from(n)),
            Marker::U8 => Item::Int(i128::from(self.be(1, path)?)),
            Marker::U16 => Item::Int(i128::from(self.be(2, path)?)),
            Marker::U32 => Item::Int(i128::from(self.be(4, path)?)),
            Marker::U64 => Item::Int(i128::from(self.be(8, path)?)),
            Marker::I8 => Item::Int(i128::from(self.be(1, path)? as u8 as i8)),
            Marker::I16 => Item::Int(i128::from(self.be(2, path)? as u16 as i16)),
            Marker::I32 => Item::Int(i128::from(self.be(4, path)? as u32 as i32)),
            Marker::I64 => Item::Int(i128::from(self.be(8, path)? as i64)),
            Marker::F32 => Item::Float(f64::from(f32::from_bits(self.be(4, path)? as u32))),
            Marker::F64 => Item::Float(f64::from_bits(self.be(8, path)?)),
            Marker::FixStr(n) => Item::Str(self.take(n as usize, path)?),
            Marker::Str8 | Marker::Bin8 => self.bytes_item(m, 1, path)?,
            Marker::Str16 | Marker::Bin16 => self.bytes_item(m, 2, path)?,
            Marker::Str32 | Marker::Bin32 => self.bytes_item(m, 4, path)?,
            Marker::FixArray(n) => Item::Array(n as usize),
            Marker::Array16 => Item::Array(self.be(2, path)? as usize),
            Marker::Array32 => Item::Array(self.be(4, path)? as usize),
            Marker::FixMap(n) => Item::Map(n as usize),
            Marker::Map16 => Item::Map(self.be(2, path)? as usize),
            Marker::Map32 => Item::Map(self.be(4, path)? as usize),
            Marker::FixExt1 => self.ext(1, path)?,
            Marker::FixExt2 => self.ext(2, path)?,
            Marker::FixExt4 => self.ext(4, path)?,
            Marker::FixExt8 => self.ext(8, path)?,
            Marker::FixExt16 => self.ext(16, path)?,
            Marker::Ext8 => {
                let n = self.be(1, path)? as usize;
                self.ext(n, path)?
            }
            Marker::Ext16 => {
                let n = self.be(2, path)? as usize;
                self.ext(n, path)?
            }
            Marker::Ext32 => {
                let n = self.be(4, path)? as usize;
                self.ext(n, path)?
            }
            Marker::Reserved => return Err(err(path, "reserved msgpack marker")),
        })
    }

    fn bytes_item(
        &mut self,
        m: Marker,
        len_bytes: usize,
        path: &str,
    ) -> Result<Item<'a>, CodecError> {
        let n = self.be(len_bytes, path)? as usize;
        let data = self.take(n, path)?;
        Ok(match m {
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => Item::Bin(data),
            _ => Item::Str(data),
        })
    }

    fn ext(&mut self, len: usize, path: &str) -> Result<Item<'a>, CodecError> {
        let code = self.u8(path)? as i8;
        let data = self.take(len, path)?;
        Ok(Item::Ext(code, data))
    }

    fn value(&mut self, ty: &Type, path: &str) -> Result<Value, CodecError> {
        // Unknowns and nulls are possible for every type; look at the marker first.
        match self.peek_marker(path)? {
            Marker::Null => {
                self.pos += 1;
                return Ok(Value::Null);
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                let Item::Ext(code, data) = self.item(path)? else {
                    unreachable_item(path)?
                };
                return decode_unknown(code, data, ty, path);
            }
            _ => {}
        }
        let item = self.item(path)?;
        match ty {
            Type::Dynamic => {
                let Item::Array(2) = item else {
                    return Err(err(path, "dynamic value must be a [type, value] pair"));
                };
                let tj = match self.item(path)? {
                    Item::Bin(b) | Item::Str(b) => b,
                    _ => return Err(err(path, "dynamic value's type must be JSON bytes")),
                };
                let tjv: serde_json::Value = serde_json::from_slice(tj)
                    .map_err(|e| err(path, format!("dynamic type JSON: {e}")))?;
                let inner_ty = Type::from_json(&tjv).map_err(|e| err(path, e.to_string()))?;
                let inner = self.value(&inner_ty, path)?;
                Ok(match inner {
                    Value::Null | Value::Unknown(_) => inner,
                    known => Value::Dynamic(inner_ty, Box::new(known)),
                })
            }
            Type::Bool => match item {
                Item::Bool(b) => Ok(Value::Bool(b)),
                other => Err(mismatch(path, ty, &other)),
            },
            Type::String => match item {
                Item::Str(s) => Ok(Value::String(utf8(s, path)?)),
                other => Err(mismatch(path, ty, &other)),
            },
            Type::Number => match item {
                Item::Int(i) => Ok(Value::Number(match i64::try_from(i) {
                    Ok(i) => Number::Int(i),
                    Err(_) => Number::Big(i.to_string()),
                })),
                Item::Float(f) => Ok(Value::Number(Number::Float(f))),
                Item::Str(s) => {
                    let s = utf8(s, path)?;
                    Number::parse(&s)
                        .map(Value::Number)
                        .ok_or_else(|| err(path, format!("{s:?} is not a number")))
                }
                other => Err(mismatch(path, ty, &other)),
            },
            Type::List(et) | Type::Set(et) => {
                let Item::Array(n) = item else {
                    return Err(mismatch(path, ty, &item));
                };
                let mut items = Vec::with_capacity(n.min(4096));
                for i in 0..n {
                    items.push(self.value(et, &format!("{path}[{i}]"))?);
                }
                Ok(if matches!(ty, Type::List(_)) {
                    Value::List(items)
                } else {
                    Value::Set(items)
                })
            }
            Type::Tuple(ets) => {
                let Item::Array(n) = item else {
                    return Err(mismatch(path, ty, &item));
                };
                if n != ets.len() {
                    return Err(err(
                        path,
                        format!("tuple of {} elements, expected {}", n, ets.len()),
                    ));
                }
                let mut items = Vec::with_capacity(n);
                for (i, et) in ets.iter().enumerate() {
                    items.push(self.value(et, &format!("{path}[{i}]"))?);
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(et) => {
                let Item::Map(n) = item else {
                    return Err(mismatch(path, ty, &item));
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key(path)?;
                    let v = self.value(et, &format!("{path}[{k:?}]"))?;
                    m.insert(k, v);
                }
                Ok(Value::Map(m))
            }
            Type::Object(attrs) => {
                let Item::Map(n) = item else {
                    return Err(mismatch(path, ty, &item));
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key(path)?;
                    let at = attrs
                        .get(&k)
                        .ok_or_else(|| err(path, format!("unsupported attribute {k:?}")))?;
                    let v = self.value(at, &join_attr(path, &k))?;
                    m.insert(k, v);
                }
                for k in attrs.keys() {
                    m.entry(k.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(m))
            }
        }
    }

    fn key(&mut self, path: &str) -> Result<String, CodecError> {
        match self.item(path)? {
            Item::Str(s) => utf8(s, path),
            other => Err(err(
                path,
                format!("map key must be a string, found {}", other.kind()),
            )),
        }
    }
}

fn unreachable_item<T>(path: &str) -> Result<T, CodecError> {
    Err(err(path, "internal: expected an extension item"))
}

enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl Item<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Item::Nil => "nil",
            Item::Bool(_) => "bool",
            Item::Int(_) => "integer",
            Item::Float(_) => "float",
            Item::Str(_) => "string",
            Item::Bin(_) => "binary",
            Item::Array(_) => "array",
            Item::Map(_) => "map",
            Item::Ext(..) => "extension",
        }
    }
}

fn mismatch(path: &str, ty: &Type, item: &Item<'_>) -> CodecError {
    err(
        path,
        format!("expected {ty}, found msgpack {}", item.kind()),
    )
}

fn utf8(b: &[u8], path: &str) -> Result<String, CodecError> {
    String::from_utf8(b.to_vec()).map_err(|_| err(path, "string is not valid UTF-8"))
}

fn decode_unknown(code: i8, data: &[u8], ty: &Type, path: &str) -> Result<Value, CodecError> {
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
    if data.len() > 1024 {
        return Err(err(path, "oversize unknown value refinement"));
    }
    if *ty == Type::Dynamic {
        return Ok(Value::unknown());
    }
    let mut r = Reader { buf: data, pos: 0 };
    let Item::Map(n) = r.item(path)? else {
        return Err(err(path, "refinement payload is not a map"));
    };
    let mut refs = Refinements::default();
    for _ in 0..n {
        let Item::Int(key) = r.item(path)? else {
            return Err(err(path, "refinement key is not an integer"));
        };
        match key as i64 {
            REFINE_NULLNESS => match r.item(path)? {
                Item::Bool(b) => refs.nullable = Some(b),
                _ => return Err(err(path, "nullness refinement is not a bool")),
            },
            REFINE_PREFIX => match r.item(path)? {
                Item::Str(s) => refs.string_prefix = Some(utf8(s, path)?),
                _ => return Err(err(path, "string prefix refinement is not a string")),
            },
            REFINE_NUM_MIN | REFINE_NUM_MAX => {
                let bound_ty = Type::Tuple(vec![Type::Number, Type::Bool]);
                let Value::Tuple(parts) = r.value(&bound_ty, path)? else {
                    return Err(err(path, "number bound refinement must be [number, bool]"));
                };
                let (Some(Value::Number(num)), Some(Value::Bool(inc))) =
                    (parts.first(), parts.get(1))
                else {
                    return Err(err(path, "number bound refinement must be [number, bool]"));
                };
                let b = Some((num.clone(), *inc));
                if key as i64 == REFINE_NUM_MIN {
                    refs.number_lower = b
                } else {
                    refs.number_upper = b
                }
            }
            REFINE_LEN_MIN | REFINE_LEN_MAX => {
                let Item::Int(b) = r.item(path)? else {
                    return Err(err(path, "length bound refinement is not an integer"));
                };
                let b = u64::try_from(b).map_err(|_| err(path, "negative length bound"))?;
                if key as i64 == REFINE_LEN_MIN {
                    refs.length_lower = Some(b)
                } else {
                    refs.length_upper = Some(b)
                }
            }
            _ => {
                // Unknown future refinement: skip its value.
                r.skip(path)?;
            }
        }
    }
    Ok(Value::Unknown(refs))
}

impl Reader<'_> {
    fn skip(&mut self, path: &str) -> Result<(), CodecError> {
        match self.item(path)? {
            Item::Array(n) => (0..n).try_for_each(|_| self.skip(path)),
            Item::Map(n) => (0..2 * n).try_for_each(|_| self.skip(path)),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Decodes JSON (as stored in state) as a value of `ty`.
pub fn from_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| err("", format!("invalid JSON: {e}")))?;
    from_json_value(&j, ty, "")
}

/// Decodes stored state JSON leniently: object attributes the type no longer has are dropped
/// (as after a provider release that removed an attribute), instead of being an error.
pub fn from_json_lenient(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| err("", format!("invalid JSON: {e}")))?;
    from_json_value(&prune_to_type(&j, ty), ty, "")
}

fn prune_to_type(j: &serde_json::Value, ty: &Type) -> serde_json::Value {
    use serde_json::Value as J;
    match (j, ty) {
        (J::Object(o), Type::Object(attrs)) => J::Object(
            o.iter()
                .filter_map(|(k, v)| attrs.get(k).map(|t| (k.clone(), prune_to_type(v, t))))
                .collect(),
        ),
        (J::Object(o), Type::Map(et)) => J::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), prune_to_type(v, et)))
                .collect(),
        ),
        (J::Array(a), Type::List(et) | Type::Set(et)) => {
            J::Array(a.iter().map(|v| prune_to_type(v, et)).collect())
        }
        (J::Array(a), Type::Tuple(ets)) => J::Array(
            a.iter()
                .zip(ets)
                .map(|(v, t)| prune_to_type(v, t))
                .collect(),
        ),
        _ => j.clone(),
    }
}

/// Converts an already-parsed JSON value into a value of `ty`.
pub fn from_json_value(j: &serde_json::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    if j.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || err(path, format!("expected {ty}, found JSON {j}"));
    Ok(match ty {
        Type::Dynamic => {
            let o = j
                .as_object()
                .ok_or_else(|| err(path, "dynamic value must be {\"value\", \"type\"}"))?;
            let tj = o
                .get("type")
                .ok_or_else(|| err(path, "dynamic value has no \"type\""))?;
            let inner_ty = Type::from_json(tj).map_err(|e| err(path, e.to_string()))?;
            match from_json_value(o.get("value").unwrap_or(&J::Null), &inner_ty, path)? {
                Value::Null => Value::Null,
                v => Value::Dynamic(inner_ty, Box::new(v)),
            }
        }
        Type::Bool => Value::Bool(j.as_bool().ok_or_else(mismatch)?),
        Type::String => match j {
            J::String(s) => Value::String(s.clone()),
            // cty accepts numbers and bools for strings in JSON.
            J::Number(n) => Value::String(n.to_string()),
            J::Bool(b) => Value::String(b.to_string()),
            _ => return Err(mismatch()),
        },
        Type::Number => match j {
            J::Number(n) => Value::Number(Number::parse(&n.to_string()).ok_or_else(mismatch)?),
            J::String(s) => Value::Number(Number::parse(s).ok_or_else(mismatch)?),
            _ => return Err(mismatch()),
        },
        Type::List(et) | Type::Set(et) => {
            let a = j.as_array().ok_or_else(mismatch)?;
            let items = a
                .iter()
                .enumerate()
                .map(|(i, v)| from_json_value(v, et, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(ty, Type::List(_)) {
                Value::List(items)
            } else {
                Value::Set(items)
            }
        }
        Type::Tuple(ets) => {
            let a = j.as_array().ok_or_else(mismatch)?;
            if a.len() != ets.len() {
                return Err(err(
                    path,
                    format!("tuple of {} elements, expected {}", a.len(), ets.len()),
                ));
            }
            Value::Tuple(
                a.iter()
                    .zip(ets)
                    .enumerate()
                    .map(|(i, (v, t))| from_json_value(v, t, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(et) => {
            let o = j.as_object().ok_or_else(mismatch)?;
            Value::Map(
                o.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            from_json_value(v, et, &format!("{path}[{k:?}]"))?,
                        ))
                    })
                    .collect::<Result<_, CodecError>>()?,
            )
        }
        Type::Object(attrs) => {
            let o = j.as_object().ok_or_else(mismatch)?;
            if let Some(extra) = o.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(err(path, format!("unsupported attribute {extra:?}")));
            }
            Value::Object(
                attrs
                    .iter()
                    .map(|(k, at)| {
                        let v = o.get(k).unwrap_or(&J::Null);
                        Ok((k.clone(), from_json_value(v, at, &join_attr(path, k))?))
                    })
                    .collect::<Result<_, CodecError>>()?,
            )
        }
    })
}

/// Encodes a wholly known value as JSON for `ty`.
pub fn to_json(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let j = to_json_value(value, ty, "")?;
    serde_json::to_vec(&j).map_err(|e| err("", e.to_string()))
}

/// Converts a wholly known value into JSON for `ty`.
pub fn to_json_value(
    value: &Value,
    ty: &Type,
    path: &str,
) -> Result<serde_json::Value, CodecError> {
    use serde_json::Value as J;
    Ok(match (value, ty) {
        (Value::Null, Type::Dynamic) => serde_json::json!({"value": null, "type": "dynamic"}),
        (Value::Null, _) => J::Null,
        (Value::Unknown(_), _) => {
            return Err(err(path, "unknown values cannot be encoded as JSON"));
        }
        (Value::Dynamic(it, inner), Type::Dynamic) => {
            serde_json::json!({"value": to_json_value(inner, it, path)?, "type": it.to_json()})
        }
        (v, Type::Dynamic) => {
            let it =
                infer_type(v).ok_or_else(|| err(path, "a dynamic value must carry its type"))?;
            serde_json::json!({"value": to_json_value(v, &it, path)?, "type": it.to_json()})
        }
        (Value::Dynamic(_, inner), _) => to_json_value(inner, ty, path)?,
        (Value::Bool(b), Type::Bool) => J::Bool(*b),
        (Value::String(s), Type::String) => J::String(s.clone()),
        (Value::Number(n), Type::Number) => match n {
            Number::Int(i) => J::from(*i),
            Number::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .ok_or_else(|| err(path, "non-finite number"))?,
            // Decimal text that no JSON number type here holds exactly stays text; cty reads both.
            Number::Big(s) => J::String(s.clone()),
        },
        (Value::List(items), Type::List(et)) | (Value::Set(items), Type::Set(et)) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json_value(v, et, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Tuple(items), Type::Tuple(ets)) if items.len() == ets.len() => J::Array(
            items
                .iter()
                .zip(ets)
                .enumerate()
                .map(|(i, (v, t))| to_json_value(v, t, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Map(m), Type::Map(et)) => J::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json_value(v, et, &format!("{path}[{k:?}]"))?)))
                .collect::<Result<_, CodecError>>()?,
        ),
        (Value::Object(m), Type::Object(attrs)) => J::Object(
            attrs
                .iter()
                .map(|(k, at)| {
                    let v = m.get(k).unwrap_or(&Value::Null);
                    Ok((k.clone(), to_json_value(v, at, &join_attr(path, k))?))
                })
                .collect::<Result<_, CodecError>>()?,
        ),
        (v, t) => {
            return Err(err(
                path,
                format!("value {} does not fit type {t}", kind_of(v)),
            ));
        }
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
