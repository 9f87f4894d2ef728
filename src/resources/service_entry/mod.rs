//! Resource `meshfed_service_entry`: imports a remote service into one cluster as a ServiceEntry
//! (endpoints: the remote east-west gateways) and an `ISTIO_MUTUAL` DestinationRule.
//!
//! Inputs come either whole from a `meshfed_exported_service`'s `export`, or as `host`, `ports`,
//! `endpoints` and `subject_alt_names`. Whichever is given, the state holds both forms (the other
//! derived), so that an import — which can only see the objects — plans empty either way.
//! Import ID: `<cluster>/<namespace>/<name>`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

mod input;

pub(crate) use input::parse_ports;
use input::{Parsed, from_explicit, parse};

use super::objects::{self, Desired};
use super::values::{self, Field};
use super::{Ctx, cluster_of};
use crate::k8s::names::check_dns_label;
use crate::k8s::object::ObjectRef;
use crate::mesh::Protocol;
use crate::mesh::service_entry::{self as se, Endpoint, Port, ServiceEntrySpec};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ImportRequest, ImportResponse, ImportedResource, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse,
};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_service_entry";
/// The gateway port remote services are reached on unless an endpoint says otherwise.
pub const DEFAULT_GATEWAY_PORT: i64 = 15443;

/// The type of `meshfed_exported_service.export`, accepted whole here.
pub fn export_type() -> Type {
    Type::object([
        ("host", Type::String),
        ("ports", Type::list(port_type())),
        (
            "gateway_endpoints",
            Type::list(Type::object([
                ("address", Type::String),
                ("port", Type::Number),
            ])),
        ),
        ("subject_alt_names", Type::list(Type::String)),
        ("trust_domain", Type::String),
        ("network", Type::String),
    ])
}

fn port_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("number", Type::Number),
        ("protocol", Type::String),
    ])
}

pub fn schema() -> Schema {
    let port_attrs = vec![
        Attribute::required("name", Type::String).describe("Port name, e.g. `http`."),
        Attribute::required("number", Type::Number)
            .describe("The remote service's port number (1–65535)."),
        Attribute::required("protocol", Type::String)
            .describe(&format!("Istio protocol: one of {}.", Protocol::names())),
    ];
    let endpoint_attrs = vec![
        Attribute::required("address", Type::String)
            .describe("IP address or DNS name of a remote east-west gateway."),
        Attribute::optional_computed("port", Type::Number)
            .describe("Gateway port. Default `15443`."),
        Attribute::optional("locality", Type::String)
            .describe("Locality of the endpoint, `region/zone/subzone`."),
        Attribute::optional("network", Type::String).describe("Istio network of the endpoint."),
    ];
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
            .attr(Attribute::nested("ports", Nesting::List, port_attrs).with_optional().with_computed().describe("Ports of the remote service."))
            .attr(Attribute::nested("endpoints", Nesting::List, endpoint_attrs).with_optional().with_computed().describe("Where the remote service is reached: its cluster's east-west gateway(s). At least one."))
            .attr(Attribute::optional_computed("subject_alt_names", Type::list(Type::String)).describe("SPIFFE identities the remote workloads present, e.g. `spiffe://cluster-b.local/ns/xyz/sa/bar`."))
            .attr(Attribute::optional("addresses", Type::list(Type::String)).describe("VIPs (IPs or CIDRs) of the host in this cluster. Required when a port is TCP, TLS, MONGO, MYSQL or REDIS."))
            .attr(Attribute::optional_computed("export_to", Type::list(Type::String)).describe("Namespaces the objects are visible to. Default `[\".\"]` (this namespace only)."))
            .attr(Attribute::optional("sni", Type::String).describe("SNI to send instead of Istio's default `outbound_.<port>_._.<host>`."))
            .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML, keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.")),
    )
}

// ---------------------------------------------------------------------------------------------
// State

fn ports_value(ports: &[Port]) -> Value {
    Value::List(
        ports
            .iter()
            .map(|p| {
                Value::object([
                    ("name", Value::string(&p.name)),
                    ("number", Value::int(i64::from(p.number))),
                    ("protocol", Value::string(p.protocol.as_str())),
                ])
            })
            .collect(),
    )
}

