//! `list "meshfed_service_entry"` (`terraform query`): in one cluster (one namespace, or all),
//! the ServiceEntries that import a remote service, meshfed's and those made by hand
//! (`MESH_INTERNAL`, endpoints at a remote gateway's port 15443), each by its import ID.

use crate::mesh::discover;
use crate::mesh::service_entry::SERVICE_ENTRY_API;
use crate::resources::context::Ctx;
use crate::resources::query::{self, Candidate};
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

/// `cluster`, and optionally `namespace`.
pub(super) fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("Finds the ServiceEntries that import a remote service into one cluster: meshfed's, and those made by hand (`MESH_INTERNAL`, endpoints at a remote east-west gateway's port 15443).")
            .attr(Attribute::required("cluster", Type::String).describe("The cluster to look in (a `cluster` label of the provider)."))
            .attr(Attribute::optional("namespace", Type::String).describe("Look only in this namespace. Default: every namespace (needs `list` on ServiceEntries cluster-wide).")),
    )
}

pub(super) async fn discover(
    ctx: &Ctx<'_>,
    config: &Value,
    diags: &mut Diagnostics,
) -> Vec<Candidate> {
    let Some(cluster) = query::cluster_of(ctx, config, diags) else {
        return Vec::new();
    };
    let namespace = config.get("namespace").and_then(Value::as_str);
    let kind = (SERVICE_ENTRY_API, "ServiceEntry");
    let entries = query::list_objects(ctx, cluster, kind, namespace, diags).await;
    let mut found: Vec<Candidate> = entries
        .iter()
        .filter_map(|se| {
            let host = discover::imported_host(se)?;
            let (ns, name) = discover::namespaced_name(se);
            Some(Candidate {
                id: format!("{cluster}/{ns}/{name}"),
                display: format!("{cluster} {ns}/{name}: {host} ({})", query::origin(se)),
            })
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}
