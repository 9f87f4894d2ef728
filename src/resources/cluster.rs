//! Data source `meshfed_cluster`: the mesh facts meshfed uses for one configured cluster
//! (trust domain, DNS suffix, Istio namespace, network), so configurations can refer to them
//! instead of repeating them, e.g. to build `allowed_principals`. Reads configuration only: no
//! API call.
//!
//! Must not import a resource or the provider layer.

use super::context::{Ctx, not_configured};
use super::resource::DataSource;
use super::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::provider::{ReadDataRequest, ReadDataResponse};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_cluster";

/// `meshfed_cluster`.
pub struct ClusterData;

fn schema() -> Schema {
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

#[tonic::async_trait]
impl DataSource for ClusterData {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, ctx: Option<&Ctx<'_>>, req: ReadDataRequest) -> ReadDataResponse {
        match read(ctx, &req.config) {
            Ok(state) => ReadDataResponse {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(diagnostics) => ReadDataResponse {
                state: Value::Null,
                diagnostics,
            },
        }
    }
}

fn read(ctx: Option<&Ctx<'_>>, config: &Value) -> Result<Value, Diagnostics> {
    let path = AttrPath::attr("name");
    let Field::Known(name) = values::string(config, "name") else {
        return Err(Diagnostics::from(
            crate::tfplugin::diag::Diagnostic::error(
                "Cluster name not known",
                "name must be known when the data source is read.",
            )
            .at(path),
        ));
    };
    let ctx = ctx.ok_or_else(|| not_configured().at(path.clone()))?;
    let mesh = ctx.mesh_facts(&name, path)?;
    Ok(Value::object([
        ("name", Value::string(&name)),
        ("trust_domain", Value::string(&mesh.trust_domain)),
        ("domain_suffix", Value::string(&mesh.domain_suffix)),
        ("istio_namespace", Value::string(&mesh.istio_namespace)),
        ("network", values::opt_string(&mesh.network)),
    ]))
}
