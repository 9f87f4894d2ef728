//! The `tfplugin6.Provider` RPCs meshfed serves: metadata and schemas, validation, provider
//! configuration, state upgrade, read, plan, apply, import, move, data source reads and
//! StopProvider. Every one looks up the schema of the type it names, decodes values, calls the
//! [`Provider`] under the stop token and panic guard, and encodes the answer; errors become
//! diagnostics in the response, never gRPC failures.
//!
//! The RPCs for features meshfed lacks are written by `unsupported`, inside the same trait impl.
//! Must not import the go-plugin services or anything outside the protocol layer.

use tonic::{Request, Response};

use super::Rpc;
use super::service::{ProviderService, decode, encode, tri};
use super::unsupported::unsupported_rpcs;
use crate::tfplugin::provider::{self as p, Provider};
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        let s = self.provider.schemas();
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            resources: s
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            data_sources: s
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _r: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        let s = self.provider.schemas();
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(wire::schema(&s.provider)),
            provider_meta: s.provider_meta.as_ref().map(wire::schema),
            resource_schemas: s
                .resources
                .iter()
                .map(|(k, v)| (k.clone(), wire::schema(v)))
                .collect(),
            data_source_schemas: s
                .data_sources
                .iter()
                .map(|(k, v)| (k.clone(), wire::schema(v)))
                .collect(),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let resp = |diagnostics| pb::validate_provider_config::Response { diagnostics };
        let r = r.into_inner();
        let config = tri!(
            decode(
                r.config.as_ref(),
                &self.provider.schemas().provider.value_type(),
                "provider configuration"
            ),
            resp
        );
        let d = tri!(
            self.guarded(
                "provider validation",
                self.provider.validate_provider_config(&config)
            )
            .await,
            resp
        );
        Ok(Response::new(resp(wire::diagnostics(&d))))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let resp = |diagnostics| pb::validate_resource_config::Response { diagnostics };
        let r = r.into_inner();
        let schema = tri!(self.resource_schema(&r.type_name), resp);
        let config = tri!(
            decode(
                r.config.as_ref(),
                &schema.value_type(),
                "resource configuration"
            ),
            resp
        );
        let d = tri!(
            self.guarded(
                "validation",
                self.provider
                    .validate_resource_config(&r.type_name, &config)
            )
            .await,
            resp
        );
        Ok(Response::new(resp(wire::diagnostics(&d))))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let resp = |diagnostics| pb::validate_data_resource_config::Response { diagnostics };
        let r = r.into_inner();
        let schema = tri!(self.data_schema(&r.type_name), resp);
        let config = tri!(
            decode(
                r.config.as_ref(),
                &schema.value_type(),
                "data source configuration"
            ),
            resp
        );
        let d = tri!(
            self.guarded(
                "validation",
                self.provider
                    .validate_data_resource_config(&r.type_name, &config)
            )
            .await,
            resp
        );
        Ok(Response::new(resp(wire::diagnostics(&d))))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let resp = |diagnostics| pb::upgrade_resource_state::Response {
            upgraded_state: None,
            diagnostics,
        };
        let r = r.into_inner();
        let schema = tri!(self.resource_schema(&r.type_name), resp);
        let req = p::UpgradeRequest {
            type_name: r.type_name.clone(),
            version: r.version,
            raw: wire::raw_state(r.raw_state.as_ref()),
        };
        let upgraded = tri!(
            self.guarded("state upgrade", self.provider.upgrade_resource_state(req))
                .await,
            resp
        );
        match upgraded {
            Ok(v) => {
                let dv = tri!(encode(&v, &schema.value_type(), "upgraded state"), resp);
                Ok(Response::new(pb::upgrade_resource_state::Response {
                    upgraded_state: Some(dv),
                    diagnostics: vec![],
                }))
            }
            Err(d) => Ok(Response::new(resp(wire::diagnostics(&d)))),
        }
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let resp = |diagnostics| pb::configure_provider::Response { diagnostics };
        let r = r.into_inner();
        let config = tri!(
            decode(
                r.config.as_ref(),
                &self.provider.schemas().provider.value_type(),
                "provider configuration"
            ),
            resp
        );
        let capabilities = wire::client_capabilities(r.client_capabilities.as_ref());
        self.allow_write_only(capabilities.write_only_attributes_allowed);
        let req = p::ConfigureRequest {
            terraform_version: r.terraform_version,
            config,
            capabilities,
        };
        let d = tri!(
            self.guarded("provider configuration", self.provider.configure(req))
                .await,
            resp
        );
        Ok(Response::new(resp(wire::diagnostics(&d))))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let r = r.into_inner();
        let resp = |diagnostics| pb::read_resource::Response {
            new_state: r.current_state.clone(),
            diagnostics,
            private: r.private.clone(),
            ..Default::default()
        };
        let schema = tri!(self.resource_schema(&r.type_name), resp);
        let ty = schema.value_type();
        let current_state = tri!(decode(r.current_state.as_ref(), &ty, "current state"), resp);
        let req = p::ReadRequest {
            type_name: r.type_name.clone(),
            current_state,
            private: r.private.clone(),
            capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
        };
        let out = tri!(
            self.guarded("refresh", self.provider.read_resource(req))
                .await,
            resp
        );
        let new_state = tri!(
            encode(&self.scrub(out.new_state, schema), &ty, "refreshed state"),
            resp
        );
        Ok(Response::new(pb::read_resource::Response {
            new_state: Some(new_state),
            diagnostics: wire::diagnostics(&out.diagnostics),
            private: out.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let resp = |diagnostics| pb::plan_resource_change::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        let schema = tri!(self.resource_schema(&r.type_name), resp);
        let ty = schema.value_type();
        let req = p::PlanRequest {
            type_name: r.type_name.clone(),
            prior_state: tri!(decode(r.prior_state.as_ref(), &ty, "prior state"), resp),
            proposed_new_state: tri!(
                decode(r.proposed_new_state.as_ref(), &ty, "proposed new state"),
                resp
            ),
            config: tri!(decode(r.config.as_ref(), &ty, "configuration"), resp),
            prior_private: r.prior_private,
            capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
        };
        let out = tri!(
            self.guarded("plan", self.provider.plan_resource_change(req))
                .await,
            resp
        );
        let planned = tri!(
            encode(&self.scrub(out.planned_state, schema), &ty, "planned state"),
            resp
        );
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(planned),
            requires_replace: out
                .requires_replace
                .iter()
                .map(wire::attribute_path)
                .collect(),
            planned_private: out.planned_private,
            diagnostics: wire::diagnostics(&out.diagnostics),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let r = r.into_inner();
        // On failure before the provider ran, keep the prior state: nothing was changed.
        let resp = |diagnostics| pb::apply_resource_change::Response {
            new_state: r.prior_state.clone(),
            diagnostics,
            ..Default::default()
        };
        let schema = tri!(self.resource_schema(&r.type_name), resp);
        let ty = schema.value_type();
        let req = p::ApplyRequest {
            type_name: r.type_name.clone(),
            prior_state: tri!(decode(r.prior_state.as_ref(), &ty, "prior state"), resp),
            planned_state: tri!(decode(r.planned_state.as_ref(), &ty, "planned state"), resp),
            config: tri!(decode(r.config.as_ref(), &ty, "configuration"), resp),
            planned_private: r.planned_private.clone(),
        };
        let out = tri!(
            self.guarded("apply", self.provider.apply_resource_change(req))
                .await,
            resp
        );
        let new_state = tri!(
            encode(&self.scrub(out.new_state, schema), &ty, "new state"),
            resp
        );
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: Some(new_state),
            private: out.private,
            diagnostics: wire::diagnostics(&out.diagnostics),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let resp = |diagnostics| pb::import_resource_state::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        tri!(self.resource_schema(&r.type_name), resp);
        let req = p::ImportRequest {
            type_name: r.type_name.clone(),
            id: r.id,
            capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
        };
        let out = tri!(
            self.guarded("import", self.provider.import_resource_state(req))
                .await,
            resp
        );
        let mut imported = Vec::new();
        for i in &out.imported {
            let schema = tri!(self.resource_schema(&i.type_name), resp);
            let state = tri!(
                encode(&i.state, &schema.value_type(), "imported state"),
                resp
            );
            imported.push(pb::import_resource_state::ImportedResource {
                type_name: i.type_name.clone(),
                state: Some(state),
                private: i.private.clone(),
                identity: None,
            });
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: wire::diagnostics(&out.diagnostics),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        r: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let resp = |diagnostics| pb::move_resource_state::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        let schema = tri!(self.resource_schema(&r.target_type_name), resp);
        let req = p::MoveRequest {
            source_provider_address: r.source_provider_address,
            source_type_name: r.source_type_name,
            source_schema_version: r.source_schema_version,
            source_state_json: r.source_state.map(|s| s.json).unwrap_or_default(),
            target_type_name: r.target_type_name.clone(),
            source_private: r.source_private,
        };
        let out = tri!(
            self.guarded("move", self.provider.move_resource_state(req))
                .await,
            resp
        );
        if out.diagnostics.has_errors() {
            return Ok(Response::new(resp(wire::diagnostics(&out.diagnostics))));
        }
        let state = tri!(
            encode(&out.target_state, &schema.value_type(), "moved state"),
            resp
        );
        Ok(Response::new(pb::move_resource_state::Response {
            target_state: Some(state),
            diagnostics: wire::diagnostics(&out.diagnostics),
            target_private: out.target_private,
            target_identity: None,
        }))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let resp = |diagnostics| pb::read_data_source::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        let schema = tri!(self.data_schema(&r.type_name), resp);
        let ty = schema.value_type();
        let req = p::ReadDataRequest {
            type_name: r.type_name.clone(),
            config: tri!(decode(r.config.as_ref(), &ty, "configuration"), resp),
            capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
        };
        let out = tri!(
            self.guarded("data source read", self.provider.read_data_source(req))
                .await,
            resp
        );
        if out.diagnostics.has_errors() {
            return Ok(Response::new(resp(wire::diagnostics(&out.diagnostics))));
        }
        let state = tri!(encode(&out.state, &ty, "data source state"), resp);
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(state),
            diagnostics: wire::diagnostics(&out.diagnostics),
            deferred: None,
        }))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        self.cancel_in_flight();
        tracing::info!("StopProvider: in-flight operations cancelled");
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }

    unsupported_rpcs!();
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}
