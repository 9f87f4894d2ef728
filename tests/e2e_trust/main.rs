//! `meshfed_trust` end to end: real Terraform and real OpenTofu drive this build of the provider
//! against real kube-apiservers, one per member cluster. Each test starts its own control planes
//! for each CLI. The security result is proven with certificates alone (TESTBED.md): workload
//! certificates issued from the intermediates read back from the clusters' `cacerts` Secrets, and
//! a real rustls mutual TLS handshake in which each side trusts exactly the roots its own
//! cluster's objects list. Needs real Terraform and OpenTofu and real control planes
//! (`scripts/setup`).
//!
//! `fixture.rs` holds the control planes and configurations; the tests are by topic: `members.rs`
//! (members and peers trusting each other), `keys.rs` (CA material and where keys never go),
//! `refused.rs` (inputs refused at plan), `repair.rs` (a lost Secret, istiod's settings),
//! `rotation.rs` (a provided CA and a peer's root rotated in phases; expiry warnings),
//! `ownership.rs` (a `cacerts` meshfed did not write is never overwritten; a CA key kept in the
//! operator's Secret), `interrupted.rs` (Ctrl-C over slow links loses track of nothing written,
//! makes no CA twice), `partial.rs` (a member lost mid-apply), `rbac.rs` (a permission missing
//! from the provider's role is one error naming it) and `import.rs`.

mod fixture;
mod import;
mod interrupted;
mod keys;
mod members;
mod ownership;
mod partial;
mod rbac;
mod refused;
mod repair;
mod rotation;
#[path = "../support/mod.rs"]
mod support;

use serde_json::Value as Json;

use support::tf::TfDir;

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
