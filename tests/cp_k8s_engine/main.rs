//! The apply engine (`meshfed::k8s`) against real Kubernetes control planes (kube-apiserver with
//! etcd and Istio's CRDs, see `support::controlplanes`): server-side apply, read-back, drift,
//! deletion, and the errors users see (missing kinds and namespaces, invalid objects, bad
//! credentials, RBAC, untrusted or unreachable servers). Every test makes its own `ClusterSet` and
//! its own namespace; the control plane `cluster-a.local` is shared by the tests of this suite, and
//! stops when the test process ends. `ownership.rs` tests that the lifecycle never writes over an
//! object another manager made. `retries.rs` tests the retry loop against a scripted HTTP
//! server instead. `snapshot.rs` tests refresh reads from one list, on a control plane of its
//! own. Needs real control planes (`scripts/setup`); no Terraform.

#[path = "../support/mod.rs"]
mod support;

mod ownership;
mod retries;
mod snapshot;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use meshfed::k8s::config::{Auth, Connection, DirectConnection};
use meshfed::k8s::{ClusterSet, K8sError, ObjectRef, project};
use serde_json::{Value, json};
use support::controlplanes::ControlPlanes;

const A: &str = "cluster-a.local";

/// The control plane shared by this suite's tests (all but the one that kills its own).
fn planes() -> &'static ControlPlanes {
    static PLANES: OnceLock<ControlPlanes> = OnceLock::new();
    PLANES.get_or_init(|| ControlPlanes::start(&[A]))
}

/// An engine reaching `cluster-a.local` through the planes' kubeconfig and context.
fn engine() -> ClusterSet {
    engine_for(planes(), A)
}

fn engine_for(planes: &ControlPlanes, name: &str) -> ClusterSet {
    let connection = Connection::Kubeconfig {
        path: Some(planes.kubeconfig().to_path_buf()),
        context: Some(planes.context(name)),
    };
    ClusterSet::new("meshfed", BTreeMap::from([(name.to_string(), connection)]))
}

/// Creates namespace `name` (namespaces are never deleted: this control plane has no namespace
/// controller to finish that).
async fn namespace(set: &ClusterSet, name: &str) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    set.apply(A, &ns)
        .await
        .expect("creating the test namespace");
}

fn config_map(ns: &str, name: &str, mesh: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "meshfed"}
        },
        "data": {"mesh": mesh}
    })
}

fn service_entry(ns: &str, name: &str, resolution: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "meshfed"}
        },
        "spec": {
            "hosts": ["bar.xyz.svc.cluster-b.local"],
            "location": "MESH_INTERNAL",
            "resolution": resolution,
            "ports": [{"name": "http", "number": 8080, "protocol": "HTTP"}],
            "endpoints": [{
                "address": "198.51.100.20",
                "ports": {"http": 15443},
                "labels": {"security.istio.io/tlsMode": "istio"}
            }]
        }
    })
}

fn id(object: &Value) -> ObjectRef {
    ObjectRef::from_object(object).expect("test objects have an identity")
}

fn resource_version(object: &Value) -> String {
    object["metadata"]["resourceVersion"]
        .as_str()
        .expect("live objects have a resourceVersion")
        .to_string()
}

/// Another field manager server-side applies `patch` to ConfigMap `ns/name`, taking over fields.
async fn intruder_applies(ns: &str, name: &str, patch: Value) {
    let client = planes().client(A).await;
    let api: Api<ConfigMap> = Api::namespaced(client, ns);
    api.patch(
        name,
        &PatchParams::apply("intruder").force(),
        &Patch::Apply(patch),
    )
    .await
    .expect("the other manager's apply");
}

/// `cluster-a.local`'s API server URL and CA (PEM), for direct connections.
async fn direct_settings() -> (String, String) {
    let config = planes().config(A).await;
    let pem = config
        .root_cert
        .expect("the kubeconfig carries the server's CA")
        .iter()
        .map(|der| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        })
        .collect();
    (config.cluster_url.to_string(), pem)
}

