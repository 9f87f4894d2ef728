//! Resource `meshfed_exported_service`: exposes one service of one cluster to the federation
//! through the cluster's east-west gateway — a Gateway with one `AUTO_PASSTHROUGH` TLS server for
//! exactly the service's host, plus an ALLOW AuthorizationPolicy (with `allowed_principals`) and
//! an alias ServiceEntry (with `alias`); see [`crate::mesh::exported_service`].
//!
//! Its `export` is what a `meshfed_service_entry` in another cluster takes whole. The gateway's
//! addresses in it are configured, or read from the gateway's Service at apply (planning a create
//! makes no API call; planning an existing resource reads the Service again, so that a changed
//! load-balancer address shows as a diff here and in every consumer).
//! Import ID: `<cluster>/<namespace>/<service>`, or `<cluster>/<namespace>/<service>/<gateway
//! namespace>` when the gateway is not in the cluster's `istio_namespace`.

mod address;
mod config;
mod state;

use std::collections::BTreeMap;

use serde_json::Value as Json;

use self::address::Unavailable;
use self::config::Parsed;
use self::state::StateInputs;
use super::objects::{self, Desired};
use super::values;
use super::{Ctx, cluster_of};
use crate::k8s::K8sError;
use crate::k8s::object::ObjectRef;
use crate::k8s::project::project;
use crate::mesh::Protocol;
use crate::mesh::exported_service::{self as es, ExportSpec, GatewayEndpoint, LiveObjects};
use crate::mesh::service_entry::SERVICE_ENTRY_API;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics, cause_chain};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ImportRequest, ImportResponse, ImportedResource, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse,
};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_exported_service";

pub fn schema() -> Schema {
    let port_attrs = vec![
        Attribute::required("name", Type::String).describe("Port name, e.g. `http`."),
        Attribute::required("number", Type::Number)
            .describe("The service's port number (1–65535)."),
        Attribute::required("protocol", Type::String)
            .describe(&format!("Istio protocol: one of {}.", Protocol::names())),
    ];
    let gateway_attrs = vec![
        Attribute::optional_computed("selector", Type::map(Type::String)).describe("Labels of the east-west gateway's pods. Default `{istio = \"eastwestgateway\"}`."),
        Attribute::optional_computed("namespace", Type::String).describe("Namespace of the east-west gateway, where the Gateway object goes. Default: the cluster's `istio_namespace`."),
        Attribute::optional_computed("port", Type::Number).describe("Gateway port for mutual-TLS passthrough (1–65535). Default `15443`."),
        Attribute::optional_computed("service", Type::String).describe("The gateway's Service (type LoadBalancer), whose `status.loadBalancer.ingress` gives the addresses when `addresses` is not set. Default `istio-eastwestgateway`."),
        Attribute::optional("addresses", Type::list(Type::String)).describe("IP addresses or DNS names where other clusters reach the gateway. Default: read from the gateway's Service at apply."),
    ];
    let endpoint = Type::object([("address", Type::String), ("port", Type::Number)]);
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
            .attr(Attribute::optional("allowed_principals", Type::list(Type::String)).describe("SPIFFE principals (`<trust-domain>/ns/<namespace>/sa/<service-account>`) allowed to call the service's workloads. When set, an ALLOW AuthorizationPolicy denies every other caller — including callers in this cluster."))
            .attr(Attribute::optional_computed("workload_selector", Type::map(Type::String)).describe("Labels of the service's workloads, selected by the policy and the alias. Default `{app = <service>}`."))
            .attr(Attribute::computed("host", Type::String).describe("`<service>.<namespace>.svc.<domain_suffix>`."))
            .attr(Attribute::computed("subject_alt_names", Type::list(Type::String)).describe("`[\"spiffe://<trust_domain>/ns/<namespace>/sa/<service_account>\"]`."))
            .attr(Attribute::computed("gateway_endpoints", Type::list(endpoint)).describe("Where other clusters reach the service: each gateway address with the gateway port."))
            .attr(Attribute::computed("trust_domain", Type::String).describe("The cluster's SPIFFE trust domain."))
            .attr(Attribute::computed("network", Type::String).describe("The cluster's Istio network; null when none is set."))
            .attr(Attribute::computed("export", crate::resources::service_entry::export_type()).describe("All of the above with the ports, as `meshfed_service_entry` accepts it: `export = meshfed_exported_service.<name>.export`."))
            .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML, keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.")),
    )
}

