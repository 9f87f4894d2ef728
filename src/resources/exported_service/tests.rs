//! `meshfed_exported_service` without a cluster: stage one of the parse (which validation runs
//! too), and plans, whose cluster set has no connection, so that any API call fails.

use std::collections::BTreeMap;

use super::*;
use crate::mesh::MeshFacts;
use crate::resources::export::export_type;
use crate::resources::testing;
use crate::resources::values::Field;
use crate::tfplugin::provider::PlanResponse;

fn facts() -> Field<MeshFacts> {
    Field::Known(testing::facts("cluster-b.local"))
}

fn config(extra: &[(&str, Value)]) -> Value {
    let mut m: BTreeMap<String, Value> = ExportedService
        .schema()
        .block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), Value::Null))
        .collect();
    m.insert("cluster".into(), Value::string("cluster-b.local"));
    m.insert("namespace".into(), Value::string("xyz"));
    m.insert("service".into(), Value::string("bar"));
    m.insert(
        "ports".into(),
        Value::List(vec![Value::object([
            ("name", Value::string("http")),
            ("number", Value::int(8080)),
            ("protocol", Value::string("http")),
        ])]),
    );
    for (k, v) in extra {
        m.insert(k.to_string(), v.clone());
    }
    Value::Object(m)
}

fn gateway(port: Value, addresses: Value) -> Value {
    Value::object([
        ("selector", Value::Null),
        ("namespace", Value::Null),
        ("port", port),
        ("service", Value::Null),
        ("addresses", addresses),
    ])
}

fn plan_with(mesh: Field<MeshFacts>, config: Value) -> PlanResponse {
    let provider = testing::provider(&[("cluster-b.local", mesh)]);
    testing::plan_create(&ExportedService, &provider, config)
}

fn attr<'a>(state: &'a Value, name: &str) -> &'a Value {
    state
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from {state:?}"))
}

#[test]
fn a_create_without_addresses_plans_unknown_endpoints_without_any_api_call() {
    let r = plan_with(facts(), config(&[]));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    assert!(attr(s, "gateway_endpoints").is_unknown());
    assert!(attr(s, "export").is_unknown());
    assert!(attr(s, "manifests").is_wholly_known());
    assert_eq!(
        attr(s, "host"),
        &Value::string("bar.xyz.svc.cluster-b.local")
    );
    assert_eq!(attr(s, "network"), &Value::string("net-b"));
}

#[test]
fn configured_addresses_make_the_export_known_at_plan_in_the_service_entry_type() {
    let addresses = Value::List(vec![Value::string("198.51.100.20")]);
    let r = plan_with(
        facts(),
        config(&[("gateway", gateway(Value::Null, addresses))]),
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let export = attr(&r.planned_state, "export");
    let want_names: Vec<String> = match export_type() {
        Type::Object(attrs) => attrs.keys().cloned().collect(),
        other => panic!("export type {other:?}"),
    };
    let names: Vec<String> = export.entries().expect("object").keys().cloned().collect();
    assert_eq!(names, want_names);
    assert_eq!(
        attr(export, "gateway_endpoints"),
        &Value::List(vec![Value::object([
            ("address", Value::string("198.51.100.20")),
            ("port", Value::int(15443)),
        ])])
    );
    assert_eq!(
        attr(export, "subject_alt_names"),
        &Value::List(vec![Value::string(
            "spiffe://cluster-b.local/ns/xyz/sa/bar"
        )])
    );
    assert_eq!(attr(export, "network"), &Value::string("net-b"));
}

#[test]
fn ports_are_planned_as_written_and_exported_in_istio_spelling() {
    let r = plan_with(facts(), config(&[]));
    let ports = attr(&r.planned_state, "ports");
    assert_eq!(ports, attr(&config(&[]), "ports"), "verbatim");
    let addresses = Value::List(vec![Value::string("198.51.100.20")]);
    let r = plan_with(
        facts(),
        config(&[("gateway", gateway(Value::Null, addresses))]),
    );
    let exported = attr(attr(&r.planned_state, "export"), "ports");
    let first = &exported.elements().expect("list")[0];
    assert_eq!(attr(first, "protocol"), &Value::string("HTTP"));
}

#[test]
fn an_input_known_only_at_apply_leaves_what_derives_from_it_unknown() {
    let r = plan_with(
        facts(),
        config(&[
            ("alias", Value::unknown()),
            ("gateway", gateway(Value::int(15443), Value::Null)),
        ]),
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    assert!(attr(s, "manifests").is_unknown());
    assert!(attr(s, "alias").is_unknown());
    assert_eq!(
        attr(s, "host"),
        &Value::string("bar.xyz.svc.cluster-b.local")
    );
    let gw = attr(s, "gateway");
    assert_eq!(attr(gw, "port"), &Value::int(15443));
    assert!(attr(gw, "namespace").is_unknown() && attr(gw, "selector").is_unknown());
    assert_eq!(
        attr(gw, "addresses"),
        &Value::Null,
        "no default: stays as configured"
    );
}

#[test]
fn mesh_facts_known_only_at_apply_leave_the_host_unknown() {
    let r = plan_with(Field::Unknown, config(&[]));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    assert!(attr(s, "host").is_unknown() && attr(s, "manifests").is_unknown());
    assert_eq!(attr(s, "id"), &Value::string("cluster-b.local/xyz/bar"));
}

#[test]
fn an_unknown_cluster_and_an_alias_equal_to_the_host_are_refused_on_their_attribute() {
    let r = plan_with(
        facts(),
        config(&[("cluster", Value::string("cluster-x.local"))]),
    );
    let paths: Vec<String> = r
        .diagnostics
        .iter()
        .map(|d| d.attribute.clone().unwrap_or_default().to_string())
        .collect();
    assert_eq!(paths, ["cluster"]);
    let r = plan_with(
        facts(),
        config(&[("alias", Value::string("bar.xyz.svc.cluster-b.local"))]),
    );
    let d = r.diagnostics.iter().next().expect("an error");
    assert_eq!(
        (
            d.summary.as_str(),
            d.attribute.clone().unwrap_or_default().to_string()
        ),
        ("Invalid alias", "alias".to_string())
    );
}

// Stage one of the parse, which validation runs too.
/// Stage one's diagnostics: (path, summary).
fn paths(config: &Value) -> Vec<(String, String)> {
    let mut diags = Diagnostics::new();
    input::check(config, &mut diags);
    diags
        .iter()
        .map(|d| {
            let path = d.attribute.clone().unwrap_or_default().to_string();
            (path, d.summary.clone())
        })
        .collect()
}

fn strings(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::string(*s)).collect())
}

