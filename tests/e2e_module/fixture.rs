//! The fixture of the module tests: control planes seeded as a platform team's clusters would be
//! (the application namespaces, and an east-west gateway Service with a load-balancer address
//! where a test asks for one), the tests' own admin reads of what meshfed wrote, the provider
//! block for a set of clusters (meshfed's least-privilege ServiceAccount, `examples/rbac/`), and
//! what a plan says it will change (`show -json` of a saved plan). Needs real control planes; its
//! working directories run real Terraform and OpenTofu.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value as Json, json};

use crate::support::controlplanes::{ControlPlanes, ensure_namespace};
use crate::support::tf::{PROVIDER_BIN, TfDir, TfOutput, provider_dir};
use crate::{CONSUMER_NS, SERVICE_NS};

/// The kinds meshfed writes.
const KINDS: [(&str, &str, &str); 6] = [
    ("", "v1", "Secret"),
    ("", "v1", "ConfigMap"),
    ("networking.istio.io", "v1", "Gateway"),
    ("networking.istio.io", "v1", "ServiceEntry"),
    ("networking.istio.io", "v1", "DestinationRule"),
    ("security.istio.io", "v1", "AuthorizationPolicy"),
];

fn resource(group: &str, version: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

/// Control planes with an admin client each.
pub struct Fleet {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
    clients: BTreeMap<String, kube::Client>,
}

impl Fleet {
    /// One plane per name, each with the namespaces of the tests' services and consumers.
    pub fn start(names: &[&str]) -> Fleet {
        let planes = ControlPlanes::start(names);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let clients: BTreeMap<String, kube::Client> = names
            .iter()
            .map(|n| (n.to_string(), rt.block_on(planes.client(n))))
            .collect();
        for client in clients.values() {
            for ns in [SERVICE_NS, CONSUMER_NS] {
                rt.block_on(ensure_namespace(client, ns));
            }
        }
        Fleet {
            planes,
            rt,
            clients,
        }
    }

    fn client(&self, cluster: &str) -> kube::Client {
        self.clients
            .get(cluster)
            .unwrap_or_else(|| panic!("no control plane {cluster}"))
            .clone()
    }

    /// The kubeconfig of meshfed's ServiceAccount, one context per cluster named after it.
    pub fn provider_kubeconfig(&self) -> String {
        self.planes.provider_kubeconfig().display().to_string()
    }

    /// An east-west gateway Service (`istio-system/istio-eastwestgateway`, type LoadBalancer)
    /// whose load-balancer status holds `ip`, as a cloud's controller would have set it.
    pub fn gateway_service(&self, cluster: &str, ip: &str) {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client(cluster),
            "istio-system",
            &resource("", "v1", "Service"),
        );
        let body = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "istio-eastwestgateway", "labels": {"istio": "eastwestgateway"}},
            "spec": {"type": "LoadBalancer", "selector": {"istio": "eastwestgateway"},
                     "ports": [{"name": "tls", "port": 15443}]},
        });
        let params = PatchParams::apply("meshfed-tests");
        let name = "istio-eastwestgateway";
        self.rt
            .block_on(api.patch(name, &params, &Patch::Apply(body)))
            .unwrap_or_else(|e| panic!("gateway Service in {cluster}: {e}"));
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
        self.rt
            .block_on(api.patch_status(name, &PatchParams::default(), &Patch::Merge(status)))
            .unwrap_or_else(|e| panic!("gateway load-balancer status in {cluster}: {e}"));
    }

    /// Every object labelled as meshfed's in `cluster`, as `Kind namespace/name`, sorted.
    pub fn meshfed_objects(&self, cluster: &str) -> Vec<String> {
        let client = self.client(cluster);
        let params = ListParams::default().labels("app.kubernetes.io/managed-by=meshfed");
        let mut out = Vec::new();
        for (g, v, k) in KINDS {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource(g, v, k));
            let list = self
                .rt
                .block_on(api.list(&params))
                .unwrap_or_else(|e| panic!("listing {k}s in {cluster}: {e}"));
            out.extend(list.into_iter().map(|o| {
                let ns = o.metadata.namespace.unwrap_or_default();
                format!("{k} {ns}/{}", o.metadata.name.unwrap_or_default())
            }));
        }
        out.sort();
        out
    }

    /// A ServiceEntry as the API server holds it, if it exists.
    pub fn service_entry(&self, cluster: &str, namespace: &str, name: &str) -> Option<Json> {
        let kind = resource("networking.istio.io", "v1", "ServiceEntry");
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(cluster), namespace, &kind);
        let got = self.rt.block_on(api.get_opt(name)).unwrap_or_else(|e| {
            panic!("reading ServiceEntry {namespace}/{name} in {cluster}: {e}")
        });
        got.map(|o| serde_json::to_value(o).expect("a ServiceEntry as JSON"))
    }

    /// The trust domains `cluster` trusts besides its own: those of `meshfed-mesh-config`'s
    /// `caCertificates`, sorted.
    pub fn trusted_domains(&self, cluster: &str) -> Vec<String> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client(cluster),
            "istio-system",
            &resource("", "v1", "ConfigMap"),
        );
        let cm = self
            .rt
            .block_on(api.get("meshfed-mesh-config"))
            .unwrap_or_else(|e| panic!("meshfed-mesh-config in {cluster}: {e}"));
        let text = cm.data["data"]["mesh"].as_str().unwrap_or_default();
        let mesh: Json = serde_saphyr::from_str(text).expect("the mesh config is YAML");
        let mut domains: Vec<String> = mesh["caCertificates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["trustDomains"].as_array().cloned().unwrap_or_default())
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect();
        domains.sort();
        domains
    }
}

