//! List resources and configuration generation over the wire (protocol 6.10, Terraform ≥ 1.14's
//! `terraform query`), with meshfed: GetMetadata and GetProviderSchema name the three list
//! resources and their `config` schemas, the server offers GenerateResourceConfig, a list
//! before the provider is configured streams one event with the error, and generating
//! configuration from a service entry's state leaves out what configuration cannot set and
//! `export`. Listing against clusters is `e2e_query`'s. Needs nothing external.

use std::sync::Arc;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::value::{Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use meshfed::tfplugin::{codec, provider::Provider};

use crate::diagnostics::assert_no_diagnostics;
use crate::harness::{Plugin, within};
use crate::msgpack::{decode, map, s};

const LISTED: [&str; 3] = [
    "meshfed_exported_service",
    "meshfed_service_entry",
    "meshfed_trust",
];

#[tokio::test]
async fn the_three_list_resources_and_configuration_generation_are_announced() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let meta = call!(c, get_metadata, pb::get_metadata::Request {});
    let mut names: Vec<&str> = meta
        .list_resources
        .iter()
        .map(|l| l.type_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, LISTED);
    let caps = meta.server_capabilities.expect("capabilities");
    assert!(caps.generate_resource_config);

    let schema = call!(c, get_provider_schema, pb::get_provider_schema::Request {});
    let block = |t: &str| {
        schema.list_resource_schemas[t]
            .block
            .clone()
            .expect("a block")
    };
    let attrs = |t: &str| -> Vec<(String, bool)> {
        let b = block(t);
        b.attributes
            .iter()
            .map(|a| (a.name.clone(), a.required))
            .collect()
    };
    assert_eq!(
        attrs("meshfed_service_entry"),
        [("cluster".into(), true), ("namespace".into(), false)]
    );
    assert_eq!(
        attrs("meshfed_exported_service"),
        [
            ("cluster".into(), true),
            ("gateway_namespace".into(), false)
        ]
    );
    assert_eq!(attrs("meshfed_trust"), [("clusters".into(), true)]);
}

#[tokio::test]
async fn a_list_before_configuration_streams_one_error_event() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut stream = call!(
        plugin.provider(),
        list_resource,
        pb::list_resource::Request {
            type_name: "meshfed_service_entry".into(),
            config: map(vec![
                ("cluster", s("cluster-a.local")),
                ("namespace", crate::msgpack::M::Nil)
            ])
            .dv(),
            include_resource_object: true,
            limit: 10,
        }
    );
    let mut events = Vec::new();
    while let Some(e) = within("the ListResource stream", stream.message())
        .await
        .expect("the stream ends cleanly")
    {
        events.push(e);
    }
    let [event] = events.as_slice() else {
        panic!("one event: {events:#?}");
    };
    assert!(event.identity.is_none());
    let d = event.diagnostic.first().expect("a diagnostic");
    assert!(d.summary.contains("not configured"), "{d:?}");
}

#[tokio::test]
async fn generated_configuration_leaves_out_computed_attributes_and_the_export() {
    let meshfed = Meshfed::new();
    let schema = meshfed.schemas().resources["meshfed_service_entry"].clone();
    let ty = schema.value_type();
    let Type::Object(attrs) = &ty else {
        panic!("an object type");
    };
    let mut state: std::collections::BTreeMap<String, Value> =
        attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    state.insert("id".into(), Value::string("cluster-a.local/abc/bar"));
    state.insert("cluster".into(), Value::string("cluster-a.local"));
    state.insert("namespace".into(), Value::string("abc"));
    state.insert("host".into(), Value::string("bar.xyz.svc.cluster-b.local"));
    state.insert("manifests".into(), Value::Map(Default::default()));
    let export = Value::null_object(&attrs["export"]);
    state.insert("export".into(), export);
    let state = Value::Object(state);

    let plugin = Plugin::start(Arc::new(meshfed)).await;
    let r = call!(
        plugin.provider(),
        generate_resource_config,
        pb::generate_resource_config::Request {
            type_name: "meshfed_service_entry".into(),
            state: Some(pb::DynamicValue {
                msgpack: codec::to_msgpack(&state, &ty).expect("encodes"),
                json: vec![],
            }),
        }
    );
    assert_no_diagnostics(&r.diagnostics, "GenerateResourceConfig");
    let config = decode(r.config.as_ref(), &ty, "config");
    for (attr, expected) in [
        ("cluster", Value::string("cluster-a.local")),
        ("host", Value::string("bar.xyz.svc.cluster-b.local")),
        ("id", Value::Null),
        ("manifests", Value::Null),
        ("export", Value::Null),
    ] {
        assert_eq!(config.get(attr), Some(&expected), "{attr}");
    }
}
