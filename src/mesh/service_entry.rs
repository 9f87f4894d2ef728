//! Rendering of `meshfed_service_entry`: a ServiceEntry that makes a remote service's host
//! resolvable in the consuming cluster, with the remote east-west gateway(s) as its endpoints,
//! and a DestinationRule that originates Istio mutual TLS to it.
//!
//! Pure and deterministic: the same spec always renders the same objects, byte for byte.
//! Port numbers are the remote service's: the client's SNI is `outbound_.<port>_._.<host>`, which
//! the remote gateway looks up in its own registry; each endpoint maps every port name to the
//! gateway's port (15443 by default).

use serde_json::{Map, Value, json};

use super::{DEFAULT_GATEWAY_PORT, Manifest, Protocol, json_strings, metadata};

pub const SERVICE_ENTRY_API: &str = "networking.istio.io/v1";
pub const DESTINATION_RULE_API: &str = "networking.istio.io/v1";

/// One port of the remote service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub number: u16,
    pub protocol: Protocol,
}

impl Port {
    pub fn new(name: &str, number: u16, protocol: Protocol) -> Port {
        Port {
            name: name.to_string(),
            number,
            protocol,
        }
    }
}

/// One address where the remote service is reached (a gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    pub locality: Option<String>,
    pub network: Option<String>,
}

/// A checked `meshfed_service_entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntrySpec {
    /// Name of both objects.
    pub name: String,
    pub namespace: String,
    pub host: String,
    /// VIPs of the host in the consuming cluster.
    pub addresses: Vec<String>,
    pub ports: Vec<Port>,
    pub endpoints: Vec<Endpoint>,
    pub subject_alt_names: Vec<String>,
    pub export_to: Vec<String>,
    pub sni: Option<String>,
}

/// Whether `s` is an IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// `STATIC` when every endpoint address is an IP, else `DNS`.
pub fn resolution(endpoints: &[Endpoint]) -> &'static str {
    if endpoints.iter().all(|e| is_ip(&e.address)) {
        "STATIC"
    } else {
        "DNS"
    }
}

/// The default object name for a host: a DNS-1123 label derived from it, e.g.
/// `bar.xyz.svc.cluster-b.local` → `bar-xyz-svc-cluster-b-local`; long hosts are shortened with
/// a hash so that distinct hosts keep distinct names.
pub fn default_name(host: &str) -> String {
    let base: String = host
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let base = base.trim_matches('-').to_string();
    if base.len() <= 63 && !base.is_empty() {
        return base;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(host.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let head: String = base.chars().take(54).collect();
    format!("{}-{hash}", head.trim_end_matches('-'))
}

/// The ServiceEntry and the DestinationRule, in that order.
pub fn render(spec: &ServiceEntrySpec) -> Vec<Manifest> {
    vec![service_entry(spec), destination_rule(spec)]
}

fn service_entry(spec: &ServiceEntrySpec) -> Manifest {
    let mut s = Map::new();
    s.insert("hosts".into(), json!([spec.host]));
    if !spec.addresses.is_empty() {
        s.insert("addresses".into(), json!(spec.addresses));
    }
    s.insert(
        "ports".into(),
        Value::Array(
            spec.ports
                .iter()
                .map(|p| json!({"number": p.number, "protocol": p.protocol.as_str(), "name": p.name}))
                .collect(),
        ),
    );
    s.insert("location".into(), json!("MESH_INTERNAL"));
    s.insert("resolution".into(), json!(resolution(&spec.endpoints)));
    s.insert(
        "endpoints".into(),
        Value::Array(
            spec.endpoints
                .iter()
                .map(|e| endpoint(e, &spec.ports))
                .collect(),
        ),
    );
    if !spec.subject_alt_names.is_empty() {
        s.insert("subjectAltNames".into(), json!(spec.subject_alt_names));
    }
    s.insert("exportTo".into(), json!(spec.export_to));
    Manifest::new(
        SERVICE_ENTRY_API,
        "ServiceEntry",
        metadata(&spec.name, &spec.namespace),
        "spec",
        Value::Object(s),
    )
}

fn endpoint(e: &Endpoint, ports: &[Port]) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), json!(e.address));
    let port_map: Map<String, Value> = ports
        .iter()
        .map(|p| (p.name.clone(), json!(e.port)))
        .collect();
    m.insert("ports".into(), Value::Object(port_map));
    m.insert(
        "labels".into(),
        json!({"security.istio.io/tlsMode": "istio"}),
    );
    if let Some(n) = &e.network {
        m.insert("network".into(), json!(n));
    }
    if let Some(l) = &e.locality {
        m.insert("locality".into(), json!(l));
    }
    Value::Object(m)
}