/// The `terraform` and `provider` blocks for `clusters`: each reached through meshfed's
/// ServiceAccount's kubeconfig (`kubeconfig`), context named after the cluster.
pub fn provider(kubeconfig: &str, clusters: &[&str]) -> String {
    let mut s = String::from(
        "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
    );
    for c in clusters {
        let _ = write!(
            s,
            "  cluster \"{c}\" {{\n    kubeconfig = \"{kubeconfig}\"\n    context    = \"{c}\"\n  }}\n"
        );
    }
    s.push_str("}\n");
    s
}

/// `show -json` of a file or of the state, parsed.
pub fn show_json(dir: &TfDir, file: Option<&str>) -> Json {
    let mut args = vec!["show", "-json", "-no-color"];
    args.extend(file);
    let out = dir.run_ok(&args);
    serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"))
}

/// What the saved plan `file` changes: each resource instance's address with its actions
/// (`create`, `update`, `delete`, ...), leaving out those it leaves as they are (`no-op`).
pub fn planned_changes(dir: &TfDir, file: &str) -> BTreeMap<String, Vec<String>> {
    let plan = show_json(dir, Some(file));
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rc| {
            let actions: Vec<String> = rc["change"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            let address = rc["address"].as_str().expect("an address").to_string();
            (actions != ["no-op"]).then_some((address, actions))
        })
        .collect()
}

/// The root module's outputs after apply (`output -json`): name → value.
pub fn outputs(dir: &TfDir) -> BTreeMap<String, Json> {
    let out = dir.run_ok(&["output", "-json", "-no-color"]);
    let all: BTreeMap<String, Json> = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("output -json: {e}\n{out}"));
    all.into_iter()
        .map(|(k, v)| (k, v["value"].clone()))
        .collect()
}

/// Runs `init` in `dir`, which a configuration calling a module (or naming a backend) needs.
/// OpenTofu's `init` looks for every provider, overridden or not, so the CLI configuration gets,
/// besides the `dev_overrides` that serve this build, a filesystem mirror (unpacked layout)
/// holding this build for both registries' addresses of `meshfed/meshfed`.
pub fn init(dir: &TfDir) -> TfOutput {
    let root = dir
        .config_file()
        .parent()
        .expect("the CLI configuration's directory");
    let mirror = root.join("mirror");
    let version = env!("CARGO_PKG_VERSION");
    for host in ["registry.terraform.io", "registry.opentofu.org"] {
        let platform = mirror.join(format!("{host}/meshfed/meshfed/{version}/linux_amd64"));
        std::fs::create_dir_all(&platform).expect("create the mirror");
        let link = platform.join("terraform-provider-meshfed");
        if !link.exists() {
            std::os::unix::fs::symlink(PROVIDER_BIN, &link)
                .expect("link the provider into the mirror");
        }
    }
    let addresses =
        "[\"registry.terraform.io/meshfed/meshfed\", \"registry.opentofu.org/meshfed/meshfed\"]";
    let config = format!(
        "provider_installation {{\n  dev_overrides {{\n    \"meshfed/meshfed\" = \"{}\"\n  }}\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = {addresses}\n  }}\n  direct {{\n    exclude = {addresses}\n  }}\n}}\n",
        provider_dir().display(),
        mirror.display(),
    );
    std::fs::write(dir.config_file(), config).expect("write the CLI configuration");
    dir.run_ok(&["init", "-no-color"])
}
