//! Service checks of one member: each service it imports (a meshfed ServiceEntry to a remote
//! east-west gateway) points at the current addresses of the gateway of the listed cluster that
//! exports it, and each service it exports (a meshfed export Gateway) has a gateway Service with
//! an address.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::{
    ClusterReport, ExportReport, Findings, ImportReport, Live, Observation, Observed, object,
};
use crate::mesh::discover::{exported_by_meshfed, imported_host, namespaced_name};
use crate::mesh::exported_service::{
    DEFAULT_GATEWAY_SERVICE, GATEWAY_ADDRESSES_ANNOTATION, GATEWAY_SERVICE_ANNOTATION,
    load_balancer_addresses,
};

/// Where an export's gateway is reached: fixed addresses (`gateway.addresses`), or its Service.
enum Reach {
    Fixed(Vec<String>),
    Service { namespace: String, name: String },
}

fn reach(gateway: &Json) -> Reach {
    let annotation = |k: &str| gateway["metadata"]["annotations"][k].as_str();
    if let Some(fixed) = annotation(GATEWAY_ADDRESSES_ANNOTATION) {
        return Reach::Fixed(sorted(fixed.split(',').map(str::to_string)));
    }
    let (namespace, _) = namespaced_name(gateway);
    let name = annotation(GATEWAY_SERVICE_ANNOTATION).unwrap_or(DEFAULT_GATEWAY_SERVICE);
    Reach::Service {
        namespace,
        name: name.to_string(),
    }
}

/// The gateway Services that the export Gateways among `gateways` read their addresses from,
/// as (namespace, name): what to read besides the fixed objects.
pub fn gateway_services(gateways: &[Json]) -> BTreeSet<(String, String)> {
    gateways
        .iter()
        .filter(|g| exported_by_meshfed(g).is_some())
        .filter_map(|g| match reach(g) {
            Reach::Service { namespace, name } => Some((namespace, name)),
            Reach::Fixed(_) => None,
        })
        .collect()
}

fn hosts(gateway: &Json) -> Vec<String> {
    let servers = gateway["spec"]["servers"].as_array();
    let all = servers.into_iter().flatten().flat_map(|s| {
        let hosts = s["hosts"].as_array().cloned().unwrap_or_default();
        hosts
            .into_iter()
            .filter_map(|h| h.as_str().map(str::to_string))
    });
    sorted(all)
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}

/// The current addresses of an export, when known.
fn current_addresses(live: &Live, gateway: &Json) -> Option<Vec<String>> {
    match reach(gateway) {
        Reach::Fixed(a) => Some(a),
        Reach::Service { namespace, name } => {
            let svc = live.gateway_services.get(&(namespace, name))?;
            let addresses = sorted(load_balancer_addresses(svc.as_ref().ok()?.as_ref()?));
            (!addresses.is_empty()).then_some(addresses)
        }
    }
}

