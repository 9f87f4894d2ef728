//! The istiod of the testbed (`tests/control-planes up --istiod`, `tests/istiod/istiod.go`): it is
//! configured as Istio's Helm chart configures a primary cluster (the `istio` ConfigMap with the
//! cluster's trust domain, the network label), the `cacerts` Secret reaches its `ROOT_CA_DIR` as
//! a kubelet's Secret volume would (symlinks into `..data`, updates, deletion), a restart keeps
//! its addresses, and `down` stops every process. Needs real control planes and istiod
//! (`scripts/setup`); no Terraform.
#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use support::controlplanes::{ControlPlanes, process_alive};

const A: &str = "cluster-a.local";

/// Waits up to 30 s for `done`; returns whether it came true.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    done()
}

fn cacerts(root: &str) -> Secret {
    let data = [("root-cert.pem", root), ("ca-cert.pem", "intermediate")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("cacerts".into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

fn read(dir: &Path, key: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(key)).ok()
}

#[test]
fn istiod_runs_per_cluster_sees_cacerts_like_a_secret_volume_and_stops_with_down() {
    let mut planes = ControlPlanes::start_with_istiod(&[A]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = rt.block_on(planes.client(A));
    let istiod = planes.istiod(A);
    assert!(
        process_alive(istiod.pid),
        "istiod's pid {} runs",
        istiod.pid
    );
    let mesh = istiod.debug_get("/debug/mesh");
    assert!(
        mesh.contains(r#""trustDomain":"cluster-a.local""#),
        "{mesh}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "istio-system");
    let istio = rt.block_on(cms.get("istio")).expect("the istio ConfigMap");
    assert!(istio.data.expect("data")["mesh"].contains("trustDomain: cluster-a.local"));
    let ns = rt
        .block_on(Api::<Namespace>::all(client.clone()).get("istio-system"))
        .expect("istio-system");
    let network = ns.metadata.labels.expect("labels")["topology.istio.io/network"].clone();
    assert_eq!(network, istiod.network);

    let dir = planes.dir().join(A).join("cacerts");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "istio-system");
    let apply = |s: Secret| {
        let pp = PatchParams::apply("cp-istiod-test").force();
        rt.block_on(secrets.patch("cacerts", &pp, &Patch::Apply(&s)))
            .expect("apply cacerts");
    };
    apply(cacerts("root one"));
    assert!(eventually(
        || read(&dir, "root-cert.pem").as_deref() == Some("root one")
    ));
    let link = std::fs::read_link(dir.join("root-cert.pem")).expect("a symlink, as kubelet writes");
    assert_eq!(link, Path::new("..data/root-cert.pem"));
    apply(cacerts("root two"));
    assert!(eventually(
        || read(&dir, "root-cert.pem").as_deref() == Some("root two")
    ));
    rt.block_on(secrets.delete("cacerts", &DeleteParams::default()))
        .expect("delete cacerts");
    assert!(eventually(
        || read(&dir, "root-cert.pem").is_none() && read(&dir, "ca-cert.pem").is_none()
    ));

    planes.restart_istiod(A);
    let again = planes.istiod(A);
    assert_eq!(
        (again.starts, &again.xds),
        (2, &istiod.xds),
        "restarted on the same address"
    );
    assert!(!process_alive(istiod.pid), "the first istiod is gone");
    planes.stop();
    assert!(!process_alive(again.pid), "down stops istiod");
}
