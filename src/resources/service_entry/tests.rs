//! Planning `meshfed_service_entry` without a cluster: the cluster set reaches nothing, so a plan
//! that made an API call would fail.

use super::*;
use crate::resources::testing::{facts, plan_create, provider};
use crate::resources::values::Field;
use crate::tfplugin::provider::PlanResponse;

const A: &str = "cluster-a.local";

/// A configuration with every attribute of the schema, null unless given.
fn config(extra: &[(&str, Value)]) -> Value {
    let mut v = Value::null_object(&ServiceEntry.schema().value_type());
    if let Value::Object(m) = &mut v {
        m.insert("cluster".into(), Value::string(A));
        m.insert("namespace".into(), Value::string("abc"));
        for (k, val) in extra {
            m.insert(k.to_string(), val.clone());
        }
    }
    v
}

fn bar_export() -> Value {
    let export = crate::resources::export::Export {
        host: "bar.xyz.svc.cluster-b.local".into(),
        ports: vec![crate::mesh::service_entry::Port {
            name: "http".into(),
            number: 8080,
            protocol: crate::mesh::Protocol::Http,
        }],
        gateway_endpoints: vec![crate::mesh::exported_service::GatewayEndpoint {
            address: "198.51.100.20".into(),
            port: 15443,
        }],
        subject_alt_names: vec!["spiffe://cluster-b.local/ns/xyz/sa/bar".into()],
        trust_domain: Some("cluster-b.local".into()),
        network: Some("net-b".into()),
    };
    export.to_value()
}

fn plan(config: Value) -> PlanResponse {
    let p = provider(&[(A, Field::Known(facts(A)))]);
    plan_create(&ServiceEntry, &p, config)
}

fn attr<'a>(state: &'a Value, name: &str) -> &'a Value {
    state.get(name).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn an_export_plans_both_objects_and_the_explicit_form_without_any_api_call() {
    let r = plan(config(&[("export", bar_export())]));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    let keys: Vec<&String> = attr(s, "manifests")
        .entries()
        .expect("map")
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "cluster-a.local/networking.istio.io/v1/DestinationRule/abc/bar-xyz-svc-cluster-b-local",
            "cluster-a.local/networking.istio.io/v1/ServiceEntry/abc/bar-xyz-svc-cluster-b-local",
        ]
    );
    assert_eq!(attr(s, "export"), &bar_export(), "export kept as given");
    assert_eq!(
        attr(s, "host"),
        &Value::string("bar.xyz.svc.cluster-b.local")
    );
    let endpoint = &attr(s, "endpoints").elements().expect("list")[0];
    assert_eq!(attr(endpoint, "network"), &Value::string("net-b"));
    assert_eq!(
        attr(s, "id"),
        &Value::string("cluster-a.local/abc/bar-xyz-svc-cluster-b-local")
    );
}

#[test]
fn an_export_known_only_at_apply_plans_the_objects_unknown() {
    let r = plan(config(&[("export", Value::unknown())]));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    assert!(attr(s, "manifests").is_unknown() && attr(s, "host").is_unknown());
    assert_eq!(attr(s, "cluster"), &Value::string(A));
}

#[test]
fn export_and_explicit_attributes_conflict_on_the_explicit_one() {
    let r = plan(config(&[
        ("export", bar_export()),
        ("host", Value::string("bar.xyz.svc.cluster-b.local")),
    ]));
    let got: Vec<(String, String)> = r
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.attribute.clone().unwrap_or_default().to_string(),
                d.summary.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "host".to_string(),
            "Conflicting attributes: host and export".to_string()
        )]
    );
    assert_eq!(
        r.planned_state,
        config(&[
            ("export", bar_export()),
            ("host", Value::string("bar.xyz.svc.cluster-b.local"))
        ])
    );
}

#[test]
fn a_tcp_port_without_a_vip_is_refused_on_its_protocol() {
    let port = Value::object([
        ("name", Value::string("db")),
        ("number", Value::int(5432)),
        ("protocol", Value::string("TCP")),
    ]);
    let endpoint = Value::object([
        ("address", Value::string("198.51.100.20")),
        ("port", Value::Null),
        ("locality", Value::Null),
        ("network", Value::Null),
    ]);
    let r = plan(config(&[
        ("host", Value::string("db.xyz.svc.cluster-b.local")),
        ("ports", Value::List(vec![port])),
        ("endpoints", Value::List(vec![endpoint])),
    ]));
    let d = r.diagnostics.iter().next().expect("an error");
    assert_eq!(d.summary, "A VIP is needed");
    assert_eq!(
        d.attribute.clone().unwrap_or_default().to_string(),
        "ports[0].protocol"
    );
}