fn desired(cluster: &str, spec: &ExportSpec) -> Vec<Desired> {
    es::render(spec)
        .into_iter()
        .map(|manifest| Desired {
            cluster: cluster.to_string(),
            manifest,
        })
        .collect()
}

fn config_ports(config: &Value) -> Value {
    config.get("ports").cloned().unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Operations

pub fn validate(config: &Value) -> Diagnostics {
    // Checks needing no provider configuration; the cluster and its facts come at plan.
    let mut diags = Diagnostics::new();
    config::check(config, &mut diags);
    diags
}

pub async fn plan(ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse {
    if req.proposed_new_state.is_null() {
        return PlanResponse {
            planned_state: Value::Null,
            ..PlanResponse::default()
        };
    }
    let mut diags = Diagnostics::new();
    let Some(p) = config::parse(ctx, &req.config, &mut diags) else {
        return PlanResponse {
            planned_state: req.proposed_new_state,
            diagnostics: diags,
            ..PlanResponse::default()
        };
    };
    warn_unused_selector(&req.config, &mut diags);
    let planned_state = match (&p.spec, &p.facts) {
        (Some(spec), Some(facts)) => {
            let endpoints = planned_endpoints(ctx, &p, spec, &req.prior_state, &mut diags).await;
            let manifests = objects::desired_map(&desired(&p.cluster, spec));
            state::state_of(&StateInputs {
                cluster: &p.cluster,
                spec,
                facts,
                ports: config_ports(&req.config),
                endpoints: endpoints.as_deref(),
                manifests: &manifests,
            })
        }
        _ => state::unknown_state(&req.config, &p),
    };
    PlanResponse {
        planned_state,
        diagnostics: diags,
        ..PlanResponse::default()
    }
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
    p: &Parsed,
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

pub async fn apply(ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
    if req.planned_state.is_null() {
        return destroy(ctx, req).await;
    }
    let fail = |prior: Value, diagnostics: Diagnostics| ApplyResponse {
        new_state: prior,
        diagnostics,
        ..ApplyResponse::default()
    };
    let mut diags = Diagnostics::new();
    let Some(p) = config::parse(ctx, &req.config, &mut diags) else {
        return fail(req.prior_state, diags);
    };
    let (Some(spec), Some(facts)) = (&p.spec, &p.facts) else {
        diags.push(Diagnostic::error("Configuration still unknown at apply", "Some inputs of this exported service, or the cluster's mesh facts, are still unknown during apply; this is a bug in the configuration's dependencies."));
        return fail(req.prior_state, diags);
    };
    let endpoints = match applied_endpoints(ctx, &p.cluster, spec, &req.planned_state).await {
        Ok(eps) => eps,
        Err(d) => return fail(req.prior_state, d.into()),
    };
    let want = desired(&p.cluster, spec);
    let prior = objects::manifests_of(&req.prior_state);
    if let Err(d) = check_gateway_name_free(ctx, &want, &prior, spec).await {
        return fail(req.prior_state, d.into());
    }
    let (in_place, d) = objects::converge(ctx.clusters, &want, &prior).await;
    diags.extend(d);
    let new_state = state::state_of(&StateInputs {
        cluster: &p.cluster,
        spec,
        facts,
        ports: config_ports(&req.config),
        endpoints: Some(&endpoints),
        manifests: &in_place,
    });
    ApplyResponse {
        new_state,
        diagnostics: diags,
        ..ApplyResponse::default()
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
    prior: &BTreeMap<String, String>,
    spec: &ExportSpec,
) -> Result<(), Diagnostic> {
    let Some(gw) = want.iter().find(|d| d.manifest.kind == "Gateway") else {
        return Ok(());
    };
    if prior.contains_key(&gw.key()) {
        return Ok(());
    }
    let live = ctx
        .clusters
        .get(&gw.cluster, &gw.object_ref())
        .await
        .map_err(|e| read_error("Cannot read Gateway", &e))?;
    let Some(live) = live else {
        return Ok(());
    };
    let ours = format!("{}/{}", spec.namespace, spec.service);
    let owner = live["metadata"]["annotations"][es::EXPORTED_SERVICE_ANNOTATION].as_str();
    if owner == Some(ours.as_str()) {
        return Ok(());
    }
    Err(Diagnostic::error(
        format!("Gateway name already taken in {}", gw.cluster),
        format!(
            "Gateway {}/{} exists in {} and belongs to {}, not to the export of {ours}; meshfed will not take it over. Delete or rename that Gateway, or import this export if it is the one.",
            gw.manifest.namespace,
            gw.manifest.name,
            gw.cluster,
            owner.map_or("something other than meshfed".to_string(), |o| format!(
                "the export of {o}"
            )),
        ),
    ))
}

/// [`objects::error_diag`], saying Istio's absence plainly also for a kind the server does not
/// serve: that error carries no request, so `error_diag` cannot see its API group.
fn read_error(summary: &str, e: &K8sError) -> Diagnostic {
    if let K8sError::MissingKind {
        cluster,
        api_version,
        kind,
    } = e
        && api_version.contains("istio.io")
    {
        return Diagnostic::error(
            format!("Istio is not installed in {cluster}"),
            format!(
                "The API server of {cluster} does not serve {api_version} {kind}: Istio's CRDs are missing. Install Istio (1.22 or later) in that cluster, then apply again.\n\n{}",
                cause_chain(e)
            ),
        );
    }
    objects::error_diag(summary, e)
}

async fn destroy(ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
    let prior = objects::manifests_of(&req.prior_state);
    let keys: Vec<String> = prior.keys().cloned().collect();
    let (gone, diags) = objects::delete_keys(ctx.clusters, &keys).await;
    if !diags.has_errors() {
        return ApplyResponse {
            new_state: Value::Null,
            ..ApplyResponse::default()
        };
    }
    let mut left = prior;
    for k in gone {
        left.remove(&k);
    }
    let mut state = req.prior_state;
    if let Value::Object(m) = &mut state {
        m.insert("manifests".into(), objects::manifests_value(&left));
    }
    ApplyResponse {
        new_state: state,
        diagnostics: diags,
        ..ApplyResponse::default()
    }
}

pub async fn read(ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse {
    // The state has the configuration's shape: parsing it gives the shape of each object.
    let mut scratch = Diagnostics::new();
    let want = config::parse(ctx, &req.current_state, &mut scratch)
        .and_then(|p| p.spec.map(|s| desired(&p.cluster, &s)))
        .unwrap_or_default();
    objects::refresh_state(ctx.clusters, &want, req).await
}

pub async fn import(ctx: &Ctx<'_>, req: ImportRequest) -> ImportResponse {
    match import_state(ctx, &req.id).await {
        Ok(state) => ImportResponse {
            imported: vec![ImportedResource {
                type_name: TYPE_NAME.into(),
                state,
                private: vec![],
            }],
            diagnostics: Diagnostics::new(),
        },
        Err(d) => ImportResponse {
            diagnostics: d.into(),
            ..ImportResponse::default()
        },
    }
}

async fn get_live(
    ctx: &Ctx<'_>,
    cluster: &str,
    obj: ObjectRef,
) -> Result<Option<Json>, Diagnostic> {
    ctx.clusters
        .get(cluster, &obj)
        .await
        .map_err(|e| read_error(&format!("Cannot read {}", obj.kind), &e))
}

/// `<cluster>/<namespace>/<service>[/<gateway namespace>]`.
fn parse_import_id(id: &str) -> Result<(&str, &str, &str, Option<&str>), Diagnostic> {
    match id.split('/').collect::<Vec<_>>().as_slice() {
        [c, n, s] => Ok((c, n, s, None)),
        [c, n, s, g] => Ok((c, n, s, Some(g))),
        _ => Err(Diagnostic::error(
            "Invalid import ID",
            format!(
                "Expected <cluster>/<namespace>/<service> (or <cluster>/<namespace>/<service>/<gateway namespace>), e.g. cluster-b.local/xyz/bar; got {id:?}."
            ),
        )),
    }
}

/// The manifests of the desired objects found live, each showing only meshfed's fields.
fn live_manifests(want: &[Desired], found: &[Option<&Json>]) -> BTreeMap<String, String> {
    let mut manifests = BTreeMap::new();
    for d in want {
        let live = found.iter().flatten().find(|o| {
            o["kind"] == d.manifest.kind.as_str()
                && o["metadata"]["namespace"] == d.manifest.namespace.as_str()
        });
        if let Some(live) = live {
            let shape = &d.manifest.object;
            let shown = objects::order_like(&project(live, shape), shape);
            manifests.insert(d.key(), objects::display_yaml(&shown));
        }
    }
    manifests
}

async fn import_state(ctx: &Ctx<'_>, id: &str) -> Result<Value, Diagnostic> {
    let (cluster, namespace, service, gateway_ns) = parse_import_id(id)?;
    let facts = cluster_of(ctx, cluster, AttrPath::root())?
        .mesh
        .known()
        .cloned()
        .ok_or_else(|| Diagnostic::error(
            format!("Mesh facts of {cluster:?} are not known yet"),
            "Its trust_domain, domain_suffix or istio_namespace depends on a value known only after apply; apply that first.",
        ))?;
    let gw_ns = gateway_ns.unwrap_or(&facts.istio_namespace);
    let get =
        |api, kind, ns, name| get_live(ctx, cluster, ObjectRef::namespaced(api, kind, ns, name));
    let gw_name = es::gateway_name(namespace, service);
    let Some(gateway) = get(es::GATEWAY_API, "Gateway", gw_ns, &gw_name).await? else {
        return Err(Diagnostic::error(
            "Cannot import: Gateway not found",
            format!(
                "{cluster} has no Gateway {gw_ns}/{gw_name}. If the export's gateway is in another namespace, import with {cluster}/{namespace}/{service}/<gateway namespace>."
            ),
        ));
    };
    let local = es::local_name(service);
    let policy = get(
        es::AUTHORIZATION_POLICY_API,
        "AuthorizationPolicy",
        namespace,
        &local,
    )
    .await?;
    let alias_se = get(SERVICE_ENTRY_API, "ServiceEntry", namespace, &local).await?;
    let live = LiveObjects {
        gateway: &gateway,
        policy: policy.as_ref(),
        alias_service_entry: alias_se.as_ref(),
    };
    let spec = es::spec_from_objects(namespace, service, &facts.domain_suffix, &live)
        .map_err(|why| {
            Diagnostic::error(
                "Cannot import: not an export meshfed made",
                format!("Gateway {gw_ns}/{gw_name} in {cluster} cannot be read back as the export of {namespace}/{service}: {why}."),
            )
        })?;
    let endpoints = match address::configured(&spec) {
        Some(eps) => eps,
        None => address::from_service(ctx, cluster, &spec.gateway)
            .await
            .map_err(Unavailable::error)?,
    };
    let found = [Some(&gateway), policy.as_ref(), alias_se.as_ref()];
    let manifests = live_manifests(&desired(cluster, &spec), &found);
    Ok(state::state_of(&StateInputs {
        cluster,
        spec: &spec,
        facts: &facts,
        ports: state::ports_value(&spec.ports),
        endpoints: Some(&endpoints),
        manifests: &manifests,
    }))
}

#[cfg(test)]
mod tests;
