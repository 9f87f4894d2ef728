//! `meshfed_trust` end to end: real Terraform and real OpenTofu drive this build of the provider
//! against real kube-apiservers, one per member cluster. Each test starts its own control planes
//! for each CLI. The security result is proven with certificates alone (TESTBED.md): workload
//! certificates issued from the intermediates read back from the clusters' `cacerts` Secrets, and
//! a real rustls mutual TLS handshake in which each side trusts exactly the roots its own
//! cluster's objects list. Needs real Terraform and OpenTofu and real control planes
//! (`scripts/setup`).
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use meshfed::cert::{self, CaMaterial, CaRequest, IssuingCa, WorkloadCert};
use serde_json::{Value as Json, json};
use support::controlplanes::ControlPlanes;
use support::tf::{Cli, TfDir, TfOutput};

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";
const C: &str = "cluster-c.local";
const NS: &str = "istio-system";
const CACERTS: &str = "cacerts";
const MESH_CONFIG: &str = "meshfed-mesh-config";
const SECRET_KEYS: [&str; 4] = [
    "ca-cert.pem",
    "ca-key.pem",
    "cert-chain.pem",
    "root-cert.pem",
];
const FOO: &str = "spiffe://cluster-a.local/ns/abc/sa/foo";
const BAR: &str = "spiffe://cluster-b.local/ns/xyz/sa/bar";
const APPLY: [&str; 3] = ["apply", "-auto-approve", "-no-color"];
const PLAN: [&str; 3] = ["plan", "-detailed-exitcode", "-no-color"];

fn secret_key(cluster: &str) -> String {
    format!("{cluster}/v1/Secret/{NS}/{CACERTS}")
}

fn configmap_key(cluster: &str, name: &str) -> String {
    format!("{cluster}/v1/ConfigMap/{NS}/{name}")
}

/// The ConfigMap recording a party's root.
fn root_cm(trust_domain: &str) -> String {
    format!("{trust_domain}-ca-root-cert")
}

