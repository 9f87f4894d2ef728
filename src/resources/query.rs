//! `terraform query` (Terraform ≥ 1.14), shared by every resource: a resource finds the import IDs
//! of objects its `list` block's `config` names ([`Resource::discover`]: meshfed's own, and those
//! made by hand that its import can adopt); this module imports each one as `terraform import`
//! would, and answers its identity, a name to show and, when asked for, its state. An object
//! found but not importable becomes a warning naming it and why, not an error: the rest of the
//! list still comes. Configuration generation ([`Resource::generate_config`]) turns such a state
//! into configuration that plans no change after the import.
//!
//! Listing is the one place meshfed sends `list` requests (plans and applies never do): the
//! identity running `terraform query` needs `list` where it looks (docs/guides/rbac.md).
//!
//! [`Resource::discover`]: super::resource::Resource::discover
//! [`Resource::generate_config`]: super::resource::Resource::generate_config

use serde_json::Value as Json;

use super::context::Ctx;
use super::identity;
use super::objects::error_diag;
use super::resource::Resource;
use crate::k8s::ObjectRef;
use crate::mesh::discover;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::list::{ListRequest, ListResponse, Listed};
use crate::tfplugin::value::Value;

/// An object `discover` found: its import ID and how to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    /// E.g. `cluster-a.local abc/bar-xyz-svc-cluster-b-local (bar.xyz.svc.cluster-b.local, made by hand)`.
    pub display: String,
}

/// ListResource for `r`.
pub async fn list<R: Resource>(r: &R, ctx: &Ctx<'_>, req: ListRequest) -> ListResponse {
    let mut diagnostics = Diagnostics::new();
    let candidates = r.discover(ctx, &req.config, &mut diagnostics).await;
    let limit = usize::try_from(req.limit).ok().filter(|l| *l > 0);
    let mut found = Vec::new();
    for c in candidates {
        if limit.is_some_and(|l| found.len() >= l) {
            break;
        }
        match r.import(ctx, &c.id).await {
            Ok(imported) => found.push(Listed {
                identity: identity::of_state(r, &imported.state),
                display_name: c.display,
                resource_object: req.include_resource_object.then_some(imported.state),
            }),
            Err(why) => diagnostics.push(not_adoptable(R::TYPE_NAME, &c, &why)),
        }
    }
    ListResponse { found, diagnostics }
}

/// The warning for an object found that its resource cannot import.
fn not_adoptable(type_name: &str, c: &Candidate, why: &Diagnostics) -> Diagnostic {
    let reasons: Vec<String> = why
        .iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect();
    Diagnostic::warning(
        format!("Found, but {type_name} cannot adopt it"),
        format!(
            "{} looks like part of a federation, but importing it as {type_name} (ID {:?}) fails, so it is not listed. {}",
            c.display,
            c.id,
            reasons.join(" ")
        ),
    )
}

/// The `cluster` attribute of a `list` block's `config`, checked against the provider's clusters;
/// `None` (with the error in `diags`) when it names none.
pub fn cluster_of<'a>(
    ctx: &Ctx<'_>,
    config: &'a Value,
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    let cluster = config.get("cluster").and_then(Value::as_str)?;
    match ctx.cluster(cluster, AttrPath::attr("cluster")) {
        Ok(_) => Some(cluster),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// Every object of `api_version`/`kind` in `namespace` (every namespace when `None`) of
/// `cluster`; none, with the error in `diags`, when the list fails.
pub async fn list_objects(
    ctx: &Ctx<'_>,
    cluster: &str,
    (api_version, kind): (&str, &str),
    namespace: Option<&str>,
    diags: &mut Diagnostics,
) -> Vec<Json> {
    let scope = ObjectRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: "*".to_string(),
    };
    match ctx.clusters.list(cluster, &scope, None).await {
        Ok(items) => items,
        Err(e) => {
            diags.push(error_diag(&format!("Cannot list {kind}s"), &e));
            Vec::new()
        }
    }
}

/// `by meshfed` or `made by hand`, for display names.
pub fn origin(object: &Json) -> &'static str {
    if discover::is_meshfed(object) {
        "managed by meshfed"
    } else {
        "made by hand"
    }
}
