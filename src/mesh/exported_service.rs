//! Rendering of `meshfed_exported_service`: what one cluster needs so that one of its services
//! can be reached from the rest of the federation through its east-west gateway.
//!
//! - AuthorizationPolicy `meshfed-export-<service>` (with `allowed_principals`) in the service's
//!   namespace, on the service's workloads: `DENY` for every authenticated caller whose principal
//!   is neither in the cluster's own trust domain nor listed. Exporting restricts only callers
//!   of other trust domains: callers inside the cluster (mTLS or plaintext) keep whatever access
//!   the mesh gave them before. (An `ALLOW` policy would deny every caller it does not list,
//!   local ones included.);
//! - ServiceEntry `meshfed-export-<service>` (with an `alias`) in the service's namespace:
//!   `MESH_INTERNAL`, the alias as host, the service's workloads as endpoints (`workloadSelector`),
//!   visible to that namespace and the gateway's, so the gateway can route the alias;
//! - Gateway `meshfed-export-<namespace>-<service>` in the gateway's namespace: one server on the
//!   gateway port (15443), protocol `TLS`, `tls.mode: AUTO_PASSTHROUGH` (routing by SNI, mutual TLS
//!   kept end to end), `hosts` exactly the service's FQDN and the alias — never a wildcard.
//!
//! They are rendered in that order, which is the order they are applied in: the policy guards the
//! workloads before the gateway exposes them.
//!
//! The Gateway also carries, as `meshfed.io/*` annotations, the inputs no object expresses (the
//! service account, the ports, the gateway Service, configured addresses), so that an import —
//! which sees only the objects — recovers the whole configuration ([`spec_from_objects`]).
//!
//! Pure and deterministic. Imports nothing but the mesh types.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::service_entry::{Port, SERVICE_ENTRY_API, default_name};
use super::{Manifest, MeshFacts, Protocol, json_string_map, json_strings, metadata};

pub const GATEWAY_API: &str = "networking.istio.io/v1";
pub const AUTHORIZATION_POLICY_API: &str = "security.istio.io/v1";

pub use super::DEFAULT_GATEWAY_PORT;
/// The east-west gateway's Service, as Istio's samples install it.
pub const DEFAULT_GATEWAY_SERVICE: &str = "istio-eastwestgateway";
/// The label (key, value) that selects the east-west gateway's pods by default.
pub const DEFAULT_GATEWAY_SELECTOR: (&str, &str) = ("istio", "eastwestgateway");
/// The label key that selects the service's workloads by default (value: the service name).
pub const DEFAULT_WORKLOAD_LABEL: &str = "app";

/// `<namespace>/<service>`: which export a Gateway belongs to.
pub const EXPORTED_SERVICE_ANNOTATION: &str = "meshfed.io/exported-service";
pub const SERVICE_ACCOUNT_ANNOTATION: &str = "meshfed.io/service-account";
/// `<name>:<number>/<PROTOCOL>`, comma-separated.
pub const PORTS_ANNOTATION: &str = "meshfed.io/ports";
pub const GATEWAY_SERVICE_ANNOTATION: &str = "meshfed.io/gateway-service";
/// The configured gateway addresses, comma-separated; absent when read from the Service.
pub const GATEWAY_ADDRESSES_ANNOTATION: &str = "meshfed.io/gateway-addresses";

/// The east-west gateway an export goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    /// Labels of the gateway's pods.
    pub selector: BTreeMap<String, String>,
    pub namespace: String,
    pub port: u16,
    /// Name of its Service (type LoadBalancer), where addresses are read when not configured.
    pub service: String,
    /// Addresses as configured; `None`: read from the Service.
    pub addresses: Option<Vec<String>>,
}

