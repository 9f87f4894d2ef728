//! `list "meshfed_exported_service"` (`terraform query`): the exports meshfed made in one
//! cluster, found by their Gateways in the east-west gateway's namespace. Hand-made
//! `AUTO_PASSTHROUGH` Gateways record no single service an export could adopt: each is a warning
//! naming its hosts and the way to move it to meshfed.

use crate::mesh::discover;
use crate::mesh::exported_service::GATEWAY_API;
use crate::resources::context::Ctx;
use crate::resources::query::{self, Candidate};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

/// `cluster`, and optionally `gateway_namespace`.
pub(super) fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("Finds the services one cluster exports through its east-west gateway: meshfed's exports (their Gateways), and, as warnings, hand-made `AUTO_PASSTHROUGH` Gateways.")
            .attr(Attribute::required("cluster", Type::String).describe("The cluster to look in (a `cluster` label of the provider)."))
            .attr(Attribute::optional("gateway_namespace", Type::String).describe("Namespace of the east-west gateway. Default: the cluster's `istio_namespace`.")),
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
    let gateway_ns = match config.get("gateway_namespace").and_then(Value::as_str) {
        Some(ns) => ns.to_string(),
        None => match ctx.mesh_facts(cluster, AttrPath::attr("cluster")) {
            Ok(facts) => facts.istio_namespace.clone(),
            Err(d) => {
                diags.push(d);
                return Vec::new();
            }
        },
    };
    let kind = (GATEWAY_API, "Gateway");
    let gateways = query::list_objects(ctx, cluster, kind, Some(&gateway_ns), diags).await;
    let mut found = Vec::new();
    for g in &gateways {
        if let Some((ns, service)) = discover::exported_by_meshfed(g) {
            found.push(Candidate {
                id: format!("{cluster}/{ns}/{service}/{gateway_ns}"),
                display: format!("{cluster} {ns}/{service} (managed by meshfed)"),
            });
            continue;
        }
        let hosts = discover::hand_made_passthrough_hosts(g);
        if !hosts.is_empty() {
            diags.push(hand_made(cluster, g, &hosts));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

fn hand_made(cluster: &str, gateway: &serde_json::Value, hosts: &[String]) -> Diagnostic {
    let (ns, name) = discover::namespaced_name(gateway);
    Diagnostic::warning(
        "Hand-made AUTO_PASSTHROUGH Gateway found",
        format!(
            "Gateway {ns}/{name} in {cluster} passes through {} with AUTO_PASSTHROUGH. It records no single service, so no meshfed_exported_service can import it. To move it to meshfed, write one meshfed_exported_service per exported service (its Gateway serves only that service's host), apply, then delete {ns}/{name}.",
            hosts.join(", ")
        ),
    )
}
