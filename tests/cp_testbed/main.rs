//! The testbed itself: real Kubernetes control planes with Istio's CRDs, as the end-to-end tests
//! use them (`tests/support/controlplanes.rs`, `tests/control-planes`): separate stores, real
//! RBAC and TLS, CRD validation, server-side apply conflicts, killing one plane, and `down`. Each
//! test starts its own planes, so each stands alone. Needs real control planes (`scripts/setup`;
//! the first run builds them, with Go); no Terraform.
#[path = "../support/mod.rs"]
mod support;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;
use support::controlplanes::{ControlPlanes, process_alive};

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";

/// The API server's own rejection: its HTTP code and message.
fn api_status(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.message.clone()),
        other => panic!("expected an error status from the API server, got: {other:?}"),
    }
}

fn service_entries(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", "ServiceEntry");
    Api::namespaced_with(client, ns, &ApiResource::from_gvk(&gvk))
}

/// A ServiceEntry like the one meshfed writes in the consuming cluster, with `spec` patched.
fn service_entry(name: &str, patch: serde_json::Value) -> DynamicObject {
    let mut spec = json!({
        "hosts": ["bar.xyz.svc.cluster-b.local"],
        "location": "MESH_INTERNAL",
        "ports": [{"number": 8080, "name": "http", "protocol": "HTTP"}],
        "resolution": "STATIC",
        "endpoints": [{"address": "192.0.2.10", "ports": {"http": 15443}}],
    });
    for (k, v) in patch.as_object().expect("the patch is a JSON object") {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": name, "namespace": "istio-system"},
        "spec": spec,
    }))
    .expect("a ServiceEntry is a valid DynamicObject")
}

/// Cluster `name` serves the usual namespaces, `istio-system`, and Istio's CRDs, established.
async fn assert_serves_istio_crds_and_namespaces(planes: &ControlPlanes, name: &str) {
    let client = planes.client(name).await;
    let namespaces: Vec<String> = Api::<Namespace>::all(client.clone())
        .list(&Default::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: listing namespaces: {e}"))
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    for want in ["default", "kube-system", "istio-system"] {
        assert!(
            namespaces.iter().any(|n| n == want),
            "{name}: no namespace {want} in {namespaces:?}"
        );
    }
    for crd in [
        "serviceentries.networking.istio.io",
        "gateways.networking.istio.io",
        "destinationrules.networking.istio.io",
        "authorizationpolicies.security.istio.io",
    ] {
        let got = Api::<CustomResourceDefinition>::all(client.clone())
            .get(crd)
            .await
            .unwrap_or_else(|e| panic!("{name}: CRD {crd}: {e}"));
        let established = got
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name}: CRD {crd} is not Established");
    }
}

/// Separate stores: an object written to one cluster does not appear in the other.
async fn assert_separate_stores(planes: &ControlPlanes) {
    let a = Api::<ConfigMap>::namespaced(planes.client(A).await, "default");
    let b = Api::<ConfigMap>::namespaced(planes.client(B).await, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "only-in-a"}, "data": {"k": "v"}}))
            .expect("a valid ConfigMap");
    a.create(&PostParams::default(), &cm)
        .await
        .expect("creating a ConfigMap in cluster-a");
    assert!(
        a.get_opt("only-in-a")
            .await
            .expect("get in cluster-a")
            .is_some()
    );
    assert!(
        b.get_opt("only-in-a")
            .await
            .expect("get in cluster-b")
            .is_none(),
        "cluster-b sees cluster-a's ConfigMap: the planes share storage"
    );
}

/// Authorization is real (RBAC): a service account's token authenticates, but it may do nothing
/// it was not granted.
async fn assert_rbac_is_enforced(planes: &ControlPlanes) {
    let accounts = Api::<ServiceAccount>::namespaced(planes.client(A).await, "default");
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "nobody"}}))
        .expect("a valid ServiceAccount");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("creating a ServiceAccount");
    let token = accounts
        .create_token_request("nobody", &PostParams::default(), &TokenRequest::default())
        .await
        .expect("requesting a token for the ServiceAccount")
        .status
        .expect("a TokenRequest status")
        .token;
    let mut config = planes.config(A).await;
    config.auth_info = serde_json::from_value(json!({ "token": token })).expect("an AuthInfo");
    let nobody = kube::Client::try_from(config).expect("building a client");
    let err = Api::<Namespace>::all(nobody)
        .list(&Default::default())
        .await
        .expect_err("a ServiceAccount without any role must not list namespaces");
    let (code, message) = api_status(err);
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains("system:serviceaccount:default:nobody"),
        "the refusal should name the user: {message}"
    );
}

/// Each cluster serves its own certificate: cluster-a's CA does not vouch for cluster-b.
async fn assert_own_server_certificates(planes: &ControlPlanes) {
    let mut crossed = planes.config(A).await;
    crossed.cluster_url = planes.config(B).await.cluster_url;
    let crossed = kube::Client::try_from(crossed).expect("building a client");
    let err = Api::<Namespace>::all(crossed)
        .list(&Default::default())
        .await
        .expect_err("cluster-b's server must not be trusted with cluster-a's CA");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "expected a TLS failure, got {err:?}"
    );
}

#[tokio::test]
async fn each_plane_is_a_separate_real_apiserver_with_istio_crds_and_namespace() {
    let planes = ControlPlanes::start(&[A, B]);
    for name in [A, B] {
        assert_serves_istio_crds_and_namespaces(&planes, name).await;
    }
    assert_separate_stores(&planes).await;
    assert_rbac_is_enforced(&planes).await;
    assert_own_server_certificates(&planes).await;
}

