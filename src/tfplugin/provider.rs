//! The interface between the protocol layer and a provider: typed requests in, typed responses
//! out, with [`Value`]s already decoded against the schema. The gRPC server (`server`) does all
//! wire conversion and calls these methods; a provider implements [`Provider`] and never sees
//! protobuf. Every method has a default that answers "not supported by meshfed", so a provider
//! implements only what it offers. Must not import protobuf (`wire`) or the gRPC `server`.

use std::collections::BTreeMap;

use super::action::{ActionRequest, InvokeRequest};
use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::function::{Function, FunctionError};
use super::identity::IdentitySchema;
use super::list::{GeneratedConfig, ListRequest, ListResponse};
use super::schema::Schema;
use super::value::Value;

/// Every schema a provider serves.
#[derive(Clone, Debug)]
pub struct ProviderSchemas {
    pub provider: Schema,
    pub provider_meta: Option<Schema>,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
    /// Provider-defined functions by name (`provider::<local name>::<name>`).
    pub functions: BTreeMap<String, Function>,
    /// Resource identities, by resource type (types without one are absent).
    pub identities: BTreeMap<String, IdentitySchema>,
    /// List resources (`terraform query`): the schema of a `list` block's `config`, by the
    /// managed resource type they list (which must have an identity).
    pub list_resources: BTreeMap<String, Schema>,
    /// Actions (Terraform ≥ 1.14): the schema of an `action` block's `config`, by action type.
    pub actions: BTreeMap<String, Schema>,
}

/// What the Terraform client says it can handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// The client accepts deferred changes.
    pub deferral_allowed: bool,
    /// The client understands write-only attributes.
    pub write_only_attributes_allowed: bool,
}

/// ConfigureProvider.
#[derive(Clone, Debug)]
pub struct ConfigureRequest {
    pub terraform_version: String,
    pub config: Value,
    pub capabilities: ClientCapabilities,
}

/// State as stored by an earlier provider version, for UpgradeResourceState.
#[derive(Clone, Debug, Default)]
pub struct RawState {
    pub json: Vec<u8>,
    pub flatmap: BTreeMap<String, String>,
}

/// UpgradeResourceState, and UpgradeResourceIdentity (where `raw` is the stored identity and
/// `version` its identity schema version).
#[derive(Clone, Debug)]
pub struct UpgradeRequest {
    pub type_name: String,
    pub version: i64,
    pub raw: RawState,
}

#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub type_name: String,
    pub current_state: Value,
    pub private: Vec<u8>,
    pub capabilities: ClientCapabilities,
    /// The stored identity; null when there is none (older clients, or none stored yet).
    pub current_identity: Value,
}

#[derive(Clone, Debug, Default)]
pub struct ReadResponse {
    /// `Value::Null` means the remote object is gone: Terraform drops it from state.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
    /// The identity of what `new_state` manages; null for none. Clients that support
    /// identities refuse one that differs from the identity they sent.
    pub new_identity: Value,
}

#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub type_name: String,
    pub prior_state: Value,
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
    pub capabilities: ClientCapabilities,
    pub prior_identity: Value,
}

#[derive(Clone, Debug, Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<AttrPath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
    /// Null while it is not wholly known (clients refuse unknown identities).
    pub planned_identity: Value,
}

#[derive(Clone, Debug)]
pub struct ApplyRequest {
    pub type_name: String,
    pub prior_state: Value,
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
    /// Raised when the apply must stop before its next change (see [`StopSignal`]).
    pub stop: StopSignal,
    pub planned_identity: Value,
}

/// Tells an apply (or an action) in flight to stop: raised [`STOP_GRACE`] after Terraform sent StopProvider
/// (an interrupt, Ctrl-C). Until then the apply goes on, so a resource whose few objects are
/// being written is finished and recorded whole; once raised, the apply writes nothing more and
/// returns the state of what it did. Never raised by default.
#[derive(Clone, Debug, Default)]
pub struct StopSignal(tokio_util::sync::CancellationToken);

