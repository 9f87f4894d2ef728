//! Resource `meshfed_exported_service`: exposes one service of one cluster to the federation
//! through the cluster's east-west gateway — a Gateway with one `AUTO_PASSTHROUGH` TLS server for
//! exactly the service's host, plus a DENY AuthorizationPolicy for unlisted callers of other trust
//! domains (with `allowed_principals`) and
//! an alias ServiceEntry (with `alias`); see [`crate::mesh::exported_service`].
//!
//! Its `export` is what a `meshfed_service_entry` in another cluster takes whole. The gateway's
//! addresses in it are configured, or read from the gateway's Service at apply (planning a create
//! makes no API call; planning an existing resource reads the Service again, so that a changed
//! load-balancer address shows as a diff here and in every consumer).
//! Import ID: `<cluster>/<namespace>/<service>`, or `<cluster>/<namespace>/<service>/<gateway
//! namespace>` when the gateway is not in the cluster's `istio_namespace`.
//!
//! Uses the shared modules of `resources`; must not import another resource or the provider.

mod address;
mod import;
mod input;
mod list;
mod state;
#[cfg(test)]
mod tests;

use self::address::Unavailable;
use self::input::ExportInput;
use self::state::StateInputs;
use crate::mesh::MeshFacts;
use crate::mesh::exported_service::{self as es, ExportSpec, GatewayEndpoint};
use crate::resources::context::Ctx;
use crate::resources::export::{endpoint_type, export_type, port_attributes};
use crate::resources::identity;
use crate::resources::lifecycle::still_unknown;
use crate::resources::objects::{Desired, Manifests, desired_map, error_diag, manifests_of};
use crate::resources::query::Candidate;
use crate::resources::resource::{Call, Outcome, Resource, Writes, Written};
use crate::resources::values;
use crate::resources::writes::Order;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::identity::IdentitySchema;
use crate::tfplugin::provider::{ApplyRequest, PlanRequest};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_exported_service";

/// `meshfed_exported_service`.
pub struct ExportedService;

/// What apply resolved: the checked configuration and the gateway endpoints.
pub struct Resolved {
    cluster: String,
    spec: ExportSpec,
    facts: MeshFacts,
    endpoints: Vec<GatewayEndpoint>,
}

#[tonic::async_trait]
impl Resource for ExportedService {
    const TYPE_NAME: &'static str = TYPE_NAME;
    type Change = Resolved;

    fn schema(&self) -> Schema {
        let port_attrs = port_attributes("The service's port number (1–65535).");
        let gateway_attrs = vec![
            Attribute::optional_computed("selector", Type::map(Type::String)).describe("Labels of the east-west gateway's pods. Default `{istio = \"eastwestgateway\"}`."),
            Attribute::optional_computed("namespace", Type::String).describe("Namespace of the east-west gateway, where the Gateway object goes. Default: the cluster's `istio_namespace`."),
            Attribute::optional_computed("port", Type::Number).describe("Gateway port for mutual-TLS passthrough (1–65535). Default `15443`."),
            Attribute::optional_computed("service", Type::String).describe("The gateway's Service (type LoadBalancer), whose `status.loadBalancer.ingress` gives the addresses when `addresses` is not set. Default `istio-eastwestgateway`."),
            Attribute::optional("addresses", Type::list(Type::String)).describe("IP addresses or DNS names where other clusters reach the gateway. Default: read from the gateway's Service at apply."),
        ];
        Schema::new(
            0,
            Block::new()
                .describe("Exposes one service of one cluster to the federation through the cluster's east-west gateway (mutual TLS passed through, `AUTO_PASSTHROUGH`), optionally only to given SPIFFE principals. Its `export` is what `meshfed_service_entry` accepts whole.")
                .attr(Attribute::computed("id", Type::String).describe("`<cluster>/<namespace>/<service>`; also the import ID."))
                .attr(Attribute::required("cluster", Type::String).describe("Cluster (a `cluster` label of the provider) the service runs in."))
                .attr(Attribute::required("namespace", Type::String).describe("Namespace of the service."))
                .attr(Attribute::required("service", Type::String).describe("Name of the Kubernetes Service to export."))
                .attr(Attribute::nested("ports", Nesting::List, port_attrs).with_required().describe("Ports of the service that other clusters use."))
                .attr(Attribute::optional_computed("service_account", Type::String).describe("Service account of the service's workloads: their SPIFFE identity. Default: the service name."))
                .attr(Attribute::nested("gateway", Nesting::Single, gateway_attrs).with_optional().with_computed().describe("The east-west gateway the service is exposed through."))
                .attr(Attribute::optional("alias", Type::String).describe("Another host name the service is reachable by through the gateway, e.g. `bar.global`; never a wildcard."))
                .attr(Attribute::optional("allowed_principals", Type::list(Type::String)).describe("SPIFFE principals (`<trust-domain>/ns/<namespace>/sa/<service-account>`) allowed to call the service's workloads. When set, a DENY AuthorizationPolicy refuses every other caller of another trust domain; callers of this cluster's own trust domain are not affected."))
                .attr(Attribute::optional_computed("workload_selector", Type::map(Type::String)).describe("Labels of the service's workloads, selected by the policy and the alias. Default `{app = <service>}`."))
                .attr(Attribute::computed("host", Type::String).describe("`<service>.<namespace>.svc.<domain_suffix>`."))
                .attr(Attribute::computed("subject_alt_names", Type::list(Type::String)).describe("`[\"spiffe://<trust_domain>/ns/<namespace>/sa/<service_account>\"]`."))
                .attr(Attribute::computed("gateway_endpoints", Type::list(endpoint_type())).describe("Where other clusters reach the service: each gateway address with the gateway port."))
                .attr(Attribute::computed("trust_domain", Type::String).describe("The cluster's SPIFFE trust domain."))
                .attr(Attribute::computed("network", Type::String).describe("The cluster's Istio network; null when none is set."))
                .attr(Attribute::computed("export", export_type()).describe("All of the above with the ports, as `meshfed_service_entry` accepts it: `export = meshfed_exported_service.<name>.export`."))
                .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML, keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.")),
        )
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        // Checks needing no provider configuration; the cluster and its facts come at plan.
        input::check(config, diags);
    }

