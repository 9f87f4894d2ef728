//! Terraform bindings of meshfed's resources and data sources: the only layer that joins the
//! protocol layer, rendering, certificates and the apply engine, and turns their errors into
//! diagnostics.
//!
//! Shared by every resource:
//! - [`context`] — the checked provider configuration and the cluster lookup ([`Ctx`]);
//! - [`resource`] — the [`Resource`] trait every resource implements, and the registry the
//!   provider dispatches through;
//! - [`lifecycle`] — create / update / delete decided once: destroy, write and prune, refresh;
//! - [`writes`] — writing objects (at once where order does not matter) and deleting them;
//! - [`objects`] — an object's key in state ([`ObjectKey`]) and how objects are shown;
//! - [`ownership`] — ownership before force: no write over an object meshfed does not own;
//! - [`identity`] — resource identities attached to every response, and import by identity;
//! - [`query`] — `terraform query`: listing what each resource can adopt;
//! - [`values`] — reading Terraform values ([`Field`]: null, unknown or known);
//! - [`export`] — the `export` object two resources share.
//!
//! One module per type, each laid out alike (`mod.rs`: schema, then the lifecycle hooks;
//! `input.rs`: configuration → checked input; `state.rs`; `import.rs`; `tests.rs`):
//! [`service_entry`] (`meshfed_service_entry`), [`exported_service`]
//! (`meshfed_exported_service`), [`trust`] (`meshfed_trust`), and the data sources [`cluster`]
//! (`meshfed_cluster`) and [`federation_status`] (`meshfed_federation_status`). The
//! provider-defined functions are in [`functions`], the actions (`meshfed_rollout_restart`) in
//! [`actions`].
//!
//! Imports `tfplugin`, `mesh`, `k8s` and `cert`; never the provider layer above it. No resource
//! imports another resource's module: what two share lives in a shared module here.
//!
//! [`Ctx`]: context::Ctx
//! [`Resource`]: resource::Resource
//! [`ObjectKey`]: objects::ObjectKey
//! [`Field`]: values::Field

pub mod actions;
pub mod cluster;
pub mod context;
pub mod export;
pub mod exported_service;
pub mod federation_status;
pub mod functions;
pub mod identity;
pub mod lifecycle;
pub mod objects;
pub mod ownership;
pub mod query;
pub mod resource;
pub mod service_entry;
#[cfg(test)]
mod testing;
pub mod trust;
pub mod values;
pub mod writes;

pub use resource::registry;
