//! Two control planes with a real istiod each, the seed's workloads and east-west gateway
//! Services (as in `e2e_istiod`), an `istiod` Deployment in each (the testbed's istiod runs as a
//! process; a real cluster shows it as the Deployment Helm installs, which the status reads), the
//! example federation applied by the CLI under test, and a second working directory holding
//! only the provider block and the data source's example `check` block.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::support::controlplanes::ControlPlanes;
use crate::support::istio::Workload;
use crate::support::rbac;
use crate::support::tf::{Cli, TfDir, TfOutput};

pub const A: &str = "cluster-a.local";
pub const B: &str = "cluster-b.local";
pub const GATEWAY_B: &str = "198.51.100.20";

const FEDERATION: &str = include_str!("../../examples/federation/main.tf");
const CHECK: &str =
    include_str!("../../examples/data-sources/meshfed_federation_status/data-source.tf");

pub struct Mesh {
    pub planes: ControlPlanes,
    pub rt: tokio::runtime::Runtime,
    pub gateway_b: Workload,
    pub cli: Cli,
}

impl Mesh {
    /// The planes with istiod, workloads, istiod Deployments with meshfed's settings, and the
    /// federation (`federation` is the example's text, possibly edited) applied.
    pub fn start(cli: Cli, federation: &str) -> Mesh {
        let planes = ControlPlanes::start_with_istiod(&[A, B]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let m = Mesh {
            planes,
            rt,
            gateway_b: Workload::eastwest_gateway("10.20.0.100", GATEWAY_B),
            cli,
        };
        let workloads = [
            (A, Workload::app("abc", "foo", "10.10.0.5", 8080)),
            (
                A,
                Workload::eastwest_gateway("10.10.0.100", "198.51.100.10"),
            ),
            (B, Workload::app("xyz", "bar", "10.20.0.5", 8080)),
            (B, m.gateway_b.clone()),
        ];
        for (cluster, w) in &workloads {
            let client = m.client(cluster);
            m.rt.block_on(w.create(&client));
        }
        for cluster in [A, B] {
            m.set_istiod_env(cluster, true);
        }
        m.federation(federation)
            .run_ok(&["apply", "-auto-approve", "-no-color"]);
        m
    }

    pub fn client(&self, cluster: &str) -> kube::Client {
        self.rt.block_on(self.planes.client(cluster))
    }

    fn with_kubeconfig(&self, mut dir: TfDir) -> TfDir {
        let kubeconfig = self.planes.provider_kubeconfig().display().to_string();
        dir.env("TF_VAR_kubeconfig", kubeconfig);
        dir
    }

    /// A working directory with the federation (`text`).
    pub fn federation(&self, text: &str) -> TfDir {
        let dir = TfDir::new(self.cli);
        dir.write("main.tf", text);
        self.with_kubeconfig(dir)
    }

    /// A working directory with the example's provider block and `check` (`check` is the
    /// example's text, possibly edited), and `extra` files.
    pub fn status(&self, check: &str, extra: &[(&str, &str)]) -> TfDir {
        let dir = TfDir::new(self.cli);
        let provider = FEDERATION
            .split("# 1 + 2")
            .next()
            .expect("the provider part");
        dir.write("provider.tf", provider);
        dir.write("check.tf", check);
        for (name, text) in extra {
            dir.write(name, text);
        }
        self.with_kubeconfig(dir)
    }

    /// Deployment istio-system/istiod as Helm installs it, with or without meshfed's settings.
    pub fn set_istiod_env(&self, cluster: &str, multiroot: bool) {
        let env = if multiroot {
            json!([{"name": "PILOT_TRACE_SAMPLING", "value": "1"},
                   {"name": "ISTIO_MULTIROOT_MESH", "value": "true"},
                   {"name": "SHARED_MESH_CONFIG", "value": "meshfed-mesh-config"}])
        } else {
            json!([{"name": "PILOT_TRACE_SAMPLING", "value": "1"}])
        };
        let labels = json!({"app": "istiod", "istio": "pilot"});
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": "istio-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"serviceAccountName": "istiod", "containers": [{
                                      "name": "discovery", "image": "docker.io/istio/pilot:1.31.0",
                                      "args": ["discovery"], "env": env}]}}}});
        self.rt
            .block_on(rbac::apply(&self.client(cluster), &deployment));
    }

    fn api(&self, cluster: &str, gvk: (&str, &str, &str), ns: &str) -> Api<DynamicObject> {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2));
        Api::namespaced_with(self.client(cluster), ns, &ar)
    }

    fn configmaps(&self, cluster: &str) -> Api<DynamicObject> {
        self.api(cluster, ("", "v1", "ConfigMap"), "istio-system")
    }

    /// A key of a ConfigMap or (decoded) Secret in istio-system.
    pub fn istio_data(&self, cluster: &str, kind: &str, name: &str, key: &str) -> Option<String> {
        let o = self
            .rt
            .block_on(
                self.api(cluster, ("", "v1", kind), "istio-system")
                    .get_opt(name),
            )
            .unwrap_or_else(|e| panic!("{kind} {name} in {cluster}: {e}"))?;
        let v = o.data["data"][key].as_str()?.to_string();
        if kind != "Secret" {
            return Some(v);
        }
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(&v).ok()?;
        Some(String::from_utf8(bytes).expect("PEM text"))
    }

    /// Restarts istiod as `kubectl rollout restart` would and waits until it publishes the root
    /// of `cacerts` in istio-ca-root-cert.
    pub fn restart_istiod(&self, cluster: &str) {
        self.planes.restart_istiod(cluster);
        let want = self.istio_data(cluster, "Secret", "cacerts", "root-cert.pem");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let shown =
                self.istio_data(cluster, "ConfigMap", "istio-ca-root-cert", "root-cert.pem");
            let published = match (&shown, &want) {
                (Some(s), Some(w)) => s.contains(w.trim()),
                _ => false,
            };
            if published || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Replaces the `mesh` key of `cluster`'s meshfed-mesh-config (an edit by hand); returns the
    /// text it had.
    pub fn set_mesh_config(&self, cluster: &str, text: &str) -> String {
        let before = self
            .istio_data(cluster, "ConfigMap", "meshfed-mesh-config", "mesh")
            .expect("meshfed-mesh-config");
        let patch = json!({"data": {"mesh": text}});
        self.rt
            .block_on(self.configmaps(cluster).patch(
                "meshfed-mesh-config",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            ))
            .expect("edit meshfed-mesh-config");
        before
    }

    /// Sets the load-balancer address of cluster-b's east-west gateway Service.
    pub fn set_gateway_b_address(&self, ip: &str) {
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
        let services = self.api(B, ("", "v1", "Service"), "istio-system");
        self.rt
            .block_on(services.patch_status(
                "istio-eastwestgateway",
                &PatchParams::default(),
                &Patch::Merge(&status),
            ))
            .expect("set the gateway address");
    }

    pub fn delete_gateway_b(&self) {
        let services = self.api(B, ("", "v1", "Service"), "istio-system");
        self.rt
            .block_on(services.delete("istio-eastwestgateway", &DeleteParams::default()))
            .expect("delete the gateway Service");
    }

    /// Deletes ClusterRoleBinding `meshfed-status` (examples/rbac/status.yaml) in `cluster`.
    pub fn unbind_status_lists(&self, cluster: &str) {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
        ));
        let bindings: Api<DynamicObject> = Api::all_with(self.client(cluster), &ar);
        self.rt
            .block_on(bindings.delete("meshfed-status", &DeleteParams::default()))
            .expect("delete the ClusterRoleBinding");
    }

    /// Applies ClusterRoleBinding `meshfed-status` of examples/rbac/status.yaml again.
    pub fn bind_status_lists(&self, cluster: &str) {
        let doc = rbac::document("ClusterRoleBinding", None, "meshfed-status");
        self.rt.block_on(rbac::apply(&self.client(cluster), &doc));
    }

    pub fn recreate_gateway_b(&self) {
        let client = self.client(B);
        self.rt.block_on(self.gateway_b.create(&client));
    }
}

