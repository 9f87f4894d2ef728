//! JSON values, as Terraform stores state and as a `DynamicValue` may carry them.
//!
//! JSON cannot hold unknowns. A `dynamic` value is `{"value": …, "type": …}` with the type in
//! Terraform's JSON type notation. Numbers are JSON numbers, except decimal text no JSON number
//! here holds exactly, which stays a string (cty reads both). Uses `serde_json` only; must not
//! import the msgpack half of the codec.

use serde_json::Value as J;

use super::{CodecError, does_not_fit, err, infer_type, join_attr};
use crate::tfplugin::value::{Number, Type, Value};

/// Decodes JSON (as stored in state) as a value of `ty`.
pub fn from_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: J = serde_json::from_slice(bytes).map_err(|e| err("", format!("invalid JSON: {e}")))?;
    from_json_value(&j, ty, "")
}

/// Decodes stored state JSON leniently: object attributes the type no longer has are dropped
/// (as after a provider release that removed an attribute), instead of being an error.
pub fn from_json_lenient(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: J = serde_json::from_slice(bytes).map_err(|e| err("", format!("invalid JSON: {e}")))?;
    from_json_value(&prune_to_type(&j, ty), ty, "")
}

fn prune_to_type(j: &J, ty: &Type) -> J {
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
pub fn from_json_value(j: &J, ty: &Type, path: &str) -> Result<Value, CodecError> {
    if j.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || err(path, format!("expected {ty}, found JSON {j}"));
    Ok(match ty {
        Type::Dynamic => from_json_dynamic(j, path)?,
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
        Type::Tuple(ets) => from_json_tuple(j.as_array().ok_or_else(mismatch)?, ets, path)?,
        Type::Map(et) => from_json_map(j.as_object().ok_or_else(mismatch)?, et, path)?,
        Type::Object(attrs) => from_json_object(j.as_object().ok_or_else(mismatch)?, attrs, path)?,
    })
}

/// `{"value": …, "type": …}`; a null inner value is a plain null.
fn from_json_dynamic(j: &J, path: &str) -> Result<Value, CodecError> {
    let o = j
        .as_object()
        .ok_or_else(|| err(path, "dynamic value must be {\"value\", \"type\"}"))?;
    let tj = o
        .get("type")
        .ok_or_else(|| err(path, "dynamic value has no \"type\""))?;
    let inner_ty = Type::from_json(tj).map_err(|e| err(path, e.to_string()))?;
    Ok(
        match from_json_value(o.get("value").unwrap_or(&J::Null), &inner_ty, path)? {
            Value::Null => Value::Null,
            v => Value::Dynamic(inner_ty, Box::new(v)),
        },
    )
}

fn from_json_tuple(a: &[J], ets: &[Type], path: &str) -> Result<Value, CodecError> {
    if a.len() != ets.len() {
        return Err(err(
            path,
            format!("tuple of {} elements, expected {}", a.len(), ets.len()),
        ));
    }
    Ok(Value::Tuple(
        a.iter()
            .zip(ets)
            .enumerate()
            .map(|(i, (v, t))| from_json_value(v, t, &format!("{path}[{i}]")))
            .collect::<Result<_, _>>()?,
    ))
}

fn from_json_map(
    o: &serde_json::Map<String, J>,
    et: &Type,
    path: &str,
) -> Result<Value, CodecError> {
    Ok(Value::Map(
        o.iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    from_json_value(v, et, &format!("{path}[{k:?}]"))?,
                ))
            })
            .collect::<Result<_, CodecError>>()?,
    ))
}

/// Every attribute of the type is present in the result (null when absent from the JSON); an
/// attribute the type does not have is an error.
fn from_json_object(
    o: &serde_json::Map<String, J>,
    attrs: &std::collections::BTreeMap<String, Type>,
    path: &str,
) -> Result<Value, CodecError> {
    if let Some(extra) = o.keys().find(|k| !attrs.contains_key(*k)) {
        return Err(err(path, format!("unsupported attribute {extra:?}")));
    }
    Ok(Value::Object(
        attrs
            .iter()
            .map(|(k, at)| {
                let v = o.get(k).unwrap_or(&J::Null);
                Ok((k.clone(), from_json_value(v, at, &join_attr(path, k))?))
            })
            .collect::<Result<_, CodecError>>()?,
    ))
}

/// Encodes a wholly known value as JSON for `ty`.
pub fn to_json(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let j = to_json_value(value, ty, "")?;
    serde_json::to_vec(&j).map_err(|e| err("", e.to_string()))
}

/// Converts a wholly known value into JSON for `ty`.
pub fn to_json_value(value: &Value, ty: &Type, path: &str) -> Result<J, CodecError> {
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
        (Value::Number(n), Type::Number) => number_to_json(n, path)?,
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
        (v, t) => return Err(does_not_fit(path, v, t)),
    })
}

fn number_to_json(n: &Number, path: &str) -> Result<J, CodecError> {
    Ok(match n {
        Number::Int(i) => J::from(*i),
        Number::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| err(path, "non-finite number"))?,
        // Decimal text that no JSON number type here holds exactly stays text; cty reads both.
        Number::Big(s) => J::String(s.clone()),
    })
}
