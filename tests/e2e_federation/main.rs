//! The seed federation end to end (`examples/federation`): two real control planes, real
//! Terraform and real OpenTofu. The example applies, a second plan is empty, the trust exchange
//! holds up in a real mutual TLS handshake, and destroy leaves neither cluster with any of
//! meshfed's objects; a port change touches only what it must. Needs real Terraform and OpenTofu
//! and real control planes (`scripts/setup`).
#[path = "../support/mod.rs"]
mod support;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use meshfed::cert::{issue_workload_cert, mtls_handshake};
use serde_json::json;
use support::controlplanes::{ControlPlanes, ensure_namespace};
use support::tf::{Cli, TfDir};

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";

/// The kinds meshfed writes.
const KINDS: [(&str, &str, &str); 6] = [
    ("", "v1", "Secret"),
    ("", "v1", "ConfigMap"),
    ("networking.istio.io", "v1", "Gateway"),
    ("networking.istio.io", "v1", "ServiceEntry"),
    ("networking.istio.io", "v1", "DestinationRule"),
    ("security.istio.io", "v1", "AuthorizationPolicy"),
];

struct Federation {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
}

impl Federation {
    /// Two planes with the seed's namespaces, services and east-west gateway Services.
    fn start() -> Federation {
        let planes = ControlPlanes::start(&[A, B]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let f = Federation { planes, rt };
        f.seed(A, "abc", "foo", "198.51.100.10");
        f.seed(B, "xyz", "bar", "198.51.100.20");
        f
    }

    fn client(&self, cluster: &str) -> kube::Client {
        self.rt.block_on(self.planes.client(cluster))
    }

    fn seed(&self, cluster: &str, ns: &str, svc: &str, gateway_ip: &str) {
        let c = self.client(cluster);
        let post = |api: Api<DynamicObject>, body: serde_json::Value| {
            self.rt
                .block_on(api.create(
                    &PostParams::default(),
                    &serde_json::from_value(body).expect("object"),
                ))
                .expect("create seed object");
        };
        let ar = |g: &str, v: &str, k: &str| ApiResource::from_gvk(&GroupVersionKind::gvk(g, v, k));
        self.rt.block_on(ensure_namespace(&c, ns));
        post(
            Api::namespaced_with(c.clone(), ns, &ar("", "v1", "Service")),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc}, "spec": {"selector": {"app": svc}, "ports": [{"name": "http", "port": 8080}]}}),
        );
        let services: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "istio-system", &ar("", "v1", "Service"));
        post(
            services.clone(),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "istio-eastwestgateway", "labels": {"istio": "eastwestgateway"}},
                   "spec": {"type": "LoadBalancer", "selector": {"istio": "eastwestgateway"}, "ports": [{"name": "tls", "port": 15443}]}}),
        );
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": gateway_ip}]}}});
        self.rt
            .block_on(services.patch_status(
                "istio-eastwestgateway",
                &PatchParams::default(),
                &Patch::Merge(status),
            ))
            .expect("gateway load-balancer status");
    }

    /// Every object labelled as meshfed's, as `Kind namespace/name`.
    fn meshfed_objects(&self, cluster: &str) -> Vec<String> {
        let c = self.client(cluster);
        let mut out = Vec::new();
        for (g, v, k) in KINDS {
            let api: Api<DynamicObject> = Api::all_with(
                c.clone(),
                &ApiResource::from_gvk(&GroupVersionKind::gvk(g, v, k)),
            );
            let list = self
                .rt
                .block_on(
                    api.list(&ListParams::default().labels("app.kubernetes.io/managed-by=meshfed")),
                )
                .expect("list");
            out.extend(list.into_iter().map(|o| {
                format!(
                    "{k} {}/{}",
                    o.metadata.namespace.unwrap_or_default(),
                    o.metadata.name.unwrap_or_default()
                )
            }));
        }
        out.sort();
        out
    }

    /// A cluster's CA as its `cacerts` Secret holds it, and the roots its objects list (its own
    /// root plus `meshfed-mesh-config`'s caCertificates).
    fn trust_material(&self, cluster: &str) -> (meshfed::cert::CaMaterial, Vec<String>) {
        use base64::Engine;
        let ar = |k: &str| ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", k));
        let secrets: Api<DynamicObject> =
            Api::namespaced_with(self.client(cluster), "istio-system", &ar("Secret"));
        let cms: Api<DynamicObject> =
            Api::namespaced_with(self.client(cluster), "istio-system", &ar("ConfigMap"));
        let s = serde_json::to_value(self.rt.block_on(secrets.get("cacerts")).expect("cacerts"))
            .expect("json");
        let field = |k: &str| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(s["data"][k].as_str().unwrap_or_default())
                    .expect("base64"),
            )
            .expect("utf8")
        };
        let material = meshfed::cert::CaMaterial {
            root_cert_pem: field("root-cert.pem"),
            intermediate_cert_pem: field("ca-cert.pem"),
            intermediate_key_pem: field("ca-key.pem"),
            cert_chain_pem: field("cert-chain.pem"),
        };
        let cm = serde_json::to_value(
            self.rt
                .block_on(cms.get("meshfed-mesh-config"))
                .expect("mesh config"),
        )
        .expect("json");
        let mesh: serde_json::Value =
            serde_saphyr::from_str(cm["data"]["mesh"].as_str().unwrap_or_default())
                .expect("mesh YAML");
        let mut roots = vec![material.root_cert_pem.clone()];
        roots.extend(
            mesh["caCertificates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["pem"].as_str().map(str::to_string)),
        );
        (material, roots)
    }

    fn dir(&self, cli: Cli) -> TfDir {
        let mut dir = TfDir::new(cli);
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/federation/main.tf"
        ))
        .expect("read the example");
        dir.write("main.tf", example);
        dir.env(
            "TF_VAR_kubeconfig",
            self.planes.provider_kubeconfig().display().to_string(),
        );
        dir
    }
}