/// The example `check` block, unchanged.
pub fn example_check() -> String {
    CHECK.to_string()
}

/// The example `check` block with `line` added to the data source.
pub fn check_with(line: &str) -> String {
    let clusters = "    clusters = [\"cluster-a.local\", \"cluster-b.local\"]\n";
    assert!(CHECK.contains(clusters), "the example lists both clusters");
    CHECK.replacen(clusters, &format!("{clusters}    {line}\n"), 1)
}

/// The details of the failed checks of a plan (`plan -json`: diagnostics unwrapped), after
/// asserting the plan did not fail (exit 0 or 2: a failed check is a warning; a data source of a
/// check block is always planned to be read again at apply, so such a plan has a change).
pub fn failed_checks(dir: &TfDir) -> (TfOutput, Vec<String>) {
    let out = dir.run(&["plan", "-json", "-detailed-exitcode"]);
    assert!(
        out.code == 0 || out.code == 2,
        "{}: the plan failed instead of warning\n{out}",
        dir.cli()
    );
    let details = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "diagnostic")
        .filter(|v| {
            let summary = v["diagnostic"]["summary"].as_str().unwrap_or_default();
            summary.contains("Check block assertion failed")
        })
        .map(|v| {
            assert_eq!(v["diagnostic"]["severity"], "warning", "{}: {v}", dir.cli());
            v["diagnostic"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    (out, details)
}

/// The data source's state from `terraform show -json` of a directory that applied it at the
/// top level (`data.meshfed_federation_status.all`).
pub fn shown_status(dir: &TfDir) -> Value {
    let show = dir.run_ok(&["show", "-json", "-no-color"]);
    let state: Value = serde_json::from_str(&show.stdout).expect("show -json is JSON");
    let resources = state["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    resources
        .into_iter()
        .find(|r| r["address"] == "data.meshfed_federation_status.all")
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("no data.meshfed_federation_status.all in {}", show.stdout))
}

/// A top-level data source (so its values are in state) and an output of its problems.
pub const TOP_LEVEL: &str = r#"
data "meshfed_federation_status" "all" {
  clusters = ["cluster-a.local", "cluster-b.local"]
}

output "problems" {
  value = data.meshfed_federation_status.all.problems
}
"#;
