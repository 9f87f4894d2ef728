//! The gRPC services Terraform talks to: `tfplugin6.Provider`, go-plugin's `GRPCController`,
//! `GRPCStdio` and `GRPCBroker`, and the health service.
//!
//! Every Provider RPC: looks up the schema of the type it names, decodes values, calls the
//! [`Provider`] under the current stop token and a panic guard, encodes the answer. Errors never
//! become gRPC failures where the message has room for diagnostics: Terraform shows diagnostics
//! to the user, and only a status to the log.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use tokio::sync::watch;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use super::diag::Diagnostic;
use super::provider::{self as p, Provider};
use super::schema::{Schema, null_write_only};
use super::value::{Type, Value};
use super::wire::{self, proto::plugin as gp, proto::tfplugin6 as pb};

type Rpc<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The Provider service over a [`Provider`].
pub struct ProviderService<P> {
    provider: Arc<P>,
    stop: Arc<Mutex<CancellationToken>>,
    /// The client said (at ConfigureProvider) it understands write-only attributes; only then
    /// are they nulled in planned and new state (older clients expect them echoed).
    write_only_allowed: std::sync::atomic::AtomicBool,
}

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: Arc<P>) -> Self {
        ProviderService {
            provider,
            stop: Arc::new(Mutex::new(CancellationToken::new())),
            write_only_allowed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Nulls write-only attributes when the client supports them.
    fn scrub(&self, v: Value, schema: &Schema) -> Value {
        if self
            .write_only_allowed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            null_write_only(v, &schema.block)
        } else {
            v
        }
    }

    fn token(&self) -> CancellationToken {
        self.stop
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Runs a provider call so that StopProvider cancels it and a panic becomes a diagnostic.
    async fn guarded<T, F>(&self, what: &str, fut: F) -> Result<T, Diagnostic>
    where
        F: Future<Output = T> + Send,
    {
        let token = self.token();
        tokio::select! {
            r = AssertUnwindSafe(fut).catch_unwind() => r.map_err(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(operation = what, panic = %msg, "provider panicked");
                Diagnostic::error(
                    format!("meshfed internal error during {what}"),
                    format!("The provider hit a bug and stopped this operation: {msg}. Please report it. Nothing else was changed by this operation after the error."),
                )
            }),
            _ = token.cancelled() => Err(Diagnostic::error(
                format!("{what} cancelled"),
                "Terraform asked meshfed to stop (interrupt), so this operation was cancelled before it finished. Run the command again to finish it.",
            )),
        }
    }

    fn resource_schema(&self, type_name: &str) -> Result<&Schema, Diagnostic> {
        self.provider
            .schemas()
            .resources
            .get(type_name)
            .ok_or_else(|| {
                unknown_type(
                    "resource",
                    type_name,
                    self.provider.schemas().resources.keys(),
                )
            })
    }

    fn data_schema(&self, type_name: &str) -> Result<&Schema, Diagnostic> {
        self.provider
            .schemas()
            .data_sources
            .get(type_name)
            .ok_or_else(|| {
                unknown_type(
                    "data source",
                    type_name,
                    self.provider.schemas().data_sources.keys(),
                )
            })
    }
}

fn unknown_type<'a>(kind: &str, name: &str, known: impl Iterator<Item = &'a String>) -> Diagnostic {
    let known: Vec<&str> = known.map(String::as_str).collect();
    Diagnostic::error(
        format!("Unknown {kind} type {name:?}"),
        if known.is_empty() {
            format!("meshfed has no {kind} types.")
        } else {
            format!("meshfed's {kind} types are: {}.", known.join(", "))
        },
    )
}

fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostic> {
    wire::dynamic_value(dv, ty)
        .map_err(|e| Diagnostic::from_error(format!("Cannot decode {what}"), &e))
}

fn encode(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
    wire::to_dynamic_value(v, ty)
        .map_err(|e| Diagnostic::from_error(format!("meshfed produced an invalid {what}"), &e))
}

fn diags_of(d: Diagnostic) -> Vec<pb::Diagnostic> {
    vec![wire::diagnostic(&d)]
}

fn unsupported(what: &str) -> Vec<pb::Diagnostic> {
    diags_of(p::not_supported(what))
}

