//! `meshfed_service_entry`'s inputs: Terraform values in, a checked [`ServiceEntrySpec`] (or
//! "not known until apply") out, every problem a diagnostic on its attribute path.

use std::collections::BTreeMap;

use super::DEFAULT_GATEWAY_PORT;
use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::Protocol;
use crate::mesh::service_entry::{self as se, Endpoint, Port, ServiceEntrySpec, is_ip};
use crate::resources::values::{self, Field};
use crate::resources::{Ctx, cluster_of};
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::value::Value;

/// The configuration, checked: either every input known (a spec), or some not known yet.
pub(super) struct Parsed {
    pub(super) cluster: String,
    pub(super) namespace: String,
    /// `None` when some input is not known until apply.
    pub(super) spec: Option<ServiceEntrySpec>,
    pub(super) name: Field<String>,
    pub(super) export: Option<Value>,
}

const EXPLICIT: [&str; 4] = ["host", "ports", "endpoints", "subject_alt_names"];

pub(super) fn parse(ctx: &Ctx<'_>, config: &Value, diags: &mut Diagnostics) -> Option<Parsed> {
    let cluster = match values::string(config, "cluster") {
        Field::Known(c) => c,
        _ => {
            diags.error_at(
                AttrPath::attr("cluster"),
                "Cluster not known",
                "cluster must be known at plan time: it decides where objects go.",
            );
            return None;
        }
    };
    if let Err(d) = cluster_of(ctx, &cluster, AttrPath::attr("cluster")) {
        diags.push(d);
    }
    let namespace = match values::string(config, "namespace") {
        Field::Known(n) => {
            if let Err(e) = check_dns_label(&n) {
                diags.error_at(
                    AttrPath::attr("namespace"),
                    "Invalid namespace",
                    format!("namespace {n:?} {e}."),
                );
            }
            n
        }
        _ => {
            diags.error_at(
                AttrPath::attr("namespace"),
                "Namespace not known",
                "namespace must be known at plan time.",
            );
            return None;
        }
    };
    let export_field = values::whole(config, "export");
    let explicit_set: Vec<&str> = EXPLICIT
        .iter()
        .copied()
        .filter(|a| !values::whole(config, a).is_null())
        .collect();
    if !export_field.is_null() {
        for a in &explicit_set {
            diags.error_at(AttrPath::attr(*a), format!("Conflicting attributes: {a} and export"), "Give the remote service either whole as export, or as host, ports, endpoints and subject_alt_names.");
        }
    } else {
        for a in ["host", "ports", "endpoints"] {
            if !explicit_set.contains(&a) {
                diags.error_at(
                    AttrPath::attr(a),
                    format!("Missing {a}"),
                    format!("Set {a}, or set export to a meshfed_exported_service's export."),
                );
            }
        }
    }
    if diags.has_errors() {
        return None;
    }
    let inputs = match &export_field {
        Field::Known(e) => from_export(e, diags),
        Field::Unknown => None,
        Field::Null => from_explicit(config, diags),
    };
    let addresses = values::strings(config, "addresses");
    let export_to = values::strings(config, "export_to");
    let sni = values::string(config, "sni");
    let name_field = values::string(config, "name");
    check_lists(&addresses, &export_to, &sni, diags);

    let spec = match (inputs, &addresses, &export_to, &sni, &name_field) {
        (Some(i), a, e, s, n)
            if !a.is_unknown() && !e.is_unknown() && !s.is_unknown() && !n.is_unknown() =>
        {
            let name = n
                .clone()
                .known()
                .unwrap_or_else(|| se::default_name(&i.host));
            let addresses = a.clone().known().unwrap_or_default();
            check_vip(&i.ports, &addresses, diags);
            Some(ServiceEntrySpec {
                name,
                namespace: namespace.clone(),
                host: i.host,
                addresses,
                ports: i.ports,
                endpoints: i.endpoints,
                subject_alt_names: i.subject_alt_names,
                export_to: e.clone().known().unwrap_or_else(|| vec![".".to_string()]),
                sni: s.clone().known(),
            })
        }
        _ => None,
    };
    if let Some(Err(e)) = name_field
        .clone()
        .known()
        .map(|n| check_dns_subdomain(&n).map_err(|e| format!("name {n:?} {e}.")))
    {
        diags.error_at(AttrPath::attr("name"), "Invalid name", e);
    }
    if diags.has_errors() {
        return None;
    }
    let export = match export_field {
        Field::Known(v) => Some(v.clone()),
        _ => None,
    };
    Some(Parsed {
        cluster,
        namespace,
        spec,
        name: name_field,
        export,
    })
}

