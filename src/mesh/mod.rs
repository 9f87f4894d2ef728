//! Domain rendering for the federation: the mesh facts of each cluster, naming rules, and (as
//! resources arrive) `render(spec) -> objects` per resource. Pure and deterministic; must not
//! import the protocol layer, the Kubernetes client or the resources.

pub mod names;

/// What meshfed needs to know about a cluster's mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshFacts {
    /// SPIFFE trust domain of the cluster's workloads.
    pub trust_domain: String,
    /// DNS suffix of its services (`<svc>.<ns>.svc.<domain_suffix>`).
    pub domain_suffix: String,
    /// Namespace of istiod and its CA material.
    pub istio_namespace: String,
    /// Istio network name, when the cluster sets one.
    pub network: Option<String>,
}

/// Istio's default control-plane namespace.
pub const DEFAULT_ISTIO_NAMESPACE: &str = "istio-system";