fn endpoints_value(eps: &[Endpoint]) -> Value {
    Value::List(
        eps.iter()
            .map(|e| {
                Value::object([
                    ("address", Value::string(&e.address)),
                    ("port", Value::int(i64::from(e.port))),
                    ("locality", values::opt_string(&e.locality)),
                    ("network", values::opt_string(&e.network)),
                ])
            })
            .collect(),
    )
}

/// The export a spec corresponds to (trust domain from the first SPIFFE identity, network from
/// the first endpoint).
fn derived_export(spec: &ServiceEntrySpec) -> Value {
    let trust_domain = spec.subject_alt_names.iter().find_map(|s| {
        s.strip_prefix("spiffe://")
            .and_then(|r| r.split('/').next())
            .map(str::to_string)
    });
    let network = spec.endpoints.iter().find_map(|e| e.network.clone());
    Value::object([
        ("host", Value::string(&spec.host)),
        ("ports", ports_value(&spec.ports)),
        (
            "gateway_endpoints",
            Value::List(
                spec.endpoints
                    .iter()
                    .map(|e| {
                        Value::object([
                            ("address", Value::string(&e.address)),
                            ("port", Value::int(i64::from(e.port))),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "subject_alt_names",
            values::string_list(&spec.subject_alt_names),
        ),
        ("trust_domain", values::opt_string(&trust_domain)),
        ("network", values::opt_string(&network)),
    ])
}

fn desired(cluster: &str, spec: &ServiceEntrySpec) -> Vec<Desired> {
    se::render(spec)
        .into_iter()
        .map(|manifest| Desired {
            cluster: cluster.to_string(),
            manifest,
        })
        .collect()
}

/// The full state for a spec, with `manifests` as given.
fn state_of(
    cluster: &str,
    spec: &ServiceEntrySpec,
    export: Option<Value>,
    addresses_configured: bool,
    manifests: &BTreeMap<String, String>,
) -> Value {
    Value::object([
        (
            "id",
            Value::string(format!("{cluster}/{}/{}", spec.namespace, spec.name)),
        ),
        ("cluster", Value::string(cluster)),
        ("namespace", Value::string(&spec.namespace)),
        ("name", Value::string(&spec.name)),
        ("export", export.unwrap_or_else(|| derived_export(spec))),
        ("host", Value::string(&spec.host)),
        ("ports", ports_value(&spec.ports)),
        ("endpoints", endpoints_value(&spec.endpoints)),
        (
            "subject_alt_names",
            values::string_list(&spec.subject_alt_names),
        ),
        (
            "addresses",
            if addresses_configured || !spec.addresses.is_empty() {
                values::string_list(&spec.addresses)
            } else {
                Value::Null
            },
        ),
        ("export_to", values::string_list(&spec.export_to)),
        ("sni", values::opt_string(&spec.sni)),
        ("manifests", objects::manifests_value(manifests)),
    ])
}

/// A planned state whose objects are not known yet: what is known is kept, the rest unknown.
fn unknown_state(config: &Value, p: &Parsed) -> Value {
    let keep = |name: &str| match config.get(name) {
        Some(Value::Null) | None => Value::unknown(),
        Some(v) => v.clone(),
    };
    let name = match &p.name {
        Field::Known(n) => Value::string(n),
        _ => Value::unknown(),
    };
    let id = match &p.name {
        Field::Known(n) => Value::string(format!("{}/{}/{n}", p.cluster, p.namespace)),
        _ => Value::unknown(),
    };
    Value::object([
        ("id", id),
        ("cluster", Value::string(&p.cluster)),
        ("namespace", Value::string(&p.namespace)),
        ("name", name),
        ("export", keep("export")),
        ("host", keep("host")),
        ("ports", keep("ports")),
        ("endpoints", keep("endpoints")),
        ("subject_alt_names", keep("subject_alt_names")),
        (
            "addresses",
            config.get("addresses").cloned().unwrap_or(Value::Null),
        ),
        ("export_to", keep("export_to")),
        ("sni", config.get("sni").cloned().unwrap_or(Value::Null)),
        ("manifests", Value::unknown()),
    ])
}

// ---------------------------------------------------------------------------------------------
// Operations

pub fn validate(config: &Value) -> Diagnostics {
    // Checks needing no provider configuration; the rest happens at plan.
    let mut diags = Diagnostics::new();
    if let Field::Known(n) = values::string(config, "namespace")
        && let Err(e) = check_dns_label(&n)
    {
        diags.error_at(
            AttrPath::attr("namespace"),
            "Invalid namespace",
            format!("namespace {n:?} {e}."),
        );
    }
    diags
}

pub fn plan(ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse {
    if req.proposed_new_state.is_null() {
        return PlanResponse {
            planned_state: Value::Null,
            ..PlanResponse::default()
        };
    }
    let mut diags = Diagnostics::new();
    let Some(p) = parse(ctx, &req.config, &mut diags) else {
        return PlanResponse {
            planned_state: req.proposed_new_state,
            diagnostics: diags,
            ..PlanResponse::default()
        };
    };
    let planned_state = match &p.spec {
        Some(spec) => {
            let addresses_configured = !req.config.get("addresses").is_none_or(Value::is_null);
            state_of(
                &p.cluster,
                spec,
                p.export.clone(),
                addresses_configured,
                &objects::desired_map(&desired(&p.cluster, spec)),
            )
        }
        None => unknown_state(&req.config, &p),
    };
    PlanResponse {
        planned_state,
        diagnostics: diags,
        ..PlanResponse::default()
    }
}

pub async fn apply(ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
    let prior = objects::manifests_of(&req.prior_state);
    if req.planned_state.is_null() {
        let keys: Vec<String> = prior.keys().cloned().collect();
        let (gone, diags) = objects::delete_keys(ctx.clusters, &keys).await;
        if diags.has_errors() {
            let mut left = prior.clone();
            for k in gone {
                left.remove(&k);
            }
            let mut state = req.prior_state.clone();
            if let Value::Object(m) = &mut state {
                m.insert("manifests".into(), objects::manifests_value(&left));
            }
            return ApplyResponse {
                new_state: state,
                diagnostics: diags,
                ..ApplyResponse::default()
            };
        }
        return ApplyResponse {
            new_state: Value::Null,
            ..ApplyResponse::default()
        };
    }
    let mut diags = Diagnostics::new();
    let Some(p) = parse(ctx, &req.config, &mut diags) else {
        return ApplyResponse {
            new_state: req.prior_state,
            diagnostics: diags,
            ..ApplyResponse::default()
        };
    };
    let Some(spec) = p.spec.clone() else {
        diags.push(Diagnostic::error("Configuration still unknown at apply", "Some inputs of this service entry are still unknown during apply; this is a bug in the configuration's dependencies."));
        return ApplyResponse {
            new_state: req.prior_state,
            diagnostics: diags,
            ..ApplyResponse::default()
        };
    };
    let want = desired(&p.cluster, &spec);
    let (in_place, d) = objects::converge(ctx.clusters, &want, &prior).await;
    diags.extend(d);
    let addresses_configured = !req.config.get("addresses").is_none_or(Value::is_null);
    let new_state = state_of(&p.cluster, &spec, p.export, addresses_configured, &in_place);
    ApplyResponse {
        new_state,
        diagnostics: diags,
        ..ApplyResponse::default()
    }
}

/// The spec a state was made from, to re-render the shape of its objects.
fn spec_of_state(state: &Value) -> Option<(String, ServiceEntrySpec)> {
    let cluster = values::string(state, "cluster").known()?;
    let mut scratch = Diagnostics::new();
    let inputs = from_explicit(state, &mut scratch)?;
    Some((
        cluster,
        ServiceEntrySpec {
            name: values::string(state, "name").known()?,
            namespace: values::string(state, "namespace").known()?,
            host: inputs.host,
            addresses: values::strings(state, "addresses")
                .known()
                .unwrap_or_default(),
            ports: inputs.ports,
            endpoints: inputs.endpoints,
            subject_alt_names: inputs.subject_alt_names,
            export_to: values::strings(state, "export_to")
                .known()
                .unwrap_or_else(|| vec![".".into()]),
            sni: values::string(state, "sni").known(),
        },
    ))
}

pub async fn read(ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse {
    let want = spec_of_state(&req.current_state)
        .map(|(c, s)| desired(&c, &s))
        .unwrap_or_default();
    objects::refresh_state(ctx.clusters, &want, req).await
}

pub async fn import(ctx: &Ctx<'_>, req: ImportRequest) -> ImportResponse {
    let err = |d: Diagnostic| ImportResponse {
        diagnostics: d.into(),
        ..ImportResponse::default()
    };
    let parts: Vec<&str> = req.id.split('/').collect();
    let [cluster, namespace, name] = parts.as_slice() else {
        return err(Diagnostic::error(
            "Invalid import ID",
            format!(
                "Expected <cluster>/<namespace>/<name>, e.g. cluster-a.local/abc/bar-xyz-svc-cluster-b-local; got {:?}.",
                req.id
            ),
        ));
    };
    if let Err(d) = cluster_of(ctx, cluster, AttrPath::root()) {
        return err(d);
    }
    let se_ref = ObjectRef::namespaced(se::SERVICE_ENTRY_API, "ServiceEntry", namespace, name);
    let dr_ref =
        ObjectRef::namespaced(se::DESTINATION_RULE_API, "DestinationRule", namespace, name);
    let live_se = match ctx.clusters.get(cluster, &se_ref).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return err(Diagnostic::error(
                "Cannot import: ServiceEntry not found",
                format!("{cluster} has no ServiceEntry {namespace}/{name}."),
            ));
        }
        Err(e) => return err(objects::error_diag("Cannot read ServiceEntry", &e)),
    };
    let live_dr = match ctx.clusters.get(cluster, &dr_ref).await {
        Ok(v) => v,
        Err(e) => return err(objects::error_diag("Cannot read DestinationRule", &e)),
    };
    let Some(spec) = spec_from_live(namespace, name, &live_se, live_dr.as_ref()) else {
        return err(Diagnostic::error(
            "Cannot import: not a service entry meshfed can manage",
            format!(
                "ServiceEntry {namespace}/{name} in {cluster} lacks hosts, ports or endpoints."
            ),
        ));
    };
    let want = desired(cluster, &spec);
    let mut manifests = BTreeMap::new();
    for (d, live) in want.iter().zip([Some(live_se), live_dr]) {
        if let Some(live) = live {
            manifests.insert(
                d.key(),
                objects::display_yaml(&crate::k8s::project::project(&live, &d.manifest.object)),
            );
        }
    }
    let state = state_of(cluster, &spec, None, !spec.addresses.is_empty(), &manifests);
    ImportResponse {
        imported: vec![ImportedResource {
            type_name: TYPE_NAME.into(),
            state,
            private: vec![],
        }],
        diagnostics: Diagnostics::new(),
    }
}

/// Reconstructs the inputs from live objects.
fn spec_from_live(
    namespace: &str,
    name: &str,
    se_obj: &Json,
    dr: Option<&Json>,
) -> Option<ServiceEntrySpec> {
    let spec = &se_obj["spec"];
    let strs = |v: &Json| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let host = spec["hosts"].as_array()?.first()?.as_str()?.to_string();
    let ports: Vec<Port> = spec["ports"]
        .as_array()?
        .iter()
        .map(|p| {
            Some(Port {
                name: p["name"].as_str()?.to_string(),
                number: u16::try_from(p["number"].as_u64()?).ok()?,
                protocol: Protocol::parse(p["protocol"].as_str()?)?,
            })
        })
        .collect::<Option<_>>()?;
    let first_port = ports.first()?.name.clone();
    let endpoints: Vec<Endpoint> = spec["endpoints"]
        .as_array()?
        .iter()
        .map(|e| {
            Some(Endpoint {
                address: e["address"].as_str()?.to_string(),
                port: e["ports"][&first_port]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(DEFAULT_GATEWAY_PORT as u16),
                locality: e["locality"].as_str().map(str::to_string),
                network: e["network"].as_str().map(str::to_string),
            })
        })
        .collect::<Option<_>>()?;
    let export_to = strs(&spec["exportTo"]);
    Some(ServiceEntrySpec {
        name: name.to_string(),
        namespace: namespace.to_string(),
        host,
        addresses: strs(&spec["addresses"]),
        ports,
        endpoints,
        subject_alt_names: strs(&spec["subjectAltNames"]),
        export_to: if export_to.is_empty() {
            vec![".".into()]
        } else {
            export_to
        },
        sni: dr.and_then(|d| {
            d["spec"]["trafficPolicy"]["tls"]["sni"]
                .as_str()
                .map(str::to_string)
        }),
    })
}
