//! The fixture of the floor tests (and of `e2e_identity`): control planes with the scenario's
//! namespaces (`abc` in cluster-a, `xyz` in cluster-b), the provider configuration naming each plane, readers of the
//! objects meshfed writes, and the CLI steps every lifecycle takes. Needs real control planes;
//! its working directories run the floor CLIs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::support::controlplanes::{ControlPlanes, ensure_namespace};
use crate::support::tf::{Cli, TfDir, TfOutput};

pub const A: &str = "cluster-a.local";
pub const B: &str = "cluster-b.local";
pub const NS: &str = "istio-system";

/// One Kubernetes object meshfed writes: where it is and what it is.
#[derive(Clone, Debug)]
pub struct Object {
    pub cluster: &'static str,
    /// `""` for the core group.
    pub group: &'static str,
    pub kind: &'static str,
    pub namespace: &'static str,
    pub name: String,
}

impl Object {
    pub fn new(
        cluster: &'static str,
        group: &'static str,
        kind: &'static str,
        namespace: &'static str,
        name: &str,
    ) -> Object {
        Object {
            cluster,
            group,
            kind,
            namespace,
            name: name.to_string(),
        }
    }

    /// Its key in the `manifests` map: `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.
    pub fn manifest_key(&self) -> String {
        let api_version = match self.group {
            "" => "v1".to_string(),
            group => format!("{group}/v1"),
        };
        format!(
            "{}/{api_version}/{}/{}/{}",
            self.cluster, self.kind, self.namespace, self.name
        )
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}/{}",
            self.cluster, self.kind, self.namespace, self.name
        )
    }
}

/// The control planes of one test, with a client for each.
pub struct Planes {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
    clients: BTreeMap<String, kube::Client>,
}

impl Planes {
    /// Starts one control plane per name, with namespace `abc` in cluster-a and `xyz` in
    /// cluster-b (where started).
    pub fn start(names: &[&str]) -> Planes {
        let planes = ControlPlanes::start(names);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let clients: BTreeMap<String, kube::Client> = names
            .iter()
            .map(|n| (n.to_string(), rt.block_on(planes.client(n))))
            .collect();
        for (name, ns) in [(A, "abc"), (B, "xyz")] {
            let Some(client) = clients.get(name) else {
                continue;
            };
            rt.block_on(ensure_namespace(client, ns));
        }
        Planes {
            planes,
            rt,
            clients,
        }
    }

    /// The `terraform` and `provider` blocks: one `cluster` per control plane.
    pub fn provider(&self) -> String {
        let mut s = String::from(
            "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
        );
        for n in self.planes.names() {
            let _ = write!(
                s,
                "  cluster \"{n}\" {{\n    kubeconfig = \"{}\"\n    context    = \"{}\"\n  }}\n",
                self.planes.provider_kubeconfig().display(),
                self.planes.context(n)
            );
        }
        s.push_str("}\n");
        s
    }

    /// A fresh working directory with the provider configuration and `main`.
    pub fn dir(&self, cli: Cli, main: &str) -> TfDir {
        let dir = TfDir::new(cli);
        dir.write("provider.tf", self.provider());
        dir.write("main.tf", main);
        dir
    }

    /// Creates Secret `namespace/name` in `cluster` with `data` (plain text values), as the
    /// operator would, with the admin credentials.
    pub fn create_secret(&self, cluster: &str, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let client = self.clients.get(cluster).expect("a plane").clone();
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, namespace);
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let body = serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": namespace}, "stringData": data}),
        )
        .expect("a Secret");
        self.rt
            .block_on(api.create(&PostParams::default(), &body))
            .unwrap_or_else(|e| panic!("create Secret {namespace}/{name} in {cluster}: {e}"));
    }

    /// The object as the API server serves it, if it exists.
    pub fn get(&self, o: &Object) -> Option<Value> {
        let client = self
            .clients
            .get(o.cluster)
            .unwrap_or_else(|| panic!("no control plane {}", o.cluster))
            .clone();
        let gvk = GroupVersionKind::gvk(o.group, "v1", o.kind);
        let api: Api<DynamicObject> =
            Api::namespaced_with(client, o.namespace, &ApiResource::from_gvk(&gvk));
        self.rt
            .block_on(api.get_opt(&o.name))
            .unwrap_or_else(|e| panic!("get {o}: {e}"))
            .map(|obj| serde_json::to_value(obj).expect("object JSON"))
    }
}

/// Provider configuration for plans that must not reach any cluster: nothing listens there.
pub fn unreachable_provider() -> String {
    let mut s = String::from(
        "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
    );
    for n in [A, B] {
        let _ = write!(
            s,
            "  cluster \"{n}\" {{\n    host     = \"https://127.0.0.1:9\"\n    token    = \"unused\"\n    insecure = true\n  }}\n"
        );
    }
    s.push_str("}\n");
    s
}

/// `apply -auto-approve`, which must succeed.
pub fn apply(dir: &TfDir) -> TfOutput {
    dir.run_ok(&["apply", "-auto-approve", "-no-color"])
}

/// `plan -detailed-exitcode`, which must exit 0: nothing to change.
pub fn assert_plan_empty(cli: Cli, dir: &TfDir, after: &str) {
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.code, 0,
        "{cli}: the plan after {after} is empty\n{plan}"
    );
}

/// The `import` command (not an `import` block: Terraform 1.0 has none), which must succeed.
pub fn import(cli: Cli, dir: &TfDir, address: &str, id: &str) {
    let out = dir.run_ok(&["import", "-no-color", address, id]);
    assert!(
        out.stdout.contains("Import successful"),
        "{cli}: import {address} {id}\n{out}"
    );
}

/// `destroy -auto-approve`, which must succeed and report `count` resources destroyed.
pub fn destroy(cli: Cli, dir: &TfDir, count: usize) {
    let out = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(
        out.stdout
            .contains(&format!("Destroy complete! Resources: {count} destroyed.")),
        "{cli}: destroy\n{out}"
    );
}

/// The state values of resource `address`, read with `show -json` (Terraform 0.12, OpenTofu 1.6).
pub fn values(dir: &TfDir, address: &str) -> Value {
    let out = dir.run_ok(&["show", "-json"]);
    let state: Value = serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"));
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == address))
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("{address} not in state\n{out}"))
}

/// Panics unless every object exists, labelled as meshfed's and applied by meshfed alone
/// (server-side apply under its field manager).
pub fn assert_written_by_meshfed(cli: Cli, p: &Planes, objects: &[Object]) {
    for o in objects {
        let obj = p
            .get(o)
            .unwrap_or_else(|| panic!("{cli}: {o} was not written"));
        assert_eq!(
            obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "meshfed",
            "{cli}: {o} is labelled\n{obj}"
        );
        let managers: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert_eq!(managers, ["meshfed"], "{cli}: {o} applied by meshfed");
    }
}

/// Panics unless none of the objects exists.
pub fn assert_gone(cli: Cli, p: &Planes, objects: &[Object], after: &str) {
    let left: Vec<String> = objects
        .iter()
        .filter(|o| p.get(o).is_some())
        .map(|o| o.to_string())
        .collect();
    assert!(left.is_empty(), "{cli}: left after {after}: {left:?}");
}