    async fn plan(&self, call: Call<'_>, req: &PlanRequest) -> Option<Outcome> {
        let Call { ctx, diags } = call;
        let p = input::parse(ctx, &req.config, diags)?;
        warn_unused_selector(&req.config, diags);
        let (Some(spec), Some(facts)) = (&p.spec, &p.facts) else {
            return Some(Outcome::state(state::unknown_state(&req.config, &p)));
        };
        let endpoints = planned_endpoints(ctx, &p, spec, &req.prior_state, diags).await;
        let manifests = desired_map(&desired(&p.cluster, spec));
        Some(Outcome::state(state::state_of(&StateInputs {
            cluster: &p.cluster,
            spec,
            facts,
            ports: config_ports(&req.config),
            endpoints: endpoints.as_deref(),
            manifests: &manifests,
        })))
    }

    async fn prepare(&self, call: Call<'_>, req: &ApplyRequest) -> Option<(Resolved, Writes)> {
        let Call { ctx, diags } = call;
        let p = input::parse(ctx, &req.config, diags)?;
        let (Some(spec), Some(facts)) = (p.spec, p.facts) else {
            diags.push(still_unknown(
                "this exported service, or the cluster's mesh facts,",
            ));
            return None;
        };
        let endpoints = applied_endpoints(ctx, &p.cluster, &spec, &req.planned_state).await;
        let endpoints = endpoints.map_err(|d| diags.push(d)).ok()?;
        let objects = desired(&p.cluster, &spec);
        let prior = manifests_of(&req.prior_state);
        let free = check_gateway_name_free(ctx, &objects, &prior, &spec).await;
        free.map_err(|d| diags.push(d)).ok()?;
        let resolved = Resolved {
            cluster: p.cluster,
            spec,
            facts,
            endpoints,
        };
        let order = Order::Sequential;
        Some((resolved, Writes { objects, order }))
    }

    async fn finish(&self, _call: Call<'_>, req: &ApplyRequest, w: Written<Resolved>) -> Outcome {
        let (r, in_place) = (w.change, &w.in_place);
        Outcome::state(state::state_of(&StateInputs {
            cluster: &r.cluster,
            spec: &r.spec,
            facts: &r.facts,
            ports: config_ports(&req.config),
            endpoints: Some(&r.endpoints),
            manifests: in_place,
        }))
    }