/// A checked `meshfed_exported_service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    pub namespace: String,
    pub service: String,
    pub service_account: String,
    pub ports: Vec<Port>,
    /// The cluster's DNS suffix (`<service>.<namespace>.svc.<domain_suffix>`).
    pub domain_suffix: String,
    /// The cluster's own trust domain: its callers are never restricted by the policy.
    pub trust_domain: String,
    pub gateway: Gateway,
    pub alias: Option<String>,
    /// `<trust-domain>/ns/<namespace>/sa/<account>`; `None`: no policy.
    pub allowed_principals: Option<Vec<String>>,
    /// Labels of the service's workloads (policy and alias endpoints).
    pub workload_selector: BTreeMap<String, String>,
}

/// Where the federation reaches an exported service: one gateway address and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayEndpoint {
    pub address: String,
    pub port: u16,
}

/// The default gateway selector, `{istio = "eastwestgateway"}`.
pub fn default_gateway_selector() -> BTreeMap<String, String> {
    let (k, v) = DEFAULT_GATEWAY_SELECTOR;
    BTreeMap::from([(k.to_string(), v.to_string())])
}

/// The default workload selector, `{app = <service>}`.
pub fn default_workload_selector(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(DEFAULT_WORKLOAD_LABEL.to_string(), service.to_string())])
}

/// `<service>.<namespace>.svc.<domain_suffix>`.
pub fn host(service: &str, namespace: &str, domain_suffix: &str) -> String {
    format!("{service}.{namespace}.svc.{domain_suffix}")
}

/// `spiffe://<trust_domain>/ns/<namespace>/sa/<account>`.
pub fn subject_alt_name(trust_domain: &str, namespace: &str, account: &str) -> String {
    super::names::spiffe_id(trust_domain, namespace, account)
}

/// Name of the Gateway (in the gateway namespace): `meshfed-export-<namespace>-<service>`.
pub fn gateway_name(namespace: &str, service: &str) -> String {
    format!("meshfed-export-{namespace}-{service}")
}

/// Name of the policy and the alias ServiceEntry (in the service namespace).
pub fn local_name(service: &str) -> String {
    format!("meshfed-export-{service}")
}

/// The Gateway server's port name: a DNS label derived from the Gateway's name.
pub fn server_port_name(namespace: &str, service: &str) -> String {
    default_name(&format!("tls-{}", gateway_name(namespace, service)))
}

/// A SPIFFE principal as Istio writes it: `<trust-domain>/ns/<namespace>/sa/<account>`.
/// Checks the shape only; the trust domain, namespace and account follow their naming rules.
pub fn check_principal(p: &str) -> Result<(), String> {
    if p.starts_with("spiffe://") {
        return Err("must not start with spiffe://: Istio principals are written <trust-domain>/ns/<namespace>/sa/<service-account>".into());
    }
    if p.contains('*') {
        return Err("must name one workload identity, without wildcards".into());
    }
    let parts: Vec<&str> = p.split('/').collect();
    let [td, "ns", ns, "sa", sa] = parts.as_slice() else {
        return Err("must have the form <trust-domain>/ns/<namespace>/sa/<service-account>, e.g. cluster-a.local/ns/abc/sa/foo".into());
    };
    super::names::check_trust_domain(td).map_err(|e| format!("trust domain {td:?} {e}"))?;
    if !is_name(ns, 63, false) {
        return Err(format!("namespace {ns:?} is not a valid namespace name"));
    }
    if !is_name(sa, 253, true) {
        return Err(format!("service account {sa:?} is not a valid name"));
    }
    Ok(())
}

