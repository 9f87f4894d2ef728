//! Ownership before force. meshfed server-side applies with `force`, taking fields back from
//! other managers: right for objects it owns, ruinous for one it does not (an operator's own
//! `cacerts`: the CA key would be gone and every workload identity in that mesh would change).
//!
//! So before a resource first writes an object (one not in its state), meshfed reads it. When it
//! exists and is not meshfed's — neither the label `app.kubernetes.io/managed-by: meshfed` nor
//! meshfed's field manager — nothing at all is written in that cluster, and one error names the
//! cluster, the object, its field managers and the way out. Plan looks ahead the same way where
//! the cluster answers at once; a cluster that is unknown at plan or does not answer is left to
//! apply, which always checks.
//!
//! Objects already in a resource's state are meshfed's by definition (it wrote them, or the
//! operator imported them): they are forced without a look. Caveat: between the look and the
//! write another writer can still create the object; the window is one round trip.
//!
//! Must not import the provider layer or any resource.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde_json::Value as Json;

use super::objects::{Desired, Manifests, ObjectKey, error_diag};
use crate::k8s::ClusterSet;
use crate::k8s::object::{field_managers, managed_by};
use crate::mesh::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::tfplugin::diag::{Diagnostic, Diagnostics, Severity};

/// How many objects are looked at concurrently.
const CONCURRENT_LOOKS: usize = 8;

/// How long plan waits for a cluster's answer before leaving the check to apply.
pub const LOOKAHEAD: Duration = Duration::from_secs(3);

/// The way out shown with a refusal, for one object; a resource may say more for its own objects.
pub type Hint<'a> = &'a (dyn Fn(&ObjectKey) -> String + Sync);

/// The way out for any object: import, delete, or another name.
pub fn default_hint(_key: &ObjectKey) -> String {
    "To let meshfed manage it, import it into this resource (`terraform import`; the resource's documentation gives the ID). Otherwise delete it, or configure another name for meshfed's object.".to_string()
}

/// Whether a live object is meshfed's: it carries meshfed's managed-by label, or `field_manager`
/// manages some of its fields.
pub fn is_ours(live: &Json, field_manager: &str) -> bool {
    let label = live
        .pointer("/metadata/labels")
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(Json::as_str);
    label == Some(MANAGED_BY_VALUE) || managed_by(live, field_manager)
}

/// When the refusal is given: at plan (nothing is written yet) or at apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Plan,
    Apply,
}

/// The error for an object meshfed would overwrite but does not own.
pub fn refusal(key: &ObjectKey, live: &Json, hint: &str, when: When) -> Diagnostic {
    let o = &key.object;
    let place = match &o.namespace {
        Some(ns) => format!("{ns}/{}", o.name),
        None => o.name.clone(),
    };
    let managers = field_managers(live);
    let managers = if managers.is_empty() {
        "none recorded".to_string()
    } else {
        managers.join(", ")
    };
    let stop = match when {
        When::Plan => format!(
            "Applying this plan would overwrite it, so apply will write nothing in {}.",
            key.cluster
        ),
        When::Apply => format!("Nothing was written in {}.", key.cluster),
    };
    Diagnostic::error(
        format!(
            "{} {place} in {} is not managed by meshfed",
            o.kind, key.cluster
        ),
        format!(
            "{} {place} ({}) already exists in {} and meshfed did not write it: it has no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE} and its field managers are {managers}. meshfed never overwrites an object it does not own. {stop}\n\n{hint}",
            o.kind, o.api_version, key.cluster
        ),
    )
}

