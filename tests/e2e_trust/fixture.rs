//! The fixture of the `meshfed_trust` end-to-end tests: control planes with a client for each,
//! the provider configuration naming every plane, readers of what meshfed wrote (the `cacerts`
//! Secret, root ConfigMaps, the mesh config and the roots a cluster's workloads trust), workload
//! certificates issued as that cluster's istiod would, and the configurations under test. Needs
//! real control planes; its working directories run real Terraform and OpenTofu.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use meshfed::cert::{self, CaMaterial, CaRequest, IssuingCa, WorkloadCert};
use serde_json::{Value as Json, json};

use crate::support::controlplanes::ControlPlanes;
use crate::support::latency::LatencyProxy;
use crate::support::refusal::MARK;
use crate::support::tf::{Cli, TfDir};
use crate::{A, B, CACERTS, MESH_CONFIG, NS, root_cm};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The control planes of one test, with a client for each.
pub struct Planes {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
    clients: BTreeMap<String, kube::Client>,
}

impl Planes {
    pub fn start(names: &[&str]) -> Planes {
        let planes = ControlPlanes::start(names);
        let rt = rt();
        let clients = names
            .iter()
            .map(|n| (n.to_string(), rt.block_on(planes.client(n))))
            .collect();
        Planes {
            planes,
            rt,
            clients,
        }
    }

    pub fn client(&self, cluster: &str) -> kube::Client {
        self.clients
            .get(cluster)
            .unwrap_or_else(|| panic!("no control plane {cluster}"))
            .clone()
    }

    /// Replaces an RBAC object (a document of `examples/rbac/`, possibly changed) in `cluster`,
    /// as the admin.
    pub fn apply_rbac(&self, cluster: &str, doc: &Json) {
        let admin = self.client(cluster);
        self.rt.block_on(crate::support::rbac::apply(&admin, doc));
    }

    /// The `terraform` and `provider` blocks (meshfed's ServiceAccount, as `examples/rbac/`
    /// binds it): one `cluster` per control plane.
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

    /// The `terraform` and `provider` blocks reaching each plane (or only the one named by
    /// `only`) through a [`LatencyProxy`] adding `one_way` in each direction, the others
    /// directly. The proxies, in the order of the planes, live as long as the returned value;
    /// dropping one makes its cluster unreachable.
    pub fn provider_via_proxies(
        &self,
        one_way: Duration,
        only: Option<&str>,
    ) -> (String, Vec<LatencyProxy>) {
        self.provider_with_latency(|n| only.is_none_or(|o| o == n).then_some(one_way))
    }

    /// Like [`Self::provider_via_proxies`], each plane `n` through a proxy adding
    /// `one_way_of(n)` in each direction (`None`: directly).
    pub fn provider_with_latency(
        &self,
        one_way_of: impl Fn(&str) -> Option<Duration>,
    ) -> (String, Vec<LatencyProxy>) {
        let mut s = String::from(
            "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
        );
        let mut proxies = Vec::new();
        for n in self.planes.names() {
            let direct = self.planes.direct(n);
            let Some(one_way) = one_way_of(n) else {
                s.push_str(&direct.cluster_block(n, None));
                continue;
            };
            let proxy = LatencyProxy::start(direct.addr(), one_way);
            s.push_str(&direct.cluster_block(n, Some(proxy.addr())));
            proxies.push(proxy);
        }
        s.push_str("}\n");
        (s, proxies)
    }

    /// A working directory with the provider configuration and `main`.
    pub fn dir(&self, cli: Cli, main: &str) -> TfDir {
        let dir = TfDir::new(cli);
        dir.write("provider.tf", self.provider());
        dir.write("main.tf", main);
        dir
    }

    /// The `cacerts` Secret's data, decoded.
    pub fn secret(&self, cluster: &str) -> Option<BTreeMap<String, String>> {
        let api: Api<Secret> = Api::namespaced(self.client(cluster), NS);
        let s = self
            .rt
            .block_on(api.get_opt(CACERTS))
            .expect("get the cacerts Secret")?;
        let data = s.data.unwrap_or_default().into_iter();
        Some(
            data.map(|(k, v)| (k, String::from_utf8(v.0).expect("Secret values are text")))
                .collect(),
        )
    }

    /// The `cacerts` Secret's values as the API server serves them (base64).
    pub fn secret_base64(&self, cluster: &str) -> BTreeMap<String, String> {
        let engine = base64::engine::general_purpose::STANDARD;
        let decoded = self
            .secret(cluster)
            .unwrap_or_else(|| panic!("no cacerts Secret in {cluster}"));
        decoded
            .into_iter()
            .map(|(k, v)| (k, engine.encode(v.as_bytes())))
            .collect()
    }

