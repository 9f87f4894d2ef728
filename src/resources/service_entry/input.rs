//! `meshfed_service_entry`'s inputs: Terraform values in, a checked [`ServiceEntrySpec`] (or
//! "not known until apply") out, every problem a diagnostic on its attribute path. The remote
//! service comes whole as `export` or as `host`, `ports`, `endpoints` and `subject_alt_names`.

use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::service_entry::{self as se, Endpoint, Port, ServiceEntrySpec, is_ip};
use crate::resources::context::Ctx;
use crate::resources::export::{self, Export};
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::value::Value;

/// The configuration, checked: where the objects go, and what they are once everything is known.
pub(super) struct EntryInput {
    pub cluster: String,
    pub namespace: String,
    pub name: Field<String>,
    /// `None` when some input is not known until apply.
    pub spec: Option<ServiceEntrySpec>,
    /// `export` as configured, when it was.
    pub export: Option<Value>,
    /// Whether `addresses` was configured (the state then keeps it, even empty).
    pub addresses_configured: bool,
}

/// A configuration whose every input is known: what apply writes and state records.
pub struct KnownEntry {
    pub cluster: String,
    pub spec: ServiceEntrySpec,
    pub export: Option<Value>,
    pub addresses_configured: bool,
}

impl EntryInput {
    /// The known configuration, when every input is known.
    pub fn known(self) -> Option<KnownEntry> {
        Some(KnownEntry {
            cluster: self.cluster,
            spec: self.spec?,
            export: self.export,
            addresses_configured: self.addresses_configured,
        })
    }
}

const EXPLICIT: [&str; 4] = ["host", "ports", "endpoints", "subject_alt_names"];

/// Checks that need no provider configuration.
pub(super) fn check_namespace(config: &Value, diags: &mut Diagnostics) -> Field<String> {
    let namespace = values::string(config, "namespace");
    let path = AttrPath::attr("namespace");
    values::checked(namespace, &path, "namespace", check_dns_label, diags)
}

/// Reads and checks the configuration; `None` when `diags` got errors.
pub(super) fn parse(ctx: &Ctx<'_>, config: &Value, diags: &mut Diagnostics) -> Option<EntryInput> {
    let Field::Known(cluster) = values::string(config, "cluster") else {
        diags.error_at(
            AttrPath::attr("cluster"),
            "Cluster not known",
            "cluster must be known at plan time: it decides where objects go.",
        );
        return None;
    };
    if let Err(d) = ctx.cluster(&cluster, AttrPath::attr("cluster")) {
        diags.push(d);
    }
    let Field::Known(namespace) = check_namespace(config, diags) else {
        diags.error_at(
            AttrPath::attr("namespace"),
            "Namespace not known",
            "namespace must be known at plan time.",
        );
        return None;
    };
    let export = values::whole(config, "export");
    check_one_form(config, &export, diags);
    if diags.has_errors() {
        return None;
    }
    let inputs = match &export {
        Field::Known(e) => from_export(e, diags),
        Field::Unknown => None,
        Field::Null => from_explicit(config, diags),
    };
    let name = values::string(config, "name");
    let spec = build(config, inputs, &namespace, &name, diags);
    if let Field::Known(n) = &name
        && let Err(e) = check_dns_subdomain(n)
    {
        diags.error_at(
            AttrPath::attr("name"),
            "Invalid name",
            format!("name {n:?} {e}."),
        );
    }
    if diags.has_errors() {
        return None;
    }
    Some(EntryInput {
        cluster,
        namespace,
        name,
        spec,
        export: export.known().cloned(),
        addresses_configured: values::whole(config, "addresses").is_set(),
    })
}

/// `export`, or the explicit attributes: exactly one of the two forms.
fn check_one_form(config: &Value, export: &Field<&Value>, diags: &mut Diagnostics) {
    let explicit: Vec<&str> = EXPLICIT
        .iter()
        .copied()
        .filter(|a| values::whole(config, a).is_set())
        .collect();
    if export.is_set() {
        for a in &explicit {
            diags.error_at(AttrPath::attr(*a), format!("Conflicting attributes: {a} and export"), "Give the remote service either whole as export, or as host, ports, endpoints and subject_alt_names.");
        }
        return;
    }
    for a in ["host", "ports", "endpoints"] {
        if !explicit.contains(&a) {
            diags.error_at(
                AttrPath::attr(a),
                format!("Missing {a}"),
                format!("Set {a}, or set export to a meshfed_exported_service's export."),
            );
        }
    }
}

