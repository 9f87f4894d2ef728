//! State and configuration handling over the protocol, against the test provider: JSON state
//! upgraded from the current version (attributes the schema dropped are dropped, a newer version is
//! an error), MoveResourceState and unimplemented data sources not supported, and resource
//! validation reporting each bad value at its attribute path, warnings kept as warnings, and a value
//! that does not fit the schema as a diagnostic rather than a crash. Needs nothing external.

use meshfed::tfplugin::value::{Number, Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use pb::attribute_path::step::Selector;
use tonic::transport::Channel;

use crate::diagnostics::{assert_no_diagnostics, assert_not_supported, attr, errors, key, steps};
use crate::harness::Plugin;
use crate::lifecycle::{proposed_create_m, proposed_create_value};
use crate::msgpack::{M, decode, map, s, value_map};
use crate::test_provider::{
    Call, INFO, THING, THING_VERSION, TestProvider, thing_m, thing_type, thing_value,
};

fn thing_json(extra: Option<(&str, serde_json::Value)>) -> Vec<u8> {
    let mut j = serde_json::json!({
        "id": "thing-1",
        "s": "hello",
        "n": 1.5,
        "b": true,
        "l": ["a"],
        "st": [3],
        "m": {"k": "v"},
        "o": {"a": "x", "items": []},
        "t": ["one", 2, false],
        "d": {"value": {"k": 7}, "type": ["object", {"k": "number"}]},
        "secret": "hunter2",
        "wo": null,
        "old": null,
        "single_attr": {"name": "sa", "port": 8080},
        "list_attr": [{"name": "la"}],
        "set_attr": null,
        "map_attr": {"x": {"name": "mx"}},
        "single_block": null,
        "group_block": {"v": null},
        "list_block": [{"v": "first", "inner": [{"w": "deep"}]}],
        "set_block": [{"v": "y"}],
        "map_block": {}
    });
    if let Some((k, v)) = extra {
        j[k] = v;
    }
    serde_json::to_vec(&j).expect("JSON")
}

fn thing_json_value() -> Value {
    thing_value(vec![
        ("id", Value::string("thing-1")),
        ("s", Value::string("hello")),
        ("n", Value::Number(Number::Float(1.5))),
        ("b", Value::Bool(true)),
        ("l", Value::List(vec![Value::string("a")])),
        ("st", Value::Set(vec![Value::int(3)])),
        ("m", value_map(vec![("k", Value::string("v"))])),
        (
            "o",
            Value::object([("a", Value::string("x")), ("items", Value::List(vec![]))]),
        ),
        (
            "t",
            Value::Tuple(vec![
                Value::string("one"),
                Value::int(2),
                Value::Bool(false),
            ]),
        ),
        (
            "d",
            Value::Dynamic(
                Type::object([("k", Type::Number)]),
                Box::new(Value::object([("k", Value::int(7))])),
            ),
        ),
        ("secret", Value::string("hunter2")),
        (
            "single_attr",
            Value::object([("name", Value::string("sa")), ("port", Value::int(8080))]),
        ),
        (
            "list_attr",
            Value::List(vec![Value::object([("name", Value::string("la"))])]),
        ),
        (
            "map_attr",
            value_map(vec![("x", Value::object([("name", Value::string("mx"))]))]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string("first")),
                (
                    "inner",
                    Value::List(vec![Value::object([("w", Value::string("deep"))])]),
                ),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
    ])
}

async fn upgrade(
    client: &mut pb::provider_client::ProviderClient<Channel>,
    version: i64,
    json: Vec<u8>,
) -> pb::upgrade_resource_state::Response {
    call!(
        client,
        upgrade_resource_state,
        pb::upgrade_resource_state::Request {
            type_name: THING.into(),
            version,
            raw_state: Some(pb::RawState {
                json,
                flatmap: Default::default(),
            }),
        }
    )
}

#[tokio::test]
async fn upgrade_resource_state_reads_json_state_of_the_current_version() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(&mut plugin.provider(), THING_VERSION, thing_json(None)).await;
    assert_no_diagnostics(&resp.diagnostics, "UpgradeResourceState");
    assert_eq!(
        decode(
            resp.upgraded_state.as_ref(),
            &thing_type(),
            "upgraded state"
        ),
        thing_json_value()
    );
}

#[tokio::test]
async fn upgrade_resource_state_drops_attributes_the_schema_no_longer_has() {
    // The default upgrade is documented to drop removed attributes (as Terraform's SDKs do), so
    // a provider release that removes an attribute does not strand existing state.
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(
        &mut plugin.provider(),
        THING_VERSION,
        thing_json(Some(("removed_attribute", serde_json::json!("stale")))),
    )
    .await;
    assert_no_diagnostics(&resp.diagnostics, "UpgradeResourceState");
    assert_eq!(
        decode(
            resp.upgraded_state.as_ref(),
            &thing_type(),
            "upgraded state"
        ),
        thing_json_value()
    );
}

#[tokio::test]
async fn upgrade_resource_state_from_a_newer_version_is_an_error() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(&mut plugin.provider(), THING_VERSION + 1, thing_json(None)).await;
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(
        errs[0].summary.contains("newer") || errs[0].detail.contains("newer"),
        "{resp:#?}"
    );
    assert!(resp.upgraded_state.is_none());
}