fn direct_engine(cluster: &str, host: &str, ca: Option<String>, auth: Auth) -> ClusterSet {
    let connection = Connection::Direct(DirectConnection {
        host: host.to_string(),
        auth,
        cluster_ca_certificate: ca,
        ..DirectConnection::default()
    });
    ClusterSet::new(
        "meshfed",
        BTreeMap::from([(cluster.to_string(), connection)]),
    )
}

#[tokio::test]
async fn apply_creates_config_maps_secrets_and_service_entries_and_returns_them_live() {
    let set = engine();
    namespace(&set, "create").await;
    let cm = config_map("create", "meshfed-mesh-config", "caCertificates: []");
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "create"},
        "type": "Opaque",
        "data": {"root-cert.pem": "cm9vdA=="}
    });
    let se = service_entry("create", "bar", "STATIC");
    for desired in [&cm, &secret, &se] {
        let live = set.apply(A, desired).await.expect("apply");
        assert!(live["metadata"]["uid"].is_string(), "{live}");
        assert_eq!(project(&live, desired), *desired);
        let read = set
            .get(A, &id(desired))
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(resource_version(&read), resource_version(&live));
        assert_eq!(project(&read, desired), *desired);
    }
}

#[tokio::test]
async fn applying_the_same_object_again_changes_nothing() {
    let set = engine();
    namespace(&set, "again").await;
    for desired in [
        config_map("again", "cm", "a: 1"),
        service_entry("again", "bar", "STATIC"),
    ] {
        let first = set.apply(A, &desired).await.expect("first apply");
        let second = set.apply(A, &desired).await.expect("second apply");
        assert_eq!(
            resource_version(&first),
            resource_version(&second),
            "a no-op apply must not write"
        );
    }
}

#[tokio::test]
async fn a_field_another_manager_took_shows_as_drift_and_apply_takes_it_back() {
    let set = engine();
    namespace(&set, "drift").await;
    let desired = config_map("drift", "cm", "a: 1");
    set.apply(A, &desired).await.expect("apply");

    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"mesh": "a: 2"}});
    intruder_applies("drift", "cm", theirs).await;
    let live = set
        .get(A, &id(&desired))
        .await
        .expect("get")
        .expect("exists");
    let seen = project(&live, &desired);
    assert_ne!(seen, desired, "the changed owned field must show as drift");
    assert_eq!(seen["data"]["mesh"], "a: 2");

    let restored = set.apply(A, &desired).await.expect("apply again");
    assert_eq!(project(&restored, &desired), desired);
    let live = set
        .get(A, &id(&desired))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(project(&live, &desired), desired);
}

#[tokio::test]
async fn a_label_another_manager_adds_is_not_drift_and_survives_apply() {
    let set = engine();
    namespace(&set, "labels").await;
    let desired = config_map("labels", "cm", "a: 1");
    set.apply(A, &desired).await.expect("apply");

    let theirs = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"labels": {"team": "platform"}}
    });
    intruder_applies("labels", "cm", theirs).await;
    let live = set
        .get(A, &id(&desired))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(project(&live, &desired), desired);

    let after = set.apply(A, &desired).await.expect("apply again");
    assert_eq!(after["metadata"]["labels"]["team"], "platform");
}

#[tokio::test]
async fn delete_waits_until_the_object_is_gone_and_get_then_says_none() {
    let set = engine();
    namespace(&set, "delete").await;
    let cm = config_map("delete", "cm", "a: 1");
    let se = service_entry("delete", "bar", "STATIC");
    for desired in [&cm, &se] {
        set.apply(A, desired).await.expect("apply");
        set.delete(A, &id(desired)).await.expect("delete");
        assert_eq!(set.get(A, &id(desired)).await.expect("get"), None);
        set.delete(A, &id(desired))
            .await
            .expect("deleting what is already gone succeeds");
    }
}