fn destination_rule(spec: &ServiceEntrySpec) -> Manifest {
    let mut tls = Map::new();
    tls.insert("mode".into(), json!("ISTIO_MUTUAL"));
    if let Some(sni) = &spec.sni {
        tls.insert("sni".into(), json!(sni));
    }
    let s = json!({
        "host": spec.host,
        "trafficPolicy": { "tls": Value::Object(tls) },
        "exportTo": spec.export_to,
    });
    Manifest::new(
        DESTINATION_RULE_API,
        "DestinationRule",
        metadata(&spec.name, &spec.namespace),
        "spec",
        s,
    )
}

/// Reconstructs the spec that rendered a live ServiceEntry (and its DestinationRule, when there
/// is one): the inverse of [`render`], what an import recovers. `None` when the ServiceEntry
/// lacks hosts, ports or endpoints.
pub fn spec_from_objects(
    namespace: &str,
    name: &str,
    service_entry: &Value,
    destination_rule: Option<&Value>,
) -> Option<ServiceEntrySpec> {
    let spec = &service_entry["spec"];
    let host = spec["hosts"].as_array()?.first()?.as_str()?.to_string();
    let ports: Vec<Port> = spec["ports"]
        .as_array()?
        .iter()
        .map(port_of_object)
        .collect::<Option<_>>()?;
    let first_port = &ports.first()?.name;
    let endpoints: Vec<Endpoint> = spec["endpoints"]
        .as_array()?
        .iter()
        .map(|e| endpoint_of_object(e, first_port))
        .collect::<Option<_>>()?;
    let export_to = json_strings(&spec["exportTo"]);
    let tls = destination_rule.map(|d| &d["spec"]["trafficPolicy"]["tls"]);
    Some(ServiceEntrySpec {
        name: name.to_string(),
        namespace: namespace.to_string(),
        host,
        addresses: json_strings(&spec["addresses"]),
        ports,
        endpoints,
        subject_alt_names: json_strings(&spec["subjectAltNames"]),
        // meshfed always writes exportTo; an entry without one (made by hand) is visible in
        // every namespace, Istio's default: adopting it must not narrow that.
        export_to: if export_to.is_empty() {
            vec!["*".into()]
        } else {
            export_to
        },
        sni: tls.and_then(|t| t["sni"].as_str().map(str::to_string)),
    })
}

fn port_of_object(p: &Value) -> Option<Port> {
    Some(Port {
        name: p["name"].as_str()?.to_string(),
        number: u16::try_from(p["number"].as_u64()?).ok()?,
        protocol: Protocol::parse(p["protocol"].as_str()?)?,
    })
}

