//! The shape every resource, data source and action has, and the registry the provider
//! dispatches through.
//!
//! A resource implements [`Resource`]: its type name and schema, validation that needs no
//! provider configuration, and hooks for the parts that differ between resources — how a create or
//! an update is planned, what apply resolves and writes, what the new state is once objects are
//! written, the shape of its objects for refresh, and import. Everything they share (deciding
//! create / update / delete, destroy, writing and pruning objects, refresh, the protocol
//! responses) is done once, in [`super::lifecycle`].
//!
//! A data source implements [`DataSource`], an action [`Action`]; neither has a lifecycle.
//!
//! The registry is the one place that names every resource; no resource imports another, nor
//! the provider layer.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::context::Ctx;
use super::identity;
use super::lifecycle;
use super::objects::{Desired, Manifests, ObjectKey};
use super::ownership;
use super::query::{self, Candidate};
use super::writes::Order;
use super::{actions, cluster, exported_service, federation_status, service_entry, trust};
use crate::tfplugin::action::InvokeRequest;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::identity::IdentitySchema;
use crate::tfplugin::list::{ListRequest, ListResponse};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ClientCapabilities, ImportRequest, ImportResponse, PlanRequest,
    PlanResponse, ReadDataRequest, ReadDataResponse, ReadRequest, ReadResponse,
};
use crate::tfplugin::schema::{Schema, config_of_state, write_only_set};
use crate::tfplugin::value::Value;

/// A state and the private data Terraform keeps with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub state: Value,
    pub private: Vec<u8>,
}

impl Outcome {
    /// A state without private data.
    pub fn state(state: Value) -> Outcome {
        Outcome {
            state,
            private: Vec::new(),
        }
    }
}

/// What an apply writes: the objects, and how a failure stops the rest.
pub struct Writes {
    pub objects: Vec<Desired>,
    pub order: Order,
}

/// One call of a hook: the context it runs in, and the diagnostics it adds to.
pub struct Call<'a> {
    pub ctx: &'a Ctx<'a>,
    pub diags: &'a mut Diagnostics,
}

impl<'a> Call<'a> {
    pub fn new(ctx: &'a Ctx<'a>, diags: &'a mut Diagnostics) -> Call<'a> {
        Call { ctx, diags }
    }
}

/// After the writes: what `prepare` resolved, and the objects now in the clusters (written, or
/// prior ones not yet pruned).
pub struct Written<C> {
    pub change: C,
    pub in_place: Manifests,
}

/// One Terraform resource type: a set of Kubernetes objects rendered from its configuration.
///
/// Guarantees the lifecycle gives the hooks: `plan`, `prepare` and `finish` see only creates and
/// updates (deletes never reach them); `finish` runs after every write was tried.
#[tonic::async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The Terraform type name, e.g. `meshfed_trust`.
    const TYPE_NAME: &'static str;
    /// What `prepare` resolved (checked inputs, material read or generated) for `finish`.
    type Change: Send;

    fn schema(&self) -> Schema;