#[test]
fn the_seed_configuration_passes_stage_one() {
    assert_eq!(paths(&config(&[])), vec![]);
}

#[test]
fn wildcard_and_invalid_aliases_are_refused_on_alias() {
    for alias in ["*.global", "*", "bar_x.global"] {
        let got = paths(&config(&[("alias", Value::string(alias))]));
        assert_eq!(
            got,
            vec![("alias".into(), "Invalid alias".into())],
            "{alias}"
        );
    }
}

#[test]
fn malformed_principals_are_refused_on_their_element() {
    let got = paths(&config(&[(
        "allowed_principals",
        strings(&[
            "cluster-a.local/ns/abc/sa/foo",
            "spiffe://cluster-a.local/ns/abc/sa/foo",
        ]),
    )]));
    assert_eq!(
        got,
        vec![("allowed_principals[1]".into(), "Invalid principal".into())]
    );
    let got = paths(&config(&[("allowed_principals", strings(&[]))]));
    assert_eq!(
        got,
        vec![("allowed_principals".into(), "No allowed principals".into())]
    );
}

#[test]
fn gateway_parts_are_checked_on_their_own_paths() {
    let gateway = Value::object([
        ("selector", Value::Map(BTreeMap::new())),
        ("namespace", Value::string("Istio")),
        ("port", Value::int(70000)),
        ("service", Value::Null),
        ("addresses", strings(&["198.51.100.20", "not an address"])),
    ]);
    let got = paths(&config(&[("gateway", gateway)]));
    assert_eq!(
        got,
        vec![
            ("gateway.port".into(), "Invalid gateway port".into()),
            ("gateway.selector".into(), "Empty gateway selector".into()),
            (
                "gateway.namespace".into(),
                "Invalid gateway namespace".into()
            ),
            (
                "gateway.addresses[1]".into(),
                "Invalid gateway address".into()
            ),
        ]
    );
}

#[test]
fn invalid_names_ports_and_selectors_are_refused_on_their_paths() {
    let selector = Value::Map(BTreeMap::from([(
        "app/x/y".to_string(),
        Value::string("bar"),
    )]));
    let got = paths(&config(&[
        ("namespace", Value::string("Not_Valid")),
        ("service", Value::string("bar.x")),
        ("workload_selector", selector),
        (
            "ports",
            Value::List(vec![Value::object([
                ("name", Value::string("http")),
                ("number", Value::int(0)),
                ("protocol", Value::string("SPDY")),
            ])]),
        ),
    ]));
    assert_eq!(
        got,
        vec![
            ("namespace".into(), "Invalid namespace".into()),
            ("service".into(), "Invalid service name".into()),
            ("ports[0].number".into(), "Invalid port number".into()),
            ("ports[0].protocol".into(), "Unknown protocol".into()),
            (
                "workload_selector[\"app/x/y\"]".into(),
                "Invalid workload_selector".into()
            ),
        ]
    );
}

#[test]
fn unknown_values_always_pass_stage_one() {
    let got = paths(&config(&[
        ("alias", Value::unknown()),
        ("gateway", Value::unknown()),
        ("allowed_principals", Value::unknown()),
        ("ports", Value::unknown()),
    ]));
    assert_eq!(got, vec![]);
}

#[test]
fn defaults_fill_what_the_configuration_leaves_out() {
    let facts = MeshFacts {
        trust_domain: "cluster-b.local".into(),
        domain_suffix: "cluster-b.local".into(),
        istio_namespace: "istio-system".into(),
        network: None,
    };
    let mut diags = Diagnostics::new();
    let inputs = input::check(&config(&[]), &mut diags);
    let spec = input::build(&inputs, "xyz", "bar", &facts).expect("all known");
    assert_eq!(spec.service_account, "bar");
    assert_eq!(spec.gateway.port, 15443);
    assert_eq!(spec.gateway.namespace, "istio-system");
    assert_eq!(spec.gateway.service, "istio-eastwestgateway");
    assert_eq!(spec.gateway.selector, es::default_gateway_selector());
    assert_eq!(spec.gateway.addresses, None);
    assert_eq!(spec.workload_selector, es::default_workload_selector("bar"));
    let inputs = input::check(&config(&[("alias", Value::unknown())]), &mut diags);
    assert!(input::build(&inputs, "xyz", "bar", &facts).is_none());
}
