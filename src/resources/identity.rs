//! Resource identities (Terraform ≥ 1.12, OpenTofu ≥ 1.12), shared by every resource: each
//! resource names the state attributes its identity is made of ([`Resource::identity_schema`],
//! [`Resource::identity`]) and how an identity reads as its import ID
//! ([`Resource::import_id`]); this module attaches the identity of the state to every response
//! and turns an `import` block's identity into the import ID, so import by identity is import by
//! ID.
//!
//! An identity is a function of the state alone, so a refresh returns the identity Terraform
//! stored (Terraform refuses any other). It changes only when the configuration moves the
//! objects (another cluster, namespace or name: meshfed updates those in place), in the plan
//! and apply that move them. While any part is unknown at plan, no identity is planned.
//!
//! [`Resource::identity_schema`]: super::resource::Resource::identity_schema
//! [`Resource::identity`]: super::resource::Resource::identity
//! [`Resource::import_id`]: super::resource::Resource::import_id

use super::resource::Resource;
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{ImportRequest, ImportResponse};
use crate::tfplugin::value::Value;

/// The identity of what `state` manages: null for no state, or while a part is unknown.
pub fn of_state<R: Resource>(r: &R, state: &Value) -> Value {
    if state.is_null() {
        return Value::Null;
    }
    let identity = r.identity(state);
    if identity.is_wholly_known() {
        identity
    } else {
        Value::Null
    }
}

/// An identity of string attributes read from `state`: each `(identity attribute, path of
/// the state attribute)`.
pub fn from_paths(state: &Value, attrs: &[(&str, &[&str])]) -> Value {
    let at = |path: &[&str]| {
        let mut v = state;
        for step in path {
            match v.get(step) {
                Some(next) => v = next,
                None => return Value::Null,
            }
        }
        v.clone()
    };
    Value::object(attrs.iter().map(|(name, path)| (*name, at(path))))
}

/// The import ID `<a>/<b>/...` made of the identity's attributes `names`, in order; a null
/// attribute at the end is left out (an optional one), elsewhere it is missing.
pub fn slash_id(identity: &Value, names: &[&str]) -> Result<String, String> {
    let mut parts: Vec<&str> = names
        .iter()
        .map(|n| identity.get(n).and_then(Value::as_str).unwrap_or_default())
        .collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    for (name, part) in names.iter().zip(&parts) {
        if part.is_empty() {
            return Err(format!("has no {name}"));
        }
        if part.contains('/') {
            return Err(format!(
                "has a {name} with a '/' ({part:?}), which no such name has"
            ));
        }
    }
    Ok(parts.join("/"))
}

/// The import ID of a request: its `id`, or the one its identity names.
pub fn import_id<R: Resource>(r: &R, req: &ImportRequest) -> Result<String, Diagnostics> {
    if !req.id.is_empty() || req.identity.is_null() {
        return Ok(req.id.clone());
    }
    r.import_id(&req.identity).map_err(|why| {
        Diagnostic::error(
            "Invalid import identity",
            format!("The identity given to import {} {why}.", R::TYPE_NAME),
        )
        .into()
    })
}

/// Adds the identity of each imported state.
pub fn attach_to_import<R: Resource>(r: &R, mut resp: ImportResponse) -> ImportResponse {
    for i in &mut resp.imported {
        i.identity = of_state(r, &i.state);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_read_from_state_paths() {
        let state = Value::object([
            ("cluster", Value::string("a")),
            (
                "gateway",
                Value::object([("namespace", Value::string("gw"))]),
            ),
        ]);
        let id = from_paths(
            &state,
            &[
                ("cluster", &["cluster"]),
                ("gw", &["gateway", "namespace"]),
                ("x", &["none"]),
            ],
        );
        assert_eq!(
            id,
            Value::object([
                ("cluster", Value::string("a")),
                ("gw", Value::string("gw")),
                ("x", Value::Null),
            ])
        );
    }

    #[test]
    fn slash_ids_leave_out_a_trailing_optional_part_and_refuse_ambiguous_ones() {
        let id = |parts: &[(&str, Value)]| Value::object(parts.iter().cloned());
        let names = ["cluster", "namespace", "service", "gateway_namespace"];
        let full = id(&[
            ("cluster", Value::string("c")),
            ("namespace", Value::string("ns")),
            ("service", Value::string("svc")),
            ("gateway_namespace", Value::string("gw")),
        ]);
        assert_eq!(slash_id(&full, &names).as_deref(), Ok("c/ns/svc/gw"));
        let short = id(&[
            ("cluster", Value::string("c")),
            ("namespace", Value::string("ns")),
            ("service", Value::string("svc")),
            ("gateway_namespace", Value::Null),
        ]);
        assert_eq!(slash_id(&short, &names).as_deref(), Ok("c/ns/svc"));
        let hole = id(&[
            ("cluster", Value::string("c")),
            ("namespace", Value::string("")),
            ("service", Value::string("s")),
        ]);
        assert_eq!(
            slash_id(&hole, &names[..3]),
            Err("has no namespace".to_string())
        );
        let slashed = id(&[("cluster", Value::string("c/d"))]);
        assert!(slash_id(&slashed, &names[..1]).is_err_and(|e| e.contains("'/'")));
    }
}
