//! Resource identities over the wire (protocol 6.9, Terraform ≥ 1.12): the identity schemas,
//! the identity fields of read, plan, apply and import decoded against the type's identity
//! schema and encoded back, import by identity, and UpgradeResourceIdentity; with the test
//! provider (identity `{id}`, version 1) for the protocol layer and with meshfed for its three
//! identity schemas. Needs nothing external.

use std::sync::Arc;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::value::{Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;

use crate::diagnostics::assert_no_diagnostics;
use crate::harness::Plugin;
use crate::lifecycle::known_thing_m;
use crate::msgpack::{decode, map, s};
use crate::test_provider::{THING, TestProvider};

fn identity_type() -> Type {
    Type::object([("id", Type::String)])
}

fn identity_data(id: &str) -> Option<pb::ResourceIdentityData> {
    Some(pb::ResourceIdentityData {
        identity_data: map(vec![("id", s(id))]).dv(),
    })
}

/// The `id` of an identity in a response.
fn identity_id(data: Option<&pb::ResourceIdentityData>) -> Value {
    let dv = data.and_then(|d| d.identity_data.as_ref());
    let v = decode(dv, &identity_type(), "identity");
    v.get("id").cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn meshfed_names_each_resource_s_identity_and_what_import_needs() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let r = call!(
        c,
        get_resource_identity_schemas,
        pb::get_resource_identity_schemas::Request {}
    );
    assert_no_diagnostics(&r.diagnostics, "GetResourceIdentitySchemas");
    let attrs = |t: &str| -> Vec<(String, Vec<u8>, bool, bool)> {
        let schema = &r.identity_schemas[t];
        assert_eq!(schema.version, 0, "{t}");
        let each = schema.identity_attributes.iter();
        each.map(|a| {
            let (req, opt) = (a.required_for_import, a.optional_for_import);
            (a.name.clone(), a.r#type.clone(), req, opt)
        })
        .collect()
    };
    let string = br#""string""#.to_vec();
    let required = |n: &str| (n.to_string(), string.clone(), true, false);
    assert_eq!(
        attrs("meshfed_service_entry"),
        [required("cluster"), required("namespace"), required("name")]
    );
    assert_eq!(
        attrs("meshfed_exported_service"),
        [
            required("cluster"),
            required("namespace"),
            required("service"),
            ("gateway_namespace".into(), string.clone(), false, true),
        ]
    );
    let members = (
        "members".to_string(),
        br#"["list","string"]"#.to_vec(),
        true,
        false,
    );
    assert_eq!(attrs("meshfed_trust"), [members]);
}

#[tokio::test]
async fn identities_travel_through_read_plan_and_apply() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let mut c = plugin.provider();
    let read = call!(
        c,
        read_resource,
        pb::read_resource::Request {
            type_name: THING.into(),
            current_state: known_thing_m("thing-1", "before", "v").dv(),
            current_identity: identity_data("thing-1"),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&read.diagnostics, "ReadResource");
    assert_eq!(
        identity_id(read.new_identity.as_ref()),
        Value::string("thing-1")
    );
    let sent = provider
        .calls()
        .into_iter()
        .find_map(|call| match call {
            crate::test_provider::Call::Read(r) => Some(r.current_identity),
            _ => None,
        })
        .expect("a read");
    assert_eq!(sent, Value::object([("id", Value::string("thing-1"))]));

    let apply = call!(
        c,
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: known_thing_m("thing-1", "before", "v").dv(),
            planned_state: known_thing_m("thing-1", "after", "v").dv(),
            config: known_thing_m("thing-1", "after", "v").dv(),
            planned_identity: identity_data("thing-1"),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&apply.diagnostics, "ApplyResourceChange");
    assert_eq!(
        identity_id(apply.new_identity.as_ref()),
        Value::string("thing-1")
    );
    let planned = provider.last_apply().planned_identity;
    assert_eq!(planned, Value::object([("id", Value::string("thing-1"))]));
}

#[tokio::test]
async fn an_import_by_identity_reaches_the_provider_and_answers_the_identity() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let r = call!(
        plugin.provider(),
        import_resource_state,
        pb::import_resource_state::Request {
            type_name: THING.into(),
            id: String::new(),
            identity: identity_data("thing-9"),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&r.diagnostics, "ImportResourceState");
    let [imported] = r.imported_resources.as_slice() else {
        panic!("one imported resource: {r:?}");
    };
    assert_eq!(
        identity_id(imported.identity.as_ref()),
        Value::string("thing-9")
    );
}

#[tokio::test]
async fn stored_identities_upgrade_at_their_version_and_newer_ones_are_refused() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let mut c = plugin.provider();
    let upgrade = |version: i64, json: &[u8]| pb::upgrade_resource_identity::Request {
        type_name: THING.into(),
        version,
        raw_identity: Some(pb::RawState {
            json: json.to_vec(),
            flatmap: Default::default(),
        }),
    };
    let ok = call!(
        c,
        upgrade_resource_identity,
        upgrade(1, br#"{"id":"thing-3"}"#)
    );
    assert_no_diagnostics(&ok.diagnostics, "UpgradeResourceIdentity");
    assert_eq!(
        identity_id(ok.upgraded_identity.as_ref()),
        Value::string("thing-3")
    );

    let newer = call!(c, upgrade_resource_identity, upgrade(2, br#"{"id":"x"}"#));
    assert!(newer.upgraded_identity.is_none());
    let d = newer.diagnostics.first().expect("an error");
    assert!(d.summary.contains("newer"), "{d:?}");

    let unknown_type = pb::upgrade_resource_identity::Request {
        type_name: "meshfed_nothing".into(),
        ..upgrade(0, b"{}")
    };
    let r = call!(c, upgrade_resource_identity, unknown_type);
    assert!(
        r.upgraded_identity.is_none() && !r.diagnostics.is_empty(),
        "{r:?}"
    );
}
