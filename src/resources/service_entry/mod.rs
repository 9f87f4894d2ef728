//! Resource `meshfed_service_entry`: imports a remote service into one cluster as a ServiceEntry
//! (endpoints: the remote east-west gateways) and an `ISTIO_MUTUAL` DestinationRule; see
//! [`crate::mesh::service_entry`].
//!
//! Inputs come either whole from a `meshfed_exported_service`'s `export`, or as `host`, `ports`,
//! `endpoints` and `subject_alt_names`. Import ID: `<cluster>/<namespace>/<name>`.
//!
//! - [`input`]: configuration → checked spec; [`state`]: spec → state; [`import`](mod@import).
//!
//! Uses the shared modules of `resources`; must not import another resource or the provider.

mod import;
mod input;
mod list;
mod state;
#[cfg(test)]
mod tests;

use self::input::{KnownEntry, parse};
use self::state::{spec_of_state, state_of, unknown_state};
use crate::mesh::service_entry as se;
use crate::resources::context::Ctx;
use crate::resources::export::{export_type, port_attributes};
use crate::resources::identity;
use crate::resources::lifecycle::still_unknown;
use crate::resources::objects::{Desired, desired_map};
use crate::resources::query::Candidate;
use crate::resources::resource::{Call, Outcome, Resource, Writes, Written};
use crate::resources::writes::Order;
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::identity::IdentitySchema;
use crate::tfplugin::provider::{ApplyRequest, PlanRequest};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema, config_of_state};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_service_entry";

/// `meshfed_service_entry`.
pub struct ServiceEntry;

#[tonic::async_trait]
impl Resource for ServiceEntry {
    const TYPE_NAME: &'static str = TYPE_NAME;
    type Change = KnownEntry;

    fn schema(&self) -> Schema {
        let endpoint_attrs = vec![
            Attribute::required("address", Type::String)
                .describe("IP address or DNS name of a remote east-west gateway."),
            Attribute::optional_computed("port", Type::Number)
                .describe("Gateway port. Default `15443`."),
            Attribute::optional("locality", Type::String)
                .describe("Locality of the endpoint, `region/zone/subzone`."),
            Attribute::optional("network", Type::String).describe("Istio network of the endpoint."),
        ];
        let ports = port_attributes("The remote service's port number (1–65535).");
        Schema::new(
            0,
            Block::new()
                .describe("Imports a remote service into one cluster: a ServiceEntry whose endpoints are the remote cluster's east-west gateway(s), and a DestinationRule with `ISTIO_MUTUAL` TLS to it.")
                .attr(Attribute::computed("id", Type::String).describe("`<cluster>/<namespace>/<name>`; also the import ID."))
                .attr(Attribute::required("cluster", Type::String).describe("Cluster (a `cluster` label of the provider) to create the objects in."))
                .attr(Attribute::required("namespace", Type::String).describe("Namespace of the ServiceEntry and DestinationRule."))
                .attr(Attribute::optional_computed("name", Type::String).describe("Name of both objects. Default: derived from the host, e.g. `bar-xyz-svc-cluster-b-local`."))
                .attr(Attribute::optional_computed("export", export_type()).describe("The `export` of a `meshfed_exported_service`, accepted whole. Conflicts with `host`, `ports`, `endpoints` and `subject_alt_names`; when they are set instead, this is derived from them."))
                .attr(Attribute::optional_computed("host", Type::String).describe("Host of the remote service, e.g. `bar.xyz.svc.cluster-b.local`."))
                .attr(Attribute::nested("ports", Nesting::List, ports).with_optional().with_computed().describe("Ports of the remote service."))
                .attr(Attribute::nested("endpoints", Nesting::List, endpoint_attrs).with_optional().with_computed().describe("Where the remote service is reached: its cluster's east-west gateway(s). At least one."))
                .attr(Attribute::optional_computed("subject_alt_names", Type::list(Type::String)).describe("SPIFFE identities the remote workloads present, e.g. `spiffe://cluster-b.local/ns/xyz/sa/bar`."))
                .attr(Attribute::optional("addresses", Type::list(Type::String)).describe("VIPs (IPs or CIDRs) of the host in this cluster. Required when a port is TCP, TLS, MONGO, MYSQL or REDIS."))
                .attr(Attribute::optional_computed("export_to", Type::list(Type::String)).describe("Namespaces the objects are visible to. Default `[\".\"]` (this namespace only)."))
                .attr(Attribute::optional("sni", Type::String).describe("SNI to send instead of Istio's default `outbound_.<port>_._.<host>`."))
                .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML, keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.")),
        )
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        // The rest needs the provider configuration and happens at plan.
        input::check_namespace(config, diags);
    }

    async fn plan(&self, call: Call<'_>, req: &PlanRequest) -> Option<Outcome> {
        let Call { ctx, diags } = call;
        let p = parse(ctx, &req.config, diags)?;
        if p.spec.is_none() {
            return Some(Outcome::state(unknown_state(&req.config, &p)));
        }
        let known = p.known()?;
        let manifests = desired_map(&desired(&known.cluster, &known.spec));
        let state = state_of(&known, &manifests);
        Some(Outcome::state(state))
    }

    async fn prepare(&self, call: Call<'_>, req: &ApplyRequest) -> Option<(KnownEntry, Writes)> {
        let Call { ctx, diags } = call;
        let Some(known) = parse(ctx, &req.config, diags)?.known() else {
            diags.push(still_unknown("this service entry"));
            return None;
        };
        let writes = Writes {
            objects: desired(&known.cluster, &known.spec),
            order: Order::Concurrent,
        };
        Some((known, writes))
    }

    async fn finish(
        &self,
        _call: Call<'_>,
        _req: &ApplyRequest,
        w: Written<KnownEntry>,
    ) -> Outcome {
        let (known, in_place) = (w.change, &w.in_place);
        Outcome::state(state_of(&known, in_place))
    }

    fn shapes(&self, _ctx: &Ctx<'_>, state: &Value) -> Vec<Desired> {
        spec_of_state(state)
            .map(|(cluster, spec)| desired(&cluster, &spec))
            .unwrap_or_default()
    }

    async fn import(&self, ctx: &Ctx<'_>, id: &str) -> Result<Outcome, Diagnostics> {
        let state = import::import(ctx, id).await?;
        Ok(Outcome::state(state))
    }

    fn identity_schema(&self) -> IdentitySchema {
        import::identity_schema()
    }

    fn identity(&self, state: &Value) -> Value {
        identity::from_paths(state, &import::IDENTITY)
    }

    fn import_id(&self, identity: &Value) -> Result<String, String> {
        identity::slash_id(identity, &import::IDENTITY.map(|(name, _)| name))
    }

    fn list_schema(&self) -> Schema {
        list::schema()
    }

    async fn discover(
        &self,
        ctx: &Ctx<'_>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Vec<Candidate> {
        list::discover(ctx, config, diags).await
    }

    /// The state without what configuration cannot set, and without `export`: its host, ports,
    /// endpoints and names are written out instead (the two ways conflict).
    fn generate_config(&self, state: &Value) -> Value {
        let mut config = config_of_state(state.clone(), &self.schema().block);
        if let Value::Object(m) = &mut config {
            m.insert("export".into(), Value::Null);
        }
        config
    }
}

/// The ServiceEntry and the DestinationRule, in the consuming cluster.
fn desired(cluster: &str, spec: &se::ServiceEntrySpec) -> Vec<Desired> {
    Desired::all_in(cluster, se::render(spec))
}
