//! Rendering of `meshfed_exported_service`: golden files, and what users rely on (exactly the
//! service's host and never a wildcard, the policy's principals, the inverse an import uses).

use super::*;
use crate::mesh::MANAGED_BY_LABEL;

/// The seed scenario: `bar` in `xyz` of cluster-b.local, port 8080 `http`, every default.
fn bar_spec() -> ExportSpec {
    ExportSpec {
        namespace: "xyz".into(),
        service: "bar".into(),
        service_account: "bar".into(),
        ports: vec![Port::new("http", 8080, Protocol::Http)],
        domain_suffix: "cluster-b.local".into(),
        trust_domain: "cluster-b.local".into(),
        gateway: Gateway {
            selector: default_gateway_selector(),
            namespace: "istio-system".into(),
            port: DEFAULT_GATEWAY_PORT,
            service: DEFAULT_GATEWAY_SERVICE.into(),
            addresses: None,
        },
        alias: None,
        allowed_principals: None,
        workload_selector: default_workload_selector("bar"),
    }
}

/// Everything set: alias, principals, a custom gateway and workload selector, two ports.
fn full_spec() -> ExportSpec {
    ExportSpec {
        service_account: "bar-sa".into(),
        ports: vec![
            Port::new("http", 8080, Protocol::Http),
            Port::new("grpc", 9090, Protocol::Grpc),
        ],
        gateway: Gateway {
            selector: BTreeMap::from([("app".into(), "federation-gateway".into())]),
            namespace: "gateways".into(),
            port: 15444,
            service: "federation-gateway".into(),
            addresses: Some(vec!["198.51.100.20".into(), "gw.b.example.com".into()]),
        },
        alias: Some("bar.global".into()),
        allowed_principals: Some(vec![
            "cluster-a.local/ns/abc/sa/foo".into(),
            "cluster-c.local/ns/def/sa/baz".into(),
        ]),
        workload_selector: BTreeMap::from([("app.kubernetes.io/name".into(), "bar".into())]),
        ..bar_spec()
    }
}

fn facts_b() -> crate::mesh::MeshFacts {
    crate::mesh::MeshFacts {
        trust_domain: "cluster-b.local".into(),
        domain_suffix: "cluster-b.local".into(),
        istio_namespace: "istio-system".into(),
        network: None,
    }
}

fn golden(name: &str, spec: &ExportSpec) {
    let in_b = |m| ("cluster-b.local".to_string(), m);
    crate::mesh::golden::check(name, || render(spec).into_iter().map(in_b).collect());
}

fn of_kind<'a>(manifests: &'a [Manifest], kind: &str) -> &'a Manifest {
    manifests
        .iter()
        .find(|m| m.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[test]
fn the_seed_scenario_renders_as_the_golden_file() {
    golden("exported_service_bar.yaml", &bar_spec());
}

#[test]
fn alias_principals_and_a_custom_gateway_render_as_the_golden_file() {
    golden("exported_service_full.yaml", &full_spec());
}

#[test]
fn without_alias_or_principals_only_the_gateway_is_rendered() {
    let m = render(&bar_spec());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].kind, "Gateway");
    assert_eq!(m[0].name, "meshfed-export-xyz-bar");
    assert_eq!(m[0].namespace, "istio-system");
}

