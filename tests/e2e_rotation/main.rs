//! A member's CA rotated without downtime, proven by Istio itself: `examples/rotation` on two
//! real control planes with real istiods (and the seed's workloads), real Terraform. Cluster A's
//! generated CA is rotated in the three phases (`overlap`, `switch`, `retire`) by raising
//! `ca.generation`, each phase the example's variables; after each apply the test asks each plan which objects change, then reads
//! what the istiods push (trust bundles, as the proxies receive them) and which CA istiod-A
//! signs with (Istio's CSR API). Workload certificates issued before, during and after each phase
//! complete a real mutual TLS handshake with bar in cluster B, each side trusting exactly the
//! bundle its own istiod pushes; only after `retire` does a certificate of the old CA fail.
//! istiod is never restarted after the first plug-in: it reloads `cacerts` by itself.
//! Then A's `cacerts` is deleted: meshfed regenerates it into phase `switch` (the old root kept),
//! which istiod again loads without a restart. After each phase, `meshfed_federation_status`
//! (the rotation guide's way to watch) reports the federation healthy.
//!
//! Needs real Terraform, control planes and istiod (`scripts/setup`).
#[path = "../support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../e2e_istiod/fixture.rs"]
mod fixture;

use std::collections::BTreeSet;

use fixture::{A, B, Mesh, bundle, pems, until};
use meshfed::cert::{WorkloadCert, mtls_handshake};
use serde_json::Value;
use support::tf::{Cli, TfDir};

const CACERTS_A: &str = "cluster-a.local/v1/Secret/istio-system/cacerts";
const NEXT_A: &str = "cluster-a.local/v1/Secret/istio-system/meshfed-cacerts-next";
const A_ROOT_IN_B: &str = "cluster-b.local/v1/ConfigMap/istio-system/cluster-a.local-ca-root-cert";
const MESH_IN_B: &str = "cluster-b.local/v1/ConfigMap/istio-system/meshfed-mesh-config";

/// `examples/rotation` in a fresh working directory.
fn rotation_dir(m: &Mesh) -> TfDir {
    let mut dir = TfDir::new(Cli::Terraform);
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/rotation/main.tf"
    ))
    .expect("read the example");
    dir.write("main.tf", example);
    let kubeconfig = m.planes.provider_kubeconfig().display().to_string();
    dir.env("TF_VAR_kubeconfig", kubeconfig);
    dir
}

/// The example's variables for a phase (`None`: no rotation).
fn vars(generation: u32, rotation: Option<&str>) -> Vec<String> {
    let mut v = vec![format!("-var=generation={generation}")];
    if let Some(r) = rotation {
        v.push(format!("-var=rotation={r}"));
    }
    v
}

fn run(dir: &TfDir, code: i32, args: &[&str], vars: &[String]) -> support::tf::TfOutput {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(vars.iter().map(String::as_str));
    dir.run_code(code, &all)
}

/// The keys of the trust's `manifests` that a saved plan adds, changes or removes.
fn planned_changes(dir: &TfDir, vars: &[String]) -> BTreeSet<String> {
    run(dir, 0, &["plan", "-out=rotation.tfplan", "-no-color"], vars);
    let out = dir.run_ok(&["show", "-json", "rotation.tfplan"]);
    let plan: Value = serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"));
    let changes = plan["resource_changes"]
        .as_array()
        .expect("resource_changes");
    let trust = changes
        .iter()
        .find(|c| c["address"] == "meshfed_trust.fed")
        .expect("the trust in the plan");
    let others: Vec<&Value> = changes
        .iter()
        .filter(|c| {
            c["address"] != "meshfed_trust.fed"
                && c["change"]["actions"] != serde_json::json!(["no-op"])
        })
        .collect();
    assert!(others.is_empty(), "only the trust changes: {others:?}");
    let c = &trust["change"];
    let (before, after) = (&c["before"]["manifests"], &c["after"]["manifests"]);
    let unknown = &c["after_unknown"]["manifests"];
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    };
    let all: BTreeSet<String> = keys(before).union(&keys(after)).cloned().collect();
    let all: BTreeSet<String> = all.union(&keys(unknown)).cloned().collect();
    all.into_iter()
        .filter(|k| before[k] != after[k] || unknown[k] == Value::Bool(true))
        .collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn delete_cacerts(m: &Mesh, cluster: &str) {
    use kube::api::{Api, DeleteParams, DynamicObject};
    use kube::core::{ApiResource, GroupVersionKind};
    let client = m.rt.block_on(m.planes.client(cluster));
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret"));
    let secrets: Api<DynamicObject> = Api::namespaced_with(client, "istio-system", &ar);
    m.rt.block_on(secrets.delete("cacerts", &DeleteParams::default()))
        .expect("delete cacerts");
}