/// PEM text ending in exactly one newline, as meshfed writes it.
fn pem_text(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The control planes of one test, with a client for each.
struct Planes {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
    clients: BTreeMap<String, kube::Client>,
}

impl Planes {
    fn start(names: &[&str]) -> Planes {
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

    fn client(&self, cluster: &str) -> kube::Client {
        self.clients
            .get(cluster)
            .unwrap_or_else(|| panic!("no control plane {cluster}"))
            .clone()
    }

    /// The `terraform` and `provider` blocks: one `cluster` per control plane.
    fn provider(&self) -> String {
        let mut s = String::from(
            "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
        );
        for n in self.planes.names() {
            let _ = write!(
                s,
                "  cluster \"{n}\" {{\n    kubeconfig = \"{}\"\n    context    = \"{}\"\n  }}\n",
                self.planes.kubeconfig().display(),
                self.planes.context(n)
            );
        }
        s.push_str("}\n");
        s
    }

    /// A working directory with the provider configuration and `main`.
    fn dir(&self, cli: Cli, main: &str) -> TfDir {
        let dir = TfDir::new(cli);
        dir.write("provider.tf", self.provider());
        dir.write("main.tf", main);
        dir
    }

    /// The `cacerts` Secret's data, decoded.
    fn secret(&self, cluster: &str) -> Option<BTreeMap<String, String>> {
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
    fn secret_base64(&self, cluster: &str) -> BTreeMap<String, String> {
        let engine = base64::engine::general_purpose::STANDARD;
        let decoded = self
            .secret(cluster)
            .unwrap_or_else(|| panic!("no cacerts Secret in {cluster}"));
        decoded
            .into_iter()
            .map(|(k, v)| (k, engine.encode(v.as_bytes())))
            .collect()
    }

    fn root(&self, cluster: &str) -> String {
        let s = self
            .secret(cluster)
            .unwrap_or_else(|| panic!("no cacerts Secret in {cluster}"));
        s["root-cert.pem"].clone()
    }

    fn configmap(&self, cluster: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let api: Api<ConfigMap> = Api::namespaced(self.client(cluster), NS);
        let cm = self
            .rt
            .block_on(api.get_opt(name))
            .expect("get a ConfigMap")?;
        Some(cm.data.unwrap_or_default())
    }

    /// The root recorded in `cluster` for party `trust_domain`.
    fn recorded_root(&self, cluster: &str, trust_domain: &str) -> Option<String> {
        let cm = self.configmap(cluster, &root_cm(trust_domain))?;
        Some(cm["root-cert.pem"].clone())
    }

    /// `meshfed-mesh-config`'s `mesh` key, parsed.
    fn mesh_config(&self, cluster: &str) -> Option<Json> {
        let cm = self.configmap(cluster, MESH_CONFIG)?;
        let text = cm.get("mesh").expect("the mesh config has key mesh");
        Some(serde_saphyr::from_str(text).expect("the mesh config is YAML"))
    }

    /// `caCertificates` of the mesh config: trust domain → root.
    fn ca_certificates(&self, cluster: &str) -> BTreeMap<String, String> {
        let mesh = self
            .mesh_config(cluster)
            .unwrap_or_else(|| panic!("no {MESH_CONFIG} in {cluster}"));
        let entries = mesh["caCertificates"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        entries
            .iter()
            .map(|e| {
                let tds = e["trustDomains"].as_array().expect("trustDomains");
                assert_eq!(tds.len(), 1, "one trust domain per root: {e}");
                let td = tds[0].as_str().expect("a trust domain").to_string();
                (td, e["pem"].as_str().expect("a pem").to_string())
            })
            .collect()
    }

    /// The roots `cluster`'s workloads trust, as its objects list them: its own `root-cert.pem`
    /// plus every root of its mesh config's `caCertificates`.
    fn trusted_roots(&self, cluster: &str) -> Vec<String> {
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
    fn workload(&self, cluster: &str, spiffe_id: &str) -> WorkloadCert {
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
    fn meshfed_objects(&self, cluster: &str) -> Vec<String> {
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

    fn delete_secret(&self, cluster: &str) {
        let api: Api<Secret> = Api::namespaced(self.client(cluster), NS);
        self.rt
            .block_on(api.delete(CACERTS, &DeleteParams::default()))
            .expect("delete the cacerts Secret");
        assert!(self.secret(cluster).is_none(), "{cluster}: Secret deleted");
    }

    /// Creates or replaces Deployment `istiod` (no controller runs: it only has to exist), with
    /// these environment variables on its container.
    fn istiod(&self, cluster: &str, env: &[(&str, &str)]) {
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
fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/resources/meshfed_trust/resource.tf"
    ))
    .expect("read the example")
}

/// A `meshfed_trust` named `name` with generated `members` and `extra` lines in its body.
fn trust(name: &str, members: &[&str], extra: &str) -> String {
    let mut s = format!("resource \"meshfed_trust\" \"{name}\" {{\n");
    for m in members {
        let _ = writeln!(s, "  member {{\n    cluster = \"{m}\"\n  }}");
    }
    s.push_str(extra);
    s.push_str("}\n");
    s
}

fn show_json(dir: &TfDir, args: &[&str]) -> Json {
    let mut all = vec!["show", "-json"];
    all.extend_from_slice(args);
    let out = dir.run_ok(&all);
    serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"))
}

/// The state values of resource `address`.
fn values(dir: &TfDir, address: &str) -> Json {
    let s = show_json(dir, &[]);
    let resources = s["values"]["root_module"]["resources"].as_array();
    resources
        .into_iter()
        .flatten()
        .find(|r| r["address"] == address)
        .map(|r| r["values"].clone())
        .unwrap_or_else(|| panic!("{address} not in state: {s}"))
}

fn assert_plan_empty(dir: &TfDir) {
    dir.run_code(0, &PLAN);
}

/// One attribute's diff in a plan: the lines from the one holding `open` to the closing `}` at
/// that line's indentation (or one level deeper), each with its runs of blanks squashed to one
/// space (the CLIs pad map keys to align their `=`).
fn plan_section(plan: &str, open: &str) -> String {
    let squash = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let lines: Vec<&str> = plan.lines().collect();
    let Some(start) = lines.iter().position(|l| squash(l).contains(open)) else {
        return String::new();
    };
    let indent = lines[start].len() - lines[start].trim_start().len();
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim() == "}" && l.len() - l.trim_start().len() <= indent + 4)
        .map_or(lines.len(), |i| start + 1 + i);
    let section: Vec<String> = lines[start..end].iter().map(|l| squash(l)).collect();
    section.join("\n")
}

#[test]
fn the_example_gives_each_member_its_own_ca_and_the_others_root_and_a_second_plan_is_empty() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &example());
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 added"), "{cli}: {out}");
        for (me, other) in [(A, B), (B, A)] {
            let s = p
                .secret(me)
                .unwrap_or_else(|| panic!("{cli}: {me}: no cacerts Secret"));
            let keys: Vec<&str> = s.keys().map(String::as_str).collect();
            assert_eq!(keys, SECRET_KEYS, "{cli}: {me}");
            assert!(s["ca-key.pem"].contains("PRIVATE KEY"), "{cli}: {me}");
            let root = &s["root-cert.pem"];
            assert_eq!(root.matches("BEGIN CERTIFICATE").count(), 1, "{cli}: {me}");
            assert!(
                s["cert-chain.pem"].starts_with(&s["ca-cert.pem"])
                    && s["cert-chain.pem"].ends_with(root.as_str()),
                "{cli}: {me}: chain is intermediate then root"
            );
            let other_root = p.root(other);
            assert_ne!(root, &other_root, "{cli}: each member has its own root");
            assert_eq!(
                p.recorded_root(me, other).as_deref(),
                Some(other_root.as_str()),
                "{cli}: {me} records {other}'s root"
            );
            assert!(
                p.recorded_root(me, me).is_none(),
                "{cli}: {me} records no root of its own"
            );
            let mesh = p
                .mesh_config(me)
                .unwrap_or_else(|| panic!("{cli}: {me}: no {MESH_CONFIG}"));
            assert_eq!(
                mesh["caCertificates"],
                json!([{"pem": other_root, "trustDomains": [other]}]),
                "{cli}: {me} trusts {other}'s root under {other}'s trust domain, not its own"
            );
            assert_eq!(
                mesh["defaultConfig"]["proxyMetadata"]["PROXY_CONFIG_XDS_AGENT"],
                json!("true"),
                "{cli}: {me}"
            );
            assert!(
                p.configmap(me, "istio-ca-root-cert").is_none(),
                "{cli}: {me}: istiod's own ConfigMap is never written"
            );
        }
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(
            v["root_certificates"],
            json!({A: p.root(A), B: p.root(B)}),
            "{cli}"
        );
        let prints = v["fingerprints"].as_object().expect("fingerprints");
        assert_eq!(prints.len(), 2, "{cli}: {v}");
        assert_eq!(v["id"], json!(format!("{A},{B}")), "{cli}");
        let manifests = v["manifests"].as_object().expect("manifests");
        for (me, other) in [(A, B), (B, A)] {
            for key in [
                secret_key(me),
                configmap_key(me, &root_cm(other)),
                configmap_key(me, MESH_CONFIG),
            ] {
                assert!(manifests.contains_key(&key), "{cli}: {key} in {v}");
            }
        }
        let secret_yaml = manifests[&secret_key(A)].as_str().expect("YAML");
        assert!(
            secret_yaml.contains("ca-key.pem: sha256:") && !secret_yaml.contains("PRIVATE KEY"),
            "{cli}: {secret_yaml}"
        );
        assert_plan_empty(&dir);

        // Bundle mode cacerts: the same CAs, each root-cert.pem the own root then the other's.
        let (a_root, b_root) = (p.root(A), p.root(B));
        let a_before = p.secret(A).expect("Secret");
        dir.write(
            "main.tf",
            example().replacen(
                "resource \"meshfed_trust\" \"fed\" {",
                "resource \"meshfed_trust\" \"fed\" {\n  bundle = \"cacerts\"",
                1,
            ),
        );
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        let a = p.secret(A).expect("Secret");
        assert_eq!(
            a["root-cert.pem"],
            format!("{a_root}{b_root}"),
            "{cli}: A's own root first, then B's"
        );
        assert_eq!(
            p.secret(B).expect("Secret")["root-cert.pem"],
            format!("{b_root}{a_root}"),
            "{cli}"
        );
        for k in ["ca-cert.pem", "ca-key.pem", "cert-chain.pem"] {
            assert_eq!(a[k], a_before[k], "{cli}: A's CA is kept: {k}");
        }
        assert_eq!(p.recorded_root(B, A), Some(a_root.clone()), "{cli}");
        assert_eq!(p.ca_certificates(B), BTreeMap::from([(A.into(), a_root)]));
        assert_plan_empty(&dir);

        // Destroy removes everything meshfed wrote.
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        for me in [A, B] {
            assert_eq!(p.meshfed_objects(me), Vec::<String>::new(), "{cli}: {me}");
        }
    }
}

/// Every form in which a member's key could leak: the PEM, its base64 (as the Secret's data
/// holds it), and each line of the PEM's body.
fn key_needles(p: &Planes, cluster: &str) -> Vec<String> {
    let pem = p.secret(cluster).expect("Secret")["ca-key.pem"].clone();
    let mut needles = vec![
        "PRIVATE KEY".to_string(),
        p.secret_base64(cluster)["ca-key.pem"].clone(),
    ];
    needles.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    needles
}

fn assert_no_key(cli: Cli, what: &str, text: &str, needles: &[String]) {
    for n in needles {
        assert!(
            !text.contains(n.as_str()),
            "{cli}: {what} holds key material ({} chars: {:.24}…)",
            n.len(),
            n
        );
    }
}

#[test]
fn no_private_key_reaches_plan_output_state_or_trace_logs() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let mut dir = p.dir(cli, &example());
        dir.env("TF_LOG", "trace");
        let plan = dir.run_ok(&["plan", "-no-color", "-out=tfplan"]);
        let planned = show_json(&dir, &["tfplan"]).to_string();
        let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
        assert!(
            apply.stderr.contains("generating a CA"),
            "{cli}: the provider's logs are captured\n{}",
            apply.stderr.len()
        );
        let refresh = dir.run_code(0, &PLAN);
        let shown = show_json(&dir, &[]).to_string();
        let state = dir.read("terraform.tfstate");
        let state_json: Json = serde_json::from_str(&state).expect("state is JSON");
        let private: String = state_json["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["private"].as_str().map(str::to_string))
            .map(|b| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("private data is base64");
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect();
        assert!(
            private.contains("BEGIN CERTIFICATE"),
            "{cli}: private data keeps the certificates: {private}"
        );
        for cluster in [A, B] {
            let needles = key_needles(&p, cluster);
            for (what, text) in [
                ("plan stdout", plan.stdout.as_str()),
                ("plan stderr (TF_LOG=trace)", plan.stderr.as_str()),
                ("show -json tfplan", planned.as_str()),
                ("apply stdout", apply.stdout.as_str()),
                ("apply stderr (TF_LOG=trace)", apply.stderr.as_str()),
                ("refreshing plan stdout", refresh.stdout.as_str()),
                (
                    "refreshing plan stderr (TF_LOG=trace)",
                    refresh.stderr.as_str(),
                ),
                ("show -json", shown.as_str()),
                ("terraform.tfstate", state.as_str()),
                ("private data", private.as_str()),
            ] {
                assert_no_key(cli, &format!("{cluster}: {what}"), text, &needles);
            }
        }
    }
}

#[test]
fn workloads_of_two_members_complete_mutual_tls_only_while_both_are_members() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        // Before: each cluster has its own CA, from its own single-member trust.
        let dir = p.dir(
            cli,
            &format!("{}{}", trust("fed", &[A], ""), trust("b", &[B], "")),
        );
        dir.run_ok(&APPLY);
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        let err = cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .expect_err("no handshake without mutual trust");
        eprintln!("{cli}: before the federation: {err}");

        // B's separate trust goes; then B joins A's federation.
        dir.write("main.tf", trust("fed", &[A], ""));
        dir.run_ok(&APPLY);
        assert!(p.secret(B).is_none(), "{cli}: B's separate trust is gone");
        dir.write("main.tf", trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        let (a_trusts, b_trusts) = (p.trusted_roots(A), p.trusted_roots(B));
        assert_eq!(a_trusts, vec![p.root(A), p.root(B)], "{cli}");
        assert_eq!(b_trusts, vec![p.root(B), p.root(A)], "{cli}");
        let ok = cert::mtls_handshake(&foo, &a_trusts, &bar, &b_trusts)
            .unwrap_or_else(|e| panic!("{cli}: foo calls bar: {e}"));
        assert_eq!((ok.client_id.as_str(), ok.server_id.as_str()), (FOO, BAR));
        let ok = cert::mtls_handshake(&bar, &b_trusts, &foo, &a_trusts)
            .unwrap_or_else(|e| panic!("{cli}: bar calls foo: {e}"));
        assert_eq!((ok.client_id.as_str(), ok.server_id.as_str()), (BAR, FOO));
        // Each side's own root alone is not enough.
        let own = |c: &str| vec![p.root(c)];
        assert!(cert::mtls_handshake(&foo, &own(A), &bar, &b_trusts).is_err());
        assert!(cert::mtls_handshake(&foo, &a_trusts, &bar, &own(B)).is_err());
        assert_plan_empty(&dir);

        // B leaves: A no longer trusts B's root, and B's objects are gone.
        let b_root = p.root(B);
        dir.write("main.tf", trust("fed", &[A], ""));
        dir.run_ok(&APPLY);
        let a_now = p.trusted_roots(A);
        assert_eq!(a_now, vec![p.root(A)], "{cli}: A trusts only itself");
        assert!(!a_now.contains(&b_root), "{cli}");
        assert!(p.meshfed_objects(B).is_empty(), "{cli}");
        let err = cert::mtls_handshake(&foo, &a_now, &bar, &p.trusted_roots(B))
            .expect_err("no handshake after B left");
        eprintln!("{cli}: after B left: {err}");
        // Even if B's workloads kept trusting A, A refuses them now.
        assert!(
            cert::mtls_handshake(&bar, &b_trusts, &foo, &a_now).is_err(),
            "{cli}: A must refuse B's workload"
        );
        assert_plan_empty(&dir);
    }
}

/// The roots `cluster` trusts for other parties, from its mesh config, and its recorded roots.
fn assert_trusts_exactly(cli: Cli, p: &Planes, cluster: &str, others: &[&str]) {
    let want: BTreeMap<String, String> =
        others.iter().map(|o| (o.to_string(), p.root(o))).collect();
    assert_eq!(
        p.ca_certificates(cluster),
        want,
        "{cli}: {cluster}'s mesh config"
    );
    let mut recorded: Vec<String> = p
        .meshfed_objects(cluster)
        .into_iter()
        .filter_map(|o| {
            o.strip_prefix("ConfigMap/")
                .and_then(|n| n.strip_suffix("-ca-root-cert"))
                .map(str::to_string)
        })
        .collect();
    recorded.sort();
    let mut others: Vec<String> = others.iter().map(|o| o.to_string()).collect();
    others.sort();
    assert_eq!(recorded, others, "{cli}: {cluster}'s root ConfigMaps");
    for o in &others {
        assert_eq!(
            p.recorded_root(cluster, o),
            Some(p.root(o)),
            "{cli}: {cluster}"
        );
    }
}

#[test]
fn adding_a_third_member_updates_every_bundle_in_one_apply_and_removing_it_cleans_up() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B, C]);
        let dir = p.dir(cli, &trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (a_root, b_root) = (p.root(A), p.root(B));
        assert!(p.meshfed_objects(C).is_empty(), "{cli}");

        dir.write("main.tf", trust("fed", &[A, B, C], ""));
        let plan = dir.run_code(2, &PLAN);
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert_eq!((p.root(A), p.root(B)), (a_root, b_root), "{cli}: CAs kept");
        assert_trusts_exactly(cli, &p, A, &[B, C]);
        assert_trusts_exactly(cli, &p, B, &[A, C]);
        assert_trusts_exactly(cli, &p, C, &[A, B]);
        assert_plan_empty(&dir);

        dir.write("main.tf", trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        assert_trusts_exactly(cli, &p, A, &[B]);
        assert_trusts_exactly(cli, &p, B, &[A]);
        assert_eq!(
            p.meshfed_objects(C),
            Vec::<String>::new(),
            "{cli}: nothing of meshfed's is left in C"
        );
        assert!(p.configmap(C, MESH_CONFIG).is_none(), "{cli}");
        let v = values(&dir, "meshfed_trust.fed");
        let roots = v["root_certificates"]
            .as_object()
            .expect("root_certificates");
        assert!(!roots.contains_key(C), "{cli}: {v}");
        let manifests = v["manifests"].as_object().expect("manifests");
        assert!(
            !manifests.keys().any(|k| k.contains("cluster-c.local")),
            "{cli}: {v}"
        );
        assert_plan_empty(&dir);
    }
}