#[test]
fn the_gateway_has_one_tls_server_on_15443_with_auto_passthrough() {
    let m = render(&bar_spec());
    let spec = &of_kind(&m, "Gateway").object["spec"];
    assert_eq!(spec["selector"], json!({"istio": "eastwestgateway"}));
    let servers = spec["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0]["port"]["number"], 15443);
    assert_eq!(servers[0]["port"]["protocol"], "TLS");
    assert_eq!(servers[0]["tls"], json!({"mode": "AUTO_PASSTHROUGH"}));
}

#[test]
fn gateway_hosts_are_exactly_the_fqdn_and_the_alias_and_never_a_wildcard() {
    let plain = render(&bar_spec());
    let hosts = &of_kind(&plain, "Gateway").object["spec"]["servers"][0]["hosts"];
    assert_eq!(hosts, &json!(["bar.xyz.svc.cluster-b.local"]));
    let full = render(&full_spec());
    let hosts = &of_kind(&full, "Gateway").object["spec"]["servers"][0]["hosts"];
    assert_eq!(hosts, &json!(["bar.xyz.svc.cluster-b.local", "bar.global"]));
    // The policy's `*` patterns are by design (see the policy test); nothing that exposes the
    // service has one.
    for m in plain
        .iter()
        .chain(&full)
        .filter(|m| m.kind != "AuthorizationPolicy")
    {
        assert!(!m.to_yaml().contains('*'), "{}", m.to_yaml());
    }
}

#[test]
fn the_server_port_name_is_a_dns_label_even_for_the_longest_names() {
    assert_eq!(server_port_name("xyz", "bar"), "tls-meshfed-export-xyz-bar");
    let long = server_port_name(&"n".repeat(63), &"s".repeat(63));
    assert!(is_name(&long, 63, false), "{long}");
}

#[test]
fn the_policy_denies_only_unlisted_callers_of_other_trust_domains_on_the_selected_workloads() {
    let m = render(&full_spec());
    let ap = of_kind(&m, "AuthorizationPolicy");
    assert_eq!(ap.api_version, "security.istio.io/v1");
    assert_eq!(
        (ap.namespace.as_str(), ap.name.as_str()),
        ("xyz", "meshfed-export-bar")
    );
    assert_eq!(
        ap.object["spec"],
        json!({
            "selector": {"matchLabels": {"app.kubernetes.io/name": "bar"}},
            "action": "DENY",
            "rules": [{"from": [{"source": {
                "principals": ["*"],
                "notPrincipals": ["cluster-b.local/*", "cluster-a.local/ns/abc/sa/foo", "cluster-c.local/ns/def/sa/baz"],
            }}]}],
        })
    );
}

#[test]
fn an_import_reads_the_principals_of_an_allow_policy_written_by_earlier_builds() {
    let spec = full_spec();
    let m = render(&spec);
    let mut old = of_kind(&m, "AuthorizationPolicy").object.clone();
    old["spec"]["action"] = json!("ALLOW");
    old["spec"]["rules"] =
        json!([{"from": [{"source": {"principals": ["cluster-a.local/ns/abc/sa/foo"]}}]}]);
    let live = LiveObjects {
        gateway: &of_kind(&m, "Gateway").object,
        policy: Some(&old),
        alias_service_entry: Some(&of_kind(&m, "ServiceEntry").object),
    };
    let back = spec_from_objects("xyz", "bar", &facts_b(), &live).expect("import");
    assert_eq!(
        back.allowed_principals,
        Some(vec!["cluster-a.local/ns/abc/sa/foo".to_string()])
    );
}

#[test]
fn the_alias_service_entry_is_mesh_internal_selects_the_workloads_and_is_seen_by_the_gateway() {
    let m = render(&full_spec());
    let se = &of_kind(&m, "ServiceEntry").object["spec"];
    assert_eq!(se["hosts"], json!(["bar.global"]));
    assert_eq!(se["location"], "MESH_INTERNAL");
    assert_eq!(se["resolution"], "STATIC");
    assert_eq!(
        se["workloadSelector"],
        json!({"labels": {"app.kubernetes.io/name": "bar"}})
    );
    assert_eq!(se["exportTo"], json!([".", "gateways"]));
    assert_eq!(
        se["ports"][1],
        json!({"number": 9090, "protocol": "GRPC", "name": "grpc"})
    );
}

#[test]
fn the_policy_is_applied_before_the_gateway_exposes_the_service() {
    let kinds: Vec<String> = render(&full_spec()).into_iter().map(|m| m.kind).collect();
    assert_eq!(kinds, ["AuthorizationPolicy", "ServiceEntry", "Gateway"]);
}

#[test]
fn every_object_is_labelled_managed_by_meshfed() {
    for m in render(&full_spec()) {
        assert_eq!(
            m.object["metadata"]["labels"][MANAGED_BY_LABEL], "meshfed",
            "{}",
            m.kind
        );
    }
}

#[test]
fn an_import_recovers_the_spec_from_the_objects() {
    for spec in [bar_spec(), full_spec()] {
        let m = render(&spec);
        let find = |kind: &str| m.iter().find(|o| o.kind == kind).map(|o| &o.object);
        let live = LiveObjects {
            gateway: find("Gateway").expect("gateway"),
            policy: find("AuthorizationPolicy"),
            alias_service_entry: find("ServiceEntry"),
        };
        let back = spec_from_objects("xyz", "bar", &facts_b(), &live).expect("import");
        assert_eq!(back, spec);
    }
}

#[test]
fn an_import_refuses_a_gateway_made_for_another_service() {
    let mut spec = bar_spec();
    spec.service = "bar-x".into();
    let m = render(&spec);
    let live = LiveObjects {
        gateway: &m[0].object,
        policy: None,
        alias_service_entry: None,
    };
    let e = spec_from_objects("xyz", "bar", &facts_b(), &live).expect_err("other");
    assert!(e.contains("xyz/bar-x"), "{e}");
}

#[test]
fn load_balancer_addresses_are_ips_or_else_hostnames_in_order() {
    let svc = json!({"status": {"loadBalancer": {"ingress": [
        {"ip": "198.51.100.20"}, {"hostname": "gw.example.com"}, {"ip": "2001:db8::1", "hostname": "x"}
    ]}}});
    assert_eq!(
        load_balancer_addresses(&svc),
        ["198.51.100.20", "gw.example.com", "2001:db8::1"]
    );
    assert!(load_balancer_addresses(&json!({"status": {"loadBalancer": {}}})).is_empty());
}

#[test]
fn principals_must_name_one_spiffe_identity_without_scheme_or_wildcard() {
    assert!(check_principal("cluster-a.local/ns/abc/sa/foo").is_ok());
    assert!(check_principal("td_1/ns/abc/sa/foo.bar").is_ok());
    for bad in [
        "spiffe://cluster-a.local/ns/abc/sa/foo",
        "cluster-a.local/ns/abc/sa/*",
        "*",
        "cluster-a.local/ns/abc",
        "cluster-a.local/sa/foo/ns/abc",
        "Cluster.local/ns/abc/sa/foo",
        "cluster-a.local/ns/Abc/sa/foo",
        "cluster-a.local/ns/abc/sa/",
        "cluster-a.local/ns/abc/sa/foo/extra",
    ] {
        assert!(check_principal(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn host_and_identity_follow_the_cluster_facts() {
    assert_eq!(
        host("bar", "xyz", "cluster-b.local"),
        "bar.xyz.svc.cluster-b.local"
    );
    assert_eq!(
        subject_alt_name("cluster-b.local", "xyz", "bar"),
        "spiffe://cluster-b.local/ns/xyz/sa/bar"
    );
}
