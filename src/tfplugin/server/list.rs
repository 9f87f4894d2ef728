//! ListResource, ValidateListResourceConfig and GenerateResourceConfig on the wire: a `list`
//! block's `config` decoded against the list resource schema, each object found sent as one
//! event (its identity encoded against the managed type's identity schema, its state against the
//! managed type's schema), the provider's diagnostics as a last event; and a state turned into
//! configuration for `-generate-config-out`.
//!
//! Must not import the go-plugin services or anything outside the protocol layer.

use super::service::{Kind, ProviderService, decode, diags_of, encode};
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::list::{ListRequest, Listed};
use crate::tfplugin::provider::Provider;
use crate::tfplugin::schema::Schema;
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

impl<P: Provider> ProviderService<P> {
    /// The list resource schema of `type_name`.
    fn list_schema(&self, type_name: &str) -> Result<&Schema, Diagnostic> {
        let lists = &self.provider.schemas().list_resources;
        lists.get(type_name).ok_or_else(|| {
            let known: Vec<&str> = lists.keys().map(String::as_str).collect();
            Diagnostic::error(
                format!("Unknown list resource type {type_name:?}"),
                format!("meshfed lists these types: {}.", known.join(", ")),
            )
        })
    }

    /// ValidateListResourceConfig.
    pub(super) async fn validate_list(
        &self,
        r: pb::validate_list_resource_config::Request,
    ) -> Vec<pb::Diagnostic> {
        let judged = async {
            let schema = self.list_schema(&r.type_name)?;
            let config = decode(
                r.config.as_ref(),
                &schema.value_type(),
                "list configuration",
            )?;
            let check = self
                .provider
                .validate_list_resource_config(&r.type_name, &config);
            self.guarded("list validation", check).await
        };
        super::service::verdict(judged.await)
    }

    /// ListResource: the events to stream, in order.
    pub(super) async fn list(
        &self,
        r: pb::list_resource::Request,
    ) -> Vec<pb::list_resource::Event> {
        let listed = async {
            let schema = self.list_schema(&r.type_name)?;
            let req = ListRequest {
                config: decode(
                    r.config.as_ref(),
                    &schema.value_type(),
                    "list configuration",
                )?,
                type_name: r.type_name.clone(),
                include_resource_object: r.include_resource_object,
                limit: r.limit,
            };
            let out = self
                .guarded("list", self.provider.list_resource(req))
                .await?;
            let mut events = out
                .found
                .iter()
                .map(|l| self.event(&r.type_name, l))
                .collect::<Result<Vec<_>, Diagnostic>>()?;
            if !out.diagnostics.is_empty() {
                events.push(pb::list_resource::Event {
                    diagnostic: wire::diagnostics(&out.diagnostics),
                    ..Default::default()
                });
            }
            Ok(events)
        };
        listed.await.unwrap_or_else(|d| {
            vec![pb::list_resource::Event {
                diagnostic: diags_of(d),
                ..Default::default()
            }]
        })
    }

    fn event(&self, type_name: &str, l: &Listed) -> Result<pb::list_resource::Event, Diagnostic> {
        let resource_object = match &l.resource_object {
            Some(state) => {
                let schema = self.schema(Kind::Resource, type_name)?;
                Some(encode(state, &schema.value_type(), "listed resource")?)
            }
            None => None,
        };
        Ok(pb::list_resource::Event {
            identity: self.encode_identity(type_name, &l.identity)?,
            display_name: l.display_name.clone(),
            resource_object,
            diagnostic: vec![],
        })
    }

    /// GenerateResourceConfig.
    pub(super) async fn generate(
        &self,
        r: pb::generate_resource_config::Request,
    ) -> pb::generate_resource_config::Response {
        let generated = async {
            let schema = self.schema(Kind::Resource, &r.type_name)?;
            let ty = schema.value_type();
            let state = decode(r.state.as_ref(), &ty, "state")?;
            let out = self
                .guarded(
                    "configuration generation",
                    self.provider.generate_resource_config(&r.type_name, &state),
                )
                .await?;
            if out.diagnostics.has_errors() {
                return Ok(pb::generate_resource_config::Response {
                    config: None,
                    diagnostics: wire::diagnostics(&out.diagnostics),
                });
            }
            Ok(pb::generate_resource_config::Response {
                config: Some(encode(&out.config, &ty, "generated configuration")?),
                diagnostics: wire::diagnostics(&out.diagnostics),
            })
        };
        generated
            .await
            .unwrap_or_else(|d| pb::generate_resource_config::Response {
                config: None,
                diagnostics: diags_of(d),
            })
    }
}