/// The spec, when the remote service and every other input are known.
fn build(
    config: &Value,
    inputs: Option<Inputs>,
    namespace: &str,
    name: &Field<String>,
    diags: &mut Diagnostics,
) -> Option<ServiceEntrySpec> {
    let addresses = values::strings(config, "addresses");
    let export_to = values::strings(config, "export_to");
    let sni = values::string(config, "sni");
    check_lists(&addresses, &export_to, &sni, diags);
    let i = inputs?;
    let name = name.clone().or_default_with(|| se::default_name(&i.host))?;
    let addresses = addresses.or_default_with(Vec::new)?;
    let export_to = export_to.or_default_with(|| vec![".".to_string()])?;
    let sni = sni.optional()?;
    check_vip(&i.ports, &addresses, diags);
    Some(ServiceEntrySpec {
        name,
        namespace: namespace.to_string(),
        host: i.host,
        addresses,
        ports: i.ports,
        endpoints: i.endpoints,
        subject_alt_names: i.subject_alt_names,
        export_to,
        sni,
    })
}

/// The remote service's identity and addresses, from either form.
pub(super) struct Inputs {
    pub host: String,
    pub ports: Vec<Port>,
    pub endpoints: Vec<Endpoint>,
    pub subject_alt_names: Vec<String>,
}

/// From a known `export`: each gateway endpoint in the export's network.
fn from_export(e: &Value, diags: &mut Diagnostics) -> Option<Inputs> {
    let export = Export::parse(e, &AttrPath::attr("export"), diags)?;
    let endpoints = export
        .gateway_endpoints
        .into_iter()
        .map(|g| Endpoint {
            address: g.address,
            port: g.port,
            locality: None,
            network: export.network.clone(),
        })
        .collect();
    Some(Inputs {
        host: export.host,
        ports: export.ports,
        endpoints,
        subject_alt_names: export.subject_alt_names,
    })
}

/// From `host`, `ports`, `endpoints` and `subject_alt_names` (also the form state holds).
pub(super) fn from_explicit(config: &Value, diags: &mut Diagnostics) -> Option<Inputs> {
    let host = values::string(config, "host").known();
    let host = host.and_then(|h| export::checked_host(h, &AttrPath::attr("host"), diags));
    let ports = match values::whole(config, "ports") {
        Field::Known(p) => export::parse_ports(p, &AttrPath::attr("ports"), diags),
        _ => None,
    };
    let endpoints = match values::whole(config, "endpoints") {
        Field::Known(e) => {
            export::parse_endpoints(e, &AttrPath::attr("endpoints"), diags, parse_endpoint)
        }
        _ => None,
    };
    let sans = values::strings(config, "subject_alt_names").or_default_with(Vec::new);
    for (i, s) in sans.iter().flatten().enumerate() {
        if s.trim().is_empty() {
            diags.error_at(AttrPath::attr("subject_alt_names").index(i), "Empty subject alt name", "Each subject alt name must be a non-empty identity, e.g. spiffe://cluster-b.local/ns/xyz/sa/bar.");
        }
    }
    Some(Inputs {
        host: host?,
        ports: ports?,
        endpoints: endpoints?,
        subject_alt_names: sans?,
    })
}

/// An element of `endpoints`: a gateway endpoint with an optional locality and network.
fn parse_endpoint(e: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Endpoint> {
    let gateway = export::parse_endpoint(e, path, diags)?;
    Some(Endpoint {
        address: gateway.address,
        port: gateway.port,
        locality: values::string(e, "locality").known(),
        network: values::string(e, "network").known(),
    })
}

fn check_lists(
    addresses: &Field<Vec<String>>,
    export_to: &Field<Vec<String>>,
    sni: &Field<String>,
    diags: &mut Diagnostics,
) {
    for (i, addr) in addresses.as_known().into_iter().flatten().enumerate() {
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