/// A DNS-1123 label (or, with `dots`, subdomain) of at most `max` characters.
fn is_name(s: &str, max: usize, dots: bool) -> bool {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    !s.is_empty()
        && s.len() <= max
        && s.chars().all(allowed)
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

/// The objects of an export, in apply order: policy, alias ServiceEntry, Gateway.
pub fn render(spec: &ExportSpec) -> Vec<Manifest> {
    let mut out = Vec::new();
    if let Some(principals) = &spec.allowed_principals {
        out.push(authorization_policy(spec, principals));
    }
    if let Some(alias) = &spec.alias {
        out.push(alias_service_entry(spec, alias));
    }
    out.push(gateway(spec));
    out
}

/// `<trust domain>/*`: every principal of the cluster's own trust domain.
fn own_callers(trust_domain: &str) -> String {
    format!("{trust_domain}/*")
}

/// DENY when the caller has a principal (`*`: mutual TLS, any identity) that is not one of the
/// cluster's own trust domain and not listed. Istio ANDs the fields of one source.
fn authorization_policy(spec: &ExportSpec, principals: &[String]) -> Manifest {
    let mut exempt = vec![own_callers(&spec.trust_domain)];
    exempt.extend(principals.iter().cloned());
    let body = json!({
        "selector": { "matchLabels": spec.workload_selector },
        "action": "DENY",
        "rules": [{ "from": [{ "source": { "principals": ["*"], "notPrincipals": exempt } }] }],
    });
    Manifest::new(
        AUTHORIZATION_POLICY_API,
        "AuthorizationPolicy",
        metadata(&local_name(&spec.service), &spec.namespace),
        "spec",
        body,
    )
}

fn alias_service_entry(spec: &ExportSpec, alias: &str) -> Manifest {
    let mut export_to = vec![".".to_string()];
    if spec.gateway.namespace != spec.namespace {
        export_to.push(spec.gateway.namespace.clone());
    }
    let body = json!({
        "hosts": [alias],
        "ports": spec.ports.iter().map(|p| json!({"number": p.number, "protocol": p.protocol.as_str(), "name": p.name})).collect::<Vec<_>>(),
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "workloadSelector": { "labels": spec.workload_selector },
        "exportTo": export_to,
    });
    Manifest::new(
        SERVICE_ENTRY_API,
        "ServiceEntry",
        metadata(&local_name(&spec.service), &spec.namespace),
        "spec",
        body,
    )
}

fn gateway(spec: &ExportSpec) -> Manifest {
    let mut hosts = vec![host(&spec.service, &spec.namespace, &spec.domain_suffix)];
    hosts.extend(spec.alias.iter().cloned());
    let server = json!({
        "port": {
            "number": spec.gateway.port,
            "name": server_port_name(&spec.namespace, &spec.service),
            "protocol": "TLS",
        },
        "tls": { "mode": "AUTO_PASSTHROUGH" },
        "hosts": hosts,
    });
    let mut meta = metadata(
        &gateway_name(&spec.namespace, &spec.service),
        &spec.gateway.namespace,
    );
    meta["annotations"] = Value::Object(annotations(spec));
    Manifest::new(
        GATEWAY_API,
        "Gateway",
        meta,
        "spec",
        json!({ "selector": spec.gateway.selector, "servers": [server] }),
    )
}

fn annotations(spec: &ExportSpec) -> Map<String, Value> {
    let mut a = Map::new();
    let mut put = |k: &str, v: String| a.insert(k.to_string(), Value::String(v));
    put(
        EXPORTED_SERVICE_ANNOTATION,
        format!("{}/{}", spec.namespace, spec.service),
    );
    put(SERVICE_ACCOUNT_ANNOTATION, spec.service_account.clone());
    put(PORTS_ANNOTATION, ports_annotation(&spec.ports));
    put(GATEWAY_SERVICE_ANNOTATION, spec.gateway.service.clone());
    if let Some(addresses) = &spec.gateway.addresses {
        put(GATEWAY_ADDRESSES_ANNOTATION, addresses.join(","));
    }
    a
}

fn ports_annotation(ports: &[Port]) -> String {
    ports
        .iter()
        .map(|p| format!("{}:{}/{}", p.name, p.number, p.protocol.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_ports_annotation(s: &str) -> Option<Vec<Port>> {
    s.split(',')
        .map(|item| {
            let (name, rest) = item.split_once(':')?;
            let (number, protocol) = rest.split_once('/')?;
            Some(Port {
                name: name.to_string(),
                number: number.parse().ok()?,
                protocol: Protocol::parse(protocol)?,
            })
        })
        .collect()
}

/// The load-balancer addresses of a Service (`status.loadBalancer.ingress[*]`, IP or else
/// hostname), in the order the Service lists them.
pub fn load_balancer_addresses(service: &Value) -> Vec<String> {
    service["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|ingress| {
            ingress
                .iter()
                .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The live objects of one export, as read for an import.
pub struct LiveObjects<'a> {
    pub gateway: &'a Value,
    pub policy: Option<&'a Value>,
    pub alias_service_entry: Option<&'a Value>,
}

/// Reconstructs the spec that rendered `live` (the inverse of [`render`]): what an import
/// recovers. Fails, saying why, when the Gateway is not one meshfed made for this service.
pub fn spec_from_objects(
    namespace: &str,
    service: &str,
    facts: &MeshFacts,
    live: &LiveObjects<'_>,
) -> Result<ExportSpec, String> {
    let domain_suffix = facts.domain_suffix.as_str();
    let gw = live.gateway;
    let annotation = |k: &str| {
        gw["metadata"]["annotations"][k]
            .as_str()
            .map(str::to_string)
    };
    let owner = annotation(EXPORTED_SERVICE_ANNOTATION);
    if owner.as_deref() != Some(&format!("{namespace}/{service}")) {
        return Err(format!(
            "its annotation {EXPORTED_SERVICE_ANNOTATION} is {owner:?}, not \"{namespace}/{service}\""
        ));
    }
    let ports = annotation(PORTS_ANNOTATION)
        .as_deref()
        .and_then(parse_ports_annotation)
        .ok_or_else(|| format!("its annotation {PORTS_ANNOTATION} is missing or malformed"))?;
    let server = &gw["spec"]["servers"][0];
    let fqdn = host(service, namespace, domain_suffix);
    let alias = json_strings(&server["hosts"])
        .into_iter()
        .find(|h| *h != fqdn);
    let policy_labels = live.policy.map(|p| &p["spec"]["selector"]["matchLabels"]);
    let alias_labels = live
        .alias_service_entry
        .map(|s| &s["spec"]["workloadSelector"]["labels"]);
    let workload_selector = policy_labels
        .or(alias_labels)
        .map(json_string_map)
        .unwrap_or_else(|| default_workload_selector(service));
    Ok(ExportSpec {
        namespace: namespace.to_string(),
        service: service.to_string(),
        service_account: annotation(SERVICE_ACCOUNT_ANNOTATION)
            .unwrap_or_else(|| service.to_string()),
        ports,
        domain_suffix: domain_suffix.to_string(),
        gateway: gateway_of_object(gw)?,
        alias,
        allowed_principals: live
            .policy
            .map(|p| listed_principals(p, &facts.trust_domain)),
        workload_selector,
        trust_domain: facts.trust_domain.clone(),
    })
}

/// The principals a live policy lets through besides the cluster's own: the `notPrincipals` of
/// the DENY rule, or the `principals` of an ALLOW rule (what earlier meshfed builds wrote; the
/// next apply replaces it with the DENY form).
fn listed_principals(policy: &Value, trust_domain: &str) -> Vec<String> {
    let source = &policy["spec"]["rules"][0]["from"][0]["source"];
    if policy["spec"]["action"] == "ALLOW" {
        return json_strings(&source["principals"]);
    }
    let own = own_callers(trust_domain);
    json_strings(&source["notPrincipals"])
        .into_iter()
        .filter(|p| *p != own)
        .collect()
}

/// The gateway settings a live Gateway was rendered from.
fn gateway_of_object(gw: &Value) -> Result<Gateway, String> {
    let annotation = |k: &str| gw["metadata"]["annotations"][k].as_str();
    let port = gw["spec"]["servers"][0]["port"]["number"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .ok_or("it has no server port")?;
    Ok(Gateway {
        selector: json_string_map(&gw["spec"]["selector"]),
        namespace: gw["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        port,
        service: annotation(GATEWAY_SERVICE_ANNOTATION)
            .unwrap_or(DEFAULT_GATEWAY_SERVICE)
            .to_string(),
        addresses: annotation(GATEWAY_ADDRESSES_ANNOTATION)
            .map(|a| a.split(',').map(str::to_string).collect()),
    })
}

#[cfg(test)]
#[path = "exported_service_tests.rs"]
mod tests;