    /// Checks that need no provider configuration (values may be unknown: they pass).
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// The planned state (and private data) of a create or update; `None` when the call's
    /// diagnostics hold the errors that stop it.
    async fn plan(&self, call: Call<'_>, req: &PlanRequest) -> Option<Outcome>;

    /// Resolves a create or update and says what to write; `None` when the call's diagnostics
    /// hold the errors that stop it before anything is written.
    async fn prepare(&self, call: Call<'_>, req: &ApplyRequest) -> Option<(Self::Change, Writes)>;

    /// The new state once the writes were tried.
    async fn finish(&self, call: Call<'_>, req: &ApplyRequest, w: Written<Self::Change>)
    -> Outcome;

    /// The objects `state` stands for, as rendered from its own inputs: the fields refresh reads
    /// back. An object not among them keeps the shape its manifest has.
    fn shapes(&self, _ctx: &Ctx<'_>, _state: &Value) -> Vec<Desired> {
        Vec::new()
    }

    /// What to do instead of setting a write-only attribute, for clients that would store it in
    /// state (see [`write_only_refused`]).
    fn instead_of_write_only(&self) -> &'static str {
        "Upgrade to Terraform 1.11 or OpenTofu 1.11 or later, which never store write-only values."
    }

    /// What replacing this resource would cost, shown when a create failed after writing objects
    /// (Terraform then marks the resource tainted and replaces it at the next apply).
    fn replace_cost(&self) -> &'static str {
        "its objects would be deleted and written again"
    }

    /// The way out shown when `key` exists and meshfed does not own it (see
    /// [`super::ownership`]).
    fn adopt_hint(&self, key: &ObjectKey) -> String {
        ownership::default_hint(key)
    }

    /// The state (and private data) of the existing objects that `id` names.
    async fn import(&self, ctx: &Ctx<'_>, id: &str) -> Result<Outcome, Diagnostics>;

    /// The identity: the attributes that name the objects an instance manages (see
    /// [`super::identity`]).
    fn identity_schema(&self) -> IdentitySchema;

    /// The identity of what `state` (not null) manages, from its attributes.
    fn identity(&self, state: &Value) -> Value;

    /// The import ID that an identity from an `import` block names, or why it names none
    /// (completing "The identity given to import <type> ...").
    fn import_id(&self, identity: &Value) -> Result<String, String>;

    /// The schema of the `config` block of this type's `list` block (`terraform query`).
    fn list_schema(&self) -> Schema;

    /// The objects of this type that a `list` block's `config` finds (see [`super::query`]):
    /// meshfed's, and those made by hand that [`Self::import`] can adopt, by import ID. What it
    /// finds but cannot adopt goes to `diags` as a warning saying what to do instead.
    async fn discover(
        &self,
        ctx: &Ctx<'_>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Vec<Candidate>;

    /// A configuration that, with `state` (from an import), plans no change: by default the
    /// state without what configuration cannot set.
    fn generate_config(&self, state: &Value) -> Value {
        config_of_state(state.clone(), &self.schema().block)
    }
}

/// A resource as the provider dispatches to it: one method per protocol call.
#[tonic::async_trait]
pub trait Dispatch: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn identity_schema(&self) -> IdentitySchema;
    fn list_schema(&self) -> Schema;
    fn validate(&self, config: &Value, capabilities: ClientCapabilities) -> Diagnostics;
    async fn list(&self, ctx: &Ctx<'_>, req: ListRequest) -> ListResponse;
    fn generate_config(&self, state: &Value) -> Value;
    async fn plan(&self, ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse;
    async fn apply(&self, ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse;
    async fn read(&self, ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse;
    async fn import(&self, ctx: &Ctx<'_>, req: ImportRequest) -> ImportResponse;
}

/// The error for a write-only attribute set with a client that does not support write-only
/// attributes (Terraform before 1.11, OpenTofu before 1.11): such a client stores every
/// attribute's value in state, so the value would be stored there in plain text.
pub fn write_only_refused(path: AttrPath, instead: &str) -> Diagnostic {
    Diagnostic::error(
        "Write-only attribute not supported by this CLI",
        format!(
            "{path} is write-only: meshfed never keeps its value. This Terraform or OpenTofu does not support write-only attributes (Terraform and OpenTofu support them from 1.11), so it would store the value in its state and plan files in plain text; meshfed refuses it. {instead}"
        ),
    )
    .at(path)
}

/// A [`Resource`] behind the shared lifecycle.
struct Registered<R>(R);

#[tonic::async_trait]
impl<R: Resource> Dispatch for Registered<R> {
    fn type_name(&self) -> &'static str {
        R::TYPE_NAME
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    fn validate(&self, config: &Value, capabilities: ClientCapabilities) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if !capabilities.write_only_attributes_allowed {
            for path in write_only_set(config, &self.0.schema().block) {
                diags.push(write_only_refused(path, self.0.instead_of_write_only()));
            }
        }
        self.0.validate(config, &mut diags);
        diags
    }
    fn identity_schema(&self) -> IdentitySchema {
        self.0.identity_schema()
    }
    fn list_schema(&self) -> Schema {
        self.0.list_schema()
    }
    async fn list(&self, ctx: &Ctx<'_>, req: ListRequest) -> ListResponse {
        query::list(&self.0, ctx, req).await
    }
    fn generate_config(&self, state: &Value) -> Value {
        self.0.generate_config(state)
    }
    async fn plan(&self, ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse {
        let mut resp = lifecycle::plan(&self.0, ctx, req).await;
        resp.planned_identity = identity::of_state(&self.0, &resp.planned_state);
        resp
    }
    async fn apply(&self, ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
        let mut resp = lifecycle::apply(&self.0, ctx, req).await;
        resp.new_identity = identity::of_state(&self.0, &resp.new_state);
        resp
    }
    async fn read(&self, ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse {
        let mut resp = lifecycle::read(&self.0, ctx, req).await;
        resp.new_identity = identity::of_state(&self.0, &resp.new_state);
        resp
    }
    async fn import(&self, ctx: &Ctx<'_>, mut req: ImportRequest) -> ImportResponse {
        match identity::import_id(&self.0, &req) {
            Ok(id) => req.id = id,
            Err(diagnostics) => {
                return ImportResponse {
                    diagnostics,
                    ..ImportResponse::default()
                };
            }
        }
        let resp = lifecycle::import(&self.0, ctx, req).await;
        identity::attach_to_import(&self.0, resp)
    }
}

/// One Terraform data source.
#[tonic::async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Reads the data source; `ctx` is `None` when the provider has no valid configuration.
    async fn read(&self, ctx: Option<&Ctx<'_>>, req: ReadDataRequest) -> ReadDataResponse;
}

/// One Terraform action (Terraform ≥ 1.14): an operation on clusters that Terraform invokes on
/// demand or from a resource's `action_trigger`, and keeps no state of.
///
/// Guarantees the provider gives: `plan` and `invoke` run with a valid provider configuration;
/// `invoke` gets a configuration that `plan` accepted, wholly known.
#[tonic::async_trait]
pub trait Action: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Checks that need no provider configuration (values may be unknown: they pass).
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Every check that can be made before invoking, against the provider configuration. Makes
    /// no API call.
    fn plan(&self, ctx: &Ctx<'_>, config: &Value) -> Diagnostics;
    /// Does it, reporting progress through `req.progress` and stopping early once `req.stop`
    /// is raised; the diagnostics say what failed and what was left undone.
    async fn invoke(&self, ctx: &Ctx<'_>, req: InvokeRequest) -> Diagnostics;
}

/// Every resource, data source and action meshfed serves, by type name.
pub struct Registry {
    resources: BTreeMap<&'static str, Box<dyn Dispatch>>,
    data_sources: BTreeMap<&'static str, Box<dyn DataSource>>,
    actions: BTreeMap<&'static str, Box<dyn Action>>,
}

impl Registry {
    fn new() -> Registry {
        let resources: Vec<Box<dyn Dispatch>> = vec![
            Box::new(Registered(service_entry::ServiceEntry)),
            Box::new(Registered(exported_service::ExportedService)),
            Box::new(Registered(trust::Trust)),
        ];
        let data_sources: Vec<Box<dyn DataSource>> = vec![
            Box::new(cluster::ClusterData),
            Box::new(federation_status::FederationStatus),
        ];
        let actions: Vec<Box<dyn Action>> = vec![Box::new(actions::RolloutRestart)];
        Registry {
            resources: resources.into_iter().map(|r| (r.type_name(), r)).collect(),
            data_sources: data_sources
                .into_iter()
                .map(|d| (d.type_name(), d))
                .collect(),
            actions: actions.into_iter().map(|a| (a.type_name(), a)).collect(),
        }
    }

    pub fn action(&self, type_name: &str) -> Option<&dyn Action> {
        self.actions.get(type_name).map(Box::as_ref)
    }

    /// Every action's schema (of its `config` block), by type name.
    pub fn action_schemas(&self) -> BTreeMap<String, Schema> {
        let each = self.actions.values();
        each.map(|a| (a.type_name().to_string(), a.schema()))
            .collect()
    }

    pub fn resource(&self, type_name: &str) -> Option<&dyn Dispatch> {
        self.resources.get(type_name).map(Box::as_ref)
    }

    pub fn data_source(&self, type_name: &str) -> Option<&dyn DataSource> {
        self.data_sources.get(type_name).map(Box::as_ref)
    }

    /// Every resource's schema, by type name.
    pub fn resource_schemas(&self) -> BTreeMap<String, Schema> {
        let each = self.resources.values();
        each.map(|r| (r.type_name().to_string(), r.schema()))
            .collect()
    }

    /// Every resource's identity schema, by type name.
    pub fn identity_schemas(&self) -> BTreeMap<String, IdentitySchema> {
        let each = self.resources.values();
        each.map(|r| (r.type_name().to_string(), r.identity_schema()))
            .collect()
    }

    /// Every resource's list resource schema (`terraform query`), by type name.
    pub fn list_schemas(&self) -> BTreeMap<String, Schema> {
        let each = self.resources.values();
        each.map(|r| (r.type_name().to_string(), r.list_schema()))
            .collect()
    }

    /// Every data source's schema, by type name.
    pub fn data_source_schemas(&self) -> BTreeMap<String, Schema> {
        let each = self.data_sources.values();
        each.map(|d| (d.type_name().to_string(), d.schema()))
            .collect()
    }
}

/// The registry of this build.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}
