//! What `meshfed_trust` tells the operator about the clusters beyond its own objects: the way out
//! when a `cacerts` Secret is not meshfed's, a plan that plugs a CA into a mesh whose istiod
//! signs with its own self-signed CA, and an istiod that would ignore the other parties' roots.

use std::collections::BTreeMap;

use super::input::{CaInput, MemberInput};
use super::state::cacerts_key;
use crate::k8s::ObjectRef;
use crate::mesh::trust as tr;
use crate::resources::context::Ctx;
use crate::resources::objects::{Manifests, ObjectKey};
use crate::resources::ownership::{self, LOOKAHEAD};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};

/// The Secret where istiod keeps its self-signed CA when no `cacerts` is plugged in.
/// The ConfigMap in which istiod publishes the root its workloads trust.
pub const ROOT_CONFIGMAP: &str = "istio-ca-root-cert";

/// The way out when an object of the trust exists and is not meshfed's; for `cacerts`, the
/// three ways to go on.
pub fn adopt_hint(key: &ObjectKey) -> String {
    let o = &key.object;
    if o.kind != "Secret" || o.name != tr::CACERTS_SECRET {
        return ownership::default_hint(key);
    }
    let ns = o.namespace.as_deref().unwrap_or_default();
    format!(
        "It holds the plug-in CA istiod signs with in {c}. Either:\n- keep it: set `ca {{ source = \"cluster\" }}` in the member block of {c}; meshfed then adopts its root and never writes {ns}/cacerts;\n- let meshfed manage it: `terraform import` the trust (ID: its member clusters, comma-separated), which keeps this CA;\n- replace it: delete it (kubectl -n {ns} delete secret cacerts) and apply again; meshfed plugs in its own CA, which changes every workload identity in {c}.",
        c = key.cluster
    )
}

/// At plan, for a member whose `cacerts` meshfed is about to write for the first time: when
/// istiod already issues certificates there (it published `istio-ca-root-cert`) and no `cacerts`
/// exists, its CA is its own self-signed one (or an external CA): warns that plugging in a CA
/// changes every identity in that mesh, and says what to restart. Reads only public objects, never
/// istiod's own key Secret; looks only where the cluster answers at once.
pub async fn warn_self_signed(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    prior: &Manifests,
    diags: &mut Diagnostics,
) {
    if matches!(m.ca, CaInput::Cluster)
        || prior.contains_key(&cacerts_key(&m.cluster, &m.istio_namespace))
        || !ctx.clusters.contains(&m.cluster)
    {
        return;
    }
    let ns = &m.istio_namespace;
    let root = ObjectRef::namespaced("v1", "ConfigMap", ns, ROOT_CONFIGMAP);
    let Some(Ok(Some(_))) = ctx.clusters.get_once(&m.cluster, &root, LOOKAHEAD).await else {
        return;
    };
    let cacerts = ObjectRef::namespaced("v1", "Secret", ns, "cacerts");
    let Some(Ok(None)) = ctx.clusters.get_once(&m.cluster, &cacerts, LOOKAHEAD).await else {
        return; // a cacerts already there: plugged in before, or refused as not ours
    };
    diags.push(Diagnostic::warning(
        format!("Plugging a CA into {} changes every workload identity there", m.cluster),
        format!(
            "istiod in {c} already issues workload certificates (it published ConfigMap {ns}/{ROOT_CONFIGMAP}) and there is no {ns}/cacerts: it signs with its own self-signed CA. This apply writes {ns}/cacerts with another CA. istiod reads cacerts only when it starts, and each workload keeps its certificate of the old CA until it restarts: until both have restarted, workloads with old and new certificates cannot call each other with mTLS. After apply:\n  1. kubectl -n {ns} rollout restart deployment/istiod\n  2. restart the workloads, e.g. kubectl -n <namespace> rollout restart deployment\nTo keep the current CA instead, adopt it: ca {{ source = \"cluster\" }}. (If istiod uses an external CA instead, e.g. istio-csr, it ignores cacerts: adopt that CA's root the same way.)",
            c = m.cluster
        ),
    ));
}

/// Warns, with the fix, when a visible istiod runs without the settings that make it read the
/// shared mesh config and trust several roots.
pub async fn warn_istiod(ctx: &Ctx<'_>, m: &MemberInput, diags: &mut Diagnostics) {
    let deploy = ObjectRef::namespaced("apps/v1", "Deployment", &m.istio_namespace, "istiod");
    let Ok(Some(d)) = ctx.clusters.get(&m.cluster, &deploy).await else {
        return;
    };
    let env: BTreeMap<String, String> = tr::istiod_env(&d).into_iter().collect();
    let is = |k: &str, v: &str| env.get(k).map(String::as_str) == Some(v);
    if tr::required_env().iter().all(|(k, v)| is(k, v)) {
        return;
    }
    diags.push(Diagnostic::warning(
        format!("istiod in {} does not read meshfed's trust bundle", m.cluster),
        format!(
            "Deployment {}/istiod lacks ISTIO_MULTIROOT_MESH=true and SHARED_MESH_CONFIG={}, so it ignores the other parties' roots. Fix: install Istio with\n  --set values.pilot.env.ISTIO_MULTIROOT_MESH=true --set values.pilot.env.SHARED_MESH_CONFIG={}\nor add both variables to the istiod container.",
            m.istio_namespace,
            tr::MESH_CONFIG_CONFIGMAP,
            tr::MESH_CONFIG_CONFIGMAP
        ),
    ));
}