/// A generated root + intermediate for `trust_domain`, valid from `now`.
fn generated(trust_domain: &str) -> CaMaterial {
    cert::generate_ca(CaRequest::new(trust_domain, cert::now())).expect("generate a CA")
}

#[test]
fn an_external_peer_is_trusted_by_every_member() {
    let partner = generated("partner.example");
    let partner_root = pem_text(&partner.root_cert_pem);
    let peer = "  peer {\n    trust_domain  = \"partner.example\"\n    root_cert_pem = file(\"partner-root.pem\")\n  }\n";
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &trust("fed", &[A, B], peer));
        dir.write("partner-root.pem", &partner.root_cert_pem);
        dir.run_ok(&APPLY);
        for (me, other) in [(A, B), (B, A)] {
            assert_eq!(
                p.recorded_root(me, "partner.example"),
                Some(partner_root.clone()),
                "{cli}: {me}"
            );
            let want = BTreeMap::from([
                (other.to_string(), p.root(other)),
                ("partner.example".to_string(), partner_root.clone()),
            ]);
            assert_eq!(p.ca_certificates(me), want, "{cli}: {me}");
        }
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(
            v["root_certificates"]["partner.example"],
            json!(partner_root),
            "{cli}"
        );
        assert_eq!(
            v["fingerprints"]["partner.example"],
            json!(cert::fingerprint_sha256(partner.root_cert_pem.as_bytes())),
            "{cli}"
        );
        // A partner workload that trusts A's root and foo complete mutual TLS.
        let partner_id = "spiffe://partner.example/ns/shop/sa/checkout";
        let checkout = cert::issue_workload_cert(partner.issuing(), partner_id, cert::now())
            .expect("a partner workload");
        let foo = p.workload(A, FOO);
        let ok = cert::mtls_handshake(
            &foo,
            &p.trusted_roots(A),
            &checkout,
            &[partner_root.clone(), p.root(A)],
        )
        .unwrap_or_else(|e| panic!("{cli}: foo calls the partner: {e}"));
        assert_eq!(ok.server_id, partner_id);
        assert_plan_empty(&dir);
    }
}

