//! GetProviderSchema and GetMetadata: meshfed's provider schema as Terraform receives it (the
//! `cluster` map block, sensitive credentials, the `meshfed_cluster` data source, descriptions
//! everywhere), metadata matching the schema, and the test provider's schema carrying every type,
//! nesting mode and flag to the wire. Needs nothing external.

use std::sync::Arc;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;

use crate::diagnostics::assert_no_diagnostics;
use crate::harness::Plugin;
use crate::test_provider::{INFO, THING, THING_VERSION, TestProvider};

fn schema_block(s: &pb::Schema) -> &pb::schema::Block {
    s.block.as_ref().expect("a schema has a block")
}

fn pb_attr<'a>(b: &'a pb::schema::Block, name: &str) -> &'a pb::schema::Attribute {
    b.attributes
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("attribute {name} is in the schema"))
}

fn pb_block<'a>(b: &'a pb::schema::Block, name: &str) -> &'a pb::schema::NestedBlock {
    b.block_types
        .iter()
        .find(|n| n.type_name == name)
        .unwrap_or_else(|| panic!("block {name} is in the schema"))
}

fn type_json(a: &pb::schema::Attribute) -> serde_json::Value {
    serde_json::from_slice(&a.r#type)
        .unwrap_or_else(|e| panic!("attribute {} has a JSON type: {e}", a.name))
}

/// Every attribute and block, at any depth, has a description.
fn assert_all_described(b: &pb::schema::Block, path: &str) {
    assert!(!b.description.is_empty(), "block {path} has no description");
    for a in &b.attributes {
        assert!(
            !a.description.is_empty(),
            "attribute {path}.{} has no description",
            a.name
        );
        if let Some(o) = &a.nested_type {
            for na in &o.attributes {
                assert!(
                    !na.description.is_empty(),
                    "attribute {path}.{}.{} has no description",
                    a.name,
                    na.name
                );
            }
        }
    }
    for nb in &b.block_types {
        assert_all_described(
            nb.block.as_ref().expect("a nested block has a block"),
            &format!("{path}.{}", nb.type_name),
        );
    }
}

/// `cluster "<name>" {}`'s attributes: credentials sensitive, every attribute optional and typed,
/// and `exec` a list block of at most one.
fn assert_cluster_attributes(cluster_block: &pb::schema::Block) {
    for secret in ["token", "client_key"] {
        assert!(
            pb_attr(cluster_block, secret).sensitive,
            "{secret} must be sensitive"
        );
    }
    for public in [
        "host",
        "kubeconfig",
        "context",
        "trust_domain",
        "client_certificate",
    ] {
        assert!(
            !pb_attr(cluster_block, public).sensitive,
            "{public} is not secret"
        );
    }
    for a in &cluster_block.attributes {
        assert!(!a.required, "{} must be optional", a.name);
        assert!(!a.r#type.is_empty(), "{} has a type", a.name);
    }
    assert_eq!(type_json(pb_attr(cluster_block, "insecure")), "bool");
    assert_eq!(type_json(pb_attr(cluster_block, "host")), "string");
    let exec = pb_block(cluster_block, "exec");
    assert_eq!(
        exec.nesting,
        pb::schema::nested_block::NestingMode::List as i32
    );
    assert_eq!(exec.max_items, 1);
}

/// The `meshfed_cluster` data source: `name` required, the mesh facts computed.
fn assert_cluster_data_source(resp: &pb::get_provider_schema::Response) {
    let ds = resp
        .data_source_schemas
        .get("meshfed_cluster")
        .expect("the meshfed_cluster data source");
    assert_eq!(ds.version, 0);
    let ds_block = schema_block(ds);
    assert!(pb_attr(ds_block, "name").required);
    for computed in [
        "trust_domain",
        "domain_suffix",
        "istio_namespace",
        "network",
    ] {
        let a = pb_attr(ds_block, computed);
        assert!(
            a.computed && !a.optional && !a.required,
            "{computed} is computed"
        );
    }
    assert_all_described(ds_block, "meshfed_cluster");
}

#[tokio::test]
async fn the_provider_schema_declares_cluster_as_a_map_block_with_sensitive_credentials() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let resp = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert_no_diagnostics(&resp.diagnostics, "GetProviderSchema");
    let provider = resp.provider.as_ref().expect("a provider schema");
    assert_eq!(provider.version, 0);
    let block = schema_block(provider);
    let field_manager = pb_attr(block, "field_manager");
    assert!(field_manager.optional && !field_manager.required);

    let cluster = pb_block(block, "cluster");
    assert_eq!(
        cluster.nesting,
        pb::schema::nested_block::NestingMode::Map as i32,
        "cluster \"<name>\" {{}} is a map block"
    );
    assert_cluster_attributes(cluster.block.as_ref().expect("cluster has a block"));
    assert_all_described(block, "provider");

    assert_cluster_data_source(&resp);
    for (name, schema) in &resp.resource_schemas {
        assert_all_described(schema_block(schema), name);
    }
}

#[tokio::test]
async fn get_metadata_lists_every_resource_and_data_source_of_the_schema() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut client = plugin.provider();
    let meta = call!(client, get_metadata, pb::get_metadata::Request {});
    assert_no_diagnostics(&meta.diagnostics, "GetMetadata");
    let schema = call!(
        client,
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    let mut data: Vec<String> = meta
        .data_sources
        .iter()
        .map(|d| d.type_name.clone())
        .collect();
    data.sort();
    let mut schema_data: Vec<String> = schema.data_source_schemas.keys().cloned().collect();
    schema_data.sort();
    assert_eq!(data, schema_data);
    assert!(data.contains(&"meshfed_cluster".to_string()), "{data:?}");
    let mut resources: Vec<String> = meta.resources.iter().map(|r| r.type_name.clone()).collect();
    resources.sort();
    let mut schema_resources: Vec<String> = schema.resource_schemas.keys().cloned().collect();
    schema_resources.sort();
    assert_eq!(resources, schema_resources);

    let test = Plugin::start(TestProvider::new()).await;
    let meta = call!(test.provider(), get_metadata, pb::get_metadata::Request {});
    let resources: Vec<&str> = meta
        .resources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    let data: Vec<&str> = meta
        .data_sources
        .iter()
        .map(|d| d.type_name.as_str())
        .collect();
    assert_eq!(resources, vec![THING]);
    assert_eq!(data, vec![INFO]);
    assert!(meta.server_capabilities.is_some());
}

/// Each plain attribute's type, optionality, description kind and flags.
fn assert_thing_plain_attributes(b: &pb::schema::Block) {
    let types: Vec<(&str, serde_json::Value)> = vec![
        ("s", serde_json::json!("string")),
        ("n", serde_json::json!("number")),
        ("b", serde_json::json!("bool")),
        ("l", serde_json::json!(["list", "string"])),
        ("st", serde_json::json!(["set", "number"])),
        ("m", serde_json::json!(["map", "string"])),
        (
            "o",
            serde_json::json!(["object", {"a": "string", "items": ["list", "string"]}]),
        ),
        (
            "t",
            serde_json::json!(["tuple", ["string", "number", "bool"]]),
        ),
        ("d", serde_json::json!("dynamic")),
    ];
    for (name, want) in types {
        let a = pb_attr(b, name);
        assert_eq!(type_json(a), want, "type of {name}");
        assert!(a.nested_type.is_none(), "{name} is not nested");
        assert!(
            a.optional && !a.required && !a.computed,
            "{name} is optional"
        );
    }
    let id = pb_attr(b, "id");
    assert!(id.computed && !id.optional);
    assert_eq!(id.description, "Identifier of the thing.");
    assert_eq!(id.description_kind, pb::StringKind::Plain as i32);
    let s = pb_attr(b, "s");
    assert_eq!(s.description, "A **string**.");
    assert_eq!(s.description_kind, pb::StringKind::Markdown as i32);

    assert!(pb_attr(b, "secret").sensitive);
    assert!(!pb_attr(b, "s").sensitive);
    assert!(pb_attr(b, "wo").write_only);
    assert!(!pb_attr(b, "s").write_only);
    assert!(pb_attr(b, "old").deprecated);
    assert!(!pb_attr(b, "s").deprecated);
}

/// Each nested attribute's nesting mode and inner attributes.
fn assert_thing_nested_attributes(b: &pb::schema::Block) {
    use pb::schema::object::NestingMode as O;
    for (name, nesting) in [
        ("single_attr", O::Single),
        ("list_attr", O::List),
        ("set_attr", O::Set),
        ("map_attr", O::Map),
    ] {
        let a = pb_attr(b, name);
        assert!(a.r#type.is_empty(), "{name} has a nested type, not a type");
        let o = a.nested_type.as_ref().expect("a nested type");
        assert_eq!(o.nesting, nesting as i32, "nesting of {name}");
        let n = o
            .attributes
            .iter()
            .find(|a| a.name == "name")
            .expect("name inside");
        assert!(n.required);
        assert_eq!(type_json(n), "string");
    }
    let port = pb_attr(b, "single_attr")
        .nested_type
        .as_ref()
        .expect("nested")
        .attributes
        .iter()
        .find(|a| a.name == "port")
        .expect("port")
        .clone();
    assert!(port.optional && port.computed);
}

/// Each nested block's nesting mode, limits and contents, two levels deep.
fn assert_thing_nested_blocks(b: &pb::schema::Block) {
    use pb::schema::nested_block::NestingMode as B;
    for (name, nesting) in [
        ("single_block", B::Single),
        ("group_block", B::Group),
        ("list_block", B::List),
        ("set_block", B::Set),
        ("map_block", B::Map),
    ] {
        let nb = pb_block(b, name);
        assert_eq!(nb.nesting, nesting as i32, "nesting of {name}");
        let inner = nb.block.as_ref().expect("a block");
        assert_eq!(type_json(pb_attr(inner, "v")), "string");
    }
    assert_eq!(pb_block(b, "list_block").max_items, 3);
    assert_eq!(pb_block(b, "set_block").min_items, 1);
    let inner = pb_block(
        pb_block(b, "list_block").block.as_ref().expect("a block"),
        "inner",
    );
    assert_eq!(inner.nesting, B::List as i32);
    assert_eq!(
        type_json(pb_attr(inner.block.as_ref().expect("a block"), "w")),
        "string"
    );
}

#[tokio::test]
async fn the_test_schema_carries_every_type_nesting_mode_and_flag_to_terraform() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert_no_diagnostics(&resp.diagnostics, "GetProviderSchema");
    let thing = resp.resource_schemas.get(THING).expect("test_thing");
    assert_eq!(thing.version, THING_VERSION, "the schema version");
    let b = schema_block(thing);
    assert_eq!(
        b.version, THING_VERSION,
        "the block carries the version too"
    );
    assert_all_described(b, THING);
    assert_eq!(
        resp.data_source_schemas
            .get(INFO)
            .expect("test_info")
            .version,
        1
    );
    assert_thing_plain_attributes(b);
    assert_thing_nested_attributes(b);
    assert_thing_nested_blocks(b);
}
