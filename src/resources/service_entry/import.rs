//! Import of `meshfed_service_entry` by `<cluster>/<namespace>/<name>`, or by the identity of
//! the same three: reads the ServiceEntry (required) and the DestinationRule of that name, and
//! recovers the spec that renders them.

use super::input::KnownEntry;
use super::state::state_of;
use crate::k8s::ObjectRef;
use crate::mesh::service_entry::{self as se, spec_from_objects};
use crate::resources::context::Ctx;
use crate::resources::objects::{Desired, error_diag, live_display};
use crate::tfplugin::diag::{AttrPath, Diagnostic};
use crate::tfplugin::identity::{IdentityAttribute, IdentitySchema};
use crate::tfplugin::value::{Type, Value};

/// The identity's attributes, each the state attribute of the same name, in import ID order.
pub(super) const IDENTITY: [(&str, &[&str]); 3] = [
    ("cluster", &["cluster"]),
    ("namespace", &["namespace"]),
    ("name", &["name"]),
];

/// `cluster`, `namespace`, `name`: the ServiceEntry and DestinationRule.
pub(super) fn identity_schema() -> IdentitySchema {
    let attr = IdentityAttribute::required;
    IdentitySchema {
        version: 0,
        attributes: vec![
            attr(
                "cluster",
                Type::String,
                "The cluster (a `cluster` label of the provider) holding the objects.",
            ),
            attr("namespace", Type::String, "Their namespace."),
            attr(
                "name",
                Type::String,
                "The name of the ServiceEntry and the DestinationRule.",
            ),
        ],
    }
}

/// The state of the objects that `id` names.
pub(super) async fn import(ctx: &Ctx<'_>, id: &str) -> Result<Value, Diagnostic> {
    let parts: Vec<&str> = id.split('/').collect();
    let [cluster, namespace, name] = parts.as_slice() else {
        return Err(Diagnostic::error(
            "Invalid import ID",
            format!(
                "Expected <cluster>/<namespace>/<name>, e.g. cluster-a.local/abc/bar-xyz-svc-cluster-b-local; got {id:?}."
            ),
        ));
    };
    ctx.cluster(cluster, AttrPath::root())?;
    let get = |api: &'static str, kind: &'static str| {
        let object = ObjectRef::namespaced(api, kind, namespace, name);
        async move {
            let live = ctx.clusters.get(cluster, &object).await;
            live.map_err(|e| error_diag(&format!("Cannot read {kind}"), &e))
        }
    };
    let Some(live_se) = get(se::SERVICE_ENTRY_API, "ServiceEntry").await? else {
        return Err(Diagnostic::error(
            "Cannot import: ServiceEntry not found",
            format!("{cluster} has no ServiceEntry {namespace}/{name}."),
        ));
    };
    let live_dr = get(se::DESTINATION_RULE_API, "DestinationRule").await?;
    let Some(spec) = spec_from_objects(namespace, name, &live_se, live_dr.as_ref()) else {
        return Err(Diagnostic::error(
            "Cannot import: not a service entry meshfed can manage",
            format!(
                "ServiceEntry {namespace}/{name} in {cluster} lacks hosts, ports or endpoints."
            ),
        ));
    };
    let rendered = Desired::all_in(cluster, se::render(&spec));
    let manifests = rendered
        .iter()
        .zip([Some(live_se), live_dr])
        .filter_map(|(d, live)| Some((d.key(), live_display(&live?, &d.manifest.object))))
        .collect();
    let known = KnownEntry {
        cluster: cluster.to_string(),
        addresses_configured: !spec.addresses.is_empty(),
        spec,
        export: None,
    };
    Ok(state_of(&known, &manifests))
}
