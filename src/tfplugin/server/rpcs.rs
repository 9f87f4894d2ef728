//! The `tfplugin6.Provider` RPCs meshfed serves: metadata and schemas, validation, provider
//! configuration, state upgrade, read, plan, apply, import, move, data source reads, functions
//! (their calls in `functions`), resource identities (their encoding in `identity`), list
//! resources and configuration generation (in `list`), actions (validation here; planning and
//! the invocation's stream in `actions`) and StopProvider. Every one looks up the schema of the type it names, decodes values, calls the
//! [`Provider`] under the stop token and panic guard, and encodes the answer; errors become
//! diagnostics in the response, never gRPC failures. Each writes those steps as one async block
//! that stops at the first diagnostic (`?`), and says only what its response holds then: the
//! configuration checks answer `verdict` of the block, the others `answer` it with the response
//! to give on failure.
//!
//! The RPCs for features meshfed lacks are written by `unsupported`, inside the same trait impl.
//! Must not import the go-plugin services or anything outside the protocol layer.

use tonic::{Request, Response};

use super::Rpc;
use super::service::{Kind, ProviderService, answer, decode, encode, verdict};
use super::unsupported::unsupported_rpcs;
use super::{actions, functions};
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::provider::{self as p, Provider};
use crate::tfplugin::value::Value;
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        let s = self.provider.schemas();
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities(s)),
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
            functions: s
                .functions
                .keys()
                .map(|name| pb::get_metadata::FunctionMetadata { name: name.clone() })
                .collect(),
            list_resources: s
                .list_resources
                .keys()
                .map(|k| pb::get_metadata::ListResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            actions: s
                .actions
                .keys()
                .map(|k| pb::get_metadata::ActionMetadata {
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
            functions: functions::signatures(self.provider.as_ref()),
            list_resource_schemas: s
                .list_resources
                .iter()
                .map(|(k, v)| (k.clone(), wire::schema(v)))
                .collect(),
            action_schemas: actions::schemas(self.provider.as_ref()),
            server_capabilities: Some(server_capabilities(s)),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let r = r.into_inner();
        let judged = async {
            let config = self.provider_config(r.config.as_ref())?;
            let check = self.provider.validate_provider_config(&config);
            self.guarded("provider validation", check).await
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: verdict(judged.await),
        }))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let r = r.into_inner();
        let capabilities = wire::client_capabilities(r.client_capabilities.as_ref());
        let diagnostics = self
            .validate_config(
                Kind::Resource,
                &r.type_name,
                r.config.as_ref(),
                capabilities,
            )
            .await;
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let r = r.into_inner();
        let capabilities = p::ClientCapabilities::default();
        let diagnostics = self
            .validate_config(
                Kind::DataSource,
                &r.type_name,
                r.config.as_ref(),
                capabilities,
            )
            .await;
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let failed = |diagnostics| pb::upgrade_resource_state::Response {
            upgraded_state: None,
            diagnostics,
        };
        let r = r.into_inner();
        let upgrade = async move {
            let schema = self.schema(Kind::Resource, &r.type_name)?;
            let req = p::UpgradeRequest {
                type_name: r.type_name,
                version: r.version,
                raw: wire::raw_state(r.raw_state.as_ref()),
            };
            let upgraded = self
                .guarded("state upgrade", self.provider.upgrade_resource_state(req))
                .await?;
            Ok(match upgraded {
                Ok(v) => pb::upgrade_resource_state::Response {
                    upgraded_state: Some(encode(&v, &schema.value_type(), "upgraded state")?),
                    diagnostics: vec![],
                },
                Err(d) => failed(wire::diagnostics(&d)),
            })
        };
        answer(upgrade.await, failed)
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let r = r.into_inner();
        let judged = async {
            let config = self.provider_config(r.config.as_ref())?;
            let capabilities = wire::client_capabilities(r.client_capabilities.as_ref());
            self.allow_write_only(capabilities.write_only_attributes_allowed);
            let req = p::ConfigureRequest {
                terraform_version: r.terraform_version,
                config,
                capabilities,
            };
            self.guarded("provider configuration", self.provider.configure(req))
                .await
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: verdict(judged.await),
        }))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let r = r.into_inner();
        let read = async {
            let schema = self.schema(Kind::Resource, &r.type_name)?;
            let ty = schema.value_type();
            let req = p::ReadRequest {
                type_name: r.type_name.clone(),
                current_state: decode(r.current_state.as_ref(), &ty, "current state")?,
                private: r.private.clone(),
                capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
                current_identity: self
                    .decode_identity(&r.type_name, r.current_identity.as_ref())?,
            };
            let out = self
                .guarded("refresh", self.provider.read_resource(req))
                .await?;
            Ok(pb::read_resource::Response {
                new_identity: self.encode_identity(&r.type_name, &out.new_identity)?,
                new_state: Some(self.encode_state(out.new_state, schema, "refreshed state")?),
                diagnostics: wire::diagnostics(&out.diagnostics),
                private: out.private,
                ..Default::default()
            })
        };
        // On failure, the state stays as Terraform sent it.
        answer(read.await, |diagnostics| pb::read_resource::Response {
            new_state: r.current_state,
            diagnostics,
            private: r.private,
            ..Default::default()
        })
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let r = r.into_inner();
        let plan = async move {
            let schema = self.schema(Kind::Resource, &r.type_name)?;
            let ty = schema.value_type();
            let req = p::PlanRequest {
                prior_identity: self.decode_identity(&r.type_name, r.prior_identity.as_ref())?,
                type_name: r.type_name.clone(),
                prior_state: decode(r.prior_state.as_ref(), &ty, "prior state")?,
                proposed_new_state: decode(
                    r.proposed_new_state.as_ref(),
                    &ty,
                    "proposed new state",
                )?,
                config: decode(r.config.as_ref(), &ty, "configuration")?,
                prior_private: r.prior_private,
                capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
            };
            let out = self
                .guarded("plan", self.provider.plan_resource_change(req))
                .await?;
            Ok(pb::plan_resource_change::Response {
                planned_identity: self.encode_identity(&r.type_name, &out.planned_identity)?,
                planned_state: Some(self.encode_state(
                    out.planned_state,
                    schema,
                    "planned state",
                )?),
                requires_replace: out
                    .requires_replace
                    .iter()
                    .map(wire::attribute_path)
                    .collect(),
                planned_private: out.planned_private,
                diagnostics: wire::diagnostics(&out.diagnostics),
                ..Default::default()
            })
        };
        answer(plan.await, |diagnostics| {
            pb::plan_resource_change::Response {
                diagnostics,
                ..Default::default()
            }
        })
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let r = r.into_inner();
        let apply = async {
            let schema = self.schema(Kind::Resource, &r.type_name)?;
            let ty = schema.value_type();
            let stop = self.stop_signal();
            let req = p::ApplyRequest {
                type_name: r.type_name.clone(),
                prior_state: decode(r.prior_state.as_ref(), &ty, "prior state")?,
                planned_state: decode(r.planned_state.as_ref(), &ty, "planned state")?,
                config: decode(r.config.as_ref(), &ty, "configuration")?,
                planned_private: r.planned_private.clone(),
                stop: stop.signal.clone(),
                planned_identity: self
                    .decode_identity(&r.type_name, r.planned_identity.as_ref())?,
            };
            let out = self
                .guarded_gracefully("apply", self.provider.apply_resource_change(req), &stop)
                .await?;
            Ok(pb::apply_resource_change::Response {
                new_identity: self.encode_identity(&r.type_name, &out.new_identity)?,
                new_state: Some(self.encode_state(out.new_state, schema, "new state")?),
                private: out.private,
                diagnostics: wire::diagnostics(&out.diagnostics),
                ..Default::default()
            })
        };
        // On failure before the provider ran, keep the prior state: nothing was changed.
        answer(apply.await, |diagnostics| {
            pb::apply_resource_change::Response {
                new_state: r.prior_state,
                diagnostics,
                ..Default::default()
            }
        })
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let r = r.into_inner();
        let import = async move {
            self.schema(Kind::Resource, &r.type_name)?;
            let req = p::ImportRequest {
                identity: self.decode_identity(&r.type_name, r.identity.as_ref())?,
                type_name: r.type_name,
                id: r.id,
                capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
            };
            let out = self
                .guarded("import", self.provider.import_resource_state(req))
                .await?;
            let imported_resources = out
                .imported
                .iter()
                .map(|i| {
                    let schema = self.schema(Kind::Resource, &i.type_name)?;
                    Ok(pb::import_resource_state::ImportedResource {
                        type_name: i.type_name.clone(),
                        state: Some(encode(&i.state, &schema.value_type(), "imported state")?),
                        private: i.private.clone(),
                        identity: self.encode_identity(&i.type_name, &i.identity)?,
                    })
                })
                .collect::<Result<_, Diagnostic>>()?;
            Ok(pb::import_resource_state::Response {
                imported_resources,
                diagnostics: wire::diagnostics(&out.diagnostics),
                deferred: None,
            })
        };
        answer(import.await, |diagnostics| {
            pb::import_resource_state::Response {
                diagnostics,
                ..Default::default()
            }
        })
    }

    async fn move_resource_state(
        &self,
        r: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let failed = |diagnostics| pb::move_resource_state::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        let moved = async move {
            let schema = self.schema(Kind::Resource, &r.target_type_name)?;
            let req = p::MoveRequest {
                source_provider_address: r.source_provider_address,
                source_type_name: r.source_type_name,
                source_schema_version: r.source_schema_version,
                source_state_json: r.source_state.map(|s| s.json).unwrap_or_default(),
                target_type_name: r.target_type_name,
                source_private: r.source_private,
            };
            let out = self
                .guarded("move", self.provider.move_resource_state(req))
                .await?;
            if out.diagnostics.has_errors() {
                return Ok(failed(wire::diagnostics(&out.diagnostics)));
            }
            let state = encode(&out.target_state, &schema.value_type(), "moved state")?;
            Ok(pb::move_resource_state::Response {
                target_state: Some(state),
                diagnostics: wire::diagnostics(&out.diagnostics),
                target_private: out.target_private,
                target_identity: None,
            })
        };
        answer(moved.await, failed)
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let failed = |diagnostics| pb::read_data_source::Response {
            diagnostics,
            ..Default::default()
        };
        let r = r.into_inner();
        let read = async move {
            let schema = self.schema(Kind::DataSource, &r.type_name)?;
            let ty = schema.value_type();
            let req = p::ReadDataRequest {
                type_name: r.type_name,
                config: decode(r.config.as_ref(), &ty, "configuration")?,
                capabilities: wire::client_capabilities(r.client_capabilities.as_ref()),
            };
            let out = self
                .guarded("data source read", self.provider.read_data_source(req))
                .await?;
            if out.diagnostics.has_errors() {
                return Ok(failed(wire::diagnostics(&out.diagnostics)));
            }
            Ok(pb::read_data_source::Response {
                state: Some(encode(&out.state, &ty, "data source state")?),
                diagnostics: wire::diagnostics(&out.diagnostics),
                deferred: None,
            })
        };
        answer(read.await, failed)
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        self.cancel_in_flight();
        tracing::info!(
            grace_secs = p::STOP_GRACE.as_secs(),
            "StopProvider: plans and reads cancelled; applies in flight finish their resource within the grace"
        );
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self.identity_schemas(),
            diagnostics: vec![],
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        Ok(Response::new(self.upgrade_identity(r.into_inner()).await))
    }

    type ListResourceStream = super::BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        r: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        let events = self.list(r.into_inner()).await;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            events.into_iter().map(Ok),
        ))))
    }

    async fn validate_list_resource_config(
        &self,
        r: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        let diagnostics = self.validate_list(r.into_inner()).await;
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics,
        }))
    }

    async fn generate_resource_config(
        &self,
        r: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        Ok(Response::new(self.generate(r.into_inner()).await))
    }

    async fn get_functions(
        &self,
        _r: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response {
            functions: functions::signatures(self.provider.as_ref()),
            diagnostics: vec![],
        }))
    }

    async fn call_function(
        &self,
        r: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        Ok(Response::new(self.call(r.into_inner()).await))
    }

    async fn validate_action_config(
        &self,
        r: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        let r = r.into_inner();
        let capabilities = p::ClientCapabilities::default();
        let diagnostics = self
            .validate_config(Kind::Action, &r.type_name, r.config.as_ref(), capabilities)
            .await;
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics,
        }))
    }

    async fn plan_action(
        &self,
        r: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        Ok(Response::new(self.action_plan(r.into_inner()).await))
    }

    type InvokeActionStream = super::BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        r: Request<pb::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        Ok(Response::new(self.invoke(r.into_inner())))
    }

    unsupported_rpcs!();
}