/// The remote service's identity and addresses, from either form.
pub(super) struct Inputs {
    pub(super) host: String,
    pub(super) ports: Vec<Port>,
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) subject_alt_names: Vec<String>,
}

fn from_export(e: &Value, diags: &mut Diagnostics) -> Option<Inputs> {
    let path = AttrPath::attr("export");
    let network = values::string(e, "network").known();
    let endpoints: Vec<Value> = e
        .get("gateway_endpoints")
        .and_then(Value::elements)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let endpoints = endpoints
        .into_iter()
        .map(|ep| {
            let mut m = ep.entries().cloned().unwrap_or_default();
            m.insert(
                "network".into(),
                network.clone().map(Value::String).unwrap_or(Value::Null),
            );
            m.insert("locality".into(), Value::Null);
            Value::Object(m)
        })
        .collect::<Vec<_>>();
    let host = values::string(e, "host").known();
    let host = check_host(host, &path.then("host"), diags);
    let ports = parse_ports(
        e.get("ports").unwrap_or(&Value::Null),
        &path.then("ports"),
        diags,
    );
    let endpoints = parse_endpoints(
        &Value::List(endpoints),
        &path.then("gateway_endpoints"),
        diags,
    );
    let sans = values::strings(e, "subject_alt_names")
        .known()
        .unwrap_or_default();
    Some(Inputs {
        host: host?,
        ports: ports?,
        endpoints: endpoints?,
        subject_alt_names: sans,
    })
}

pub(super) fn from_explicit(config: &Value, diags: &mut Diagnostics) -> Option<Inputs> {
    let host = match values::string(config, "host") {
        Field::Known(h) => check_host(Some(h), &AttrPath::attr("host"), diags),
        _ => None,
    };
    let ports = match values::whole(config, "ports") {
        Field::Known(p) => parse_ports(p, &AttrPath::attr("ports"), diags),
        _ => None,
    };
    let endpoints = match values::whole(config, "endpoints") {
        Field::Known(e) => parse_endpoints(e, &AttrPath::attr("endpoints"), diags),
        _ => None,
    };
    let sans = match values::strings(config, "subject_alt_names") {
        Field::Known(s) => Some(s),
        Field::Null => Some(Vec::new()),
        Field::Unknown => None,
    };
    if let Some(sans) = &sans {
        for (i, s) in sans.iter().enumerate() {
            if s.trim().is_empty() {
                diags.error_at(AttrPath::attr("subject_alt_names").index(i), "Empty subject alt name", "Each subject alt name must be a non-empty identity, e.g. spiffe://cluster-b.local/ns/xyz/sa/bar.");
            }
        }
    }
    Some(Inputs {
        host: host?,
        ports: ports?,
        endpoints: endpoints?,
        subject_alt_names: sans?,
    })
}

fn check_host(host: Option<String>, path: &AttrPath, diags: &mut Diagnostics) -> Option<String> {
    let h = host?;
    if let Err(e) = check_dns_subdomain(&h) {
        diags.error_at(
            path.clone(),
            "Invalid host",
            format!("host {h:?} is not a valid DNS name: {e}."),
        );
        return None;
    }
    Some(h)
}

