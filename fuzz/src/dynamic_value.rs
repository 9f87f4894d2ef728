//! Target `dynamic_value`: a `DynamicValue` as Terraform sends it, decoded against the real
//! schema of each of meshfed's resources, its data source and its provider configuration, then
//! handed to what consumes it without a cluster.
//!
//! Input: a selector byte (its low 7 bits modulo the number of schemas choose the schema, in the
//! order of [`schemas`]; bit 7 set: the bytes are the `DynamicValue`'s `json` field, else its
//! `msgpack` field), then the bytes. Decoding goes through `wire::dynamic_value`, the function
//! every RPC decodes with. What decodes must:
//! - round-trip through the codec ([`crate::roundtrip`]), with write-only attributes nulled too
//!   (what the server sends back to clients that support them), leaving none set;
//! - pass through its consumer without panicking: ValidateResourceConfig (with and without
//!   write-only support) for a resource; ValidateProviderConfig and, when valid, ConfigureProvider
//!   on a fresh provider and a read of `meshfed_cluster` for each configured cluster; ReadDataSource
//!   on a configured provider for the data source. A data source read without errors returns a
//!   state that encodes against the data source's schema.
//!
//! No call here reaches a network or a file: configuring reads no file and connects nowhere,
//! and nothing that talks to a cluster (plan, apply, read, import) is called.

use std::sync::OnceLock;

use futures::executor::block_on;
use meshfed::provider::{Meshfed, provider_schema};
use meshfed::resources::registry;
use meshfed::tfplugin::codec;
use meshfed::tfplugin::provider::{
    ClientCapabilities, ConfigureRequest, Provider, ReadDataRequest,
};
use meshfed::tfplugin::schema::{Schema, null_write_only, write_only_set};
use meshfed::tfplugin::value::Value;
use meshfed::tfplugin::wire::{self, proto::tfplugin6 as pb};

use crate::roundtrip::{assert_json_round_trip, assert_msgpack_round_trip};

/// What a schema belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Provider,
    Resource,
    DataSource,
}

/// One schema meshfed serves.
pub struct Target {
    pub kind: Kind,
    /// The type name; `provider` for the provider configuration.
    pub name: String,
    pub schema: Schema,
}

/// Every schema meshfed serves: the provider configuration, then the resources and the data
/// sources by type name (the registry's order).
pub fn schemas() -> &'static [Target] {
    static SCHEMAS: OnceLock<Vec<Target>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let r = registry();
        let mut out = vec![Target {
            kind: Kind::Provider,
            name: "provider".into(),
            schema: provider_schema(),
        }];
        out.extend(
            r.resource_schemas()
                .into_iter()
                .map(|(name, schema)| Target {
                    kind: Kind::Resource,
                    name,
                    schema,
                }),
        );
        out.extend(
            r.data_source_schemas()
                .into_iter()
                .map(|(name, schema)| Target {
                    kind: Kind::DataSource,
                    name,
                    schema,
                }),
        );
        out
    })
}

/// The selector byte for schema `index`, as msgpack or JSON.
pub fn selector(index: usize, json: bool) -> u8 {
    index as u8 | if json { 0x80 } else { 0 }
}

/// A provider configuration with two clusters, reached by host and token (never contacted).
pub const PROVIDER_CONFIG_JSON: &str = r#"{
  "field_manager": "meshfed-fuzz",
  "cluster": {
    "cluster-a.local": {"host": "https://127.0.0.1:6443", "token": "t", "insecure": true},
    "cluster-b.local": {"host": "https://127.0.0.1:6444", "token": "t", "insecure": true,
                        "trust_domain": "b.example", "network": "net-b"}
  }
}"#;

/// A provider configured with [`PROVIDER_CONFIG_JSON`], for data source reads.
fn configured() -> &'static Meshfed {
    static CONFIGURED: OnceLock<Meshfed> = OnceLock::new();
    CONFIGURED.get_or_init(|| {
        let ty = provider_schema().value_type();
        let config = codec::from_json_lenient(PROVIDER_CONFIG_JSON.as_bytes(), &ty)
            .expect("the fuzz provider configuration decodes");
        let provider = Meshfed::new();
        let diags = block_on(provider.configure(configure_request(config)));
        assert!(
            !diags.has_errors(),
            "the fuzz provider configuration is invalid: {diags:?}"
        );
        provider
    })
}

fn configure_request(config: Value) -> ConfigureRequest {
    ConfigureRequest {
        terraform_version: "1.15.5".into(),
        config,
        capabilities: ClientCapabilities::default(),
    }
}

pub fn check(data: &[u8]) {
    let Some((sel, bytes)) = crate::split_selector(data) else {
        return;
    };
    let all = schemas();
    let target = &all[usize::from(sel & 0x7f) % all.len()];
    let json = sel & 0x80 != 0;
    let dv = if json {
        pb::DynamicValue {
            msgpack: Vec::new(),
            json: bytes.to_vec(),
        }
    } else {
        pb::DynamicValue {
            msgpack: bytes.to_vec(),
            json: Vec::new(),
        }
    };
    let ty = target.schema.value_type();
    let Ok(v) = wire::dynamic_value(Some(&dv), &ty) else {
        return;
    };

    assert_msgpack_round_trip(&v, &ty);
    if json {
        assert_json_round_trip(&v, &ty);
    }
    let scrubbed = null_write_only(v.clone(), &target.schema.block);
    assert_msgpack_round_trip(&scrubbed, &ty);
    let left = write_only_set(&scrubbed, &target.schema.block);
    assert!(
        left.is_empty(),
        "write-only attributes left set after nulling: {left:?}"
    );

    match target.kind {
        Kind::Resource => {
            let resource = registry()
                .resource(&target.name)
                .expect("a resource schema has a resource");
            for write_only_attributes_allowed in [false, true] {
                let capabilities = ClientCapabilities {
                    deferral_allowed: false,
                    write_only_attributes_allowed,
                };
                let _ = resource.validate(&v, capabilities);
            }
        }
        Kind::Provider => check_provider_config(v),
        Kind::DataSource => {
            read_data_source(configured(), target, v);
        }
    }
}

fn check_provider_config(config: Value) {
    let provider = Meshfed::new();
    let diags = block_on(provider.validate_provider_config(&config));
    if diags.has_errors() {
        return;
    }
    let diags = block_on(provider.configure(configure_request(config)));
    assert!(
        !diags.has_errors(),
        "a configuration that validates fails to configure: {diags:?}"
    );
    let Some(cfg) = block_on(provider.config()) else {
        panic!("a configuration that configures leaves the provider unconfigured");
    };
    let data = schemas()
        .iter()
        .find(|t| t.kind == Kind::DataSource)
        .expect("meshfed has a data source");
    for name in cfg.clusters.keys() {
        let mut config = Value::null_object(&data.schema.value_type());
        if let Value::Object(m) = &mut config {
            m.insert("name".into(), Value::string(name));
        }
        read_data_source(&provider, data, config);
    }
}

/// Reads the data source of `target` on `provider`; a read without errors must give a state
/// that encodes against the schema.
fn read_data_source(provider: &Meshfed, target: &Target, config: Value) {
    let req = ReadDataRequest {
        type_name: target.name.clone(),
        config,
        capabilities: ClientCapabilities::default(),
    };
    let resp = block_on(provider.read_data_source(req));
    if resp.diagnostics.has_errors() {
        return;
    }
    let ty = target.schema.value_type();
    assert_msgpack_round_trip(&resp.state, &ty);
}
