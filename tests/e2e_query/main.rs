//! `terraform query` (Terraform ≥ 1.14) with the newest Terraform against real kube-apiservers:
//! the registry examples' `list` blocks (`examples/list-resources/`) find the federation meshfed
//! manages (trust, export, service entry) and a service entry made by hand the way Istio's guides
//! make one; a hand-made `AUTO_PASSTHROUGH` Gateway is reported, not listed.
//! `terraform query -generate-config-out` writes configuration and `import` blocks; applying them
//! imports every object found, and the plan after that is empty. OpenTofu has no `query`: every
//! other suite runs it against this provider, whose schema now carries list resources. Runs the
//! provider with least privilege plus `examples/rbac/query.yaml`. Needs real Terraform and real
//! control planes.

#[path = "../support/mod.rs"]
mod support;

use std::fmt::Write as _;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use support::controlplanes::{ControlPlanes, ensure_namespace};
use support::tf::{Cli, TfDir};

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";

struct Planes {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
}

impl Planes {
    fn start() -> Planes {
        let planes = ControlPlanes::start(&[A, B]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        for (cluster, ns) in [(A, "abc"), (B, "xyz")] {
            let client = rt.block_on(planes.client(cluster));
            rt.block_on(ensure_namespace(&client, ns));
        }
        Planes { planes, rt }
    }

    /// The `terraform` and `provider` blocks, with meshfed's ServiceAccount.
    fn provider(&self) -> String {
        let mut s = String::from(
            "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
        );
        for n in [A, B] {
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

    /// Networking object `kind` `ns/name` in `cluster`, which must exist.
    fn get(&self, cluster: &str, kind: &str, ns: &str, name: &str) -> Value {
        let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", kind);
        let client = self.rt.block_on(self.planes.client(cluster));
        let api: Api<DynamicObject> =
            Api::namespaced_with(client, ns, &ApiResource::from_gvk(&gvk));
        let object = self.rt.block_on(api.get(name));
        let object = object.unwrap_or_else(|e| panic!("get {kind} {ns}/{name} in {cluster}: {e}"));
        serde_json::to_value(object).expect("object JSON")
    }

    /// Creates `object` in `cluster` as an operator would by hand (admin, another field manager).
    fn create_by_hand(&self, cluster: &str, object: Value) {
        let (group, version) = object["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .expect("group/version");
        let kind = object["kind"].as_str().expect("kind");
        let ns = object["metadata"]["namespace"].as_str().expect("namespace");
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let client = self.rt.block_on(self.planes.client(cluster));
        let api: Api<DynamicObject> = Api::namespaced_with(client, ns, &resource);
        let params = PatchParams::apply("kubectl");
        self.rt
            .block_on(api.patch(&name, &params, &Patch::Apply(&object)))
            .unwrap_or_else(|e| panic!("create {kind} {ns}/{name} in {cluster}: {e}"));
    }
}

/// `examples/<path>`.
fn example(path: &str) -> String {
    let file = format!("{}/examples/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"))
}

/// The federation meshfed manages: trust, the export of bar in cluster-b, its import into
/// cluster-a (the registry examples).
fn managed() -> String {
    [
        "meshfed_trust",
        "meshfed_exported_service",
        "meshfed_service_entry",
    ]
    .map(|r| example(&format!("resources/{r}/resource.tf")))
    .join("\n")
}

/// What an operator set up by hand, following Istio's multi-network guides: in cluster-a an
/// entry for baz behind cluster-b's gateway with an `ISTIO_MUTUAL` rule; in cluster-b a gateway
/// passing every `.local` host through.
fn by_hand(p: &Planes) {
    p.create_by_hand(
        A,
        json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "baz-by-hand", "namespace": "abc"},
               "spec": {"hosts": ["baz.xyz.svc.cluster-b.local"], "location": "MESH_INTERNAL",
                        "resolution": "STATIC",
                        "ports": [{"name": "http", "number": 9090, "protocol": "HTTP"}],
                        "endpoints": [{"address": "198.51.100.20", "ports": {"http": 15443},
                                       "labels": {"security.istio.io/tlsMode": "istio"}}],
                        "subjectAltNames": ["spiffe://cluster-b.local/ns/xyz/sa/baz"]}}),
    );
    p.create_by_hand(
        A,
        json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
               "metadata": {"name": "baz-by-hand", "namespace": "abc"},
               "spec": {"host": "baz.xyz.svc.cluster-b.local",
                        "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}}),
    );
    p.create_by_hand(
        B,
        json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
               "metadata": {"name": "cross-network-gateway", "namespace": "istio-system"},
               "spec": {"selector": {"istio": "eastwestgateway"},
                        "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                                     "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]}}),
    );
}

#[test]
fn query_finds_the_federation_and_generated_configuration_imports_it_and_plans_empty() {
    let p = Planes::start();
    let cli = Cli::Terraform;
    let owner = TfDir::new(cli);
    owner.write("provider.tf", p.provider());
    owner.write("main.tf", managed());
    owner.run_ok(&["apply", "-auto-approve", "-no-color"]);
    by_hand(&p);

    let dir = TfDir::new(cli);
    dir.write("provider.tf", p.provider());
    for r in [
        "meshfed_trust",
        "meshfed_exported_service",
        "meshfed_service_entry",
    ] {
        let list = example(&format!("list-resources/{r}/list-resource.tfquery.hcl"));
        dir.write(format!("{r}.tfquery.hcl"), list);
    }
    let out = dir.run_ok(&["query", "-no-color", "-generate-config-out=generated.tf"]);
    let text = out.combined();
    for found in [
        "members=[cluster-a.local,cluster-b.local]",
        "abc/bar-xyz-svc-cluster-b-local: bar.xyz.svc.cluster-b.local (managed by meshfed)",
        "abc/baz-by-hand: baz.xyz.svc.cluster-b.local (made by hand)",
        "xyz/bar (managed by meshfed)",
        "Warning: Hand-made AUTO_PASSTHROUGH Gateway found",
        "Gateway istio-system/cross-network-gateway in cluster-b.local passes through",
    ] {
        assert!(text.contains(found), "query output lacks {found:?}\n{out}");
    }
    let generated = dir.read("generated.tf");
    assert_eq!(generated.matches("import {").count(), 4, "{generated}");
    assert!(!generated.contains("export ="), "{generated}");

    let applied = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    // The hand-made entry is adopted: meshfed writes it once with its label (and the exportTo
    // Istio applied by default, now explicit); meshfed's own objects import unchanged.
    assert!(
        applied
            .stdout
            .contains("4 imported, 0 added, 1 changed, 0 destroyed"),
        "the generated configuration imports all four\n{applied}"
    );
    assert!(
        applied
            .stdout
            .contains("meshfed_service_entry.into_cluster_a_1 will be updated in-place"),
        "{applied}"
    );
    let adopted = p.get(A, "ServiceEntry", "abc", "baz-by-hand");
    assert_eq!(
        adopted["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "meshfed"
    );
    assert_eq!(adopted["spec"]["exportTo"], json!(["*"]), "{adopted}");
    assert_eq!(
        adopted["spec"]["hosts"],
        json!(["baz.xyz.svc.cluster-b.local"])
    );
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "the plan after importing is empty\n{plan}");
}
