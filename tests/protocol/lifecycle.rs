//! The resource lifecycle over the protocol, against the test provider: plan (nulls, unknowns and
//! refinements at every depth decoded, the planned state encoded byte for byte as cty's),
//! replacement paths, apply (configuration, write-only values and private data passed through),
//! destroy, read (refreshed, and null for a deleted object), import, and configuration. Needs
//! nothing external.

use meshfed::tfplugin::value::{Number, Refinements, Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use pb::attribute_path::step::Selector;

use crate::diagnostics::{assert_no_diagnostics, attr};
use crate::harness::Plugin;
use crate::msgpack::{M, decode, map, s, value_map};
use crate::test_provider::{
    Call, THING, TestProvider, thing_m, thing_type, thing_value, with_attr,
};

/// A create plan as Terraform sends it: nulls and unknowns at every depth, refinements.
pub fn proposed_create_m(id: M) -> M {
    let mut over = vec![("id", id)];
    over.extend(proposed_plain_m());
    over.extend(proposed_nested_m());
    thing_m(over)
}

/// The plain attributes of [`proposed_create_m`]: refined unknowns, and known values of each type.
fn proposed_plain_m() -> Vec<(&'static str, M)> {
    vec![
        (
            "s",
            M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
        ),
        (
            "n",
            M::Refined(vec![
                (1, M::Bool(false)),
                (3, M::Arr(vec![M::Int(1), M::Bool(true)])),
                (4, M::Arr(vec![M::Int(100), M::Bool(false)])),
            ]),
        ),
        ("b", M::Bool(true)),
        (
            "l",
            M::Refined(vec![(1, M::Bool(false)), (5, M::Int(1)), (6, M::Int(3))]),
        ),
        ("st", M::Arr(vec![M::Int(1), M::Float(2.5)])),
        ("m", map(vec![("a", s("1")), ("b", M::Nil)])),
        (
            "o",
            map(vec![
                ("a", s("x")),
                ("items", M::Arr(vec![s("p"), M::Unknown])),
            ]),
        ),
        ("t", M::Arr(vec![s("one"), M::Float(1.5), M::Bool(false)])),
        (
            "d",
            M::Arr(vec![
                M::Bin(br#"["object",{"k":"number"}]"#.to_vec()),
                map(vec![("k", M::Int(7))]),
            ]),
        ),
        ("secret", s("hunter2")),
        ("wo", M::Nil),
        ("old", M::Nil),
    ]
}

/// The nested attributes and blocks of [`proposed_create_m`], with unknowns inside.
fn proposed_nested_m() -> Vec<(&'static str, M)> {
    vec![
        (
            "single_attr",
            map(vec![("name", s("sa")), ("port", M::Unknown)]),
        ),
        ("list_attr", M::Arr(vec![map(vec![("name", s("la"))])])),
        ("set_attr", M::Unknown),
        (
            "map_attr",
            map(vec![("x", map(vec![("name", M::Unknown)]))]),
        ),
        ("single_block", M::Nil),
        (
            "list_block",
            M::Arr(vec![map(vec![
                ("v", s("first")),
                ("inner", M::Arr(vec![map(vec![("w", M::Unknown)])])),
            ])]),
        ),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
        ("map_block", map(vec![("k1", map(vec![("v", M::Nil)]))])),
    ]
}

/// The value `proposed_create_m(M::Nil)` must decode to.
pub fn proposed_create_value() -> Value {
    let mut over = proposed_refined_value();
    over.extend(proposed_known_value());
    over.extend(proposed_nested_value());
    thing_value(over)
}

/// The refined unknowns of [`proposed_create_value`].
fn proposed_refined_value() -> Vec<(&'static str, Value)> {
    vec![
        (
            "s",
            Value::Unknown(Refinements {
                nullable: Some(false),
                string_prefix: Some("https://".into()),
                ..Refinements::default()
            }),
        ),
        (
            "n",
            Value::Unknown(Refinements {
                nullable: Some(false),
                number_lower: Some((Number::Int(1), true)),
                number_upper: Some((Number::Int(100), false)),
                ..Refinements::default()
            }),
        ),
        (
            "l",
            Value::Unknown(Refinements {
                nullable: Some(false),
                length_lower: Some(1),
                length_upper: Some(3),
                ..Refinements::default()
            }),
        ),
    ]
}

/// The known plain attributes of [`proposed_create_value`].
fn proposed_known_value() -> Vec<(&'static str, Value)> {
    vec![
        ("b", Value::Bool(true)),
        (
            "st",
            Value::Set(vec![Value::int(1), Value::Number(Number::Float(2.5))]),
        ),
        (
            "m",
            value_map(vec![("a", Value::string("1")), ("b", Value::Null)]),
        ),
        (
            "o",
            Value::object([
                ("a", Value::string("x")),
                (
                    "items",
                    Value::List(vec![Value::string("p"), Value::unknown()]),
                ),
            ]),
        ),
        (
            "t",
            Value::Tuple(vec![
                Value::string("one"),
                Value::Number(Number::Float(1.5)),
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
    ]
}

/// The nested attributes and blocks of [`proposed_create_value`].
fn proposed_nested_value() -> Vec<(&'static str, Value)> {
    vec![
        (
            "single_attr",
            Value::object([("name", Value::string("sa")), ("port", Value::unknown())]),
        ),
        (
            "list_attr",
            Value::List(vec![Value::object([("name", Value::string("la"))])]),
        ),
        ("set_attr", Value::unknown()),
        (
            "map_attr",
            value_map(vec![("x", Value::object([("name", Value::unknown())]))]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string("first")),
                (
                    "inner",
                    Value::List(vec![Value::object([("w", Value::unknown())])]),
                ),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
        (
            "map_block",
            value_map(vec![("k1", Value::object([("v", Value::Null)]))]),
        ),
    ]
}

#[tokio::test]
async fn plan_decodes_nulls_and_unknowns_at_depth_and_the_planned_state_round_trips() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let proposed = proposed_create_m(M::Nil);
    let config = proposed_create_m(M::Nil);
    let resp = call!(
        plugin.provider(),
        plan_resource_change,
        pb::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            proposed_new_state: proposed.dv(),
            config: config.dv(),
            prior_private: b"prior".to_vec(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "PlanResourceChange");

    let got = provider.last_plan();
    assert_eq!(got.type_name, THING);
    assert_eq!(
        got.prior_state,
        Value::Null,
        "a create has a null prior state"
    );
    assert_eq!(got.proposed_new_state, proposed_create_value());
    assert_eq!(got.config, proposed_create_value());
    assert_eq!(got.prior_private, b"prior".to_vec());
    assert!(got.capabilities.write_only_attributes_allowed);
    assert!(!got.capabilities.deferral_allowed);

    // The planned state is the proposed one with `id` unknown, in exactly cty's bytes.
    let planned = resp.planned_state.as_ref().expect("a planned state");
    assert_eq!(
        planned.msgpack,
        proposed_create_m(M::Unknown).bytes(),
        "the planned state must be the proposed state, byte for byte, with id unknown"
    );
    assert_eq!(
        decode(resp.planned_state.as_ref(), &thing_type(), "planned state"),
        with_attr(&proposed_create_value(), "id", Value::unknown())
    );
    assert!(resp.requires_replace.is_empty());
    assert_eq!(resp.planned_private, b"planned-private".to_vec());
}

pub fn known_thing_m(id: &str, s_value: &str, v: &str) -> M {
    thing_m(vec![
        ("id", s(id)),
        ("s", s(s_value)),
        ("n", M::Int(42)),
        ("l", M::Arr(vec![s("a"), s("b")])),
        (
            "list_block",
            M::Arr(vec![map(vec![("v", s(v)), ("inner", M::Arr(vec![]))])]),
        ),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
    ])
}

fn known_thing_value(id: &str, s_value: &str, v: &str) -> Value {
    thing_value(vec![
        ("id", Value::string(id)),
        ("s", Value::string(s_value)),
        ("n", Value::int(42)),
        (
            "l",
            Value::List(vec![Value::string("a"), Value::string("b")]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string(v)),
                ("inner", Value::List(vec![])),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
    ])
}

#[tokio::test]
async fn an_update_plan_returns_the_attribute_paths_that_require_replacement() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        plan_resource_change,
        pb::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: known_thing_m("thing-1", "old", "v1").dv(),
            proposed_new_state: known_thing_m("thing-1", "new", "v2").dv(),
            config: known_thing_m("thing-1", "new", "v2").dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "PlanResourceChange");
    let got = provider.last_plan();
    assert_eq!(got.prior_state, known_thing_value("thing-1", "old", "v1"));
    let paths: Vec<Vec<Selector>> = resp
        .requires_replace
        .iter()
        .map(|p| p.steps.iter().filter_map(|s| s.selector.clone()).collect())
        .collect();
    assert_eq!(
        paths,
        vec![
            vec![attr("s")],
            vec![attr("list_block"), Selector::ElementKeyInt(0), attr("v")],
        ]
    );
    assert_eq!(
        decode(resp.planned_state.as_ref(), &thing_type(), "planned state"),
        known_thing_value("thing-1", "new", "v2")
    );
}

/// A thing with `s = "hello"`, a dynamic value and a set block: `id` and `wo` as given.
fn hello_m(id: M, wo: M) -> M {
    thing_m(vec![
        ("id", id),
        ("s", s("hello")),
        ("wo", wo),
        ("d", M::Arr(vec![M::Bin(br#""string""#.to_vec()), s("dyn")])),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
    ])
}

/// What [`hello_m`] decodes to, with `id` as given and `wo` null.
fn hello_value(id: Value) -> Value {
    let dynamic = Value::Dynamic(Type::String, Box::new(Value::string("dyn")));
    let set_block = Value::Set(vec![Value::object([("v", Value::string("y"))])]);
    thing_value(vec![
        ("id", id),
        ("s", Value::string("hello")),
        ("d", dynamic),
        ("set_block", set_block),
    ])
}

#[tokio::test]
async fn apply_passes_plan_and_config_through_and_returns_the_new_state() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let planned = hello_m(M::Unknown, M::Nil);
    let config = hello_m(M::Nil, s("only-in-config"));
    let resp = call!(
        plugin.provider(),
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            planned_state: planned.dv(),
            config: config.dv(),
            planned_private: b"planned-private".to_vec(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ApplyResourceChange");
    let got = provider.last_apply();
    assert_eq!(got.prior_state, Value::Null);
    assert_eq!(got.planned_state, hello_value(Value::unknown()));
    assert_eq!(
        got.config.get("wo"),
        Some(&Value::string("only-in-config")),
        "write-only values reach the provider in the configuration"
    );
    assert_eq!(got.planned_private, b"planned-private".to_vec());

    let new_state = decode(resp.new_state.as_ref(), &thing_type(), "new state");
    assert_eq!(new_state, hello_value(Value::string("thing-1")));
    assert!(new_state.is_wholly_known());
    assert_eq!(resp.private, b"planned-private".to_vec());
}

#[tokio::test]
async fn a_destroy_apply_returns_a_null_new_state() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: known_thing_m("thing-1", "x", "v").dv(),
            planned_state: M::Nil.dv(),
            config: M::Nil.dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ApplyResourceChange (destroy)");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        Value::Null
    );
    assert_eq!(
        provider.last_apply().prior_state,
        known_thing_value("thing-1", "x", "v")
    );
}

#[tokio::test]
async fn read_resource_returns_the_refreshed_state_and_private_data() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        read_resource,
        pb::read_resource::Request {
            type_name: THING.into(),
            current_state: known_thing_m("thing-1", "before", "v").dv(),
            private: b"private-bytes".to_vec(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ReadResource");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        known_thing_value("thing-1", "refreshed", "v")
    );
    assert_eq!(resp.private, b"private-bytes".to_vec());
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::Read(r) if r.current_state == known_thing_value("thing-1", "before", "v")
    )));
}

#[tokio::test]
async fn read_resource_of_a_deleted_object_returns_a_null_state_so_terraform_drops_it() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        read_resource,
        pb::read_resource::Request {
            type_name: THING.into(),
            current_state: known_thing_m("gone", "x", "v").dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ReadResource");
    let state = resp
        .new_state
        .as_ref()
        .expect("new_state is set (to null), not absent");
    assert_eq!(state.msgpack, vec![0xc0], "a msgpack nil");
}

#[tokio::test]
async fn import_returns_the_imported_state_for_the_id() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        import_resource_state,
        pb::import_resource_state::Request {
            type_name: THING.into(),
            id: "thing-42".into(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: false,
            }),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ImportResourceState");
    assert_eq!(resp.imported_resources.len(), 1);
    let imported = &resp.imported_resources[0];
    assert_eq!(imported.type_name, THING);
    assert_eq!(imported.private, b"imported".to_vec());
    assert_eq!(
        decode(imported.state.as_ref(), &thing_type(), "imported state"),
        thing_value(vec![("id", Value::string("thing-42"))])
    );
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::Import(r) if r.id == "thing-42" && r.capabilities.deferral_allowed
    )));
}

#[tokio::test]
async fn configure_passes_the_terraform_version_and_client_capabilities() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: map(vec![("endpoint", M::Unknown)]).dv(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ConfigureProvider");
    let configure = provider
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::Configure(c) => Some(c),
            _ => None,
        })
        .expect("the provider was configured");
    assert_eq!(configure.terraform_version, "1.11.4");
    assert_eq!(
        configure.config,
        Value::object([("endpoint", Value::unknown())])
    );
    assert!(configure.capabilities.deferral_allowed);
    assert!(configure.capabilities.write_only_attributes_allowed);
}
