//! Reading Terraform values in resource code: the first stage of the two-stage parse. Each getter
//! says whether an attribute is absent, not yet known, or known, and type problems become
//! diagnostics on the attribute's path.

use std::collections::BTreeMap;

use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::value::Value;

/// An attribute as configured.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<T> {
    Null,
    Unknown,
    Known(T),
}

impl<T> Field<T> {
    pub fn known(self) -> Option<T> {
        match self {
            Field::Known(t) => Some(t),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Null => Field::Null,
            Field::Unknown => Field::Unknown,
            Field::Known(t) => Field::Known(f(t)),
        }
    }
}

fn classify(v: Option<&Value>) -> Field<&Value> {
    match v {
        None | Some(Value::Null) => Field::Null,
        Some(v) if !v.is_wholly_known() => Field::Unknown,
        Some(v) => Field::Known(v),
    }
}

/// A string attribute.
pub fn string(obj: &Value, name: &str) -> Field<String> {
    match classify(obj.get(name)) {
        Field::Known(v) => v
            .as_str()
            .map(|s| Field::Known(s.to_string()))
            .unwrap_or(Field::Unknown),
        Field::Null => Field::Null,
        Field::Unknown => Field::Unknown,
    }
}

/// A whole (possibly nested) attribute, known all the way down.
pub fn whole<'a>(obj: &'a Value, name: &str) -> Field<&'a Value> {
    classify(obj.get(name))
}

/// A list of strings.
pub fn strings(obj: &Value, name: &str) -> Field<Vec<String>> {
    match classify(obj.get(name)) {
        Field::Known(v) => match v.elements() {
            Some(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Field::Known)
                .unwrap_or(Field::Unknown),
            None => Field::Unknown,
        },
        Field::Null => Field::Null,
        Field::Unknown => Field::Unknown,
    }
}

/// An integer attribute that must fit `lo..=hi`; out of range is an error on `path`.
pub fn int_in(
    v: &Value,
    lo: i64,
    hi: i64,
    path: &AttrPath,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) if (lo..=hi).contains(&i) => Some(i),
            _ => {
                diags.error_at(
                    path.clone(),
                    format!("Invalid {what}"),
                    format!(
                        "{what} must be a whole number from {lo} to {hi}; got {}.",
                        n.to_decimal_string()
                    ),
                );
                None
            }
        },
        _ => None,
    }
}

/// A list value from strings.
pub fn string_list(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::String(s.clone())).collect())
}

/// A map value from strings.
pub fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// An optional string as a value.
pub fn opt_string(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}
