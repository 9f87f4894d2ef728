//! The `export` object: what `meshfed_exported_service` publishes about a service and
//! `meshfed_service_entry` accepts whole — host, ports, gateway endpoints, SPIFFE identities,
//! trust domain and network. Its type, its builder and its parser live here, with the port list
//! both resources take, so that the two resources always agree on it: passing `export` on, and
//! importing either resource, plans empty.
//!
//! Imports the mesh types and the value helpers; must not import either resource.

use std::collections::BTreeMap;

use super::values;
use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::Protocol;
use crate::mesh::exported_service::{DEFAULT_GATEWAY_PORT, GatewayEndpoint};
use crate::mesh::service_entry::{Port, ServiceEntrySpec, is_ip};
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::{Type, Value};

/// A published service, as the federation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub host: String,
    pub ports: Vec<Port>,
    pub gateway_endpoints: Vec<GatewayEndpoint>,
    pub subject_alt_names: Vec<String>,
    pub trust_domain: Option<String>,
    pub network: Option<String>,
}

/// The type of `export`.
pub fn export_type() -> Type {
    Type::object([
        ("host", Type::String),
        ("ports", Type::list(port_type())),
        ("gateway_endpoints", Type::list(endpoint_type())),
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

/// The type of one gateway endpoint: `{address, port}`.
pub fn endpoint_type() -> Type {
    Type::object([("address", Type::String), ("port", Type::Number)])
}

/// The attributes of one element of a `ports` list; `number` describes the port number.
pub fn port_attributes(number: &str) -> Vec<Attribute> {
    vec![
        Attribute::required("name", Type::String).describe("Port name, e.g. `http`."),
        Attribute::required("number", Type::Number).describe(number),
        Attribute::required("protocol", Type::String)
            .describe(&format!("Istio protocol: one of {}.", Protocol::names())),
    ]
}

impl Export {
    /// The export a service entry's spec corresponds to: trust domain from its first SPIFFE
    /// identity, network from its first endpoint that has one.
    pub fn of_service_entry(spec: &ServiceEntrySpec) -> Export {
        let trust_domain = spec.subject_alt_names.iter().find_map(|s| {
            let rest = s.strip_prefix("spiffe://")?;
            rest.split('/').next().map(str::to_string)
        });
        let gateway_endpoints = spec
            .endpoints
            .iter()
            .map(|e| GatewayEndpoint {
                address: e.address.clone(),
                port: e.port,
            })
            .collect();
        Export {
            host: spec.host.clone(),
            ports: spec.ports.clone(),
            gateway_endpoints,
            subject_alt_names: spec.subject_alt_names.clone(),
            trust_domain,
            network: spec.endpoints.iter().find_map(|e| e.network.clone()),
        }
    }

    /// The value of `export`.
    pub fn to_value(&self) -> Value {
        Value::object([
            ("host", Value::string(&self.host)),
            ("ports", ports_value(&self.ports)),
            (
                "gateway_endpoints",
                endpoints_value(&self.gateway_endpoints),
            ),
            (
                "subject_alt_names",
                values::string_list(&self.subject_alt_names),
            ),
            ("trust_domain", values::opt_string(&self.trust_domain)),
            ("network", values::opt_string(&self.network)),
        ])
    }

    /// Reads and checks a known `export` value at `path`; `None` when `diags` got errors.
    pub fn parse(v: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Export> {
        let host = values::string(v, "host").known();
        let host = host.and_then(|h| checked_host(h, &path.then("host"), diags));
        let ports = parse_ports(
            v.get("ports").unwrap_or(&Value::Null),
            &path.then("ports"),
            diags,
        );
        let endpoints = v.get("gateway_endpoints").unwrap_or(&Value::Null);
        let endpoints = parse_endpoints(
            endpoints,
            &path.then("gateway_endpoints"),
            diags,
            parse_endpoint,
        );
        Some(Export {
            host: host?,
            ports: ports?,
            gateway_endpoints: endpoints?,
            subject_alt_names: values::strings(v, "subject_alt_names")
                .known()
                .unwrap_or_default(),
            trust_domain: values::string(v, "trust_domain").known(),
            network: values::string(v, "network").known(),
        })
    }
}

/// The ports in Istio's spelling, as `export` and an import show them.
pub fn ports_value(ports: &[Port]) -> Value {
    let each = ports.iter().map(|p| {
        Value::object([
            ("name", Value::string(&p.name)),
            ("number", Value::int(i64::from(p.number))),
            ("protocol", Value::string(p.protocol.as_str())),
        ])
    });
    Value::List(each.collect())
}

/// The gateway endpoints as `{address, port}` objects.
pub fn endpoints_value(eps: &[GatewayEndpoint]) -> Value {
    let each = eps.iter().map(|e| {
        Value::object([
            ("address", Value::string(&e.address)),
            ("port", Value::int(i64::from(e.port))),
        ])
    });
    Value::List(each.collect())
}

/// A host name, checked as a DNS name at `path`.
pub fn checked_host(host: String, path: &AttrPath, diags: &mut Diagnostics) -> Option<String> {
    if let Err(e) = check_dns_subdomain(&host) {
        diags.error_at(
            path.clone(),
            "Invalid host",
            format!("host {host:?} is not a valid DNS name: {e}."),
        );
        return None;
    }
    Some(host)
}

/// What an empty list is told: summary and detail.
type WhenEmpty = (&'static str, &'static str);
const NO_PORTS: WhenEmpty = ("No ports", "At least one port is needed.");
const NO_ENDPOINTS: WhenEmpty = (
    "No endpoints",
    "At least one endpoint (a remote east-west gateway address) is needed.",
);

/// Reads a non-empty list at `path` element by element (`parse` gets each element's index and
/// path); `None` when the list is empty or any element had errors.
fn parse_list<T>(
    v: &Value,
    path: &AttrPath,
    empty: WhenEmpty,
    diags: &mut Diagnostics,
    mut parse: impl FnMut(usize, &Value, &AttrPath, &mut Diagnostics) -> Option<T>,
) -> Option<Vec<T>> {
    let items = v.elements().unwrap_or_default();
    if items.is_empty() {
        diags.error_at(path.clone(), empty.0, empty.1);
        return None;
    }
    let before = diags.0.len();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        out.extend(parse(i, item, &path.index(i), diags));
    }
    (diags.0.len() == before).then_some(out)
}

/// A list of endpoints at `path`, each read by `parse`: at least one.
pub fn parse_endpoints<T>(
    v: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
    mut parse: impl FnMut(&Value, &AttrPath, &mut Diagnostics) -> Option<T>,
) -> Option<Vec<T>> {
    parse_list(v, path, NO_ENDPOINTS, diags, |_, e, p, d| parse(e, p, d))
}

/// A gateway endpoint `{address, port}` (port defaults to 15443), checked at `path`.
pub fn parse_endpoint(
    e: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<GatewayEndpoint> {
    let address = values::string(e, "address").known().unwrap_or_default();
    if !is_ip(&address) && check_dns_subdomain(&address).is_err() {
        diags.error_at(
            path.then("address"),
            "Invalid endpoint address",
            format!("{address:?} is neither an IP address nor a DNS name."),
        );
    }
    let port = match e.get("port") {
        None | Some(Value::Null) => Some(i64::from(DEFAULT_GATEWAY_PORT)),
        Some(p) => values::int_in(p, 1, 65535, &path.then("port"), "endpoint port", diags),
    };
    Some(GatewayEndpoint {
        address,
        port: u16::try_from(port?).ok()?,
    })
}

/// A `ports` list at `path`: at least one port; names DNS labels, numbers 1–65535, both unique;
/// protocols Istio knows.
pub fn parse_ports(v: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Vec<Port>> {
    let mut seen = SeenPorts::default();
    parse_list(v, path, NO_PORTS, diags, |i, p, pp, diags| {
        seen.parse(i, p, pp, diags)
    })
}

/// The names and numbers of the ports read so far, with the index of each.
#[derive(Default)]
struct SeenPorts {
    names: BTreeMap<String, usize>,
    numbers: BTreeMap<i64, usize>,
}

impl SeenPorts {
    /// Port `i` at `path`, every problem on its own attribute.
    fn parse(
        &mut self,
        i: usize,
        p: &Value,
        path: &AttrPath,
        diags: &mut Diagnostics,
    ) -> Option<Port> {
        let name = values::string(p, "name").known().unwrap_or_default();
        if let Err(e) = check_dns_label(&name) {
            diags.error_at(
                path.then("name"),
                "Invalid port name",
                format!("port name {name:?} {e}."),
            );
        } else if let Some(first) = self.names.insert(name.clone(), i) {
            diags.error_at(
                path.then("name"),
                "Duplicate port name",
                format!("Port name {name:?} is already used by ports[{first}]."),
            );
        }
        let number = p.get("number").unwrap_or(&Value::Null);
        let number = values::int_in(number, 1, 65535, &path.then("number"), "port number", diags);
        if let Some(n) = number
            && let Some(first) = self.numbers.insert(n, i)
        {
            diags.error_at(
                path.then("number"),
                "Duplicate port number",
                format!("Port number {n} is already used by ports[{first}]."),
            );
        }
        let proto = values::string(p, "protocol").known().unwrap_or_default();
        let protocol = Protocol::parse(&proto);
        if protocol.is_none() {
            diags.error_at(
                path.then("protocol"),
                "Unknown protocol",
                format!(
                    "Istio does not know protocol {proto:?}; use one of {}.",
                    Protocol::names()
                ),
            );
        }
        Some(Port {
            name,
            number: u16::try_from(number?).ok()?,
            protocol: protocol?,
        })
    }
}