#[tokio::test]
async fn an_object_held_by_a_finalizer_makes_delete_time_out_naming_it() {
    let set = engine().with_delete_timeout(Duration::from_secs(2));
    namespace(&set, "held").await;
    let mut held = config_map("held", "cm", "a: 1");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    set.apply(A, &held).await.expect("apply");

    let e = set
        .delete(A, &id(&held))
        .await
        .expect_err("held by a finalizer");
    assert!(matches!(e, K8sError::Timeout { .. }), "{e:?}");
    let s = e.to_string();
    assert!(
        s.starts_with("cluster-a.local: delete v1 ConfigMap held/cm: still present"),
        "{s}"
    );
    assert!(s.contains("example.com/hold"), "{s}");

    // Applying without the finalizer releases it (meshfed owned it), and the deletion completes.
    let released = config_map("held", "cm", "a: 1");
    let live = set
        .apply(A, &released)
        .await
        .expect("applying without the finalizer succeeds");
    assert!(
        live["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty()),
        "the apply released the finalizer: {live}"
    );
    set.delete(A, &id(&released)).await.expect("delete");
    assert_eq!(set.get(A, &id(&released)).await.expect("get"), None);
}

#[tokio::test]
async fn a_kind_the_server_does_not_serve_is_missing_kind_and_has_nothing_to_delete() {
    let set = engine();
    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "istio-system"}, "spec": {}
    });
    let e = set.apply(A, &widget).await.expect_err("not served");
    assert!(e.is_missing_kind(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "cluster-a.local: the API server does not serve example.com/v1 Widget \
         (is its CustomResourceDefinition installed?)"
    );
    let e = set.get(A, &id(&widget)).await.expect_err("not served");
    assert!(e.is_missing_kind(), "{e:?}");

    let wrong_version = ObjectRef::namespaced("networking.istio.io/v9", "ServiceEntry", "x", "y");
    let e = set.get(A, &wrong_version).await.expect_err("not served");
    assert!(e.is_missing_kind(), "{e:?}");
    // Deleting an object of a kind no longer served finds it gone: nothing of that kind exists.
    set.delete(A, &wrong_version)
        .await
        .expect("a kind not served has no objects to delete");
}

