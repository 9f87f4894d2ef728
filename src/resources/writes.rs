//! Writing a resource's objects and deleting the ones it drops, without waiting where nothing
//! needs it: [`converge`] writes objects whose order does not matter at the same time (each
//! cluster of a trust, the ServiceEntry and DestinationRule of an import) and in order where it
//! does (an export's policy before its gateway), as the resource's [`Order`] says; [`delete`]
//! deletes concurrently. Every write and delete still names its cluster and object when it fails.
//!
//! Guarantees: the returned map lists exactly the objects in place (written, written as far as
//! anyone can tell, or prior ones not pruned); once `stop` is raised nothing more is started.
//! Knows no resource. Must not import the provider layer.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt as _;

use super::objects::{Desired, Manifests, ObjectKey, error_diag};
use super::ownership::{self, Hint};
use crate::k8s::{ClusterSet, K8sError};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{STOP_GRACE, StopSignal};

/// How many deletes of one resource run at once.
const CONCURRENT_DELETES: usize = 8;

/// Which writes wait for which, and how a failed write stops the writes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// One after another; the first failure stops every later write and all pruning: later
    /// objects may depend on earlier ones (a policy before the gateway that needs it).
    Sequential,
    /// Clusters at the same time, each cluster's objects in order; a failure stops only the
    /// later writes and the pruning in its own cluster: the other clusters still converge.
    PerCluster,
    /// Every object at the same time (none depends on another); a failure stops the pruning in
    /// its cluster.
    Concurrent,
}

impl Order {
    fn stopped(self, failed: &BTreeSet<String>, cluster: &str) -> bool {
        match self {
            Order::Sequential => !failed.is_empty(),
            Order::PerCluster | Order::Concurrent => failed.contains(cluster),
        }
    }

    /// The objects in groups written at the same time, each group in order.
    fn groups(self, desired: &[Desired]) -> Vec<Vec<&Desired>> {
        match self {
            Order::Sequential => vec![desired.iter().collect()],
            Order::Concurrent => desired.iter().map(|d| vec![d]).collect(),
            Order::PerCluster => {
                let mut by_cluster: BTreeMap<&str, Vec<&Desired>> = BTreeMap::new();
                for d in desired {
                    by_cluster.entry(&d.cluster).or_default().push(d);
                }
                by_cluster.into_values().collect()
            }
        }
    }
}

/// What one group of writes did.
#[derive(Default)]
struct GroupOutcome {
    written: Vec<(ObjectKey, String)>,
    diags: Diagnostics,
    failed: BTreeSet<String>,
    interrupted: bool,
}

/// Applies every desired object (at once where `order` allows), then deletes the prior objects
/// no longer desired. Returns the objects now in place and the errors met; `order` says what a
/// failure stops.
///
/// First looks at every object `prior` does not hold ([`ownership::guard`]): a cluster holding
/// one that meshfed does not own gets no write at all (and with [`Order::Sequential`], no
/// cluster does); `hint` gives the way out for each such object.
///
/// Once `stop` is raised, nothing more is written or deleted: the objects written so far are
/// returned with an error saying the apply was interrupted.
pub async fn converge(
    clusters: &ClusterSet,
    desired: &[Desired],
    prior: &Manifests,
    order: Order,
    hint: Hint<'_>,
    stop: &StopSignal,
) -> (Manifests, Diagnostics) {
    let (guarded, mut diags) = ownership::guard(clusters, desired, prior, hint).await;
    let groups = order.groups(desired);
    let runs = groups
        .into_iter()
        .map(|g| write_group(clusters, g, &guarded, order, stop));
    let outcomes = futures::future::join_all(runs).await;

    let mut in_place = prior.clone();
    let mut failed = guarded;
    let mut interrupted_any = false;
    for o in outcomes {
        in_place.extend(o.written);
        diags.extend(o.diags);
        failed.extend(o.failed);
        interrupted_any |= o.interrupted;
    }
    if interrupted_any {
        diags.push(interrupted(desired.len(), &in_place, prior));
        return (in_place, diags);
    }
    let wanted: BTreeSet<ObjectKey> = desired.iter().map(Desired::key).collect();
    let stale: Vec<ObjectKey> = prior
        .keys()
        .filter(|k| !wanted.contains(*k) && !order.stopped(&failed, &k.cluster))
        .cloned()
        .collect();
    let (gone, d) = delete(clusters, &stale, stop).await;
    for k in gone {
        in_place.remove(&k);
    }
    diags.extend(d);
    (in_place, diags)
}

/// Writes one group in order; a failure stops the rest of the group as `order` says.
async fn write_group(
    clusters: &ClusterSet,
    group: Vec<&Desired>,
    guarded: &BTreeSet<String>,
    order: Order,
    stop: &StopSignal,
) -> GroupOutcome {
    let mut out = GroupOutcome::default();
    for d in group {
        let mut failed = guarded.clone();
        failed.extend(out.failed.iter().cloned());
        if order.stopped(&failed, &d.cluster) {
            continue;
        }
        if stop.is_raised() {
            out.interrupted = true;
            break;
        }
        match clusters.apply(&d.cluster, &d.manifest.object).await {
            Ok(_) => out.written.push((d.key(), d.display())),
            Err(e) => {
                out.diags.push(write_failed(&e));
                if e.may_have_taken_effect() {
                    // Recorded as written: the next refresh reads it and drops it if absent,
                    // whereas an object written but missing from state would be lost track of.
                    out.written.push((d.key(), d.display()));
                }
                out.failed.insert(d.cluster.clone());
            }
        }
    }
    out
}