pub(crate) fn parse_ports(
    v: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<Vec<Port>> {
    let items = v.elements().unwrap_or_default();
    if items.is_empty() {
        diags.error_at(path.clone(), "No ports", "At least one port is needed.");
        return None;
    }
    let before = diags.0.len();
    let mut ports = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut numbers: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, p) in items.iter().enumerate() {
        let pp = path.index(i);
        let name = values::string(p, "name").known().unwrap_or_default();
        if let Err(e) = check_dns_label(&name) {
            diags.error_at(
                pp.then("name"),
                "Invalid port name",
                format!("port name {name:?} {e}."),
            );
        } else if let Some(first) = names.insert(name.clone(), i) {
            diags.error_at(
                pp.then("name"),
                "Duplicate port name",
                format!("Port name {name:?} is already used by ports[{first}]."),
            );
        }
        let number = values::int_in(
            p.get("number").unwrap_or(&Value::Null),
            1,
            65535,
            &pp.then("number"),
            "port number",
            diags,
        );
        if let Some(n) = number
            && let Some(first) = numbers.insert(n, i)
        {
            diags.error_at(
                pp.then("number"),
                "Duplicate port number",
                format!("Port number {n} is already used by ports[{first}]."),
            );
        }
        let proto = values::string(p, "protocol").known().unwrap_or_default();
        let protocol = Protocol::parse(&proto);
        if protocol.is_none() {
            diags.error_at(
                pp.then("protocol"),
                "Unknown protocol",
                format!(
                    "Istio does not know protocol {proto:?}; use one of {}.",
                    Protocol::names()
                ),
            );
        }
        if let (Some(number), Some(protocol)) = (number, protocol) {
            ports.push(Port {
                name,
                number: number as u16,
                protocol,
            });
        }
    }
    (diags.0.len() == before).then_some(ports)
}

fn parse_endpoints(v: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Vec<Endpoint>> {
    let items = v.elements().unwrap_or_default();
    if items.is_empty() {
        diags.error_at(
            path.clone(),
            "No endpoints",
            "At least one endpoint (a remote east-west gateway address) is needed.",
        );
        return None;
    }
    let before = diags.0.len();
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let ep = path.index(i);
        let address = values::string(e, "address").known().unwrap_or_default();
        if !is_ip(&address) && check_dns_subdomain(&address).is_err() {
            diags.error_at(
                ep.then("address"),
                "Invalid endpoint address",
                format!("{address:?} is neither an IP address nor a DNS name."),
            );
        }
        let port = match e.get("port") {
            None | Some(Value::Null) => Some(DEFAULT_GATEWAY_PORT),
            Some(p) => values::int_in(p, 1, 65535, &ep.then("port"), "endpoint port", diags),
        };
        let locality = values::string(e, "locality").known();
        let network = values::string(e, "network").known();
        if let Some(port) = port {
            out.push(Endpoint {
                address,
                port: port as u16,
                locality,
                network,
            });
        }
    }
    (diags.0.len() == before).then_some(out)
}

fn check_lists(
    addresses: &Field<Vec<String>>,
    export_to: &Field<Vec<String>>,
    sni: &Field<String>,
    diags: &mut Diagnostics,
) {
    if let Field::Known(a) = addresses {
        for (i, addr) in a.iter().enumerate() {
            let ip_part = addr.split('/').next().unwrap_or_default();
            let prefix_ok = addr
                .split('/')
                .nth(1)
                .is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= 128));
            if !is_ip(ip_part) || !prefix_ok {
                diags.error_at(
                    AttrPath::attr("addresses").index(i),
                    "Invalid address",
                    format!("{addr:?} is not an IP address or CIDR."),
                );
            }
        }
    }
    if let Field::Known(e) = export_to {
        if e.is_empty() {
            diags.error_at(AttrPath::attr("export_to"), "Empty export_to", "export_to needs at least one entry: \".\" (this namespace), \"*\" (all) or a namespace.");
        }
        for (i, ns) in e.iter().enumerate() {
            if ns != "." && ns != "*" && check_dns_label(ns).is_err() {
                diags.error_at(
                    AttrPath::attr("export_to").index(i),
                    "Invalid export_to entry",
                    format!("{ns:?} is not \".\", \"*\" or a namespace name."),
                );
            }
        }
    }
    if let Field::Known(s) = sni
        && check_dns_subdomain(s).is_err()
        && !s.starts_with("outbound_")
    {
        diags.error_at(
            AttrPath::attr("sni"),
            "Invalid sni",
            format!("{s:?} is not a valid server name."),
        );
    }
}

fn check_vip(ports: &[Port], addresses: &[String], diags: &mut Diagnostics) {
    if !addresses.is_empty() {
        return;
    }
    if let Some((i, p)) = ports
        .iter()
        .enumerate()
        .find(|(_, p)| p.protocol.needs_vip())
    {
        diags.error_at(
            AttrPath::attr("ports").index(i).then("protocol"),
            "A VIP is needed",
            format!("Port {:?} uses {}, which Istio routes by destination address, not by host: set addresses to a VIP for the host in this cluster.", p.name, p.protocol.as_str()),
        );
    }
}
