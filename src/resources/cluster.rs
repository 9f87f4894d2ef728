//! Data source `meshfed_cluster`: the mesh facts meshfed uses for one configured cluster
//! (trust domain, DNS suffix, Istio namespace, network), so configurations can refer to them
//! instead of repeating them, e.g. to build `allowed_principals`. Reads configuration only: no
//! API call.

use crate::mesh::MeshFacts;
use crate::provider::{Known, ProviderConfig};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::provider::{ReadDataRequest, ReadDataResponse};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_cluster";

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("The mesh facts meshfed uses for one cluster of the provider configuration. Makes no API call.")
            .attr(Attribute::required("name", Type::String).describe("Label of a `cluster` block of the provider configuration."))
            .attr(Attribute::computed("trust_domain", Type::String).describe("SPIFFE trust domain of the cluster's workloads."))
            .attr(Attribute::computed("domain_suffix", Type::String).describe("DNS suffix of the cluster's services."))
            .attr(Attribute::computed("istio_namespace", Type::String).describe("Namespace of istiod and its CA material."))
            .attr(Attribute::computed("network", Type::String).describe("Istio network of the cluster; null when none is set.")),
    )
}

/// Looks up a cluster by name, with the diagnostic users see for a name that is not configured.
pub fn lookup<'a>(
    config: Option<&'a ProviderConfig>,
    name: &str,
    path: AttrPath,
) -> Result<&'a crate::provider::ClusterConfig, Diagnostic> {
    let Some(config) = config else {
        return Err(Diagnostic::error(
            "Provider not configured",
            "meshfed received no provider configuration before this request.",
        )
        .at(path));
    };
    config.clusters.get(name).ok_or_else(|| {
        let known: Vec<&str> = config.clusters.keys().map(String::as_str).collect();
        Diagnostic::error(
            format!("Unknown cluster {name:?}"),
            if known.is_empty() {
                "The provider configuration has no cluster blocks. Add one: cluster \"<name>\" { ... }.".to_string()
            } else {
                format!("The provider configuration has clusters {}; add a cluster block named {name:?} or use one of those.", known.join(", "))
            },
        )
        .at(path)
    })
}

pub fn read(config: Option<&ProviderConfig>, req: ReadDataRequest) -> ReadDataResponse {
    let mut diagnostics = Diagnostics::new();
    let name = match req.config.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            diagnostics.error_at(
                AttrPath::attr("name"),
                "Cluster name not known",
                "name must be known when the data source is read.",
            );
            return ReadDataResponse {
                state: Value::Null,
                diagnostics,
            };
        }
    };
    let cluster = match lookup(config, &name, AttrPath::attr("name")) {
        Ok(c) => c,
        Err(d) => {
            return ReadDataResponse {
                state: Value::Null,
                diagnostics: d.into(),
            };
        }
    };
    let state = match &cluster.mesh {
        Known::Known(MeshFacts {
            trust_domain,
            domain_suffix,
            istio_namespace,
            network,
        }) => Value::object([
            ("name", Value::string(name)),
            ("trust_domain", Value::string(trust_domain)),
            ("domain_suffix", Value::string(domain_suffix)),
            ("istio_namespace", Value::string(istio_namespace)),
            (
                "network",
                network.clone().map(Value::String).unwrap_or(Value::Null),
            ),
        ]),
        Known::AtApply => {
            diagnostics.error_at(
                AttrPath::attr("name"),
                format!("Mesh facts of {name:?} are not known yet"),
                "Its trust_domain, domain_suffix, istio_namespace or network depends on a value known only after apply; apply that first, or set them literally.",
            );
            return ReadDataResponse {
                state: Value::Null,
                diagnostics,
            };
        }
    };
    ReadDataResponse { state, diagnostics }
}