/// The error of a failed write; when the write may have taken effect all the same, says that the
/// state records the object and the next refresh checks it.
fn write_failed(e: &K8sError) -> Diagnostic {
    let mut d = error_diag("Cannot apply object", e);
    if e.may_have_taken_effect() {
        d.detail.push_str("\n\nThe request may have reached the API server before the connection was lost: the state records the object as written, and the next refresh reads it back (and drops it if it is not there).");
    }
    d
}

/// The error of an apply stopped by an interrupt: how far it got, and that a second apply
/// finishes it.
fn interrupted(wanted: usize, in_place: &Manifests, prior: &Manifests) -> Diagnostic {
    let written = in_place.keys().filter(|k| !prior.contains_key(*k)).count();
    Diagnostic::error(
        "Apply interrupted",
        format!(
            "Terraform asked meshfed to stop, and the grace for finishing this resource ({} s) ran out: {written} new object(s) of {wanted} were written before it stopped; the state records every object in place. Run apply again to finish.",
            STOP_GRACE.as_secs()
        ),
    )
}

/// Deletes `key`'s object, unless `stop` is raised (then `None`).
async fn delete_one<'a>(
    clusters: &ClusterSet,
    key: &'a ObjectKey,
    stop: &StopSignal,
) -> (&'a ObjectKey, Option<Result<(), K8sError>>) {
    if stop.is_raised() {
        return (key, None);
    }
    (key, Some(clusters.delete(&key.cluster, &key.object).await))
}

/// Deletes the objects behind `keys`, [`CONCURRENT_DELETES`] at a time, continuing past
/// failures; none is started once `stop` is raised. Returns the keys now gone, and the errors in
/// the order of `keys`.
pub async fn delete(
    clusters: &ClusterSet,
    keys: &[ObjectKey],
    stop: &StopSignal,
) -> (Vec<ObjectKey>, Diagnostics) {
    let each: Vec<_> = keys.iter().map(|k| delete_one(clusters, k, stop)).collect();
    let results: Vec<_> = futures::stream::iter(each)
        .buffered(CONCURRENT_DELETES)
        .collect()
        .await;
    let mut gone = Vec::new();
    let mut diags = Diagnostics::new();
    let mut stopped = false;
    for (key, result) in results {
        match result {
            Some(Ok(())) => gone.push(key.clone()),
            Some(Err(e)) => diags.push(error_diag("Cannot delete object", &e)),
            None => stopped = true,
        }
    }
    if stopped {
        diags.push(Diagnostic::error(
            "Destroy interrupted",
            "Terraform asked meshfed to stop before every object was deleted; the state keeps the ones still there. Run the command again to finish.",
        ));
    }
    (gone, diags)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::k8s::ObjectRef;
    use crate::mesh::Manifest;

    fn cm(cluster: &str, name: &str) -> Desired {
        let meta = json!({"name": name, "namespace": "ns"});
        let manifest = Manifest::new("v1", "ConfigMap", meta, "data", json!({}));
        Desired {
            cluster: cluster.into(),
            manifest,
        }
    }

    fn key(cluster: &str, name: &str) -> ObjectKey {
        ObjectKey::new(
            cluster,
            ObjectRef::namespaced("v1", "ConfigMap", "ns", name),
        )
    }

    /// Converges against clusters that cannot be reached: every write and delete fails.
    fn converge_unreachable(
        desired: &[Desired],
        prior: &Manifests,
        order: Order,
    ) -> (Manifests, Diagnostics) {
        let clusters = ClusterSet::new("meshfed", BTreeMap::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(converge(
            &clusters,
            desired,
            prior,
            order,
            &ownership::default_hint,
            &StopSignal::default(),
        ))
    }

    #[test]
    fn in_sequence_the_first_failed_write_stops_every_later_write_and_the_pruning() {
        let prior = Manifests::from([(key("c", "stale"), "old\n".to_string())]);
        let want = [cm("a", "one"), cm("b", "two")];
        let (in_place, diags) = converge_unreachable(&want, &prior, Order::Sequential);
        let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
        // Both clusters fail the look before the first write (one error each); nothing follows.
        assert_eq!(
            summaries,
            ["Cannot apply object in a", "Cannot apply object in b"]
        );
        assert_eq!(in_place, prior, "nothing written, nothing pruned");
    }

    #[test]
    fn per_cluster_a_failure_stops_only_its_own_cluster() {
        let prior = Manifests::from([
            (key("a", "stale"), "old\n".to_string()),
            (key("c", "stale"), "old\n".to_string()),
        ]);
        let want = [cm("a", "one"), cm("a", "two"), cm("b", "three")];
        let (in_place, diags) = converge_unreachable(&want, &prior, Order::PerCluster);
        let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
        // One error for each cluster that cannot be read before writing (a's two objects give
        // one); c's stale object is pruned (and fails); a's stale object is kept, as a failed.
        assert_eq!(
            summaries,
            [
                "Cannot apply object in a",
                "Cannot apply object in b",
                "Cannot delete object in c"
            ]
        );
        assert_eq!(in_place, prior);
    }

    #[test]
    fn groups_follow_the_order() {
        let want = [cm("b", "one"), cm("a", "two"), cm("b", "three")];
        let names = |groups: Vec<Vec<&Desired>>| -> Vec<Vec<String>> {
            groups
                .iter()
                .map(|g| g.iter().map(|d| d.manifest.name.clone()).collect())
                .collect()
        };
        assert_eq!(
            names(Order::Sequential.groups(&want)),
            [["one", "two", "three"]]
        );
        assert_eq!(
            names(Order::PerCluster.groups(&want)),
            vec![vec!["two"], vec!["one", "three"]]
        );
        assert_eq!(
            names(Order::Concurrent.groups(&want)),
            [["one"], ["two"], ["three"]]
        );
    }
}
