//! Ownership before force, through the shared lifecycle (`meshfed::resources::writes::converge`)
//! against a real API server: an object another manager made is never written over; with
//! per-cluster order the cluster holding it gets no write at all while the others converge; with
//! sequential order nothing is written anywhere; an object already in state (imported) is forced.
//! Two cluster names, `a` and `b`, reach the same control plane (their objects live in separate
//! namespaces), so that a per-cluster outcome shows without a second plane.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use meshfed::k8s::config::Connection;
use meshfed::k8s::{ClusterSet, ObjectRef};
use meshfed::mesh::Manifest;
use meshfed::resources::objects::{Desired, Manifests, ObjectKey};
use meshfed::resources::ownership::default_hint;
use meshfed::resources::writes::{Order, converge};
use meshfed::tfplugin::provider::StopSignal;
use serde_json::json;

use crate::{A, engine, namespace, planes};

/// An engine whose clusters `a` and `b` are both `cluster-a.local`.
fn two_names() -> ClusterSet {
    let connection = || Connection::Kubeconfig {
        path: Some(planes().kubeconfig().to_path_buf()),
        context: Some(planes().context(A)),
    };
    let clusters = BTreeMap::from([
        ("a".to_string(), connection()),
        ("b".to_string(), connection()),
    ]);
    ClusterSet::new("meshfed", clusters)
}

fn cm(cluster: &str, ns: &str, name: &str) -> Desired {
    let meta = json!({"name": name, "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "meshfed"}});
    Desired {
        cluster: cluster.into(),
        manifest: Manifest::new("v1", "ConfigMap", meta, "data", json!({"k": "meshfed"})),
    }
}

/// Creates ConfigMap `ns/name` as `kubectl create configmap` would: manager `kubectl-create`,
/// no meshfed label.
async fn created_by_hand(ns: &str, name: &str) {
    let api: Api<ConfigMap> = Api::namespaced(planes().client(A).await, ns);
    let theirs: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns}, "data": {"k": "theirs"}
    }))
    .expect("a ConfigMap");
    let pp = PostParams {
        field_manager: Some("kubectl-create".into()),
        ..PostParams::default()
    };
    api.create(&pp, &theirs).await.expect("create by hand");
}

async fn data(set: &ClusterSet, ns: &str, name: &str) -> Option<String> {
    let id = ObjectRef::namespaced("v1", "ConfigMap", ns, name);
    let live = set.get("a", &id).await.expect("get")?;
    Some(live["data"]["k"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_cluster_holding_an_object_meshfed_does_not_own_gets_no_write_while_others_converge() {
    let set = two_names();
    let (na, nb) = ("own-per-cluster-a", "own-per-cluster-b");
    namespace(&engine(), na).await;
    namespace(&engine(), nb).await;
    created_by_hand(na, "taken").await;
    let want = [
        cm("a", na, "first"),
        cm("a", na, "taken"),
        cm("b", nb, "other"),
    ];
    let (in_place, diags) = converge(
        &set,
        &want,
        &Manifests::new(),
        Order::PerCluster,
        &default_hint,
        &StopSignal::default(),
    )
    .await;
    let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [format!(
            "ConfigMap {na}/taken in a is not managed by meshfed"
        )]
    );
    assert!(
        diags.0[0].detail.contains("kubectl-create (Update)"),
        "{}",
        diags.0[0].detail
    );
    assert_eq!(
        data(&set, na, "taken").await.as_deref(),
        Some("theirs"),
        "untouched"
    );
    assert_eq!(data(&set, na, "first").await, None, "nothing written in a");
    assert_eq!(
        data(&set, nb, "other").await.as_deref(),
        Some("meshfed"),
        "b converged"
    );
    let keys: Vec<String> = in_place.keys().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        [format!("b/v1/ConfigMap/{nb}/other")],
        "state: what was written"
    );
}

#[tokio::test]
async fn in_sequence_an_object_meshfed_does_not_own_stops_every_write() {
    let set = two_names();
    let (na, nb) = ("own-sequence-a", "own-sequence-b");
    namespace(&engine(), na).await;
    namespace(&engine(), nb).await;
    created_by_hand(nb, "taken").await;
    let want = [cm("a", na, "first"), cm("b", nb, "taken")];
    let (in_place, diags) = converge(
        &set,
        &want,
        &Manifests::new(),
        Order::Sequential,
        &default_hint,
        &StopSignal::default(),
    )
    .await;
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    assert!(in_place.is_empty());
    assert_eq!(
        data(&set, na, "first").await,
        None,
        "a is not written either"
    );
    assert_eq!(data(&set, nb, "taken").await.as_deref(), Some("theirs"));
}

#[tokio::test]
async fn an_object_already_in_state_is_forced_whoever_made_it() {
    let set = two_names();
    let ns = "own-imported";
    namespace(&engine(), ns).await;
    created_by_hand(ns, "imported").await;
    let d = cm("a", ns, "imported");
    let prior = Manifests::from([(d.key(), d.display())]);
    let (in_place, diags) = converge(
        &set,
        std::slice::from_ref(&d),
        &prior,
        Order::PerCluster,
        &default_hint,
        &StopSignal::default(),
    )
    .await;
    assert!(diags.is_empty(), "{diags:?}");
    assert!(in_place.contains_key(&ObjectKey::of("a", &d.manifest)));
    assert_eq!(data(&set, ns, "imported").await.as_deref(), Some("meshfed"));
}

#[tokio::test]
async fn once_the_stop_signal_is_raised_nothing_more_is_written_or_deleted() {
    let set = two_names();
    let ns = "own-stopped";
    namespace(&engine(), ns).await;
    let kept = cm("a", ns, "kept");
    let (written, diags) = converge(
        &set,
        std::slice::from_ref(&kept),
        &Manifests::new(),
        Order::PerCluster,
        &default_hint,
        &StopSignal::default(),
    )
    .await;
    assert!(diags.is_empty(), "{diags:?}");
    let stop = StopSignal::default();
    stop.raise();
    let want = [cm("a", ns, "new"), cm("b", ns, "other")];
    let (in_place, diags) = converge(
        &set,
        &want,
        &written,
        Order::PerCluster,
        &default_hint,
        &stop,
    )
    .await;
    let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(summaries, ["Apply interrupted"]);
    assert!(
        diags.0[0]
            .detail
            .contains("0 new object(s) of 2 were written"),
        "{}",
        diags.0[0].detail
    );
    assert_eq!(in_place, written, "the prior object is kept, not pruned");
    assert_eq!(data(&set, ns, "kept").await.as_deref(), Some("meshfed"));
    assert_eq!(data(&set, ns, "new").await, None);
}
