//! The Terraform state of a `meshfed_exported_service`: every attribute from a spec, the
//! cluster's mesh facts and the gateway endpoints; or, while something is known only at apply,
//! what is known with the rest unknown.
//!
//! `export` has exactly the type `meshfed_service_entry` accepts ([`Export`]) and exactly
//! the value that resource derives when it imports the objects it made from it: protocols in
//! Istio's spelling, `trust_domain` that of the first SPIFFE identity, `network` that of the
//! endpoints (null when the cluster has none). So passing `export` on, and importing either
//! resource, plans empty.

use super::input::ExportInput;
use crate::mesh::MeshFacts;
use crate::mesh::exported_service::{self as es, ExportSpec, GatewayEndpoint};
use crate::mesh::service_entry::Port;
use crate::resources::export::{Export, endpoints_value};
use crate::resources::objects::{Manifests, manifests_value};
use crate::resources::values;
use crate::tfplugin::value::Value;

/// What the state is made of, beyond the spec.
pub(super) struct StateInputs<'a> {
    pub cluster: &'a str,
    pub spec: &'a ExportSpec,
    pub facts: &'a MeshFacts,
    /// `ports` as configured (Terraform requires it back verbatim), or as imported.
    pub ports: Value,
    /// `None`: not known until apply.
    pub endpoints: Option<&'a [GatewayEndpoint]>,
    pub manifests: &'a Manifests,
}

/// `<cluster>/<namespace>/<service>`: the resource's ID and import ID.
pub(super) fn id(cluster: &str, namespace: &str, service: &str) -> String {
    format!("{cluster}/{namespace}/{service}")
}

/// The full state.
pub(super) fn state_of(s: &StateInputs<'_>) -> Value {
    let spec = s.spec;
    let host = es::host(&spec.service, &spec.namespace, &spec.domain_suffix);
    let sans = vec![es::subject_alt_name(
        &s.facts.trust_domain,
        &spec.namespace,
        &spec.service_account,
    )];
    let (endpoints, export) = match s.endpoints {
        Some(eps) => (
            endpoints_value(eps),
            export_value(&host, &spec.ports, eps, &sans, s.facts),
        ),
        None => (Value::unknown(), Value::unknown()),
    };
    Value::object([
        (
            "id",
            Value::string(id(s.cluster, &spec.namespace, &spec.service)),
        ),
        ("cluster", Value::string(s.cluster)),
        ("namespace", Value::string(&spec.namespace)),
        ("service", Value::string(&spec.service)),
        ("ports", s.ports.clone()),
        ("service_account", Value::string(&spec.service_account)),
        ("gateway", gateway_value(&spec.gateway)),
        ("alias", values::opt_string(&spec.alias)),
        (
            "allowed_principals",
            spec.allowed_principals
                .as_deref()
                .map_or(Value::Null, values::string_list),
        ),
        (
            "workload_selector",
            values::string_map_value(&spec.workload_selector),
        ),
        ("host", Value::string(host)),
        ("subject_alt_names", values::string_list(&sans)),
        ("gateway_endpoints", endpoints),
        ("trust_domain", Value::string(&s.facts.trust_domain)),
        ("network", values::opt_string(&s.facts.network)),
        ("export", export),
        ("manifests", manifests_value(s.manifests)),
    ])
}

fn gateway_value(g: &es::Gateway) -> Value {
    Value::object([
        ("selector", values::string_map_value(&g.selector)),
        ("namespace", Value::string(&g.namespace)),
        ("port", Value::int(i64::from(g.port))),
        ("service", Value::string(&g.service)),
        (
            "addresses",
            g.addresses
                .as_deref()
                .map_or(Value::Null, values::string_list),
        ),
    ])
}

fn export_value(
    host: &str,
    ports: &[Port],
    eps: &[GatewayEndpoint],
    sans: &[String],
    facts: &MeshFacts,
) -> Value {
    let export = Export {
        host: host.to_string(),
        ports: ports.to_vec(),
        gateway_endpoints: eps.to_vec(),
        subject_alt_names: sans.to_vec(),
        trust_domain: Some(facts.trust_domain.clone()),
        network: facts.network.clone(),
    };
    export.to_value()
}

/// The gateway endpoints a state holds, when known.
pub(super) fn endpoints_of(state: &Value) -> Option<Vec<GatewayEndpoint>> {
    let eps = state.get("gateway_endpoints")?;
    if !eps.is_wholly_known() {
        return None;
    }
    eps.elements()?
        .iter()
        .map(|e| {
            Some(GatewayEndpoint {
                address: e.get("address")?.as_str()?.to_string(),
                port: u16::try_from(e.get("port")?.as_i64()?).ok()?,
            })
        })
        .collect()
}

/// A planned state while some input or mesh fact is known only at apply: what the configuration
/// says, and the cluster's facts when known; everything derived unknown.
pub(super) fn unknown_state(config: &Value, p: &ExportInput) -> Value {
    let given = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
    let or_unknown = |name: &str| match config.get(name) {
        Some(Value::Null) | None => Value::unknown(),
        Some(v) => v.clone(),
    };
    let fact = |f: fn(&MeshFacts) -> Value| p.facts.as_ref().map_or(Value::unknown(), f);
    let host = |f: &MeshFacts| Value::string(es::host(&p.service, &p.namespace, &f.domain_suffix));
    Value::object([
        (
            "id",
            Value::string(id(&p.cluster, &p.namespace, &p.service)),
        ),
        ("cluster", Value::string(&p.cluster)),
        ("namespace", Value::string(&p.namespace)),
        ("service", Value::string(&p.service)),
        ("ports", given("ports")),
        ("service_account", or_unknown("service_account")),
        ("gateway", unknown_gateway(config.get("gateway"))),
        ("alias", given("alias")),
        ("allowed_principals", given("allowed_principals")),
        ("workload_selector", or_unknown("workload_selector")),
        ("host", p.facts.as_ref().map_or(Value::unknown(), host)),
        ("subject_alt_names", Value::unknown()),
        ("gateway_endpoints", Value::unknown()),
        ("trust_domain", fact(|f| Value::string(&f.trust_domain))),
        ("network", fact(|f| values::opt_string(&f.network))),
        ("export", Value::unknown()),
        ("manifests", Value::unknown()),
    ])
}

/// The configured `gateway` with each absent defaulted part unknown (`addresses`, which has no
/// default, stays as configured).
fn unknown_gateway(g: Option<&Value>) -> Value {
    match g {
        Some(Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Null if k != "addresses" => Value::unknown(),
                        v => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        _ => Value::unknown(),
    }
}
