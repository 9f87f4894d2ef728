//! The meshfed provider as the protocol layer sees it: [`Meshfed`] implements
//! [`Provider`] by parsing the provider configuration ([`config`], against [`schema`]) into the
//! resources' typed configuration, by dispatching every resource, data source and action call to
//! the type that serves it through the resources' registry, and function calls to the resources'
//! functions.
//!
//! Configuring makes no network call: clusters are connected lazily by the apply engine.
//! Imports the resources layer and the protocol layer; nothing imports it but `main`.

mod config;
mod schema;
#[cfg(test)]
mod tests;

use tokio::sync::RwLock;

use self::config::parse_config;
pub use self::schema::provider_schema;
use crate::k8s::ClusterSet;
use crate::resources::context::{Ctx, ProviderConfig, not_configured};
use crate::resources::resource::{Action, Dispatch};
use crate::resources::{functions, registry};
use crate::tfplugin::action::{ActionRequest, InvokeRequest};
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::function::FunctionError;
use crate::tfplugin::list::{GeneratedConfig, ListRequest, ListResponse};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ClientCapabilities, ConfigureRequest, ImportRequest,
    ImportResponse, PlanRequest, PlanResponse, Provider, ProviderSchemas, ReadDataRequest,
    ReadDataResponse, ReadRequest, ReadResponse, not_supported,
};
use crate::tfplugin::value::Value;

/// The provider's source address.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/meshfed/meshfed";

/// The meshfed provider.
pub struct Meshfed {
    schemas: ProviderSchemas,
    state: RwLock<Option<Configured>>,
}

/// What ConfigureProvider produced: the configuration and the (not yet connected) clusters.
struct Configured {
    config: ProviderConfig,
    clusters: ClusterSet,
}

impl Configured {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            clusters: &self.clusters,
        }
    }
}

impl Default for Meshfed {
    fn default() -> Self {
        Meshfed::new()
    }
}

impl Meshfed {
    pub fn new() -> Meshfed {
        let registry = registry();
        Meshfed {
            schemas: ProviderSchemas {
                provider: provider_schema(),
                provider_meta: None,
                resources: registry.resource_schemas(),
                data_sources: registry.data_source_schemas(),
                functions: functions::signatures(),
                identities: registry.identity_schemas(),
                list_resources: registry.list_schemas(),
                actions: registry.action_schemas(),
            },
            state: RwLock::new(None),
        }
    }

    /// The configuration from the last ConfigureProvider, if any.
    pub async fn config(&self) -> Option<ProviderConfig> {
        self.state.read().await.as_ref().map(|s| s.config.clone())
    }
}

#[tonic::async_trait]
impl Provider for Meshfed {
    fn schemas(&self) -> &ProviderSchemas {
        &self.schemas
    }