const MARK: &str = " # <- refused here";

/// A configuration refused at plan, and what the diagnostic must say and point at.
struct Refused {
    what: &'static str,
    main: String,
    files: Vec<(&'static str, String)>,
    summary: &'static str,
    detail: &'static str,
}

/// A member A with a provided CA read from cert.pem, key.pem, chain.pem and root.pem (the
/// attribute `marked` carries [`MARK`]), and a generated member B.
fn provided_config(marked: &str) -> String {
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

fn ca_files(cert: &str, key: &str, chain: &str, root: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cert.pem", cert.to_string()),
        ("key.pem", key.to_string()),
        ("chain.pem", chain.to_string()),
        ("root.pem", root.to_string()),
    ]
}

fn refused_cases() -> Vec<Refused> {
    let now = cert::now();
    let good = generated(A);
    let other = generated(A);
    let mut old = CaRequest::new(A, now - time::Duration::days(1000));
    old.root_validity = time::Duration::days(400);
    old.intermediate_validity = time::Duration::days(200);
    let expired = cert::generate_ca(old).expect("an expired CA");
    let leaf = cert::issue_workload_cert(good.issuing(), FOO, now).expect("a workload cert");
    let leaf_pem = leaf
        .cert_chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .expect("the leaf")
        .to_string();
    let files = |c: &CaMaterial| {
        ca_files(
            &c.intermediate_cert_pem,
            &c.intermediate_key_pem,
            &c.cert_chain_pem,
            &c.root_cert_pem,
        )
    };
    let peer = |td: &str, root_mark: &str, td_mark: &str| {
        format!(
            "  peer {{\n    trust_domain  = \"{td}\"{td_mark}\n    root_cert_pem = file(\"root.pem\"){root_mark}\n  }}\n"
        )
    };
    let member = |cluster: &str, mark: &str| {
        format!("  member {{\n    cluster = \"{cluster}\"{mark}\n  }}\n")
    };
    vec![
        Refused {
            what: "bad PEM in cert_pem",
            main: provided_config("cert_pem"),
            files: ca_files(
                "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
                &good.intermediate_key_pem,
                &good.cert_chain_pem,
                &good.root_cert_pem,
            ),
            summary: "Invalid CA material",
            detail: "cert_pem",
        },
        Refused {
            what: "a workload certificate as the provided root",
            main: provided_config("root_cert_pem"),
            files: ca_files(
                &good.intermediate_cert_pem,
                &good.intermediate_key_pem,
                &good.cert_chain_pem,
                &leaf_pem,
            ),
            summary: "Invalid CA material",
            detail: "not a CA certificate",
        },
        Refused {
            what: "a workload certificate as a peer's root",
            main: trust("fed", &[A, B], &peer("partner.example", MARK, "")),
            files: vec![("root.pem", leaf_pem.clone())],
            summary: "Invalid peer root certificate",
            detail: "not a CA certificate",
        },
        Refused {
            what: "a key that does not match cert_pem",
            main: provided_config("key_pem"),
            files: ca_files(
                &good.intermediate_cert_pem,
                &other.intermediate_key_pem,
                &good.cert_chain_pem,
                &good.root_cert_pem,
            ),
            summary: "Invalid CA material",
            detail: "does not belong",
        },
        Refused {
            what: "an expired certificate",
            main: provided_config("cert_pem"),
            files: files(&expired),
            summary: "Invalid CA material",
            detail: "expired",
        },
        Refused {
            what: "a member listed twice",
            main: format!(
                "resource \"meshfed_trust\" \"fed\" {{\n{}{}{}}}\n",
                member(A, ""),
                member(B, ""),
                member(A, MARK)
            ),
            files: vec![],
            summary: "Member listed twice",
            detail: A,
        },
        Refused {
            what: "an invalid peer trust domain",
            main: trust("fed", &[A, B], &peer("Bad_Domain", "", MARK)),
            files: vec![("root.pem", generated("partner.example").root_cert_pem)],
            summary: "Invalid trust domain",
            detail: "Bad_Domain",
        },
        Refused {
            what: "an unknown cluster",
            main: format!(
                "resource \"meshfed_trust\" \"fed\" {{\n{}{}}}\n",
                member(A, ""),
                member("cluster-x.local", MARK)
            ),
            files: vec![],
            summary: "Unknown cluster",
            detail: "cluster-x.local",
        },
    ]
}

/// Provider configuration for plans that must not reach any cluster: nothing listens there.
fn unreachable_provider() -> String {
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

fn error_diagnostics(out: &TfOutput) -> Vec<Json> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .map(|m| m["diagnostic"].clone())
        .collect()
}

/// Plans `case` with each CLI and checks that it is refused with an error diagnostic whose summary
/// and detail match, on the marked line.
fn assert_refused(cli: Cli, case: &Refused) {
    let dir = TfDir::new(cli);
    dir.write("provider.tf", unreachable_provider());
    dir.write("main.tf", &case.main);
    for (name, text) in &case.files {
        dir.write(name, text);
    }
    let line = case
        .main
        .lines()
        .position(|l| l.ends_with(MARK))
        .expect("a marked line")
        + 1;
    let out = dir.run_code(1, &["plan", "-json"]);
    let diags = error_diagnostics(&out);
    let found = diags.iter().find(|d| {
        let summary = d["summary"].as_str().unwrap_or_default();
        let detail = d["detail"].as_str().unwrap_or_default();
        if !summary.starts_with(case.summary) || !detail.contains(case.detail) {
            return false;
        }
        // Both CLIs place these paths, nested blocks included, on the attribute itself.
        d["range"]["start"]["line"].as_u64() == Some(line as u64)
            && d["snippet"]["code"]
                .as_str()
                .is_some_and(|c| c.ends_with(MARK))
    });
    assert!(
        found.is_some(),
        "{cli}: {}: expected {:?} (detail with {:?}) on line {line}, got:\n{}\n{out}",
        case.what,
        case.summary,
        case.detail,
        serde_json::to_string_pretty(&diags).unwrap_or_default()
    );
    assert!(
        !out.combined().contains("PRIVATE KEY"),
        "{cli}: {}: a key in the output",
        case.what
    );
}

#[test]
fn refused_inputs_are_reported_at_plan_on_their_attribute() {
    let cases = refused_cases();
    for cli in Cli::both() {
        for case in &cases {
            assert_refused(cli, case);
        }
    }
}

/// `partner_x.example` is a valid SPIFFE trust domain, but `partner_x.example-ca-root-cert` is no
/// valid ConfigMap name: the refusal must say so on the peer's `trust_domain`.
#[test]
fn a_peer_trust_domain_that_cannot_name_a_configmap_is_refused_on_its_attribute() {
    let root = generated("partner.example").root_cert_pem;
    let case = Refused {
        what: "a trust domain unfit for a ConfigMap name",
        main: trust(
            "fed",
            &[A, B],
            &format!(
                "  peer {{\n    trust_domain  = \"partner_x.example\"{MARK}\n    root_cert_pem = file(\"root.pem\")\n  }}\n"
            ),
        ),
        files: vec![("root.pem", root)],
        summary: "",
        detail: "partner_x.example",
    };
    for cli in Cli::both() {
        assert_refused(cli, &case);
    }
}

#[test]
fn a_lost_secret_regenerates_that_members_ca_and_propagates_the_new_root() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &example());
        dir.run_ok(&APPLY);
        let (old_a, b_secret) = (p.root(A), p.secret(B).expect("Secret"));
        p.delete_secret(A);

        let plan = dir.run_code(2, &PLAN);
        let text = &plan.stdout;
        let manifests = plan_section(text, "manifests = {");
        let roots = plan_section(text, "root_certificates = {");
        let prints = plan_section(text, "fingerprints = {");
        assert!(
            manifests.contains(&format!("+ \"{}\" = (known after apply)", secret_key(A))),
            "{cli}: A's Secret will be created\n{plan}"
        );
        for key in [configmap_key(B, &root_cm(A)), configmap_key(B, MESH_CONFIG)] {
            assert!(
                manifests.contains(&format!("~ \"{key}\" = <<-EOT")),
                "{cli}: {key} changes\n{plan}"
            );
        }
        assert_eq!(
            manifests.matches("EOT -> (known after apply)").count(),
            2,
            "{cli}: B's two bundle ConfigMaps are known after apply\n{plan}"
        );
        for unchanged in [
            secret_key(B),
            configmap_key(A, &root_cm(B)),
            configmap_key(A, MESH_CONFIG),
        ] {
            assert!(
                !manifests.contains(&format!("\"{unchanged}\"")),
                "{cli}: {unchanged} does not change\n{plan}"
            );
        }
        assert!(
            roots.contains(&format!("~ \"{A}\" = <<-EOT"))
                && roots.contains("EOT -> (known after apply)"),
            "{cli}: A's root is known after apply\n{plan}"
        );
        assert!(
            prints.contains(&format!("~ \"{A}\" = \""))
                && prints.contains("-> (known after apply)"),
            "{cli}: A's fingerprint is known after apply\n{plan}"
        );
        for section in [&roots, &prints] {
            assert!(
                !section.contains(&format!("\"{B}\"")),
                "{cli}: B's root is kept\n{plan}"
            );
        }
        assert!(
            text.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: {plan}"
        );

        dir.run_ok(&APPLY);
        let new_a = p.root(A);
        assert_ne!(new_a, old_a, "{cli}: A has a new root");
        assert_eq!(p.recorded_root(B, A), Some(new_a.clone()), "{cli}");
        assert_eq!(
            p.ca_certificates(B),
            BTreeMap::from([(A.to_string(), new_a.clone())]),
            "{cli}"
        );
        assert_eq!(p.secret(B), Some(b_secret), "{cli}: B's CA is kept");
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(v["root_certificates"][A], json!(new_a), "{cli}");
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo calls bar with A's new CA: {e}"));
        assert_plan_empty(&dir);
    }
}