    pub fn root(&self, cluster: &str) -> String {
        let s = self
            .secret(cluster)
            .unwrap_or_else(|| panic!("no cacerts Secret in {cluster}"));
        s["root-cert.pem"].clone()
    }

    pub fn configmap(&self, cluster: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let api: Api<ConfigMap> = Api::namespaced(self.client(cluster), NS);
        let cm = self
            .rt
            .block_on(api.get_opt(name))
            .expect("get a ConfigMap")?;
        Some(cm.data.unwrap_or_default())
    }

    /// The root recorded in `cluster` for party `trust_domain`.
    pub fn recorded_root(&self, cluster: &str, trust_domain: &str) -> Option<String> {
        let cm = self.configmap(cluster, &root_cm(trust_domain))?;
        Some(cm["root-cert.pem"].clone())
    }

    /// `meshfed-mesh-config`'s `mesh` key, parsed.
    pub fn mesh_config(&self, cluster: &str) -> Option<Json> {
        let cm = self.configmap(cluster, MESH_CONFIG)?;
        let text = cm.get("mesh").expect("the mesh config has key mesh");
        Some(serde_saphyr::from_str(text).expect("the mesh config is YAML"))
    }

    /// `caCertificates` of the mesh config: trust domain → its roots, concatenated in the order
    /// of the entries (one entry per root).
    pub fn ca_certificates(&self, cluster: &str) -> BTreeMap<String, String> {
        let mesh = self
            .mesh_config(cluster)
            .unwrap_or_else(|| panic!("no {MESH_CONFIG} in {cluster}"));
        let entries = mesh["caCertificates"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for e in &entries {
            let tds = e["trustDomains"].as_array().expect("trustDomains");
            assert_eq!(tds.len(), 1, "one trust domain per root: {e}");
            let td = tds[0].as_str().expect("a trust domain").to_string();
            let pem = e["pem"].as_str().expect("a pem");
            assert_eq!(
                cert::encoding::certificate_count(pem),
                1,
                "one root per entry: {e}"
            );
            out.entry(td).or_default().push_str(pem);
        }
        out
    }

    /// The roots `cluster`'s workloads trust, as its objects list them: its own `root-cert.pem`
    /// plus every root of its mesh config's `caCertificates`.
    pub fn trusted_roots(&self, cluster: &str) -> Vec<String> {
        let mut roots: Vec<String> = self
            .secret(cluster)
            .map(|s| s["root-cert.pem"].clone())
            .into_iter()
            .collect();
        if self.mesh_config(cluster).is_some() {
            roots.extend(self.ca_certificates(cluster).into_values());
        }
        roots
    }

    /// A workload certificate for `spiffe_id`, issued by the intermediate in `cluster`'s
    /// `cacerts` Secret, as that cluster's istiod would issue it.
    pub fn workload(&self, cluster: &str, spiffe_id: &str) -> WorkloadCert {
        let s = self
            .secret(cluster)
            .unwrap_or_else(|| panic!("no cacerts Secret in {cluster}"));
        let ca = IssuingCa {
            cert_pem: &s["ca-cert.pem"],
            key_pem: &s["ca-key.pem"],
            cert_chain_pem: &s["cert-chain.pem"],
        };
        cert::issue_workload_cert(ca, spiffe_id, cert::now()).expect("issue a workload cert")
    }

    /// Names (`Kind/name`) of the ConfigMaps and Secrets in `cluster`'s istio namespace that
    /// meshfed manages, plus `cacerts` whoever manages it.
    pub fn meshfed_objects(&self, cluster: &str) -> Vec<String> {
        let lp = ListParams::default().labels("app.kubernetes.io/managed-by=meshfed");
        let cms: Api<ConfigMap> = Api::namespaced(self.client(cluster), NS);
        let secrets: Api<Secret> = Api::namespaced(self.client(cluster), NS);
        let mut out: Vec<String> = self
            .rt
            .block_on(cms.list(&lp))
            .expect("list ConfigMaps")
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name.map(|n| format!("ConfigMap/{n}")))
            .collect();
        let labelled = self.rt.block_on(secrets.list(&lp)).expect("list Secrets");
        out.extend(
            labelled
                .items
                .into_iter()
                .filter_map(|s| s.metadata.name.map(|n| format!("Secret/{n}"))),
        );
        if self.secret(cluster).is_some() && !out.iter().any(|o| o == "Secret/cacerts") {
            out.push("Secret/cacerts".into());
        }
        out.sort();
        out
    }