    async fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        parse_config(config).1
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        let (cfg, diags) = parse_config(&req.config);
        if let Some(config) = cfg {
            tracing::info!(
                terraform_version = %req.terraform_version,
                clusters = config.clusters.len(),
                field_manager = %config.field_manager,
                "provider configured"
            );
            let clusters = config.cluster_set();
            *self.state.write().await = Some(Configured { config, clusters });
        }
        diags
    }

    async fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
        capabilities: ClientCapabilities,
    ) -> Diagnostics {
        match registry().resource(type_name) {
            Some(r) => r.validate(config, capabilities),
            None => Diagnostics::new(),
        }
    }

    async fn plan_resource_change(&self, req: PlanRequest) -> PlanResponse {
        let state = self.state.read().await;
        match target(&state, &req.type_name) {
            Ok((ctx, r)) => r.plan(&ctx, req).await,
            Err(diagnostics) => PlanResponse {
                planned_state: req.proposed_new_state,
                diagnostics,
                ..PlanResponse::default()
            },
        }
    }

    async fn apply_resource_change(&self, req: ApplyRequest) -> ApplyResponse {
        let state = self.state.read().await;
        match target(&state, &req.type_name) {
            Ok((ctx, r)) => r.apply(&ctx, req).await,
            Err(diagnostics) => ApplyResponse {
                new_state: req.prior_state,
                diagnostics,
                ..ApplyResponse::default()
            },
        }
    }

    async fn read_resource(&self, req: ReadRequest) -> ReadResponse {
        let state = self.state.read().await;
        match target(&state, &req.type_name) {
            Ok((ctx, r)) => r.read(&ctx, req).await,
            Err(diagnostics) => ReadResponse {
                new_state: req.current_state,
                private: req.private,
                diagnostics,
                new_identity: req.current_identity,
            },
        }
    }

    async fn import_resource_state(&self, req: ImportRequest) -> ImportResponse {
        let state = self.state.read().await;
        match target(&state, &req.type_name) {
            Ok((ctx, r)) => r.import(&ctx, req).await,
            Err(diagnostics) => ImportResponse {
                diagnostics,
                ..ImportResponse::default()
            },
        }
    }

    async fn read_data_source(&self, req: ReadDataRequest) -> ReadDataResponse {
        let Some(d) = registry().data_source(&req.type_name) else {
            let what = format!("data source {}", req.type_name);
            return ReadDataResponse {
                diagnostics: not_supported(&what).into(),
                ..ReadDataResponse::default()
            };
        };
        let state = self.state.read().await;
        let ctx = state.as_ref().map(Configured::ctx);
        d.read(ctx.as_ref(), req).await
    }

    async fn list_resource(&self, req: ListRequest) -> ListResponse {
        let state = self.state.read().await;
        match target(&state, &req.type_name) {
            Ok((ctx, r)) => r.list(&ctx, req).await,
            Err(diagnostics) => ListResponse {
                diagnostics,
                ..ListResponse::default()
            },
        }
    }

    async fn generate_resource_config(&self, type_name: &str, state: &Value) -> GeneratedConfig {
        match registry().resource(type_name) {
            Some(r) => GeneratedConfig {
                config: r.generate_config(state),
                diagnostics: Diagnostics::new(),
            },
            None => GeneratedConfig {
                diagnostics: not_supported(&format!("resource {type_name}")).into(),
                ..GeneratedConfig::default()
            },
        }
    }

    async fn call_function(&self, name: &str, args: Vec<Value>) -> Result<Value, FunctionError> {
        functions::call(name, &args)
    }

    async fn validate_action_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        match registry().action(type_name) {
            Some(a) => a.validate(config),
            None => Diagnostics::new(),
        }
    }

    async fn plan_action(&self, req: ActionRequest) -> Diagnostics {
        let state = self.state.read().await;
        match action_target(&state, &req.type_name) {
            Ok((ctx, a)) => a.plan(&ctx, &req.config),
            Err(diagnostics) => diagnostics,
        }
    }

    async fn invoke_action(&self, req: InvokeRequest) -> Diagnostics {
        let state = self.state.read().await;
        match action_target(&state, &req.type_name) {
            Ok((ctx, a)) => a.invoke(&ctx, req).await,
            Err(diagnostics) => diagnostics,
        }
    }
}

/// Like [`target`], for an action.
fn action_target<'a>(
    state: &'a Option<Configured>,
    type_name: &str,
) -> Result<(Ctx<'a>, &'static dyn Action), Diagnostics> {
    let configured = state
        .as_ref()
        .ok_or_else(|| Diagnostics::from(not_configured()))?;
    let action = registry()
        .action(type_name)
        .ok_or_else(|| Diagnostics::from(not_supported(&format!("action {type_name}"))))?;
    Ok((configured.ctx(), action))
}

/// The context and the resource a call goes to, or why it cannot be served: no valid provider
/// configuration yet, or a type meshfed does not have (the protocol layer answers unknown types
/// itself; this is the fallback).
fn target<'a>(
    state: &'a Option<Configured>,
    type_name: &str,
) -> Result<(Ctx<'a>, &'static dyn Dispatch), Diagnostics> {
    let configured = state
        .as_ref()
        .ok_or_else(|| Diagnostics::from(not_configured()))?;
    let resource = registry()
        .resource(type_name)
        .ok_or_else(|| Diagnostics::from(not_supported(&format!("resource {type_name}"))))?;
    Ok((configured.ctx(), resource))
}