#[test]
fn import_by_member_list_into_a_fresh_directory_then_plan_is_empty() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let first = p.dir(cli, &example());
        first.run_ok(&APPLY);
        let applied = values(&first, "meshfed_trust.fed");
        let second = p.dir(cli, &example());
        let id = format!("{A},{B}");
        let out = second.run_ok(&["import", "-no-color", "meshfed_trust.fed", &id]);
        assert!(out.stdout.contains("Import successful"), "{cli}: {out}");
        let plan = second.run(&PLAN);
        assert_eq!(plan.code, 0, "{cli}: plan after import is empty\n{plan}");
        let imported = values(&second, "meshfed_trust.fed");
        for attr in ["id", "root_certificates", "fingerprints", "manifests"] {
            assert_eq!(imported[attr], applied[attr], "{cli}: {attr}");
        }
        assert!(
            !second.read("terraform.tfstate").contains("PRIVATE KEY"),
            "{cli}"
        );
    }
}

const WARNING: &str = "istiod in cluster-a.local does not read meshfed's trust bundle";

#[test]
fn apply_warns_with_the_fix_when_istiod_lacks_the_multi_root_settings() {
    let partner = generated("partner.example");
    let peer = "  peer {\n    trust_domain  = \"partner.example\"\n    root_cert_pem = file(\"partner-root.pem\")\n  }\n";
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        p.istiod(A, &[]);
        let dir = p.dir(cli, &example());
        dir.write("partner-root.pem", &partner.root_cert_pem);
        let out = dir.run_ok(&APPLY);
        let text = out.combined();
        assert!(text.contains(WARNING), "{cli}: {out}");
        for fix in [
            "ISTIO_MULTIROOT_MESH=true",
            "SHARED_MESH_CONFIG=meshfed-mesh-config",
        ] {
            assert!(text.contains(fix), "{cli}: the warning says {fix}\n{out}");
        }
        assert!(
            !text.contains("istiod in cluster-b.local"),
            "{cli}: no istiod in B, no warning for B\n{out}"
        );

        // One setting is not enough.
        p.istiod(A, &[("ISTIO_MULTIROOT_MESH", "true")]);
        dir.write("main.tf", trust("fed", &[A, B], peer));
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert!(out.combined().contains(WARNING), "{cli}: {out}");

        // Both set: no warning.
        p.istiod(
            A,
            &[
                ("ISTIO_MULTIROOT_MESH", "true"),
                ("SHARED_MESH_CONFIG", "meshfed-mesh-config"),
            ],
        );
        dir.write("main.tf", trust("fed", &[A, B], ""));
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert!(
            !out.combined()
                .contains("does not read meshfed's trust bundle"),
            "{cli}: {out}"
        );
        assert_plan_empty(&dir);
    }
}