    /// Creates Secret `name` in the istio namespace with `data` (text values), as `manager` would
    /// (`kubectl create secret generic` records manager `kubectl-create`), without meshfed's label.
    pub fn create_secret_as(
        &self,
        cluster: &str,
        manager: &str,
        name: &str,
        data: &[(&str, &str)],
    ) {
        let data: BTreeMap<String, ByteString> = data
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(NS.to_string()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        };
        let api: Api<Secret> = Api::namespaced(self.client(cluster), NS);
        let pp = PostParams {
            field_manager: Some(manager.to_string()),
            ..PostParams::default()
        };
        self.rt
            .block_on(api.create(&pp, &secret))
            .unwrap_or_else(|e| panic!("{cluster}: create Secret {name} as {manager}: {e}"));
    }

    /// Creates ConfigMap `name` in the Istio namespace of `cluster` with `data`, written by
    /// field manager `manager` (e.g. `pilot-discovery`, as istiod writes its root ConfigMap).
    pub fn create_configmap_as(
        &self,
        cluster: &str,
        manager: &str,
        name: &str,
        data: &[(&str, &str)],
    ) {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(NS.to_string()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        };
        let api: Api<ConfigMap> = Api::namespaced(self.client(cluster), NS);
        let pp = PostParams {
            field_manager: Some(manager.to_string()),
            ..PostParams::default()
        };
        self.rt
            .block_on(api.create(&pp, &cm))
            .unwrap_or_else(|e| panic!("{cluster}: create ConfigMap {name} as {manager}: {e}"));
    }

    pub fn delete_secret(&self, cluster: &str) {
        let api: Api<Secret> = Api::namespaced(self.client(cluster), NS);
        self.rt
            .block_on(api.delete(CACERTS, &DeleteParams::default()))
            .expect("delete the cacerts Secret");
        assert!(self.secret(cluster).is_none(), "{cluster}: Secret deleted");
    }

    /// Creates or replaces Deployment `istiod` (no controller runs: it only has to exist), with
    /// these environment variables on its container.
    pub fn istiod(&self, cluster: &str, env: &[(&str, &str)]) {
        let env: Vec<Json> = env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        let deploy = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "istiod"}},
                "template": {
                    "metadata": {"labels": {"app": "istiod"}},
                    "spec": {"containers": [{
                        "name": "discovery",
                        "image": "docker.io/istio/pilot:1.24.0",
                        "env": env,
                    }]},
                },
            },
        });
        let api: Api<Deployment> = Api::namespaced(self.client(cluster), NS);
        self.rt
            .block_on(api.patch(
                "istiod",
                &PatchParams::apply("istio-installer").force(),
                &Patch::Apply(deploy),
            ))
            .expect("apply Deployment istiod");
    }
}

/// The registry example: two generated members.
pub fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/resources/meshfed_trust/resource.tf"
    ))
    .expect("read the example")
}

/// A `meshfed_trust` named `name` with generated `members` and `extra` lines in its body.
pub fn trust(name: &str, members: &[&str], extra: &str) -> String {
    let mut s = format!("resource \"meshfed_trust\" \"{name}\" {{\n");
    for m in members {
        let _ = writeln!(s, "  member {{\n    cluster = \"{m}\"\n  }}");
    }
    s.push_str(extra);
    s.push_str("}\n");
    s
}

/// A generated root + intermediate for `trust_domain`, valid from `now`.
pub fn generated(trust_domain: &str) -> CaMaterial {
    cert::generate_ca(CaRequest::new(trust_domain, cert::now())).expect("generate a CA")
}

/// A member A with a provided CA read from cert.pem, key.pem, chain.pem and root.pem (the
/// attribute `marked` carries [`MARK`]), and a generated member B.
pub fn provided_config(marked: &str) -> String {
    let attr = |name: &str, file: &str| {
        let pad = " ".repeat(14 - name.len());
        let mark = if name == marked { MARK } else { "" };
        format!("      {name}{pad} = file(\"{file}\"){mark}\n")
    };
    format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      source         = \"provided\"\n{}{}{}{}    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n",
        attr("cert_pem", "cert.pem"),
        attr("key_pem", "key.pem"),
        attr("cert_chain_pem", "chain.pem"),
        attr("root_cert_pem", "root.pem"),
    )
}

pub fn ca_files(cert: &str, key: &str, chain: &str, root: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cert.pem", cert.to_string()),
        ("key.pem", key.to_string()),
        ("chain.pem", chain.to_string()),
        ("root.pem", root.to_string()),
    ]
}
