//! The fixture of the `meshfed_exported_service` end-to-end tests: control planes with the
//! namespaces of the scenario, the gateway Service (whose load-balancer status the tests write,
//! as no controller runs), the configurations under test, and state helpers. Needs real control
//! planes; its working directories run real Terraform and OpenTofu.

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::support::controlplanes::{ControlPlanes, ensure_namespace};
use crate::support::tf::{Cli, TfDir};

pub const A: &str = "cluster-a.local";
pub const B: &str = "cluster-b.local";
pub const GATEWAY: &str = "meshfed-export-xyz-bar";
pub const LOCAL: &str = "meshfed-export-bar";
pub const GATEWAY_KEY: &str =
    "cluster-b.local/networking.istio.io/v1/Gateway/istio-system/meshfed-export-xyz-bar";
pub const POLICY_KEY: &str =
    "cluster-b.local/security.istio.io/v1/AuthorizationPolicy/xyz/meshfed-export-bar";
pub const SE_NAME: &str = "bar-xyz-svc-cluster-b-local";

fn istio(group: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind))
}

/// Control planes with namespace `xyz` in cluster-b and `abc` in cluster-a.
pub struct Planes {
    pub planes: ControlPlanes,
    pub rt: tokio::runtime::Runtime,
}

impl Planes {
    pub fn start(names: &[&str]) -> Planes {
        let planes = ControlPlanes::start(names);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let p = Planes { planes, rt };
        for name in names {
            let ns = if *name == B { "xyz" } else { "abc" };
            p.rt.block_on(ensure_namespace(&p.client(name), ns));
        }
        p
    }

    pub fn client(&self, name: &str) -> kube::Client {
        self.rt.block_on(self.planes.client(name))
    }

    pub fn api(&self, cluster: &str, group: &str, kind: &str, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client(cluster), ns, &istio(group, kind))
    }

    pub fn get(
        &self,
        cluster: &str,
        group: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        self.rt
            .block_on(self.api(cluster, group, kind, ns).get_opt(name))
            .expect("get object")
            .map(|o| serde_json::to_value(o).expect("object JSON"))
    }

    pub fn gateway(&self) -> Option<Value> {
        self.get(B, "networking.istio.io", "Gateway", "istio-system", GATEWAY)
    }

    pub fn policy(&self) -> Option<Value> {
        self.get(B, "security.istio.io", "AuthorizationPolicy", "xyz", LOCAL)
    }

    pub fn alias_entry(&self) -> Option<Value> {
        self.get(B, "networking.istio.io", "ServiceEntry", "xyz", LOCAL)
    }

    pub fn gateway_services(&self) -> Api<Service> {
        Api::namespaced(self.client(B), "istio-system")
    }

    /// The east-west gateway's Service, type LoadBalancer, with no address yet.
    pub fn create_gateway_service(&self) {
        let svc = json!({
            "metadata": {"name": "istio-eastwestgateway"},
            "spec": {"type": "LoadBalancer", "selector": {"istio": "eastwestgateway"},
                     "ports": [{"name": "tls", "port": 15443, "targetPort": 15443}]},
        });
        let svc: Service = serde_json::from_value(svc).expect("Service");
        self.rt
            .block_on(self.gateway_services().create(&PostParams::default(), &svc))
            .expect("create the gateway Service");
    }

    /// Writes the Service's `status.loadBalancer.ingress`, as a cloud controller would.
    pub fn set_load_balancer(&self, ingress: Value) {
        let status = json!({"status": {"loadBalancer": {"ingress": ingress}}});
        self.rt
            .block_on(self.gateway_services().patch_status(
                "istio-eastwestgateway",
                &PatchParams::default(),
                &Patch::Merge(status),
            ))
            .expect("write the load-balancer status");
    }

    pub fn provider(&self) -> String {
        let mut blocks = String::new();
        for name in self.planes.names() {
            blocks.push_str(&format!(
                "  cluster \"{name}\" {{\n    kubeconfig = \"{}\"\n    context    = \"{}\"\n  }}\n",
                self.planes.provider_kubeconfig().display(),
                self.planes.context(name)
            ));
        }
        format!(
            "terraform {{\n  required_providers {{\n    meshfed = {{ source = \"meshfed/meshfed\" }}\n  }}\n}}\nprovider \"meshfed\" {{\n{blocks}}}\n"
        )
    }

    pub fn dir(&self, cli: Cli, main: &str) -> TfDir {
        let dir = TfDir::new(cli);
        dir.write("provider.tf", self.provider());
        dir.write("main.tf", main);
        dir
    }
}

pub fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/resources/meshfed_exported_service/resource.tf"
    ))
    .expect("read the example")
}

/// bar without gateway addresses: they come from the gateway Service.
pub const FROM_SERVICE: &str = r#"
resource "meshfed_exported_service" "bar" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports     = [{ name = "http", number = 8080, protocol = "HTTP" }]
}
"#;

/// Every optional input set.
pub const FULL: &str = r#"
resource "meshfed_exported_service" "bar" {
  cluster         = "cluster-b.local"
  namespace       = "xyz"
  service         = "bar"
  service_account = "bar-sa"
  ports = [
    { name = "http", number = 8080, protocol = "HTTP" },
    { name = "grpc", number = 9090, protocol = "GRPC" },
  ]
  gateway = {
    addresses = ["198.51.100.20", "gw.b.example.com"]
    port      = 15443
  }
  alias              = "bar.global"
  allowed_principals = ["cluster-a.local/ns/abc/sa/foo"]
  workload_selector  = { "app.kubernetes.io/name" = "bar" }
}
"#;

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

pub fn plan_is_empty(dir: &TfDir) {
    dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
}
/// bar exported from cluster-b (addresses from its gateway Service), imported into cluster-a.
pub const FEDERATION: &str = r#"
resource "meshfed_exported_service" "bar" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports     = [{ name = "http", number = 8080, protocol = "HTTP" }]
}

resource "meshfed_service_entry" "bar" {
  cluster   = "cluster-a.local"
  namespace = "abc"
  export    = meshfed_exported_service.bar.export
}
"#;

pub fn resource_version(obj: &Value) -> String {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}
