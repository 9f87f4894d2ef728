use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use time::Duration;

use super::*;
use crate::cert::{CaMaterial, CaRequest, fingerprint_sha256, generate_ca, now};
use crate::mesh::exported_service::EXPORTED_SERVICE_ANNOTATION;
use crate::mesh::trust::{Party, mesh_config_text};
use crate::mesh::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

const A: &str = "a.local";
const B: &str = "b.local";
const HOST: &str = "bar.xyz.svc.b.local";
const GW: &str = "198.51.100.20";

fn ca(td: &str) -> CaMaterial {
    generate_ca(CaRequest::new(td, now())).expect("a CA")
}

fn member(name: &str) -> Member {
    Member {
        cluster: name.into(),
        facts: MeshFacts {
            trust_domain: name.into(),
            domain_suffix: name.into(),
            istio_namespace: "istio-system".into(),
            network: None,
        },
    }
}

fn settings() -> Settings {
    Settings {
        now: now(),
        expiry_window: Duration::days(90),
    }
}

fn configmap(key: &str, text: &str) -> Json {
    json!({"data": {key: text}})
}

fn istiod(env: Json) -> Json {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "discovery", "env": env}]}}}})
}

fn multiroot() -> Json {
    istiod(json!([{"name": "ISTIO_MULTIROOT_MESH", "value": "true"},
                  {"name": "SHARED_MESH_CONFIG", "value": "meshfed-mesh-config"}]))
}

fn mesh_config(trusted: &[(&str, &CaMaterial)]) -> Json {
    let parties: Vec<Party> = trusted
        .iter()
        .map(|(td, ca)| Party {
            trust_domain: td.to_string(),
            roots: vec![crate::cert::encoding::pem_text(&ca.root_cert_pem)],
        })
        .collect();
    let refs: Vec<&Party> = parties.iter().collect();
    configmap("mesh", &mesh_config_text(&refs))
}

/// A member with its plug-in CA loaded and the other party trusted.
fn live(own: &CaMaterial, other: (&str, &CaMaterial)) -> Live {
    Live {
        istiod: Ok(Some(multiroot())),
        cacerts: Ok(Some(CacertsPublic {
            root_cert_pem: Some(own.root_cert_pem.clone()),
            ca_cert_pem: Some(own.intermediate_cert_pem.clone()),
        })),
        istio_root: Ok(Some(configmap("root-cert.pem", &own.root_cert_pem))),
        mesh_config: Ok(Some(mesh_config(&[other]))),
        service_entries: Ok(Vec::new()),
        gateways: Ok(Vec::new()),
        gateway_services: BTreeMap::new(),
    }
}

fn labels() -> Json {
    json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE})
}

fn import(address: &str) -> Json {
    json!({"metadata": {"namespace": "abc", "name": "bar-xyz", "labels": labels()},
           "spec": {"hosts": [HOST], "location": "MESH_INTERNAL",
                    "endpoints": [{"address": address, "ports": {"http": 15443}}]}})
}

fn export_gateway() -> Json {
    json!({"metadata": {"namespace": "istio-system", "name": "meshfed-export-xyz-bar",
                        "labels": labels(), "annotations": {EXPORTED_SERVICE_ANNOTATION: "xyz/bar"}},
           "spec": {"servers": [{"port": {"number": 15443}, "hosts": [HOST]}]}})
}

fn gateway_service(ip: Option<&str>) -> Json {
    let ingress: Vec<Json> = ip.into_iter().map(|ip| json!({"ip": ip})).collect();
    json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": ingress}}})
}

/// The seed federation: a imports bar from b, whose gateway is at [`GW`].
struct Fed {
    a: CaMaterial,
    b: CaMaterial,
    live_a: Live,
    live_b: Live,
}

impl Fed {
    fn new() -> Fed {
        let (a, b) = (ca(A), ca(B));
        let mut live_a = live(&a, (B, &b));
        let mut live_b = live(&b, (A, &a));
        live_a.service_entries = Ok(vec![import(GW)]);
        live_b.gateways = Ok(vec![export_gateway()]);
        live_b.gateway_services.insert(
            ("istio-system".into(), "istio-eastwestgateway".into()),
            Ok(Some(gateway_service(Some(GW)))),
        );
        Fed {
            a,
            b,
            live_a,
            live_b,
        }
    }

    fn assess_with(self, s: Settings) -> Report {
        let (ma, mb) = (member(A), member(B));
        let (oa, ob) = (
            Observed::Read(Box::new(self.live_a)),
            Observed::Read(Box::new(self.live_b)),
        );
        let obs = [
            Observation {
                member: &ma,
                observed: &oa,
            },
            Observation {
                member: &mb,
                observed: &ob,
            },
        ];
        assess(&obs, s)
    }