/// An endpoint, its gateway port read from the first port's mapping.
fn endpoint_of_object(e: &Value, first_port: &str) -> Option<Endpoint> {
    let port = e["ports"][first_port]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok());
    Some(Endpoint {
        address: e["address"].as_str()?.to_string(),
        port: port.unwrap_or(DEFAULT_GATEWAY_PORT),
        locality: e["locality"].as_str().map(str::to_string),
        network: e["network"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn bar_spec() -> ServiceEntrySpec {
        ServiceEntrySpec {
            name: default_name("bar.xyz.svc.cluster-b.local"),
            namespace: "abc".into(),
            host: "bar.xyz.svc.cluster-b.local".into(),
            addresses: vec![],
            ports: vec![Port::new("http", 8080, Protocol::Http)],
            endpoints: vec![Endpoint {
                address: "198.51.100.20".into(),
                port: 15443,
                locality: None,
                network: None,
            }],
            subject_alt_names: vec!["spiffe://cluster-b.local/ns/xyz/sa/bar".into()],
            export_to: vec![".".into()],
            sni: None,
        }
    }

    fn golden(name: &str, spec: &ServiceEntrySpec) {
        let in_a = |m| ("cluster-a.local".to_string(), m);
        crate::mesh::golden::check(name, || render(spec).into_iter().map(in_a).collect());
    }

    #[test]
    fn the_seed_scenario_renders_as_the_golden_file() {
        golden("service_entry_bar.yaml", &bar_spec());
    }

    #[test]
    fn dns_endpoints_with_several_ports_locality_network_vip_and_sni_render_as_the_golden_file() {
        let spec = ServiceEntrySpec {
            addresses: vec!["240.240.0.10".into()],
            ports: vec![
                Port::new("http", 8080, Protocol::Http),
                Port::new("db", 5432, Protocol::Tcp),
            ],
            endpoints: vec![
                Endpoint {
                    address: "eastwest.b.example.com".into(),
                    port: 15443,
                    locality: Some("eu-west1/eu-west1-b".into()),
                    network: Some("net-b".into()),
                },
                Endpoint {
                    address: "198.51.100.21".into(),
                    port: 15443,
                    locality: None,
                    network: Some("net-b".into()),
                },
            ],
            sni: Some("bar.xyz.svc.cluster-b.local".into()),
            export_to: vec![".".into(), "istio-system".into()],
            ..bar_spec()
        };
        golden("service_entry_dns.yaml", &spec);
    }

    #[test]
    fn every_endpoint_maps_every_port_name_to_its_gateway_port_and_is_labelled_for_mtls() {
        let mut spec = bar_spec();
        spec.ports.push(Port::new("grpc", 9090, Protocol::Grpc));
        let se = &render(&spec)[0];
        let ep = &se.object["spec"]["endpoints"][0];
        assert_eq!(ep["ports"], json!({"http": 15443, "grpc": 15443}));
        assert_eq!(ep["labels"]["security.istio.io/tlsMode"], "istio");
        assert_eq!(
            se.object["spec"]["ports"][1],
            json!({"number": 9090, "protocol": "GRPC", "name": "grpc"})
        );
        assert_eq!(se.object["spec"]["location"], "MESH_INTERNAL");
    }

    #[test]
    fn resolution_is_static_only_when_every_address_is_an_ip() {
        let ip = |a: &str| Endpoint {
            address: a.into(),
            port: 15443,
            locality: None,
            network: None,
        };
        assert_eq!(
            resolution(&[ip("198.51.100.20"), ip("2001:db8::1")]),
            "STATIC"
        );
        assert_eq!(
            resolution(&[ip("198.51.100.20"), ip("gw.example.com")]),
            "DNS"
        );
    }

    #[test]
    fn the_destination_rule_originates_istio_mutual_tls_to_the_same_host() {
        let dr = &render(&bar_spec())[1];
        assert_eq!(dr.kind, "DestinationRule");
        assert_eq!(dr.object["spec"]["host"], "bar.xyz.svc.cluster-b.local");
        assert_eq!(
            dr.object["spec"]["trafficPolicy"]["tls"],
            json!({"mode": "ISTIO_MUTUAL"})
        );
    }

    #[test]
    fn default_names_are_dns_labels_and_long_hosts_stay_distinct() {
        assert_eq!(
            default_name("bar.xyz.svc.cluster-b.local"),
            "bar-xyz-svc-cluster-b-local"
        );
        let long_a = format!("{}.a.svc.cluster.local", "x".repeat(60));
        let long_b = format!("{}.b.svc.cluster.local", "x".repeat(60));
        let (a, b) = (default_name(&long_a), default_name(&long_b));
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{a}"
        );
    }

    #[test]
    fn the_spec_is_read_back_from_the_objects_it_rendered() {
        let spec = ServiceEntrySpec {
            addresses: vec!["240.240.0.10".into()],
            endpoints: vec![Endpoint {
                address: "eastwest.b.example.com".into(),
                port: 15444,
                locality: Some("eu-west1/eu-west1-b".into()),
                network: Some("net-b".into()),
            }],
            sni: Some("bar.xyz.svc.cluster-b.local".into()),
            export_to: vec![".".into(), "istio-system".into()],
            ..bar_spec()
        };
        for spec in [bar_spec(), spec] {
            let objects = render(&spec);
            let read = spec_from_objects(
                &spec.namespace,
                &spec.name,
                &objects[0].object,
                Some(&objects[1].object),
            );
            assert_eq!(read, Some(spec));
        }
        assert_eq!(
            spec_from_objects("abc", "x", &json!({"spec": {}}), None),
            None
        );
    }
}
