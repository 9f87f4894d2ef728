//! Refresh reads from one list (`ClusterSet::read`, `meshfed::k8s` `snapshot`) against a control
//! plane of its own, whose API server counts every request (`/metrics`,
//! `apiserver_request_total`): reading 31 objects of one kind and namespace at once (one made by
//! hand) costs one LIST and no GET; a missing one reads as gone (a GET makes sure); plan's look
//! ahead (`peek`) is answered from the same list (one GET checks that `get` is allowed); a write
//! or delete through the engine updates the list. Needs a real control plane.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use meshfed::k8s::config::Connection;
use meshfed::k8s::{ClusterSet, ObjectRef};
use serde_json::json;

use crate::support::controlplanes::{ControlPlanes, ensure_namespace};
use crate::{id, service_entry};

const S: &str = "cluster-s.local";
const NS: &str = "snap";

/// The API server's count of LIST and GET requests for ServiceEntries so far.
async fn counts(admin: &kube::Client) -> (u64, u64) {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = admin.request_text(req).await.expect("/metrics");
    let mut list = 0;
    let mut get = 0;
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        if !line.contains("resource=\"serviceentries\"") {
            continue;
        }
        let n: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if line.contains("verb=\"LIST\"") {
            list += n as u64;
        } else if line.contains("verb=\"GET\"") {
            get += n as u64;
        }
    }
    (list, get)
}

#[tokio::test]
async fn a_refresh_and_a_look_ahead_of_many_objects_cost_one_list() {
    let planes = ControlPlanes::start(&[S]);
    let admin = planes.client(S).await;
    ensure_namespace(&admin, NS).await;
    let connection = Connection::Kubeconfig {
        path: Some(planes.kubeconfig().to_path_buf()),
        context: Some(planes.context(S)),
    };
    let set = ClusterSet::new("meshfed", BTreeMap::from([(S.to_string(), connection)]));
    let mut objects: Vec<ObjectRef> = Vec::new();
    for i in 0..30 {
        let se = service_entry(NS, &format!("entry-{i}"), "STATIC");
        set.apply(S, &se).await.expect("apply");
        objects.push(id(&se));
    }
    // One made by hand, without meshfed's label: in the list too.
    let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", "ServiceEntry");
    let api: Api<DynamicObject> =
        Api::namespaced_with(admin.clone(), NS, &ApiResource::from_gvk(&gvk));
    let mut unlabelled = service_entry(NS, "by-hand", "STATIC");
    unlabelled["metadata"]["labels"] = json!({});
    let params = PatchParams::apply("kubectl");
    api.patch("by-hand", &params, &Patch::Apply(&unlabelled))
        .await
        .expect("by hand");
    objects.push(id(&unlabelled));

    let before = counts(&admin).await;
    let reads = objects.iter().map(|o| set.read(S, o));
    let found = futures::future::join_all(reads).await;
    let after = counts(&admin).await;
    for (o, f) in objects.iter().zip(&found) {
        let live = f.as_ref().unwrap_or_else(|e| panic!("read {o}: {e}"));
        let live = live.as_ref().unwrap_or_else(|| panic!("{o} was found"));
        assert_eq!(live["metadata"]["name"], json!(o.name));
    }
    assert_eq!(after.0 - before.0, 1, "one LIST for 31 reads");
    assert_eq!(after.1 - before.1, 0, "no GET");

    let missing = ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", NS, "nothing");
    assert!(
        set.read(S, &missing).await.expect("read").is_none(),
        "gone reads as gone"
    );
    let before = counts(&admin).await;
    let within = std::time::Duration::from_secs(3);
    let peeked = set.peek(S, &missing, within).await.expect("an answer");
    assert!(
        peeked.expect("no error").is_none(),
        "absent at a look ahead"
    );
    let by_hand = set
        .peek(S, &id(&unlabelled), within)
        .await
        .expect("an answer");
    assert!(
        by_hand.expect("no error").is_some(),
        "the one made by hand is seen"
    );
    let after = counts(&admin).await;
    // The first look in a group also GETs its object once: a missing `get` shows at plan.
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "answered from the list, after one GET that checks the permission"
    );

    // A write through the engine updates the list: the next read sees it without a request.
    let mut changed = service_entry(NS, "entry-0", "STATIC");
    changed["spec"]["hosts"] = json!(["changed.example.com"]);
    set.apply(S, &changed).await.expect("apply");
    let before = counts(&admin).await;
    let live = set
        .read(S, &objects[0])
        .await
        .expect("read")
        .expect("there");
    let after = counts(&admin).await;
    assert_eq!(live["spec"]["hosts"], json!(["changed.example.com"]));
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 0),
        "from the updated list"
    );
    // And a delete: gone from the list (the GET that makes sure finds nothing).
    set.delete(S, &objects[1]).await.expect("delete");
    assert!(set.read(S, &objects[1]).await.expect("read").is_none());
}
