//! Fixtures for the resources' unit tests: provider configurations whose clusters cannot be
//! reached (any API call fails at once), and plans of a create run through the lifecycle.

use std::collections::BTreeMap;

use super::context::{ClusterConfig, Ctx, DEFAULT_FIELD_MANAGER, ProviderConfig};
use super::lifecycle;
use super::resource::Resource;
use super::values::Field;
use crate::k8s::ClusterSet;
use crate::mesh::MeshFacts;
use crate::tfplugin::provider::{ClientCapabilities, PlanRequest, PlanResponse};
use crate::tfplugin::value::Value;

/// The mesh facts a cluster named `cluster-<x>.local` has by default, on network `net-<x>`.
pub fn facts(name: &str) -> MeshFacts {
    let letter = name
        .trim_start_matches("cluster-")
        .chars()
        .next()
        .unwrap_or('x');
    MeshFacts {
        trust_domain: name.into(),
        domain_suffix: name.into(),
        istio_namespace: "istio-system".into(),
        network: Some(format!("net-{letter}")),
    }
}

/// A provider configuration with these clusters and facts.
pub fn provider(clusters: &[(&str, Field<MeshFacts>)]) -> ProviderConfig {
    let clusters = clusters.iter().map(|(name, mesh)| {
        let c = ClusterConfig {
            name: name.to_string(),
            connection: Field::Unknown,
            mesh: mesh.clone(),
        };
        (name.to_string(), c)
    });
    ProviderConfig {
        field_manager: DEFAULT_FIELD_MANAGER.into(),
        clusters: clusters.collect(),
    }
}

/// Runs `f` with a context over `config` and a cluster set that reaches no cluster.
pub fn with_ctx<T>(config: &ProviderConfig, f: impl AsyncFnOnce(&Ctx<'_>) -> T) -> T {
    let clusters = ClusterSet::new(DEFAULT_FIELD_MANAGER, BTreeMap::new());
    let ctx = Ctx {
        config,
        clusters: &clusters,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f(&ctx))
}

/// The plan of creating `r` with `config`, under `provider`.
pub fn plan_create<R: Resource>(r: &R, provider: &ProviderConfig, config: Value) -> PlanResponse {
    let req = PlanRequest {
        type_name: R::TYPE_NAME.into(),
        prior_state: Value::Null,
        proposed_new_state: config.clone(),
        config,
        prior_private: vec![],
        capabilities: ClientCapabilities::default(),
        prior_identity: Value::Null,
    };
    with_ctx(provider, async |ctx| lifecycle::plan(r, ctx, req).await)
}
