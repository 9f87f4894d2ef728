//! What every resource operation works with: the checked provider configuration (the provider
//! layer parses Terraform's raw configuration *into* these types), the cluster set that reaches
//! the API servers, and the lookup of a cluster by the name a resource gives.
//!
//! Imports the apply engine's connection types and the mesh facts; must not import the provider
//! layer (which sits above) or any resource.

use std::collections::BTreeMap;

use super::values::Field;
use crate::k8s::ClusterSet;
use crate::k8s::config::Connection;
use crate::mesh::MeshFacts;
use crate::tfplugin::diag::{AttrPath, Diagnostic};

/// Field manager used for server-side apply unless configured otherwise.
pub const DEFAULT_FIELD_MANAGER: &str = "meshfed";

/// One cluster of the provider configuration, checked. Either part is unknown when it depends
/// on a value known only at apply (a cluster made in the same run); never null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub name: String,
    pub connection: Field<Connection>,
    pub mesh: Field<MeshFacts>,
}

/// The provider configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    pub field_manager: String,
    pub clusters: BTreeMap<String, ClusterConfig>,
}

impl ProviderConfig {
    /// The cluster set for this configuration: one lazily connected client per cluster whose
    /// connection is known. Makes no network call.
    pub fn cluster_set(&self) -> ClusterSet {
        let connections = self
            .clusters
            .iter()
            .filter_map(|(name, c)| Some((name.clone(), c.connection.as_known()?.clone())))
            .collect();
        ClusterSet::new(self.field_manager.clone(), connections)
    }

    /// The configured cluster `name`, or the diagnostic (on `path`) for a name that is not.
    pub fn cluster(&self, name: &str, path: AttrPath) -> Result<&ClusterConfig, Diagnostic> {
        self.clusters.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.clusters.keys().map(String::as_str).collect();
            let detail = if known.is_empty() {
                "The provider configuration has no cluster blocks. Add one: cluster \"<name>\" { ... }.".to_string()
            } else {
                format!(
                    "The provider configuration has clusters {}; add a cluster block named {name:?} or use one of those.",
                    known.join(", ")
                )
            };
            Diagnostic::error(format!("Unknown cluster {name:?}"), detail).at(path)
        })
    }
}

/// The diagnostic for a request that arrives before a valid provider configuration.
pub fn not_configured() -> Diagnostic {
    Diagnostic::error(
        "Provider not configured",
        "meshfed received no valid provider configuration before this request; see the errors about the provider block.",
    )
}

/// What a resource operation works with: the checked provider configuration and the clusters.
pub struct Ctx<'a> {
    pub config: &'a ProviderConfig,
    pub clusters: &'a ClusterSet,
}

impl<'a> Ctx<'a> {
    /// The configured cluster `name`, or the diagnostic (on `path`) for a name that is not.
    pub fn cluster(&self, name: &str, path: AttrPath) -> Result<&'a ClusterConfig, Diagnostic> {
        self.config.cluster(name, path)
    }

    /// The mesh facts of cluster `name`, which must be configured and known (on `path`).
    pub fn mesh_facts(&self, name: &str, path: AttrPath) -> Result<&'a MeshFacts, Diagnostic> {
        let cluster = self.cluster(name, path.clone())?;
        cluster.mesh.as_known().ok_or_else(|| {
            Diagnostic::error(
                format!("Mesh facts of {name:?} are not known yet"),
                "Its trust_domain, domain_suffix, istio_namespace or network depends on a value known only after apply; apply that first, or set them literally.",
            )
            .at(path)
        })
    }
}