/// Each cluster holds the objects of its side of the federation.
fn assert_each_side_applied(cli: Cli, f: &Federation) {
    let a = f.meshfed_objects(A);
    let b = f.meshfed_objects(B);
    for want in [
        "Secret istio-system/cacerts",
        "ConfigMap istio-system/cluster-b.local-ca-root-cert",
        "ConfigMap istio-system/meshfed-mesh-config",
        "ServiceEntry abc/bar-xyz-svc-cluster-b-local",
        "DestinationRule abc/bar-xyz-svc-cluster-b-local",
    ] {
        assert!(
            a.contains(&want.to_string()),
            "{cli}: {A} lacks {want}: {a:?}"
        );
    }
    for want in [
        "Secret istio-system/cacerts",
        "ConfigMap istio-system/cluster-a.local-ca-root-cert",
        "AuthorizationPolicy xyz/meshfed-export-bar",
    ] {
        assert!(
            b.contains(&want.to_string()),
            "{cli}: {B} lacks {want}: {b:?}"
        );
    }
    assert!(
        b.iter()
            .any(|o| o.starts_with("Gateway istio-system/meshfed-export-xyz-bar")),
        "{cli}: {B} has bar's Gateway: {b:?}"
    );
}

/// cluster-a's ServiceEntry for bar, as the API server holds it.
fn bar_entry_in_a(f: &Federation) -> serde_json::Value {
    let kind = GroupVersionKind::gvk("networking.istio.io", "v1", "ServiceEntry");
    let api: Api<DynamicObject> =
        Api::namespaced_with(f.client(A), "abc", &ApiResource::from_gvk(&kind));
    let se = f.rt.block_on(api.get("bar-xyz-svc-cluster-b-local"));
    serde_json::to_value(se.expect("ServiceEntry")).expect("json")
}