#[test]
fn a_provided_ca_is_written_to_the_secret_and_its_key_never_to_state() {
    let ca = generated(A);
    let main = provided_config("");
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &main);
        for (name, text) in ca_files(
            &ca.intermediate_cert_pem,
            &ca.intermediate_key_pem,
            &ca.cert_chain_pem,
            &ca.root_cert_pem,
        ) {
            dir.write(name, text);
        }
        let out = dir.run_ok(&APPLY);
        assert!(!out.combined().contains("PRIVATE KEY"), "{cli}: {out}");
        let s = p.secret(A).expect("A's cacerts Secret");
        assert_eq!(
            s["ca-cert.pem"],
            pem_text(&ca.intermediate_cert_pem),
            "{cli}"
        );
        assert_eq!(s["ca-key.pem"], pem_text(&ca.intermediate_key_pem), "{cli}");
        assert_eq!(s["cert-chain.pem"], pem_text(&ca.cert_chain_pem), "{cli}");
        assert_eq!(s["root-cert.pem"], pem_text(&ca.root_cert_pem), "{cli}");
        assert_eq!(
            p.recorded_root(B, A),
            Some(pem_text(&ca.root_cert_pem)),
            "{cli}: B trusts the provided root"
        );
        let v = values(&dir, "meshfed_trust.fed");
        let key = &v["member"][0]["ca"][0]["key_pem"];
        assert!(key.is_null(), "{cli}: key_pem is write-only: {key}");
        assert_eq!(v["member"][0]["ca"][0]["source"], "provided", "{cli}: {v}");
        let needles: Vec<String> = std::iter::once("PRIVATE KEY".to_string())
            .chain(
                ca.intermediate_key_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .map(str::to_string),
            )
            .collect();
        assert_no_key(
            cli,
            "terraform.tfstate",
            &dir.read("terraform.tfstate"),
            &needles,
        );
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo (provided CA) calls bar: {e}"));
        assert_plan_empty(&dir);
    }
}