/// Each import of member `me` against its exporter among the listed members.
pub(super) fn imports(
    live: &Live,
    members: &[Observation<'_>],
    me: usize,
    c: &mut ClusterReport,
    out: &mut Findings,
) {
    let entries = match &live.service_entries {
        Ok(e) => e,
        Err(e) => return out.failed_read("ServiceEntries (every namespace)", e),
    };
    for entry in entries {
        let Some(host) = imported_host(entry) else {
            continue;
        };
        let (namespace, name) = namespaced_name(entry);
        let endpoints = sorted(
            entry["spec"]["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["address"].as_str().map(str::to_string)),
        );
        let mut report = ImportReport {
            namespace: namespace.clone(),
            name: name.clone(),
            host: host.clone(),
            endpoints,
            exporter: None,
            gateway_addresses: None,
            current: None,
        };
        let what = object("ServiceEntry", &namespace, &name);
        match exporter(members, me, &host) {
            Exporter::Found { cluster, live, gateway } => {
                report.exporter = Some(cluster.to_string());
                report.gateway_addresses = current_addresses(live, gateway);
                if let Some(want) = &report.gateway_addresses {
                    let current = *want == report.endpoints;
                    report.current = Some(current);
                    if !current {
                        out.push(
                            what,
                            format!("The endpoints of {host} ({}) are not the current addresses of its exporting gateway in {cluster} ({}): calls from {} go to an old address.", report.endpoints.join(", "), want.join(", "), c.cluster),
                            format!("Run terraform apply: meshfed_exported_service in {cluster} reads the gateway's new addresses at plan, and the meshfed_service_entry fed by its export updates these endpoints (if the endpoints are written by hand, set them to {}).", want.join(", ")),
                        );
                    }
                }
            }
            Exporter::Gone { cluster } => out.push(
                what,
                format!("{host} is imported, but {cluster} no longer exports it (no meshfed export Gateway there has this host): calls from {} fail.", c.cluster),
                format!("Apply the meshfed_exported_service of {host} in {cluster} again, or, if the export was removed on purpose, remove this meshfed_service_entry."),
            ),
            Exporter::Unknown => {}
        }
        c.imports.push(report);
    }
}

enum Exporter<'a> {
    Found {
        cluster: &'a str,
        live: &'a Live,
        gateway: &'a Json,
    },
    /// A listed member whose domain suffix the host has, read, and without an export of it.
    Gone { cluster: &'a str },
    /// No listed member exports it, or the one that should cannot be read.
    Unknown,
}

fn exporter<'a>(members: &'a [Observation<'_>], me: usize, host: &str) -> Exporter<'a> {
    let mut gone = None;
    for (j, o) in members.iter().enumerate() {
        if j == me {
            continue;
        }
        let Observed::Read(live) = o.observed else {
            continue;
        };
        let Ok(gateways) = &live.gateways else {
            continue;
        };
        let found = gateways
            .iter()
            .filter(|g| exported_by_meshfed(g).is_some())
            .find(|g| hosts(g).iter().any(|h| h == host));
        if let Some(gateway) = found {
            return Exporter::Found {
                cluster: &o.member.cluster,
                live,
                gateway,
            };
        }
        if host.ends_with(&format!(".svc.{}", o.member.facts.domain_suffix)) {
            gone = Some(o.member.cluster.as_str());
        }
    }
    gone.map_or(Exporter::Unknown, |cluster| Exporter::Gone { cluster })
}

/// Each export of this member: its gateway Service exists and has an address.
pub(super) fn exports(live: &Live, c: &mut ClusterReport, out: &mut Findings) {
    let gateways = match &live.gateways {
        Ok(g) => g,
        Err(e) => return out.failed_read("Gateways (every namespace)", e),
    };
    for g in gateways {
        let Some((svc_ns, svc)) = exported_by_meshfed(g) else {
            continue;
        };
        let (gw_ns, gw_name) = namespaced_name(g);
        let mut report = ExportReport {
            service: format!("{svc_ns}/{svc}"),
            gateway: format!("{gw_ns}/{gw_name}"),
            hosts: hosts(g),
            gateway_service: None,
            addresses: Vec::new(),
        };
        match reach(g) {
            Reach::Fixed(a) => report.addresses = a,
            Reach::Service { namespace, name } => {
                report.gateway_service = Some(format!("{namespace}/{name}"));
                let what = object("Service", &namespace, &name);
                let reinstall = format!(
                    "Reinstall the east-west gateway so that Service {namespace}/{name} exists with a load-balancer address, or set gateway.service (or gateway.addresses) of meshfed_exported_service {svc_ns}/{svc} in {} to where other clusters reach it; then terraform apply.",
                    c.cluster
                );
                match live.gateway_services.get(&(namespace.clone(), name.clone())) {
                    Some(Err(e)) => out.failed_read(&what, e),
                    None | Some(Ok(None)) => out.push(
                        what,
                        format!("The gateway Service of the export of {svc_ns}/{svc} does not exist: other clusters cannot reach {}.", report.hosts.join(", ")),
                        reinstall,
                    ),
                    Some(Ok(Some(s))) => {
                        report.addresses = sorted(load_balancer_addresses(s));
                        if report.addresses.is_empty() {
                            out.push(
                                what,
                                format!("The gateway Service has no address: status.loadBalancer.ingress of {namespace}/{name} is empty, so the export of {svc_ns}/{svc} cannot be reached from other clusters."),
                                format!("Wait until the load balancer gives the Service an address (kubectl -n {namespace} get service {name}), then terraform apply so importers get it. {reinstall}"),
                            );
                        }
                    }
                }
            }
        }
        c.exports.push(report);
    }
}
