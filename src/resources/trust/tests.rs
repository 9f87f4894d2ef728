//! `meshfed_trust` without a cluster: validation of what needs no provider configuration, and
//! plans of new members, which make no API call.

use super::*;
use crate::resources::testing::{facts, plan_create, provider};
use crate::resources::values::Field;
use crate::tfplugin::provider::{ClientCapabilities, PlanResponse};

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";

/// A configuration with these members (each with an optional `ca` block) and no peers.
fn config(members: &[(&str, Option<Value>)]) -> Value {
    let ca_type = match Trust.schema().block.blocks[0].block.blocks[0]
        .block
        .value_type()
    {
        t @ Type::Object(_) => t,
        other => panic!("ca block type {other:?}"),
    };
    let member = |(cluster, ca): &(&str, Option<Value>)| {
        let ca = ca.as_ref().map(|attrs| {
            let mut v = Value::null_object(&ca_type);
            if let (Value::Object(m), Some(given)) = (&mut v, attrs.entries()) {
                m.extend(given.clone());
            }
            v
        });
        Value::object([
            ("cluster", Value::string(*cluster)),
            ("ca", Value::List(ca.into_iter().collect())),
        ])
    };
    let mut v = Value::null_object(&Trust.schema().value_type());
    if let Value::Object(m) = &mut v {
        m.insert(
            "member".into(),
            Value::List(members.iter().map(member).collect()),
        );
        m.insert("peer".into(), Value::List(vec![]));
    }
    v
}

fn plan(config: Value) -> PlanResponse {
    let p = provider(&[(A, Field::Known(facts(A))), (B, Field::Known(facts(B)))]);
    plan_create(&Trust, &p, config)
}

/// Validation as the provider runs it, through the registry, for a client that supports
/// write-only attributes.
fn validate(config: &Value) -> Diagnostics {
    validate_with(config, true)
}

fn validate_with(config: &Value, write_only_attributes_allowed: bool) -> Diagnostics {
    let trust = crate::resources::registry().resource(TYPE_NAME);
    let capabilities = ClientCapabilities {
        write_only_attributes_allowed,
        ..ClientCapabilities::default()
    };
    trust
        .expect("meshfed_trust is registered")
        .validate(config, capabilities)
}

fn paths(d: &Diagnostics) -> Vec<(String, String)> {
    d.iter()
        .map(|d| {
            (
                d.attribute.clone().unwrap_or_default().to_string(),
                d.summary.clone(),
            )
        })
        .collect()
}

#[test]
fn new_generated_members_plan_their_roots_and_secrets_unknown_without_any_api_call() {
    let r = plan(config(&[(A, None), (B, None)]));
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let s = &r.planned_state;
    let roots = s
        .get("root_certificates")
        .and_then(Value::entries)
        .expect("a map");
    assert_eq!(roots.keys().collect::<Vec<_>>(), [A, B]);
    assert!(roots.values().all(Value::is_unknown));
    let manifests = s.get("manifests").and_then(Value::entries).expect("a map");
    let secret = format!("{A}/v1/Secret/istio-system/cacerts");
    assert!(manifests[&secret].is_unknown(), "{manifests:?}");
    assert_eq!(
        manifests.len(),
        6,
        "cacerts, peer root and mesh config per member"
    );
    assert_eq!(
        s.get("id"),
        Some(&Value::string("cluster-a.local,cluster-b.local"))
    );
}

#[test]
fn validation_checks_ca_blocks_and_bundle_without_the_provider_configuration() {
    let mut c = config(&[
        (
            A,
            Some(Value::object([("key_algorithm", Value::string("DSA"))])),
        ),
        (
            B,
            Some(Value::object([
                ("source", Value::string("cluster")),
                ("cert_pem", Value::string("x")),
            ])),
        ),
    ]);
    if let Value::Object(m) = &mut c {
        m.insert("bundle".into(), Value::string("both"));
    }
    assert_eq!(
        paths(&validate(&c)),
        [
            ("bundle".to_string(), "Invalid bundle".to_string()),
            (
                "member[0].ca[0].key_algorithm".to_string(),
                "Unknown key algorithm".to_string()
            ),
            (
                "member[1].ca[0].cert_pem".to_string(),
                "cert_pem is not used with source = \"cluster\"".to_string()
            ),
        ]
    );
}