/// Not-after of the first certificate in `pem`.
fn not_after(pem: &str) -> time::OffsetDateTime {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    let cert = block.parse_x509().expect("an X.509 certificate");
    cert.validity().not_after.to_datetime()
}

/// The attribute says: intermediate validity "Default 1825; never beyond the root".
#[test]
fn a_root_validity_shorter_than_the_default_intermediate_validity_caps_the_intermediate() {
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      root_validity_days = 365\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    );
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &main);
        let out = dir.run(&APPLY);
        assert_eq!(
            out.code, 0,
            "{cli}: a one-year root is a valid choice\n{out}"
        );
        let s = p.secret(A).expect("A's cacerts Secret");
        let (root, intermediate) = (not_after(&s["root-cert.pem"]), not_after(&s["ca-cert.pem"]));
        let year = cert::now() + time::Duration::days(365);
        assert!(
            (root - year).abs() < time::Duration::hours(1),
            "{cli}: root ends {root}"
        );
        assert!(intermediate <= root, "{cli}: {intermediate} after {root}");
        assert_plan_empty(&dir);
    }
}

/// Import cannot know the `ca` settings, so the plan after it may show them being added, but it
/// must not replace a CA that the cluster holds and the configuration asks for.
#[test]
fn import_keeps_the_ca_of_a_member_with_a_non_default_key_algorithm() {
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      key_algorithm = \"ECDSA_P384\"\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    );
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let first = p.dir(cli, &main);
        first.run_ok(&APPLY);
        let (a_root, a_secret) = (p.root(A), p.secret(A).expect("Secret"));
        let second = p.dir(cli, &main);
        second.run_ok(&[
            "import",
            "-no-color",
            "meshfed_trust.fed",
            &format!("{A},{B}"),
        ]);
        let plan = second.run(&PLAN);
        let roots = plan_section(&plan.stdout, "root_certificates = {");
        assert!(
            !roots.contains("known after apply"),
            "{cli}: import must not plan a new CA for {A}\n{plan}"
        );
        second.run_ok(&APPLY);
        assert_eq!(p.root(A), a_root, "{cli}: A's root is kept");
        assert_eq!(p.secret(A), Some(a_secret), "{cli}: A's CA is kept");
        assert_plan_empty(&second);
    }
}