#[tokio::test]
async fn a_namespace_that_does_not_exist_is_namespace_missing() {
    let set = engine();
    let cm = config_map("no-such-namespace", "cm", "a: 1");
    let e = set.apply(A, &cm).await.expect_err("no namespace");
    match &e {
        K8sError::NamespaceMissing { namespace, .. } => assert_eq!(namespace, "no-such-namespace"),
        other => panic!("expected NamespaceMissing, got {other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "cluster-a.local: apply v1 ConfigMap no-such-namespace/cm: namespace \
         \"no-such-namespace\" does not exist"
    );
    // Reading or deleting in a missing namespace finds nothing, which is not an error.
    assert_eq!(set.get(A, &id(&cm)).await.expect("get"), None);
    set.delete(A, &id(&cm)).await.expect("delete");
}

#[tokio::test]
async fn an_invalid_service_entry_is_refused_with_the_api_servers_message() {
    let set = engine();
    namespace(&set, "invalid").await;
    let se = service_entry("invalid", "bar", "BOGUS");
    let e = set.apply(A, &se).await.expect_err("invalid");
    eprintln!("{e}");
    match &e {
        K8sError::Invalid { code, message, .. } => {
            assert_eq!(*code, 422);
            assert!(message.contains("spec.resolution"), "{message}");
            assert!(message.contains("BOGUS"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(
        e.to_string().starts_with(
            "cluster-a.local: apply networking.istio.io/v1 ServiceEntry invalid/bar: refused as \
             invalid: "
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_bad_token_is_refused_as_unauthorized_naming_the_cluster_and_host() {
    let (host, ca) = direct_settings().await;
    let set = direct_engine(A, &host, Some(ca), Auth::Token("bogus".into()));
    let cm = config_map("istio-system", "cm", "a: 1");
    let e = set.apply(A, &cm).await.expect_err("bad token");
    eprintln!("{e}");
    assert!(matches!(e, K8sError::Unauthorized { .. }), "{e:?}");
    assert!(e.is_access_denied());
    let s = e.to_string();
    assert!(
        s.starts_with("cluster-a.local: apply v1 ConfigMap istio-system/cm: "),
        "{s}"
    );
    assert!(
        s.contains(&format!("rejected the credentials of host {host}")),
        "{s}"
    );
    assert!(!s.contains("bogus"), "no credential in messages: {s}");
}

#[tokio::test]
async fn a_request_rbac_denies_says_who_may_not_use_which_verb_on_which_resource() {
    // Without credentials the API server sees system:anonymous, whom RBAC grants nothing here.
    let (host, ca) = direct_settings().await;
    let set = direct_engine(A, &host, Some(ca), Auth::None);
    let se = service_entry("istio-system", "bar", "STATIC");
    let e = set.apply(A, &se).await.expect_err("anonymous");
    eprintln!("{e}");
    match &e {
        K8sError::Forbidden { denial, .. } => {
            assert_eq!(denial.verb, "patch");
            assert_eq!(denial.resource, "serviceentries.networking.istio.io");
            assert_eq!(denial.namespace.as_deref(), Some("istio-system"));
            assert_eq!(denial.user.as_deref(), Some("system:anonymous"));
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(
        e.to_string().starts_with(
            "cluster-a.local: apply networking.istio.io/v1 ServiceEntry istio-system/bar: \
             forbidden: system:anonymous may not patch serviceentries.networking.istio.io in \
             namespace \"istio-system\": "
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_server_certificate_the_ca_did_not_sign_is_a_connect_error() {
    let (host, _) = direct_settings().await;
    let set = direct_engine(A, &host, None, Auth::None);
    let cm = config_map("istio-system", "cm", "a: 1");
    let e = set.apply(A, &cm).await.expect_err("untrusted server");
    eprintln!("{e}");
    assert!(e.is_connect(), "{e:?}");
    let s = e.to_string();
    assert!(
        s.starts_with("cluster-a.local: apply v1 ConfigMap istio-system/cm: cannot reach"),
        "{s}"
    );
    assert!(
        s.to_lowercase().contains("certificate"),
        "the cause is the certificate: {s}"
    );
}

#[tokio::test]
async fn a_cluster_at_a_closed_port_is_configured_without_error_and_fails_fast_on_first_use() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
        listener.local_addr().expect("local address").port()
    };
    let host = format!("https://127.0.0.1:{port}");
    let set = direct_engine("cluster-b.local", &host, None, Auth::Token("t".into()));
    set.client("cluster-b.local")
        .await
        .expect("making a client makes no connection");

    let started = Instant::now();
    let e = set
        .apply("cluster-b.local", &config_map("xyz", "cm", "a: 1"))
        .await
        .expect_err("nothing listens");
    let took = started.elapsed();
    eprintln!("connection refused reported after {took:?}");
    assert!(e.is_connect(), "{e:?}");
    let s = e.to_string();
    assert!(
        s.starts_with(&format!(
            "cluster-b.local: apply v1 ConfigMap xyz/cm: cannot reach the API server at {host}"
        )),
        "{s}"
    );
    assert!(s.contains("refused"), "{s}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn a_killed_control_plane_gives_a_connect_error_naming_the_cluster_within_seconds() {
    let planes = ControlPlanes::start(&["cluster-k.local"]);
    let set = engine_for(&planes, "cluster-k.local");
    let cm = config_map("istio-system", "cm", "a: 1");
    set.apply("cluster-k.local", &cm)
        .await
        .expect("apply while it runs");

    planes.kill("cluster-k.local");
    let started = Instant::now();
    let e = set
        .apply("cluster-k.local", &cm)
        .await
        .expect_err("the server is gone");
    let took = started.elapsed();
    eprintln!("killed control plane reported after {took:?}: {e}");
    assert!(e.is_connect(), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cluster-k.local: apply v1 ConfigMap istio-system/cm: cannot reach"),
        "{e}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