/// Looks at every object of `desired` that `prior` does not hold. Returns the clusters where
/// nothing may be written — one holds an object meshfed does not own, or could not be read — and
/// the errors saying why.
pub async fn guard(
    clusters: &ClusterSet,
    desired: &[Desired],
    prior: &Manifests,
    hint: Hint<'_>,
) -> (BTreeSet<String>, Diagnostics) {
    let new: Vec<ObjectKey> = desired
        .iter()
        .map(Desired::key)
        .filter(|k| !prior.contains_key(k))
        .collect();
    let looks = stream::iter(new)
        .map(|key| async move {
            let live = clusters.get(&key.cluster, &key.object).await;
            (key, live)
        })
        .buffer_unordered(CONCURRENT_LOOKS)
        .collect::<Vec<_>>()
        .await;
    let mut stopped = BTreeSet::new();
    let mut found: Vec<(ObjectKey, Diagnostic)> = Vec::new();
    let mut unreadable = BTreeSet::new();
    for (key, live) in looks {
        let refused = match live {
            Ok(Some(live)) if !is_ours(&live, clusters.field_manager()) => {
                refusal(&key, &live, &hint(&key), When::Apply)
            }
            Ok(_) => continue,
            // One error per cluster that cannot be read: usually it cannot be reached at all.
            Err(_) if unreadable.contains(&key.cluster) => continue,
            Err(e) => {
                unreadable.insert(key.cluster.clone());
                error_diag("Cannot apply object", &e)
            }
        };
        stopped.insert(key.cluster.clone());
        found.push((key, refused));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut diags = Diagnostics::new();
    for (_, d) in found {
        diags.push(d);
    }
    (stopped, diags)
}

/// At plan: the refusals for objects to be created (`new`) that exist and are not meshfed's, in
/// clusters that answer within [`LOOKAHEAD`] (from one list per kind and namespace where the
/// identity may list: [`ClusterSet::peek`]). A cluster that is not configured with known
/// settings, fails or is slow gets no look: apply checks again.
pub async fn look_ahead(clusters: &ClusterSet, new: Vec<ObjectKey>, hint: Hint<'_>) -> Diagnostics {
    let reachable: Vec<ObjectKey> = new
        .into_iter()
        .filter(|k| clusters.contains(&k.cluster))
        .collect();
    let looks = stream::iter(reachable)
        .map(|key| async move {
            let live = clusters.peek(&key.cluster, &key.object, LOOKAHEAD).await;
            (key, live)
        })
        .buffer_unordered(CONCURRENT_LOOKS)
        .collect::<Vec<_>>()
        .await;
    let mut found: Vec<(ObjectKey, Diagnostic)> = Vec::new();
    for (key, live) in looks {
        match live {
            Some(Ok(Some(live))) if !is_ours(&live, clusters.field_manager()) => {
                let d = refusal(&key, &live, &hint(&key), When::Plan);
                found.push((key, d));
            }
            // A permission missing now is missing at apply too: say so at plan, once per
            // cluster and permission, rather than only when the apply fails.
            Some(Err(e)) if e.is_access_denied() => {
                let mut d = error_diag("Cannot look at object", &e);
                d.severity = Severity::Warning;
                d.detail = format!(
                    "Plan could not check who manages this object; apply needs the same permission and will fail without it.\n\n{}",
                    d.detail
                );
                found.push((key, d));
            }
            Some(Err(e)) => {
                tracing::debug!(object = %key, error = %e, "no look ahead at plan; apply checks");
            }
            None => tracing::debug!(object = %key, "no answer in time at plan; apply checks"),
            _ => {}
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut diags = Diagnostics::new();
    for (_, d) in found {
        diags.push(d);
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::ObjectRef;
    use serde_json::json;

    fn key() -> ObjectKey {
        ObjectKey::new(
            "cluster-a.local",
            ObjectRef::namespaced("v1", "Secret", "istio-system", "cacerts"),
        )
    }

    #[test]
    fn an_object_is_ours_by_label_or_by_field_manager_and_no_other_way() {
        let labelled = json!({"metadata": {"labels": {MANAGED_BY_LABEL: "meshfed"}}});
        let managed =
            json!({"metadata": {"managedFields": [{"manager": "ops", "operation": "Apply"}]}});
        let foreign = json!({"metadata": {
            "labels": {MANAGED_BY_LABEL: "helm"},
            "managedFields": [{"manager": "kubectl-create", "operation": "Update"}]
        }});
        assert!(is_ours(&labelled, "meshfed"));
        assert!(is_ours(&managed, "ops"));
        assert!(!is_ours(&managed, "meshfed"));
        assert!(!is_ours(&foreign, "meshfed"));
        assert!(!is_ours(&json!({}), "meshfed"));
    }

    #[test]
    fn a_refusal_names_cluster_object_managers_and_the_way_out() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "kubectl-create", "operation": "Update"},
            {"manager": "kubectl-label", "operation": "Update"},
            {"manager": "kubectl-create", "operation": "Update"}
        ]}});
        let d = refusal(&key(), &live, "Adopt it.", When::Apply);
        assert_eq!(
            d.summary,
            "Secret istio-system/cacerts in cluster-a.local is not managed by meshfed"
        );
        for part in [
            "field managers are kubectl-create (Update), kubectl-label (Update).",
            "Nothing was written in cluster-a.local.",
            "Adopt it.",
        ] {
            assert!(d.detail.contains(part), "{part:?} in {}", d.detail);
        }
        let at_plan = refusal(&key(), &json!({}), "x", When::Plan);
        assert!(
            at_plan.detail.contains("field managers are none recorded"),
            "{}",
            at_plan.detail
        );
        assert!(
            at_plan
                .detail
                .contains("apply will write nothing in cluster-a.local")
        );
    }
}
