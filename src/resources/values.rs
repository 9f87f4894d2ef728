//! Reading Terraform values: the first stage of every two-stage parse (raw value, then checked
//! input). [`Field`] is the one "maybe not known yet" type of the crate: an attribute, or a
//! setting derived from attributes, is absent, not known until apply, or known. The getters here
//! read one attribute of an object value as a `Field`; type problems in known values read as
//! unknown (Terraform has checked the types against the schema already).
//!
//! Builders at the bottom turn plain Rust values back into Terraform values.
//! Imports only the protocol layer's value and diagnostic types.

use std::collections::BTreeMap;

use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::value::Value;

/// A value as configured: absent (null), not known until apply, or known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field<T> {
    Null,
    /// Depends on something made in the same run: known only at apply.
    Unknown,
    Known(T),
}

impl<T> Field<T> {
    /// The value, when known.
    pub fn known(self) -> Option<T> {
        match self {
            Field::Known(t) => Some(t),
            _ => None,
        }
    }
    /// A reference to the value, when known.
    pub fn as_known(&self) -> Option<&T> {
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
    /// Set: known or unknown, not null.
    pub fn is_set(&self) -> bool {
        !self.is_null()
    }
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Null => Field::Null,
            Field::Unknown => Field::Unknown,
            Field::Known(t) => Field::Known(f(t)),
        }
    }
    /// The value with a default for null: `None` only when unknown.
    pub fn or_default_with(self, default: impl FnOnce() -> T) -> Option<T> {
        match self {
            Field::Known(t) => Some(t),
            Field::Null => Some(default()),
            Field::Unknown => None,
        }
    }
    /// An optional value without default: `Some(None)` when null, `None` when unknown.
    pub fn optional(self) -> Option<Option<T>> {
        match self {
            Field::Known(t) => Some(Some(t)),
            Field::Null => Some(None),
            Field::Unknown => None,
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

/// A whole (possibly nested) attribute, known all the way down.
pub fn whole<'a>(obj: &'a Value, name: &str) -> Field<&'a Value> {
    classify(obj.get(name))
}

/// Reads a known attribute with `read`; a known value `read` cannot take counts as unknown.
fn read_with<T>(obj: &Value, name: &str, read: impl FnOnce(&Value) -> Option<T>) -> Field<T> {
    match whole(obj, name) {
        Field::Known(v) => read(v).map_or(Field::Unknown, Field::Known),
        Field::Null => Field::Null,
        Field::Unknown => Field::Unknown,
    }
}

/// A string attribute.
pub fn string(obj: &Value, name: &str) -> Field<String> {
    read_with(obj, name, |v| v.as_str().map(str::to_string))
}

/// A bool attribute.
pub fn boolean(obj: &Value, name: &str) -> Field<bool> {
    read_with(obj, name, Value::as_bool)
}

/// A list of strings.
pub fn strings(obj: &Value, name: &str) -> Field<Vec<String>> {
    read_with(obj, name, |v| {
        v.elements()?
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect()
    })
}

/// A map of strings.
pub fn string_map(obj: &Value, name: &str) -> Field<BTreeMap<String, String>> {
    read_with(obj, name, |v| {
        v.entries()?
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    })
}

/// A check of a string's form: `Err` says what is wrong, to follow the value in a sentence.
pub type Check = fn(&str) -> Result<(), String>;

/// `field`, after an error on `path` ("Invalid <what>") when it is known and fails `check`.
pub fn checked(
    field: Field<String>,
    path: &AttrPath,
    what: &str,
    check: Check,
    diags: &mut Diagnostics,
) -> Field<String> {
    if let Field::Known(s) = &field
        && let Err(e) = check(s)
    {
        diags.error_at(
            path.clone(),
            format!("Invalid {what}"),
            format!("{what} {s:?} {e}."),
        );
    }
    field
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
pub fn string_map_value(m: &BTreeMap<String, String>) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_as_null_unknown_or_known() {
        let obj = Value::object([
            ("a", Value::string("x")),
            ("b", Value::unknown()),
            ("c", Value::Null),
            ("d", Value::List(vec![Value::string("1"), Value::unknown()])),
            ("e", Value::Bool(true)),
        ]);
        assert_eq!(string(&obj, "a"), Field::Known("x".to_string()));
        assert_eq!(string(&obj, "b"), Field::Unknown);
        assert_eq!(string(&obj, "c"), Field::Null);
        assert_eq!(string(&obj, "missing"), Field::Null);
        assert_eq!(strings(&obj, "d"), Field::Unknown);
        assert_eq!(boolean(&obj, "e"), Field::Known(true));
        assert_eq!(boolean(&obj, "a"), Field::Unknown);
    }

    #[test]
    fn defaults_fill_null_but_never_unknown() {
        assert_eq!(Field::Null.or_default_with(|| 1), Some(1));
        assert_eq!(Field::Known(2).or_default_with(|| 1), Some(2));
        assert_eq!(Field::<i32>::Unknown.or_default_with(|| 1), None);
        assert_eq!(Field::<i32>::Null.optional(), Some(None));
        assert_eq!(Field::<i32>::Unknown.optional(), None);
    }
}