impl<P: Provider> ProviderService<P> {
    /// The provider configuration Terraform sent, decoded against the provider schema.
    fn provider_config(&self, config: Option<&pb::DynamicValue>) -> Result<Value, Diagnostic> {
        let ty = self.provider.schemas().provider.value_type();
        decode(config, &ty, "provider configuration")
    }

    /// ValidateResourceConfig, ValidateDataResourceConfig and ValidateActionConfig: decodes `config` against the
    /// schema of `type_name` and has the provider check it, under the guard.
    async fn validate_config(
        &self,
        kind: Kind,
        type_name: &str,
        config: Option<&pb::DynamicValue>,
        capabilities: p::ClientCapabilities,
    ) -> Vec<pb::Diagnostic> {
        let judged = async {
            let schema = self.schema(kind, type_name)?;
            let what = format!("{} configuration", kind.noun());
            let config = decode(config, &schema.value_type(), &what)?;
            let check = match kind {
                Kind::Resource => {
                    self.provider
                        .validate_resource_config(type_name, &config, capabilities)
                }
                Kind::DataSource => self
                    .provider
                    .validate_data_resource_config(type_name, &config),
                Kind::Action => self.provider.validate_action_config(type_name, &config),
            };
            self.guarded("validation", check).await
        };
        verdict(judged.await)
    }
}

/// What the server offers: configuration generation where it lists resources (a provider
/// with list resources implements GenerateResourceConfig for them).
fn server_capabilities(s: &p::ProviderSchemas) -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: !s.list_resources.is_empty(),
    }
}