/// How long an apply in flight may go on after StopProvider before [`StopSignal`] is raised.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl StopSignal {
    /// A signal raised when `token` is cancelled.
    pub fn new(token: tokio_util::sync::CancellationToken) -> StopSignal {
        StopSignal(token)
    }

    pub fn is_raised(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes once the signal is raised.
    pub async fn raised(&self) {
        self.0.cancelled().await
    }

    /// Raises the signal (tests, and the server when the grace runs out).
    pub fn raise(&self) {
        self.0.cancel();
    }
}

#[derive(Clone, Debug, Default)]
pub struct ApplyResponse {
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
    pub new_identity: Value,
}

/// An import names what to import by `id` (the `import` command, `import` blocks with `id`) or,
/// with clients that support identities, by `identity` (`import` blocks with `identity`; `id`
/// is then empty).
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub type_name: String,
    pub id: String,
    pub capabilities: ClientCapabilities,
    pub identity: Value,
}

#[derive(Clone, Debug)]
pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
    pub private: Vec<u8>,
    pub identity: Value,
}

#[derive(Clone, Debug, Default)]
pub struct ImportResponse {
    pub imported: Vec<ImportedResource>,
    pub diagnostics: Diagnostics,
}

#[derive(Clone, Debug)]
pub struct MoveRequest {
    pub source_provider_address: String,
    pub source_type_name: String,
    pub source_schema_version: i64,
    pub source_state_json: Vec<u8>,
    pub target_type_name: String,
    pub source_private: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct MoveResponse {
    pub target_state: Value,
    pub target_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

#[derive(Clone, Debug)]
pub struct ReadDataRequest {
    pub type_name: String,
    pub config: Value,
    pub capabilities: ClientCapabilities,
}

#[derive(Clone, Debug, Default)]
pub struct ReadDataResponse {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

/// The diagnostic for an operation meshfed does not offer.
pub fn not_supported(what: &str) -> Diagnostic {
    Diagnostic::error(
        format!("{what} is not supported by meshfed"),
        format!("The meshfed provider does not implement {what}. Nothing was changed."),
    )
}

/// A Terraform provider, seen from the protocol layer.
///
/// Guarantees the server gives implementations: values are decoded against the schema of
/// `type_name`; `type_name` names a schema the provider serves (unknown names are answered by the
/// server); a call may be dropped mid-way when Terraform sends StopProvider.
#[tonic::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Every schema; must not change while the process runs.
    fn schemas(&self) -> &ProviderSchemas;

    async fn validate_provider_config(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Configures the provider. Must not make network calls.
    async fn configure(&self, _req: ConfigureRequest) -> Diagnostics {
        Diagnostics::new()
    }

    /// `capabilities`: what the client said in this request (clients before protocol 6.8 say
    /// nothing: every capability is off).
    async fn validate_resource_config(
        &self,
        _type_name: &str,
        _config: &Value,
        _capabilities: ClientCapabilities,
    ) -> Diagnostics {
        Diagnostics::new()
    }

    async fn validate_data_resource_config(
        &self,
        _type_name: &str,
        _config: &Value,
    ) -> Diagnostics {
        Diagnostics::new()
    }

    /// Upgrades stored state to the current schema version. The default accepts state written
    /// at the current version (re-decoding it drops attributes the schema no longer has).
    async fn upgrade_resource_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        let schema = self
            .schemas()
            .resources
            .get(&req.type_name)
            .ok_or_else(|| {
                Diagnostics::from(not_supported(&format!("resource type {}", req.type_name)))
            })?;
        if req.version > schema.version {
            return Err(Diagnostic::error(
                "State was written by a newer meshfed",
                format!(
                    "The {} state has schema version {}, but this provider knows versions up to {}. Upgrade the provider.",
                    req.type_name, req.version, schema.version
                ),
            )
            .into());
        }
        if req.raw.json.is_empty() {
            return Err(Diagnostic::error(
                "Unsupported state format",
                "meshfed cannot read flatmap state written by Terraform 0.11 or earlier.",
            )
            .into());
        }
        super::codec::from_json_lenient(&req.raw.json, &schema.value_type())
            .map_err(|e| Diagnostics::from(Diagnostic::from_error("Cannot read stored state", &e)))
    }

    /// Upgrades a stored identity to the current identity schema version. The default accepts
    /// identities written at the current version.
    async fn upgrade_resource_identity(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        let schema = self
            .schemas()
            .identities
            .get(&req.type_name)
            .ok_or_else(|| {
                Diagnostics::from(not_supported(&format!(
                    "resource identity for {}",
                    req.type_name
                )))
            })?;
        if req.version > schema.version {
            return Err(Diagnostic::error(
                "Identity was written by a newer meshfed",
                format!(
                    "The {} identity has version {}, but this provider knows versions up to {}. Upgrade the provider.",
                    req.type_name, req.version, schema.version
                ),
            )
            .into());
        }
        super::codec::from_json_lenient(&req.raw.json, &schema.value_type()).map_err(|e| {
            Diagnostics::from(Diagnostic::from_error("Cannot read stored identity", &e))
        })
    }

    async fn read_resource(&self, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: req.current_state,
            private: req.private,
            diagnostics: Diagnostics::new(),
            new_identity: req.current_identity,
        }
    }

    async fn plan_resource_change(&self, req: PlanRequest) -> PlanResponse {
        PlanResponse {
            diagnostics: not_supported(&format!("planning {}", req.type_name)).into(),
            planned_state: req.proposed_new_state,
            ..PlanResponse::default()
        }
    }

    async fn apply_resource_change(&self, req: ApplyRequest) -> ApplyResponse {
        ApplyResponse {
            diagnostics: not_supported(&format!("applying {}", req.type_name)).into(),
            new_state: req.prior_state,
            ..ApplyResponse::default()
        }
    }

    async fn import_resource_state(&self, req: ImportRequest) -> ImportResponse {
        ImportResponse {
            diagnostics: not_supported(&format!("importing {}", req.type_name)).into(),
            ..ImportResponse::default()
        }
    }

    async fn move_resource_state(&self, req: MoveRequest) -> MoveResponse {
        MoveResponse {
            diagnostics: not_supported(&format!(
                "moving {} into {}",
                req.source_type_name, req.target_type_name
            ))
            .into(),
            ..MoveResponse::default()
        }
    }

    async fn read_data_source(&self, req: ReadDataRequest) -> ReadDataResponse {
        ReadDataResponse {
            diagnostics: not_supported(&format!("data source {}", req.type_name)).into(),
            ..ReadDataResponse::default()
        }
    }

    /// Checks a `list` block's `config` (values may be unknown).
    async fn validate_list_resource_config(
        &self,
        _type_name: &str,
        _config: &Value,
    ) -> Diagnostics {
        Diagnostics::new()
    }

    /// Lists the remote objects of a list resource type.
    async fn list_resource(&self, req: ListRequest) -> ListResponse {
        ListResponse {
            diagnostics: not_supported(&format!("listing {}", req.type_name)).into(),
            ..ListResponse::default()
        }
    }

    /// A configuration of managed type `type_name` for `state` (from a list or an import), for
    /// `-generate-config-out`.
    async fn generate_resource_config(&self, type_name: &str, _state: &Value) -> GeneratedConfig {
        GeneratedConfig {
            diagnostics: not_supported(&format!("configuration generation for {type_name}")).into(),
            ..GeneratedConfig::default()
        }
    }

    /// Calls function `name` (one of [`ProviderSchemas::functions`]) with `args`, one per
    /// argument, each decoded against its parameter's type; the server has checked their count.
    /// The provider may not be configured.
    async fn call_function(&self, name: &str, _args: Vec<Value>) -> Result<Value, FunctionError> {
        Err(FunctionError::call(format!(
            "function {name:?} is not supported by meshfed"
        )))
    }

    /// Checks an `action` block's `config` without the provider configuration (values may be
    /// unknown: they pass).
    async fn validate_action_config(&self, _type_name: &str, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Plans an action: every check that can be made before invoking it, with the provider
    /// configured. Makes no change.
    async fn plan_action(&self, req: ActionRequest) -> Diagnostics {
        not_supported(&format!("action {}", req.type_name)).into()
    }

    /// Invokes an action, reporting progress through `req.progress`; the diagnostics complete
    /// the invocation.
    async fn invoke_action(&self, req: InvokeRequest) -> Diagnostics {
        not_supported(&format!("action {}", req.type_name)).into()
    }
}