    fn assess(self) -> Report {
        self.assess_with(settings())
    }
}

fn only(r: &Report) -> &Problem {
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    &r.problems[0]
}

#[test]
fn a_healthy_federation_has_no_problem_and_reports_what_it_found() {
    let fed = Fed::new();
    let (root_a, root_b) = (
        fingerprint_sha256(fed.a.root_cert_pem.as_bytes()),
        fingerprint_sha256(fed.b.root_cert_pem.as_bytes()),
    );
    let r = fed.assess();
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    let a = &r.clusters[0];
    assert!(a.reachable && a.istiod_found && a.multiroot && a.plugin_ca);
    assert_eq!(a.plugin_ca_in_use, Some(true));
    assert_eq!(a.roots[0].fingerprint, root_a);
    assert_eq!(a.trusted[0].cert.fingerprint, root_b);
    assert_eq!(a.trusted[0].trust_domains, [B]);
    assert!(a.intermediate.is_some());
    let import = &a.imports[0];
    assert_eq!(import.exporter.as_deref(), Some(B));
    assert_eq!(import.gateway_addresses, Some(vec![GW.to_string()]));
    assert_eq!(import.current, Some(true));
    let export = &r.clusters[1].exports[0];
    assert_eq!(export.service, "xyz/bar");
    assert_eq!(export.addresses, [GW]);
}

#[test]
fn istiod_without_the_multiroot_settings_is_a_problem_with_the_helm_flags() {
    let mut fed = Fed::new();
    fed.live_a.istiod = Ok(Some(istiod(
        json!([{"name": "ISTIO_MULTIROOT_MESH", "value": "true"}]),
    )));
    let r = fed.assess();
    let p = only(&r);
    assert_eq!(
        (p.cluster.as_str(), p.object.as_str()),
        (A, "Deployment istio-system/istiod")
    );
    assert!(
        p.problem
            .contains("lacks SHARED_MESH_CONFIG=meshfed-mesh-config"),
        "{p:?}"
    );
    assert!(
        p.fix
            .contains("--set values.pilot.env.SHARED_MESH_CONFIG=meshfed-mesh-config"),
        "{p:?}"
    );
    assert!(!r.clusters[0].multiroot);

    let mut fed = Fed::new();
    fed.live_b.istiod = Ok(None);
    let p = only(&fed.assess()).clone();
    assert!(p.problem.contains("istiod was not found"), "{p:?}");
}

#[test]
fn a_plugged_ca_istiod_has_not_loaded_asks_for_a_restart() {
    let mut fed = Fed::new();
    let self_signed = ca("self-signed.local");
    fed.live_a.istio_root = Ok(Some(configmap("root-cert.pem", &self_signed.root_cert_pem)));
    let r = fed.assess();
    let p = only(&r);
    assert_eq!(p.object, "Secret istio-system/cacerts");
    assert!(
        p.fix
            .starts_with("kubectl -n istio-system rollout restart deployment/istiod"),
        "{p:?}"
    );
    assert_eq!(r.clusters[0].plugin_ca_in_use, Some(false));
}

#[test]
fn during_a_rotation_both_roots_compare_as_sets_and_both_must_be_trusted() {
    let mut fed = Fed::new();
    let next = ca(A);
    let both = format!("{}{}", next.root_cert_pem, fed.a.root_cert_pem);
    let reversed = format!("{}{}", fed.a.root_cert_pem, next.root_cert_pem);
    fed.live_a.cacerts = Ok(Some(CacertsPublic {
        root_cert_pem: Some(both),
        ca_cert_pem: Some(next.intermediate_cert_pem.clone()),
    }));
    fed.live_a.istio_root = Ok(Some(configmap("root-cert.pem", &reversed)));
    // b trusts only a's old root: the new one is missing there.
    let r = fed.assess();
    assert_eq!(r.clusters[0].plugin_ca_in_use, Some(true));
    assert_eq!(r.clusters[0].roots.len(), 2);
    let p = only(&r);
    assert_eq!(
        (p.cluster.as_str(), p.object.as_str()),
        (B, "ConfigMap istio-system/meshfed-mesh-config")
    );
    assert!(
        p.problem.starts_with(&format!("The root of {A} (")),
        "{p:?}"
    );
    assert_eq!(r.clusters[1].missing_roots, [A]);
}

#[test]
fn a_root_missing_from_a_bundle_names_the_party_and_the_trust_domain_counts() {
    let mut fed = Fed::new();
    fed.live_a.mesh_config = Ok(Some(configmap("mesh", "caCertificates: []\n")));
    let r = fed.assess();
    let p = only(&r);
    assert_eq!(p.cluster, A);
    assert!(p.problem.contains(&format!("The root of {B}")), "{p:?}");
    assert!(p.fix.contains("Apply the meshfed_trust"), "{p:?}");

    // The right root under another trust domain does not count.
    let mut fed = Fed::new();
    let b = fed.b.clone();
    fed.live_a.mesh_config = Ok(Some(mesh_config(&[("other.local", &b)])));
    assert_eq!(fed.assess().clusters[0].missing_roots, [B]);
}