#[tokio::test]
async fn crd_schemas_validate_service_entries() {
    let planes = ControlPlanes::start(&[A]);
    let api = service_entries(planes.client(A).await, "istio-system");

    let created = api
        .create(
            &PostParams::default(),
            &service_entry("bar-valid", json!({})),
        )
        .await
        .expect("a valid ServiceEntry is accepted");
    assert_eq!(created.data["spec"]["resolution"], "STATIC");

    let err = api
        .create(
            &PostParams::default(),
            &service_entry("bar-bogus", json!({"resolution": "BOGUS"})),
        )
        .await
        .expect_err("resolution BOGUS must be rejected");
    let (code, message) = api_status(err);
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("spec.resolution") && message.contains("BOGUS"),
        "the message should name spec.resolution and the bad value: {message}"
    );

    let err = api
        .create(
            &PostParams::default(),
            &service_entry(
                "bar-port",
                json!({"ports": [{"number": 70000, "name": "http", "protocol": "HTTP"}]}),
            ),
        )
        .await
        .expect_err("port 70000 must be rejected");
    let (code, message) = api_status(err);
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("spec.ports[0].number") && message.contains("65535"),
        "the message should name spec.ports[0].number and its limit: {message}"
    );

    let names: Vec<String> = api
        .list(&Default::default())
        .await
        .expect("listing ServiceEntries")
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["bar-valid"],
        "only the valid ServiceEntry is stored"
    );
}

#[tokio::test]
async fn server_side_apply_conflicts_between_field_managers() {
    let planes = ControlPlanes::start(&[A]);
    let api = Api::<ConfigMap>::namespaced(planes.client(A).await, "default");
    let cm = |value: &str| {
        Patch::Apply(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared"},
            "data": {"owner": value},
        }))
    };

    api.patch("shared", &PatchParams::apply("manager-one"), &cm("one"))
        .await
        .expect("the first field manager creates the ConfigMap");

    let err = api
        .patch("shared", &PatchParams::apply("manager-two"), &cm("two"))
        .await
        .expect_err("a second field manager setting the same field must conflict");
    let (code, message) = api_status(err);
    assert_eq!(code, 409, "{message}");
    assert!(
        message.contains("manager-one") && message.contains(".data.owner"),
        "the conflict should name the owning manager and the field: {message}"
    );
    let live = api.get("shared").await.expect("reading the ConfigMap");
    assert_eq!(
        live.data.expect("data")["owner"],
        "one",
        "a conflicting apply changes nothing"
    );

    api.patch(
        "shared",
        &PatchParams::apply("manager-two").force(),
        &cm("two"),
    )
    .await
    .expect("a forced apply takes the field over");
    let live = api.get("shared").await.expect("reading the ConfigMap");
    assert_eq!(
        live.data.as_ref().expect("data")["owner"],
        "two",
        "the forced apply wins"
    );
    let managers: Vec<String> = live
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.operation.as_deref() == Some("Apply"))
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(
        managers,
        ["manager-two"],
        "manager-two now owns the field alone"
    );
}

/// Whether the error (or one of its causes) is a refused or reset TCP connection.
fn is_connection_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
            ) {
                return true;
            }
            // An io::Error wrapping another error reports the inner error's source, not the
            // inner error itself.
            if let Some(inner) = io.get_ref()
                && is_connection_error(inner)
            {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

#[tokio::test]
async fn killing_one_plane_leaves_the_other_serving() {
    let planes = ControlPlanes::start(&[A, B]);
    let a = Api::<Namespace>::all(planes.client(A).await);
    let b = Api::<Namespace>::all(planes.client(B).await);
    a.get("istio-system")
        .await
        .expect("cluster-a answers before the kill");
    b.get("istio-system")
        .await
        .expect("cluster-b answers before the kill");

    planes.kill(A);
    assert!(!process_alive(planes.pid(A)), "cluster-a's process is gone");

    // A new client (no pooled connection) gets the connection refused.
    let fresh = Api::<Namespace>::all(planes.client(A).await);
    let err = fresh
        .get("istio-system")
        .await
        .expect_err("cluster-a must not answer after the kill");
    assert!(
        is_connection_error(&err),
        "expected a connection error, got {err:?}"
    );
    // The client that was connected fails too, with a transport error rather than a status.
    let err = a
        .get("istio-system")
        .await
        .expect_err("cluster-a must not answer after the kill");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "expected a transport error, got {err:?}"
    );

    b.get("istio-system")
        .await
        .expect("cluster-b still answers");
    assert!(
        process_alive(planes.pid(B)),
        "cluster-b's process still runs"
    );
}

#[tokio::test]
async fn down_leaves_no_process_and_no_data() {
    let mut planes = ControlPlanes::start(&[A, B]);
    let pids = planes.pids();
    assert_eq!(
        pids.len(),
        3,
        "a supervisor and one process per cluster: {pids:?}"
    );
    for pid in &pids {
        assert!(
            process_alive(*pid),
            "process {pid} runs while the planes are up"
        );
    }
    let dir = planes.dir().to_path_buf();
    for name in [A, B] {
        assert!(
            dir.join(format!("{name}.d")).is_dir(),
            "{name} keeps its data in the state directory"
        );
    }

    planes.stop();
    for pid in &pids {
        assert!(
            !process_alive(*pid),
            "process {pid} is still alive after down"
        );
    }
    for name in [A, B] {
        assert!(
            !dir.join(format!("{name}.d")).exists(),
            "{name}'s data was removed"
        );
    }
    assert!(!dir.join("ready").exists(), "the ready marker was removed");
    // Stopping again is harmless.
    planes.stop();
}