/// The intermediate CA a certificate istiod issued was signed by (its chain's second block).
fn issuer(chain: &[String]) -> String {
    let all: Vec<String> = chain.iter().flat_map(|p| pems(p)).collect();
    all.get(1).cloned().expect("a chain with an intermediate")
}

/// A certificate for foo from istiod-A, once istiod-A signs with the intermediate in A's
/// `cacerts` (it reloads the files within seconds of a change).
fn foo_cert_from_current_ca(m: &Mesh) -> WorkloadCert {
    let want = pems(&m.cacerts(A, "ca-cert.pem"));
    let (cert, chain) = until(
        || m.cert(A, &m.foo),
        |(_, chain)| vec![issuer(chain)] == want,
    );
    assert_eq!(
        vec![issuer(&chain)],
        want,
        "istiod-A signs with the CA in cacerts, without a restart"
    );
    cert
}

/// Waits until foo's and bar's bundles (as their istiods push them) are exactly `roots`.
fn bundles_become(m: &Mesh, roots: &[String], why: &str) {
    let want: BTreeSet<String> = roots.iter().flat_map(|r| pems(r)).collect();
    for (who, probe) in [("foo", 0), ("bar", 1)] {
        let view = |p: u8| {
            if p == 0 {
                m.foo_sidecar()
            } else {
                m.bar_sidecar()
            }
        };
        let got = until(
            || view(probe),
            |x| bundle(x).into_iter().collect::<BTreeSet<_>>() == want,
        );
        let got: BTreeSet<String> = bundle(&got).into_iter().collect();
        assert_eq!(got, want, "{why}: {who}'s trust bundle");
    }
}

/// foo (with `foo_cert`) calls bar: each side trusting what its istiod pushes now.
fn handshake(m: &Mesh, foo_cert: &WorkloadCert) -> Result<(), String> {
    let (bar_cert, _) = m.cert(B, &m.bar);
    let (foo_trusts, bar_trusts) = (bundle(&m.foo_sidecar()), bundle(&m.bar_sidecar()));
    mtls_handshake(foo_cert, &foo_trusts, &bar_cert, &bar_trusts)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Deployment istio-system/istiod as Helm installs it with meshfed's settings: how a cluster shows
/// the istiod that runs here as a process, for the status data source.
fn istiod_deployment(m: &Mesh, cluster: &str) {
    let labels = serde_json::json!({"app": "istiod", "istio": "pilot"});
    let env = serde_json::json!([
        {"name": "ISTIO_MULTIROOT_MESH", "value": "true"},
        {"name": "SHARED_MESH_CONFIG", "value": "meshfed-mesh-config"}]);
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "istiod", "namespace": "istio-system", "labels": labels},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "discovery",
                                  "image": "docker.io/istio/pilot:1.31.0", "env": env}]}}}});
    let client = m.rt.block_on(m.planes.client(cluster));
    m.rt.block_on(support::rbac::apply(&client, &deployment));
}