#[test]
fn in_cacerts_bundle_mode_a_members_own_roots_leave_out_the_parties_it_trusts() {
    let mut fed = Fed::new();
    let bundle = format!("{}{}", fed.a.root_cert_pem, fed.b.root_cert_pem);
    fed.live_a.cacerts = Ok(Some(CacertsPublic {
        root_cert_pem: Some(bundle.clone()),
        ca_cert_pem: Some(fed.a.intermediate_cert_pem.clone()),
    }));
    fed.live_a.istio_root = Ok(Some(configmap("root-cert.pem", &bundle)));
    let r = fed.assess();
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    assert_eq!(r.clusters[0].roots.len(), 1);
}

#[test]
fn an_import_whose_gateway_moved_is_stale_and_a_gateway_without_address_is_reported() {
    let mut fed = Fed::new();
    fed.live_a.service_entries = Ok(vec![import("198.51.100.99")]);
    let r = fed.assess();
    let p = only(&r);
    assert_eq!(
        (p.cluster.as_str(), p.object.as_str()),
        (A, "ServiceEntry abc/bar-xyz")
    );
    assert!(
        p.problem
            .contains("(198.51.100.99) are not the current addresses"),
        "{p:?}"
    );
    assert!(p.fix.starts_with("Run terraform apply"), "{p:?}");
    assert_eq!(r.clusters[0].imports[0].current, Some(false));

    for (service, says) in [
        (None, "does not exist"),
        (
            Some(gateway_service(None)),
            "The gateway Service has no address",
        ),
    ] {
        let mut fed = Fed::new();
        let key = (
            "istio-system".to_string(),
            "istio-eastwestgateway".to_string(),
        );
        fed.live_b.gateway_services.insert(key, Ok(service));
        let r = fed.assess();
        let p = only(&r);
        assert_eq!(
            (p.cluster.as_str(), p.object.as_str()),
            (B, "Service istio-system/istio-eastwestgateway")
        );
        assert!(p.problem.contains(says), "{p:?}");
        assert_eq!(r.clusters[0].imports[0].current, None, "unknown, not stale");
    }

    let mut fed = Fed::new();
    fed.live_b.gateways = Ok(Vec::new());
    let p = only(&fed.assess()).clone();
    assert!(p.problem.contains("no longer exports it"), "{p:?}");
}

#[test]
fn certificates_within_the_window_or_expired_are_problems_with_the_date() {
    let wide = Settings {
        now: now(),
        expiry_window: Duration::days(4000),
    };
    let r = Fed::new().assess_with(wide);
    assert_eq!(r.problems.len(), 4, "{:#?}", r.problems);
    assert!(
        r.problems
            .iter()
            .all(|p| p.problem.contains("expires on") && p.fix.starts_with("Rotate the CA of"))
    );

    let later = Settings {
        now: now() + Duration::days(4000),
        expiry_window: Duration::days(90),
    };
    let r = Fed::new().assess_with(later);
    let expired: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.problem.contains("expired on"))
        .collect();
    assert_eq!(expired.len(), 4, "{:#?}", r.problems);
}

#[test]
fn an_unreachable_cluster_or_a_refused_read_is_a_problem_not_an_error() {
    let fed = Fed::new();
    let (ma, mb) = (member(A), member(B));
    let down = Observed::Unreachable(ReadError {
        kind: ReadErrorKind::Unreachable,
        cause: "a.local: cannot reach the API server".into(),
    });
    let mut live_b = fed.live_b;
    live_b.cacerts = Err(ReadError {
        kind: ReadErrorKind::Denied,
        cause: "forbidden".into(),
    });
    let up = Observed::Read(Box::new(live_b));
    let obs = [
        Observation {
            member: &ma,
            observed: &down,
        },
        Observation {
            member: &mb,
            observed: &up,
        },
    ];
    let r = assess(&obs, settings());
    assert!(!r.clusters[0].reachable && !r.clusters[1].reachable);
    let in_a: Vec<&Problem> = r.problems.iter().filter(|p| p.cluster == A).collect();
    assert_eq!(in_a.len(), 1, "{:#?}", r.problems);
    assert!(in_a[0].problem.contains("cannot reach the API server"));
    assert!(in_a[0].fix.contains("reachable"));
    let refused = r
        .problems
        .iter()
        .find(|p| p.object == "Secret istio-system/cacerts")
        .expect("the refused read");
    assert!(
        refused.fix.contains("examples/rbac/status.yaml"),
        "{refused:?}"
    );
}