/// cluster-a's ServiceEntry points at cluster-b's gateway address from its Service.
fn assert_bar_entry_points_at_b(cli: Cli, f: &Federation) {
    let se = bar_entry_in_a(f);
    assert_eq!(
        se["spec"]["endpoints"][0]["address"], "198.51.100.20",
        "{cli}: {se}"
    );
    assert_eq!(
        se["spec"]["subjectAltNames"],
        json!(["spiffe://cluster-b.local/ns/xyz/sa/bar"]),
        "{cli}"
    );
}

/// The mTLS proof, as the demo runs it: workload certificates from each cluster's intermediate,
/// each side trusting only the roots its own cluster lists.
fn assert_foo_and_bar_complete_mtls(cli: Cli, f: &Federation) {
    let (a_ca, a_roots) = f.trust_material(A);
    let (b_ca, b_roots) = f.trust_material(B);
    let now = meshfed::cert::now();
    let foo_cert = issue_workload_cert(
        a_ca.issuing(),
        "spiffe://cluster-a.local/ns/abc/sa/foo",
        now,
    )
    .expect("foo's certificate");
    let bar_cert = issue_workload_cert(
        b_ca.issuing(),
        "spiffe://cluster-b.local/ns/xyz/sa/bar",
        now,
    )
    .expect("bar's certificate");
    let auth = mtls_handshake(&foo_cert, &a_roots, &bar_cert, &b_roots)
        .unwrap_or_else(|e| panic!("{cli}: mTLS between foo and bar: {e}"));
    assert_eq!(
        auth.server_id, "spiffe://cluster-b.local/ns/xyz/sa/bar",
        "{cli}"
    );
    assert_eq!(
        auth.client_id, "spiffe://cluster-a.local/ns/abc/sa/foo",
        "{cli}"
    );
}

#[test]
fn the_federation_example_applies_plans_empty_and_destroys_cleanly_with_both_clis() {
    for cli in Cli::both() {
        let f = Federation::start();
        let dir = f.dir(cli);
        let apply = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(
            apply.stdout.contains("5 added, 0 changed, 0 destroyed"),
            "{cli}: {apply}"
        );
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
        assert_each_side_applied(cli, &f);
        assert_bar_entry_points_at_b(cli, &f);
        assert_foo_and_bar_complete_mtls(cli, &f);

        let destroy = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(destroy.stdout.contains("5 destroyed"), "{cli}: {destroy}");
        assert_eq!(
            f.meshfed_objects(A),
            Vec::<String>::new(),
            "{cli}: {A} keeps meshfed objects"
        );
        assert_eq!(
            f.meshfed_objects(B),
            Vec::<String>::new(),
            "{cli}: {B} keeps meshfed objects"
        );
    }
}

#[test]
fn changing_bars_exported_port_changes_only_cluster_as_service_entry_and_the_gateway_side() {
    let f = Federation::start();
    let dir = f.dir(Cli::Terraform);
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let example = dir.read("main.tf");
    dir.write(
        "main.tf",
        example.replacen(
            r#"ports              = [{ name = "http", number = 8080, protocol = "HTTP" }]"#,
            r#"ports              = [{ name = "http", number = 9080, protocol = "HTTP" }]"#,
            1,
        ),
    );
    let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
    assert!(
        plan.stdout
            .contains("meshfed_service_entry.bar will be updated in-place"),
        "{plan}"
    );
    assert!(
        !plan.stdout.contains("meshfed_trust.fed will be updated"),
        "trust untouched\n{plan}"
    );
    assert!(
        !plan
            .stdout
            .contains("meshfed_service_entry.foo will be updated"),
        "foo untouched\n{plan}"
    );
    let apply = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        apply.stdout.contains("0 added") && apply.stdout.contains("0 destroyed"),
        "{apply}"
    );
    let se = bar_entry_in_a(&f);
    assert_eq!(se["spec"]["ports"][0]["number"], 9080);
    dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
}