/// The problems `meshfed_federation_status` reports now (read with the provider's identity).
fn status_problems(m: &Mesh) -> Vec<String> {
    let mut dir = TfDir::new(Cli::Terraform);
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/rotation/main.tf"
    ))
    .expect("read the example");
    let provider_only = example
        .split("resource \"meshfed_trust\"")
        .next()
        .expect("the provider part")
        .to_string();
    let status = format!(
        "data \"meshfed_federation_status\" \"now\" {{\n  clusters = [\"{A}\", \"{B}\"]\n}}\n\noutput \"problems\" {{\n  value = [for p in data.meshfed_federation_status.now.problems : \"${{p.cluster}}: ${{p.problem}}\"]\n}}\n"
    );
    dir.write("main.tf", format!("{provider_only}\n{status}"));
    let kubeconfig = m.planes.provider_kubeconfig().display().to_string();
    dir.env("TF_VAR_kubeconfig", kubeconfig);
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let out = dir.run_ok(&["output", "-json", "problems"]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("problems: {e}\n{out}"))
}

/// The status data source finds nothing wrong (retried like the bundles: istiod publishes a
/// reloaded root within seconds).
fn status_healthy(m: &Mesh, why: &str) {
    let problems = until(|| status_problems(m), Vec::is_empty);
    assert!(
        problems.is_empty(),
        "{why}: the status data source reports {problems:#?}"
    );
}

/// Applies the saved plan; the next plan with the same variables is empty.
fn apply(dir: &TfDir, vars: &[String]) {
    dir.run_ok(&["apply", "-auto-approve", "-no-color", "rotation.tfplan"]);
    run(dir, 0, &["plan", "-detailed-exitcode", "-no-color"], vars);
}

#[test]
fn a_generated_ca_rotates_in_three_phases_without_breaking_calls() {
    let m = Mesh::start();
    let dir = rotation_dir(&m);
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    m.planes.restart_istiod(A);
    m.planes.restart_istiod(B);
    istiod_deployment(&m, A);
    istiod_deployment(&m, B);
    let (r1, rb) = (m.cacerts_root(A), m.cacerts_root(B));
    bundles_become(&m, &[r1.clone(), rb.clone()], "before");
    let before = foo_cert_from_current_ca(&m);
    handshake(&m, &before).expect("before the rotation");
    status_healthy(&m, "before");

    // A new generation without a phase, or straight to switch, is refused at plan.
    let out = run(&dir, 1, &["plan", "-no-color"], &vars(2, None));
    assert!(
        out.combined().contains("set rotation = \"overlap\""),
        "{out}"
    );
    let out = run(&dir, 1, &["plan", "-no-color"], &vars(2, Some("switch")));
    assert!(out.combined().contains("skips the overlap"), "{out}");

    // overlap: A's own root-cert.pem and B's bundle gain the new root; nothing else changes.
    let overlap = vars(2, Some("overlap"));
    let changes = planned_changes(&dir, &overlap);
    assert_eq!(
        changes,
        set(&[CACERTS_A, NEXT_A, A_ROOT_IN_B, MESH_IN_B]),
        "overlap"
    );
    apply(&dir, &overlap);
    let own = pems(&m.cacerts(A, "root-cert.pem"));
    assert_eq!(
        own.len(),
        2,
        "A's root-cert.pem: the old root, then the new one"
    );
    assert_eq!(own[0], pems(&r1)[0]);
    let r2 = own[1].clone();
    bundles_become(&m, &[r1.clone(), r2.clone(), rb.clone()], "overlap");
    let during = foo_cert_from_current_ca(&m);
    handshake(&m, &before).expect("overlap: a certificate from before");
    handshake(&m, &during).expect("overlap: a certificate issued during");
    status_healthy(&m, "overlap");

    // retire cannot come before switch.
    let out = run(&dir, 1, &["plan", "-no-color"], &vars(2, Some("retire")));
    assert!(out.combined().contains("would skip \"switch\""), "{out}");

    // switch: only A's cacerts changes (and the staged CA goes); B's bundle stays as it is.
    let switch = vars(2, Some("switch"));
    let changes = planned_changes(&dir, &switch);
    assert_eq!(changes, set(&[CACERTS_A, NEXT_A]), "switch");
    let old_intermediate = pems(&m.cacerts(A, "ca-cert.pem"));
    apply(&dir, &switch);
    let after = foo_cert_from_current_ca(&m);
    assert_ne!(
        pems(&m.cacerts(A, "ca-cert.pem")),
        old_intermediate,
        "a new intermediate"
    );
    bundles_become(&m, &[r1.clone(), r2.clone(), rb.clone()], "switch");
    for (which, cert) in [("before", &before), ("during", &during), ("after", &after)] {
        handshake(&m, cert).unwrap_or_else(|e| panic!("switch: a certificate from {which}: {e}"));
    }
    status_healthy(&m, "switch");

    // retire: the old root leaves A's root-cert.pem and B's bundle.
    let retire = vars(2, Some("retire"));
    let changes = planned_changes(&dir, &retire);
    assert_eq!(changes, set(&[CACERTS_A, A_ROOT_IN_B, MESH_IN_B]), "retire");
    apply(&dir, &retire);
    bundles_become(&m, &[r2.clone(), rb.clone()], "retire");
    handshake(&m, &after).expect("retire: a certificate of the new CA");
    let refused = handshake(&m, &before);
    assert!(
        refused.is_err(),
        "retire: a certificate of the old CA still verifies"
    );
    assert!(
        handshake(&m, &during).is_err(),
        "retire: the overlap's certificate (old CA)"
    );
    status_healthy(&m, "retire");
    assert_eq!(
        pems(&m.cacerts(A, "root-cert.pem")),
        pems(&r2),
        "A's own root-cert.pem"
    );

    // Done: the phase can go (only the attribute changes); the member keeps generation 2.
    let done = vars(2, None);
    assert_eq!(planned_changes(&dir, &done), set(&[]), "rotation removed");
    apply(&dir, &done);

    lost_cacerts_keeps_the_old_root_trusted(&m, &dir, &r2, &rb, &after);
}