#[tokio::test]
async fn move_resource_state_and_unimplemented_data_sources_are_not_supported() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let mut client = plugin.provider();
    let moved = call!(
        client,
        move_resource_state,
        pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/kubernetes".into(),
            source_type_name: "kubernetes_manifest".into(),
            source_schema_version: 1,
            source_state: Some(pb::RawState {
                json: br#"{"id":"x"}"#.to_vec(),
                flatmap: Default::default(),
            }),
            target_type_name: THING.into(),
            ..Default::default()
        }
    );
    assert_not_supported(&moved.diagnostics, "MoveResourceState");
    assert!(moved.target_state.is_none());

    let read = call!(
        client,
        read_data_source,
        pb::read_data_source::Request {
            type_name: INFO.into(),
            config: map(vec![("id", M::Nil)]).dv(),
            ..Default::default()
        }
    );
    assert_not_supported(&read.diagnostics, "ReadDataSource");

    let validated = call!(
        client,
        validate_data_resource_config,
        pb::validate_data_resource_config::Request {
            type_name: INFO.into(),
            config: map(vec![("id", M::Nil)]).dv(),
        }
    );
    assert_no_diagnostics(&validated.diagnostics, "ValidateDataResourceConfig");
}

/// A configuration with a bad value in a list block and in a map attribute, and a deprecated
/// attribute set.
fn bad_values_config() -> M {
    thing_m(vec![
        (
            "list_block",
            M::Arr(vec![
                map(vec![("v", s("ok")), ("inner", M::Arr(vec![]))]),
                map(vec![("v", s("bad")), ("inner", M::Arr(vec![]))]),
            ]),
        ),
        (
            "map_attr",
            map(vec![
                ("good", map(vec![("name", s("fine"))])),
                ("k", map(vec![("name", s("bad"))])),
            ]),
        ),
        ("old", s("still used")),
    ])
}

#[tokio::test]
async fn validate_resource_config_reports_bad_values_at_their_paths() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let mut client = plugin.provider();
    let resp = call!(
        client,
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: bad_values_config().dv(),
            client_capabilities: None,
        }
    );
    let paths: Vec<Vec<Selector>> = errors(&resp.diagnostics).into_iter().map(steps).collect();
    assert_eq!(
        paths,
        vec![
            vec![attr("list_block"), Selector::ElementKeyInt(1), attr("v")],
            vec![attr("map_attr"), key("k"), attr("name")],
        ],
        "{resp:#?}"
    );
    let warnings: Vec<&pb::Diagnostic> = resp
        .diagnostics
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Warning as i32)
        .collect();
    assert_eq!(warnings.len(), 1, "a warning stays a warning: {resp:#?}");
    assert_eq!(steps(warnings[0]), vec![attr("old")]);

    let fine = call!(
        client,
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: proposed_create_m(M::Nil).dv(),
            client_capabilities: None,
        }
    );
    assert_no_diagnostics(&fine.diagnostics, "a valid configuration");
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::ValidateResource(t, v) if t == THING && *v == proposed_create_value()
    )));
}

#[tokio::test]
async fn a_value_that_does_not_fit_the_schema_is_a_diagnostic_not_a_crash() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            // `n` is a number; a bool does not decode.
            config: thing_m(vec![("n", M::Bool(true))]).dv(),
            client_capabilities: None,
        }
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(
        errs[0].detail.starts_with("n:") && errs[0].detail.contains("number"),
        "the detail names the attribute and its type: {resp:#?}"
    );
}