#[test]
fn validation_lets_unknown_values_pass() {
    let c = config(&[
        (A, Some(Value::object([("source", Value::unknown())]))),
        (
            B,
            Some(Value::object([
                ("source", Value::string("provided")),
                ("cert_pem", Value::unknown()),
                ("key_pem", Value::unknown()),
                ("cert_chain_pem", Value::unknown()),
                ("root_cert_pem", Value::unknown()),
            ])),
        ),
    ]);
    assert_eq!(paths(&validate(&c)), []);
}

#[test]
fn a_member_listed_twice_is_refused_on_the_second() {
    let r = plan(config(&[(A, None), (A, None)]));
    assert_eq!(
        paths(&r.diagnostics),
        [(
            "member[1].cluster".to_string(),
            "Member listed twice".to_string()
        )]
    );
}

#[test]
fn a_key_pem_is_refused_for_clients_that_would_store_it_in_state() {
    let provided = |key: Value| {
        Some(Value::object([
            ("source", Value::string("provided")),
            ("cert_pem", Value::unknown()),
            ("key_pem", key),
            ("cert_chain_pem", Value::unknown()),
            ("root_cert_pem", Value::unknown()),
        ]))
    };
    let c = config(&[(A, None), (B, provided(Value::unknown()))]);
    let old = validate_with(&c, false);
    assert_eq!(
        paths(&old),
        [(
            "member[1].ca[0].key_pem".to_string(),
            "Write-only attribute not supported by this CLI".to_string()
        )]
    );
    let detail = &old.0[0].detail;
    assert!(detail.contains("store the value in its state"), "{detail}");
    assert!(detail.contains("key_secret {"), "{detail}");
    assert_eq!(paths(&validate_with(&c, true)), []);
    let without = config(&[(A, None), (B, provided(Value::Null))]);
    assert!(
        !validate_with(&without, false)
            .iter()
            .any(|d| d.summary.starts_with("Write-only")),
        "no key_pem, nothing refused"
    );
}

#[test]
fn key_secret_is_checked_and_excludes_key_pem() {
    let secret = |name: &str, key: Value| {
        Value::List(vec![Value::object([
            ("namespace", Value::Null),
            ("name", Value::string(name)),
            ("key", key),
        ])])
    };
    let c = config(&[
        (
            A,
            Some(Value::object([
                ("source", Value::string("provided")),
                ("key_pem", Value::string("x")),
                ("key_secret", secret("ca-key", Value::Null)),
            ])),
        ),
        (
            B,
            Some(Value::object([
                ("source", Value::string("provided")),
                ("key_secret", secret("Bad_Name", Value::string("a/b"))),
            ])),
        ),
    ]);
    let found = paths(&validate(&c));
    for want in [
        ("member[0].ca[0].key_pem", "key_pem and key_secret both set"),
        (
            "member[1].ca[0].key_secret[0].name",
            "Invalid key_secret.name",
        ),
        (
            "member[1].ca[0].key_secret[0].key",
            "Invalid key_secret.key",
        ),
        ("member[1].ca[0].cert_pem", "Missing cert_pem"),
    ] {
        let want = (want.0.to_string(), want.1.to_string());
        assert!(found.contains(&want), "{want:?} in {found:?}");
    }
    assert!(
        !found.iter().any(|(p, _)| p == "member[1].ca[0].key_pem"),
        "key_pem is not missing when key_secret is set: {found:?}"
    );
    let generate = config(&[(
        A,
        Some(Value::object([("key_secret", secret("k", Value::Null))])),
    )]);
    assert_eq!(
        paths(&validate(&generate)),
        [(
            "member[0].ca[0].key_secret".to_string(),
            "key_secret is only for source = \"provided\"".to_string()
        )]
    );
}

#[test]
fn the_identity_is_the_members_in_order_and_reads_back_as_the_import_id() {
    let state = Value::object([(
        "member",
        Value::List(vec![
            Value::object([("cluster", Value::string("cluster-b.local"))]),
            Value::object([("cluster", Value::string("cluster-a.local"))]),
        ]),
    )]);
    let identity = super::import::identity(&state);
    let members = Value::List(vec![
        Value::string("cluster-b.local"),
        Value::string("cluster-a.local"),
    ]);
    assert_eq!(identity, Value::object([("members", members)]));
    assert_eq!(
        super::import::import_id(&identity).as_deref(),
        Ok("cluster-b.local,cluster-a.local")
    );
    let empty = Value::object([("members", Value::List(vec![]))]);
    assert!(super::import::import_id(&empty).is_err());
}