/// Shorthand: on error, answer a response built from the diagnostic.
macro_rules! tri {
    ($e:expr, $resp:expr) => {
        match $e {
            Ok(v) => v,
            Err(d) => return Ok(Response::new($resp(diags_of(d)))),
        }
    };
}

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

    async fn get_resource_identity_schemas(
        &self,
        _r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        // meshfed's resources have no identity schema (import is by ID).
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: unsupported(&format!("resource identity for {}", r.get_ref().type_name)),
        }))
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
        self.write_only_allowed.store(
            capabilities.write_only_attributes_allowed,
            std::sync::atomic::Ordering::Relaxed,
        );
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

    async fn generate_resource_config(
        &self,
        r: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        Ok(Response::new(pb::generate_resource_config::Response {
            config: None,
            diagnostics: unsupported(&format!(
                "configuration generation for {}",
                r.get_ref().type_name
            )),
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        r: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: unsupported(&format!("ephemeral resource {}", r.get_ref().type_name)),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        r: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: unsupported(&format!("ephemeral resource {}", r.get_ref().type_name)),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        r: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: unsupported(&format!("ephemeral resource {}", r.get_ref().type_name)),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        r: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: unsupported(&format!("ephemeral resource {}", r.get_ref().type_name)),
        }))
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        r: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        let event = pb::list_resource::Event {
            diagnostic: unsupported(&format!("listing {}", r.get_ref().type_name)),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(event)))))
    }

    async fn validate_list_resource_config(
        &self,
        r: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: unsupported(&format!("listing {}", r.get_ref().type_name)),
        }))
    }

    async fn get_functions(
        &self,
        _r: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        r: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!(
                    "function {:?} is not supported by meshfed: it provides no functions",
                    r.get_ref().name
                ),
                function_argument: None,
            }),
        }))
    }

    async fn validate_state_store_config(
        &self,
        r: Request<pb::validate_state_store::Request>,
    ) -> Rpc<pb::validate_state_store::Response> {
        Ok(Response::new(pb::validate_state_store::Response {
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
        }))
    }

    async fn configure_state_store(
        &self,
        r: Request<pb::configure_state_store::Request>,
    ) -> Rpc<pb::configure_state_store::Response> {
        Ok(Response::new(pb::configure_state_store::Response {
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
            capabilities: None,
        }))
    }

    type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        r: Request<pb::read_state_bytes::Request>,
    ) -> Rpc<Self::ReadStateBytesStream> {
        let msg = pb::read_state_bytes::Response {
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(msg)))))
    }

    async fn write_state_bytes(
        &self,
        r: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Rpc<pb::write_state_bytes::Response> {
        let mut s = r.into_inner();
        while let Ok(Some(_)) = s.message().await {}
        Ok(Response::new(pb::write_state_bytes::Response {
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn lock_state(
        &self,
        r: Request<pb::lock_state::Request>,
    ) -> Rpc<pb::lock_state::Response> {
        Ok(Response::new(pb::lock_state::Response {
            lock_id: String::new(),
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
        }))
    }

    async fn unlock_state(
        &self,
        r: Request<pb::unlock_state::Request>,
    ) -> Rpc<pb::unlock_state::Response> {
        Ok(Response::new(pb::unlock_state::Response {
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
        }))
    }

    async fn get_states(
        &self,
        r: Request<pb::get_states::Request>,
    ) -> Rpc<pb::get_states::Response> {
        Ok(Response::new(pb::get_states::Response {
            state_id: vec![],
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
        }))
    }

    async fn delete_state(
        &self,
        r: Request<pb::delete_state::Request>,
    ) -> Rpc<pb::delete_state::Response> {
        Ok(Response::new(pb::delete_state::Response {
            diagnostics: unsupported(&format!("state store {}", r.get_ref().type_name)),
        }))
    }

    async fn plan_action(
        &self,
        r: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        Ok(Response::new(pb::plan_action::Response {
            diagnostics: unsupported(&format!("action {}", r.get_ref().action_type)),
            deferred: None,
        }))
    }

    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        r: Request<pb::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        let done = pb::invoke_action::Event {
            r#type: Some(pb::invoke_action::event::Type::Completed(
                pb::invoke_action::event::Completed {
                    diagnostics: unsupported(&format!("action {}", r.get_ref().action_type)),
                },
            )),
        };
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(done)))))
    }

    async fn validate_action_config(
        &self,
        r: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics: unsupported(&format!("action {}", r.get_ref().type_name)),
        }))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        // Cancel what is in flight; later calls get a fresh token, so the server keeps serving.
        let old = match self.stop.lock() {
            Ok(mut t) => std::mem::replace(&mut *t, CancellationToken::new()),
            Err(e) => std::mem::replace(&mut *e.into_inner(), CancellationToken::new()),
        };
        old.cancel();
        tracing::info!("StopProvider: in-flight operations cancelled");
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

/// A signal the server waits on to shut down (GRPCController.Shutdown sets it).
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
    /// Resolves once shutdown was triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// go-plugin's controller: Shutdown stops the server gracefully.
pub struct Controller {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _r: Request<gp::Empty>) -> Rpc<gp::Empty> {
        tracing::debug!("GRPCController.Shutdown");
        self.shutdown.trigger();
        Ok(Response::new(gp::Empty {}))
    }
}

/// go-plugin's stdio stream. meshfed writes nothing to stdout after the handshake and logs to
/// stderr directly, so the stream stays open, silent, until shutdown.
pub struct Stdio {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<gp::StdioData>;

    async fn stream_stdio(&self, _r: Request<()>) -> Rpc<Self::StreamStdioStream> {
        let shutdown = self.shutdown.clone();
        let s = futures::stream::once(async move {
            shutdown.wait().await;
        })
        .filter_map(|_| async { None });
        Ok(Response::new(Box::pin(s)))
    }
}

/// go-plugin's broker. Terraform does not use it; the stream is accepted and stays silent.
pub struct Broker;

#[tonic::async_trait]
impl gp::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<gp::ConnInfo>;

    async fn start_stream(
        &self,
        r: Request<Streaming<gp::ConnInfo>>,
    ) -> Rpc<Self::StartStreamStream> {
        let mut incoming = r.into_inner();
        let s =
            futures::stream::once(
                async move { while let Ok(Some(_)) = incoming.message().await {} },
            )
            .filter_map(|_| async { None });
        Ok(Response::new(Box::pin(s)))
    }
}

use futures::StreamExt;

/// Every service, ready to serve: the router tests and `serve` both use.
pub async fn router<P: Provider>(
    provider: Arc<P>,
    shutdown: Shutdown,
) -> tonic::transport::server::Router {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(
            pb::provider_server::ProviderServer::new(ProviderService::new(provider))
                .max_decoding_message_size(256 << 20)
                .max_encoding_message_size(256 << 20),
        )
        .add_service(gp::grpc_controller_server::GrpcControllerServer::new(
            Controller {
                shutdown: shutdown.clone(),
            },
        ))
        .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(Stdio {
            shutdown,
        }))
        .add_service(gp::grpc_broker_server::GrpcBrokerServer::new(Broker))
}
