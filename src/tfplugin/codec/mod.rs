//! The value codec: `DynamicValue` bytes (msgpack or JSON) to and from [`Value`], always against a
//! [`Type`], as Terraform's cty library encodes them.
//!
//! - `msgpack`: what Terraform sends and receives on every RPC (`rmp` writes, `rmpv` reads).
//! - `unknown`: unknown values in msgpack: extension 0, and extension 12 with refinements.
//! - `json`: stored state (and the occasional JSON `DynamicValue`); cannot carry unknowns.
//!
//! This file holds what both share: the error type, attribute paths in Terraform's notation, and
//! type inference for `dynamic` values given without their type. Every public function keeps its
//! path here (`codec::from_msgpack`, `codec::to_json`, …).
//! Knows nothing of protobuf, Kubernetes or meshfed's resources: imports only [`super::value`].

mod json;
mod msgpack;
mod unknown;

pub use json::{from_json, from_json_lenient, from_json_value, to_json, to_json_value};
pub use msgpack::{from_msgpack, to_msgpack};

use super::value::{Type, Value};

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

/// The path of attribute `name` of the object at `path`.
fn join_attr(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The kind of a value, for "does not fit" messages.
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

/// The error for a value that does not fit its type.
fn does_not_fit(path: &str, v: &Value, t: &Type) -> CodecError {
    err(path, format!("value {} does not fit type {t}", kind_of(v)))
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

#[cfg(test)]
mod tests;
