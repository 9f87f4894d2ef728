//! Terraform bindings of meshfed's resources and data sources, one file per type: the only place
//! that joins the protocol layer, rendering and the apply engine, and turns errors into
//! diagnostics.
//!
//! - [`objects`] — the lifecycle every resource shares (manifests map, apply + prune, refresh);
//! - [`values`] — reading Terraform values with attribute paths;
//! - [`exported_service`] — `meshfed_exported_service`;
//! - [`service_entry`] — `meshfed_service_entry`;
//! - [`cluster`] — data source `meshfed_cluster`.

pub mod cluster;
pub mod exported_service;
pub mod objects;
pub mod service_entry;
pub mod trust;
pub mod trust_input;
pub mod values;

use crate::k8s::ClusterSet;
use crate::provider::{ClusterConfig, ProviderConfig};
use crate::tfplugin::diag::{AttrPath, Diagnostic};

/// What a resource operation works with: the checked provider configuration and the clusters.
pub struct Ctx<'a> {
    pub config: &'a ProviderConfig,
    pub clusters: &'a ClusterSet,
}

/// The configured cluster `name`, or the diagnostic for an unknown one (on `path`).
pub fn cluster_of<'a>(
    ctx: &Ctx<'a>,
    name: &str,
    path: AttrPath,
) -> Result<&'a ClusterConfig, Diagnostic> {
    cluster::lookup(Some(ctx.config), name, path)
}