/// A's `cacerts` deleted: the plan warns and regenerates into `switch`; istiod-A loads the new CA
/// without a restart (the new root-cert.pem holds the old root too), certificates of the lost CA
/// keep verifying until the operator retires it.
fn lost_cacerts_keeps_the_old_root_trusted(
    m: &Mesh,
    dir: &TfDir,
    r2: &str,
    rb: &str,
    of_r2: &WorkloadCert,
) {
    let done = vars(2, None);
    delete_cacerts(m, A);
    let out = run(dir, 2, &["plan", "-detailed-exitcode", "-no-color"], &done);
    assert!(
        out.combined().contains("is lost and will be regenerated"),
        "{out}"
    );
    run(dir, 0, &["apply", "-auto-approve", "-no-color"], &done);
    run(dir, 0, &["plan", "-detailed-exitcode", "-no-color"], &done);
    let own = pems(&m.cacerts(A, "root-cert.pem"));
    assert_eq!(own.len(), 2, "the new root, then the lost one");
    assert_eq!(own[1], pems(r2)[0]);
    let r3 = own[0].clone();
    let fresh = foo_cert_from_current_ca(m);
    bundles_become(
        m,
        &[r2.to_string(), r3.clone(), rb.to_string()],
        "regenerated",
    );
    handshake(m, of_r2).expect("regenerated: a certificate of the lost CA");
    handshake(m, &fresh).expect("regenerated: a certificate of the new CA");
    status_healthy(m, "regenerated");
    let retire = vars(2, Some("retire"));
    run(dir, 0, &["apply", "-auto-approve", "-no-color"], &retire);
    run(
        dir,
        0,
        &["plan", "-detailed-exitcode", "-no-color"],
        &retire,
    );
    bundles_become(m, &[r3, rb.to_string()], "lost root retired");
    assert!(
        handshake(m, of_r2).is_err(),
        "the lost CA's certificate after retire"
    );
}