    fn shapes(&self, ctx: &Ctx<'_>, state: &Value) -> Vec<Desired> {
        // The state has the configuration's shape: parsing it gives the shape of each object.
        let mut scratch = Diagnostics::new();
        let parsed = input::parse(ctx, state, &mut scratch);
        parsed
            .and_then(|p| Some(desired(&p.cluster, &p.spec?)))
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
}

/// The Gateway, and the policy and alias when configured, in the service's cluster.
fn desired(cluster: &str, spec: &ExportSpec) -> Vec<Desired> {
    Desired::all_in(cluster, es::render(spec))
}

/// `ports` as configured: Terraform requires it back verbatim.
fn config_ports(config: &Value) -> Value {
    config.get("ports").cloned().unwrap_or(Value::Null)
}

fn warn_unused_selector(config: &Value, diags: &mut Diagnostics) {
    let set = |a: &str| !config.get(a).is_none_or(Value::is_null);
    if set("workload_selector") && !set("allowed_principals") && !set("alias") {
        diags.push(Diagnostic::warning("workload_selector has no effect", "workload_selector picks the workloads of the policy (allowed_principals) and of the alias; with neither set, no object uses it.").at(AttrPath::attr("workload_selector")));
    }
}

/// The endpoints to plan: configured; unknown for a create (no API call); for an existing
/// resource in the same cluster, read from the gateway Service again.
async fn planned_endpoints(
    ctx: &Ctx<'_>,
    p: &ExportInput,
    spec: &ExportSpec,
    prior: &Value,
    diags: &mut Diagnostics,
) -> Option<Vec<GatewayEndpoint>> {
    if let Some(eps) = address::configured(spec) {
        return Some(eps);
    }
    let same_cluster = values::string(prior, "cluster").known().as_ref() == Some(&p.cluster);
    if prior.is_null() || !same_cluster || !ctx.clusters.contains(&p.cluster) {
        return None;
    }
    match address::from_service(ctx, &p.cluster, &spec.gateway).await {
        Ok(eps) => Some(eps),
        Err(Unavailable::NoAddress(summary, detail)) => {
            diags.push(Diagnostic::warning(
                summary,
                format!("{detail}\nThe gateway endpoints are planned as known after apply; apply fails until the Service has an address."),
            ));
            None
        }
        Err(Unavailable::Failed(d)) => {
            diags.push(d);
            None
        }
    }
}

/// The endpoints to record: configured, or as planned, or (planned unknown) read now.
async fn applied_endpoints(
    ctx: &Ctx<'_>,
    cluster: &str,
    spec: &ExportSpec,
    planned: &Value,
) -> Result<Vec<GatewayEndpoint>, Diagnostic> {
    if let Some(eps) = address::configured(spec).or_else(|| state::endpoints_of(planned)) {
        return Ok(eps);
    }
    address::from_service(ctx, cluster, &spec.gateway)
        .await
        .map_err(Unavailable::error)
}

/// Gateway names join namespace and service with `-`, so two exports (`a-b/c`, `a/b-c`) could
/// meet on one name: a Gateway this resource does not hold yet must be absent or already ours.
async fn check_gateway_name_free(
    ctx: &Ctx<'_>,
    want: &[Desired],
    prior: &Manifests,
    spec: &ExportSpec,
) -> Result<(), Diagnostic> {
    let Some(gw) = want.iter().find(|d| d.manifest.kind == "Gateway") else {
        return Ok(());
    };
    let key = gw.key();
    if prior.contains_key(&key) {
        return Ok(());
    }
    let live = ctx
        .clusters
        .get(&gw.cluster, &key.object)
        .await
        .map_err(|e| error_diag("Cannot read Gateway", &e))?;
    let Some(live) = live else {
        return Ok(());
    };
    let ours = format!("{}/{}", spec.namespace, spec.service);
    let owner = live["metadata"]["annotations"][es::EXPORTED_SERVICE_ANNOTATION].as_str();
    if owner == Some(ours.as_str()) {
        return Ok(());
    }
    let holder = owner.map_or("something other than meshfed".to_string(), |o| {
        format!("the export of {o}")
    });
    Err(Diagnostic::error(
        format!("Gateway name already taken in {}", gw.cluster),
        format!(
            "Gateway {}/{} exists in {} and belongs to {holder}, not to the export of {ours}; meshfed will not take it over. Delete or rename that Gateway, or import this export if it is the one.",
            gw.manifest.namespace, gw.manifest.name, gw.cluster,
        ),
    ))
}
