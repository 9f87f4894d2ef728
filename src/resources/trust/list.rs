//! `list "meshfed_trust"` (`terraform query`): among the clusters a `list` block names, the trust
//! meshfed manages (clusters holding its `meshfed-mesh-config`) or, failing that, the plug-in
//! CAs set up by hand (clusters holding a `cacerts` Secret): one trust over those clusters, in
//! the order given, by its import ID.

use crate::k8s::ObjectRef;
use crate::mesh::discover;
use crate::mesh::trust::{CACERTS_SECRET, MESH_CONFIG_CONFIGMAP};
use crate::resources::context::Ctx;
use crate::resources::objects::error_diag;
use crate::resources::query::Candidate;
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

/// `clusters`.
pub(super) fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("Finds the trust among the given clusters: the one meshfed manages (clusters holding its `meshfed-mesh-config`), else the plug-in CAs set up by hand (clusters holding a `cacerts` Secret).")
            .attr(Attribute::required("clusters", Type::list(Type::String)).describe("The clusters to look in (`cluster` labels of the provider), in the order member blocks would list them.")),
    )
}

/// What one cluster holds.
struct Held {
    cluster: String,
    meshfed: bool,
    cacerts: bool,
}

pub(super) async fn discover(
    ctx: &Ctx<'_>,
    config: &Value,
    diags: &mut Diagnostics,
) -> Vec<Candidate> {
    let names = config
        .get("clusters")
        .and_then(Value::elements)
        .unwrap_or_default();
    let mut held = Vec::new();
    for (i, name) in names.iter().filter_map(Value::as_str).enumerate() {
        match look(ctx, name, AttrPath::attr("clusters").index(i)).await {
            Ok(h) => held.push(h),
            Err(d) => diags.push(d),
        }
    }
    let managed: Vec<&str> = held
        .iter()
        .filter(|h| h.meshfed)
        .map(|h| h.cluster.as_str())
        .collect();
    let (members, origin) = if managed.is_empty() {
        let by_hand = held
            .iter()
            .filter(|h| h.cacerts)
            .map(|h| h.cluster.as_str());
        (by_hand.collect::<Vec<_>>(), "plug-in CAs set up by hand")
    } else {
        (managed, "managed by meshfed")
    };
    if members.is_empty() {
        return Vec::new();
    }
    vec![Candidate {
        id: members.join(","),
        display: format!("trust among {} ({origin})", members.join(", ")),
    }]
}

async fn look(
    ctx: &Ctx<'_>,
    cluster: &str,
    path: AttrPath,
) -> Result<Held, crate::tfplugin::diag::Diagnostic> {
    let facts = ctx.mesh_facts(cluster, path)?;
    let ns = &facts.istio_namespace;
    let get = |kind: &'static str, name: &'static str| {
        let object = ObjectRef::namespaced("v1", kind, ns, name);
        async move {
            let live = ctx.clusters.get(cluster, &object).await;
            live.map_err(|e| error_diag(&format!("Cannot read {kind}"), &e))
        }
    };
    let config = get("ConfigMap", MESH_CONFIG_CONFIGMAP).await?;
    let cacerts = get("Secret", CACERTS_SECRET).await?;
    Ok(Held {
        cluster: cluster.to_string(),
        meshfed: config.as_ref().is_some_and(discover::is_meshfed),
        cacerts: cacerts.is_some(),
    })
}
