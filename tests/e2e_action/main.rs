//! The `meshfed_rollout_restart` action (Terraform ≥ 1.14 actions, protocol 6.10) with the newest
//! Terraform against a real kube-apiserver: `terraform apply -invoke` of the registry example
//! (`examples/actions/`) sets `kubectl.kubernetes.io/restartedAt` on the pod template of exactly
//! the Deployments its selector matches, as `kubectl rollout restart` does, and touches nothing
//! else (the other Deployments keep their resourceVersion); the CLI shows a progress line per
//! Deployment; an `action_trigger` runs it after a resource's update; a selector matching nothing
//! is a warning; a bad namespace or an unknown cluster is refused at plan, naming the attribute;
//! with least privilege the documented Role (`examples/rbac/rollout-restart.yaml`) suffices, and
//! without its `patch` the error names the Deployment. Every CLI (the floors too) loads the
//! provider's schema and only Terraform lists the action in `providers schema -json`; OpenTofu
//! 1.12.6, which has no actions, plans a configuration with this provider as before. The action's
//! docs show the example invoked here. No controller runs: nothing rolls the pods out,
//! the test reads the pod template. Needs real Terraform and OpenTofu and a real control plane.

#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use support::controlplanes::{ControlPlanes, ensure_namespace};
use support::rbac;
use support::tf::{Cli, TfDir};

const A: &str = "cluster-a.local";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const INVOKE_FOO: &str = "-invoke=action.meshfed_rollout_restart.foo";

struct Plane {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
}

impl Plane {
    fn start() -> Plane {
        let planes = ControlPlanes::start(&[A]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = rt.block_on(planes.client(A));
        for ns in ["abc", "xyz"] {
            rt.block_on(ensure_namespace(&client, ns));
        }
        Plane { planes, rt }
    }

    /// The `terraform` and `provider` blocks, with meshfed's ServiceAccount.
    fn provider(&self) -> String {
        format!(
            "terraform {{\n  required_providers {{\n    meshfed = {{ source = \"meshfed/meshfed\" }}\n  }}\n}}\n\nprovider \"meshfed\" {{\n  cluster \"{A}\" {{\n    kubeconfig = \"{}\"\n    context    = \"{}\"\n  }}\n}}\n",
            self.planes.provider_kubeconfig().display(),
            self.planes.context(A)
        )
    }

    fn deployments(&self, ns: &str) -> Api<Deployment> {
        let client = self.rt.block_on(self.planes.client(A));
        Api::namespaced(client, ns)
    }

    /// Creates Deployment `ns/name` with label `app` (admin, as an operator's tooling would).
    fn create(&self, ns: &str, name: &str, app: &str) {
        let labels = json!({"app": app});
        let body = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "example.com/app:1"}]}}}
        });
        let d: Deployment = serde_json::from_value(body).expect("a Deployment");
        let created = self
            .rt
            .block_on(self.deployments(ns).create(&PostParams::default(), &d));
        created.unwrap_or_else(|e| panic!("create Deployment {ns}/{name}: {e}"));
    }

    /// Deployment `ns/name` as JSON.
    fn get(&self, ns: &str, name: &str) -> Value {
        let d = self.rt.block_on(self.deployments(ns).get(name));
        let d = d.unwrap_or_else(|e| panic!("get Deployment {ns}/{name}: {e}"));
        serde_json::to_value(d).expect("Deployment JSON")
    }
}

/// `examples/<path>`.
fn example(path: &str) -> String {
    let file = format!("{}/examples/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"))
}

fn restarted_at(d: &Value) -> Option<String> {
    d["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .map(str::to_string)
}

/// The Deployment's spec without the restart annotation, and its labels and annotations: what
/// the action must leave as it was.
fn untouched_part(d: &Value) -> Value {
    let mut spec = d["spec"].clone();
    if let Some(a) = spec
        .pointer_mut("/template/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove(RESTARTED_AT);
        if a.is_empty() {
            spec["template"]["metadata"]
                .as_object_mut()
                .expect("template metadata")
                .remove("annotations");
        }
    }
    json!({"spec": spec, "labels": d["metadata"]["labels"], "annotations": d["metadata"]["annotations"]})
}

/// The seconds between now and an RFC 3339 UTC time in whole seconds (`2026-01-02T03:04:05Z`).
fn age_secs(stamp: &str) -> i64 {
    let format = time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc();
    let formatted = now.format(&format).expect("format now");
    assert_eq!(
        stamp.len(),
        20,
        "{stamp:?} is RFC 3339 in whole seconds, UTC"
    );
    assert_eq!(
        &stamp[..10],
        &formatted[..10],
        "{stamp:?} is today ({formatted})"
    );
    let secs = |s: &str| -> i64 {
        let part = |r: std::ops::Range<usize>| s[r].parse::<i64>().expect("digits");
        part(11..13) * 3600 + part(14..16) * 60 + part(17..19)
    };
    secs(&formatted) - secs(stamp)
}

#[test]
fn invoking_the_example_restarts_exactly_the_matching_deployments() {
    let p = Plane::start();
    p.create("abc", "foo", "foo");
    p.create("abc", "foo-canary", "foo");
    p.create("abc", "other", "other");
    p.create("xyz", "foo", "foo");
    let before: Vec<Value> = [
        ("abc", "foo"),
        ("abc", "foo-canary"),
        ("abc", "other"),
        ("xyz", "foo"),
    ]
    .map(|(ns, name)| p.get(ns, name))
    .to_vec();

    let dir = TfDir::new(Cli::Terraform);
    dir.write("provider.tf", p.provider());
    dir.write(
        "action.tf",
        example("actions/meshfed_rollout_restart/action.tf"),
    );
    let out = dir.run_ok(&["apply", "-auto-approve", "-no-color", INVOKE_FOO]);
    let text = out.combined();
    for line in [
        "restarted deployment abc/foo in cluster-a.local",
        "restarted deployment abc/foo-canary in cluster-a.local",
        "restarted 2 of 2 deployments in namespace abc of cluster-a.local (selector app=foo)",
    ] {
        assert!(text.contains(line), "the CLI shows {line:?}\n{out}");
    }
    assert!(!text.contains("abc/other"), "{out}");

    for (i, (ns, name)) in [("abc", "foo"), ("abc", "foo-canary")]
        .into_iter()
        .enumerate()
    {
        let now = p.get(ns, name);
        let stamp = restarted_at(&now).unwrap_or_else(|| panic!("{ns}/{name} restarted: {now}"));
        let age = age_secs(&stamp);
        assert!(
            (0..120).contains(&age),
            "{ns}/{name}: {stamp} is {age} s old"
        );
        assert_eq!(
            untouched_part(&now),
            untouched_part(&before[i]),
            "{ns}/{name}"
        );
    }
    for (i, (ns, name)) in [(2, ("abc", "other")), (3, ("xyz", "foo"))] {
        let now = p.get(ns, name);
        assert_eq!(restarted_at(&now), None, "{ns}/{name} not restarted");
        assert_eq!(
            now["metadata"]["resourceVersion"], before[i]["metadata"]["resourceVersion"],
            "{ns}/{name} not written at all"
        );
    }
    // An action keeps no state.
    assert!(
        !dir.read("terraform.tfstate")
            .contains("meshfed_rollout_restart")
    );

    action_trigger_restarts_after_an_update(&p, &dir);
    nothing_matched_is_a_warning(&p);
    without_patch_the_error_names_the_deployment(&p, &dir);
}

/// A `terraform_data` whose update triggers the example action.
fn action_trigger_restarts_after_an_update(p: &Plane, dir: &TfDir) {
    let trigger = |generation: u32| {
        format!(
            "resource \"terraform_data\" \"ca_generation\" {{\n  input = {generation}\n  lifecycle {{\n    action_trigger {{\n      events  = [after_update]\n      actions = [action.meshfed_rollout_restart.foo]\n    }}\n  }}\n}}\n"
        )
    };
    dir.write("trigger.tf", trigger(1));
    let created = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        !created.combined().contains("restarted deployment"),
        "not on create\n{created}"
    );
    let first = restarted_at(&p.get("abc", "foo")).expect("restarted before");

    std::thread::sleep(Duration::from_millis(1100)); // a new stamp, in whole seconds
    dir.write("trigger.tf", trigger(2));
    let updated = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        updated
            .combined()
            .contains("restarted deployment abc/foo in cluster-a.local"),
        "after the update\n{updated}"
    );
    let second = restarted_at(&p.get("abc", "foo")).expect("restarted again");
    assert!(second > first, "{second} after {first}");
    assert_eq!(restarted_at(&p.get("abc", "other")), None);
    dir.write("trigger.tf", "");
}

fn nothing_matched_is_a_warning(p: &Plane) {
    let dir = TfDir::new(Cli::Terraform);
    dir.write("provider.tf", p.provider());
    dir.write(
        "action.tf",
        "action \"meshfed_rollout_restart\" \"nobody\" {\n  config {\n    cluster   = \"cluster-a.local\"\n    namespace = \"abc\"\n    selector  = { app = \"nobody\" }\n  }\n}\n",
    );
    let out = dir.run_ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-invoke=action.meshfed_rollout_restart.nobody",
    ]);
    let flat = flatten(&out.combined());
    // Terraform shows an action's warnings as "<summary>: <detail>".
    let warning = "No Deployment to restart: Namespace abc of cluster-a.local has no Deployment \
        that matches (selector app=nobody)";
    assert!(flat.contains(warning), "{out}");
}

/// The text without box drawing and line breaks, for messages Terraform wraps.
fn flatten(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_bad_namespace_or_unknown_cluster_is_refused_at_plan_naming_the_attribute() {
    let p = Plane::start();
    let dir = TfDir::new(Cli::Terraform);
    dir.write("provider.tf", p.provider());
    let action = |cluster: &str, namespace: &str| {
        format!(
            "action \"meshfed_rollout_restart\" \"foo\" {{\n  config {{\n    cluster   = \"{cluster}\"\n    namespace = \"{namespace}\"\n  }}\n}}\n"
        )
    };
    // The line of the attribute at fault (line 3: cluster, line 4: namespace).
    for (cluster, namespace, summary, at) in [
        (
            A,
            "Not_A_Namespace",
            "Error: Invalid namespace",
            "on action.tf line 4",
        ),
        (
            "cluster-z.local",
            "abc",
            "Error: Unknown cluster \"cluster-z.local\"",
            "on action.tf line 3",
        ),
    ] {
        dir.write("action.tf", action(cluster, namespace));
        let out = dir.run(&["plan", "-no-color", INVOKE_FOO]);
        assert_ne!(out.code, 0, "refused\n{out}");
        let text = out.combined();
        assert!(text.contains(summary), "{summary}\n{out}");
        assert!(
            text.contains(at),
            "the error points at the attribute: {at}\n{out}"
        );
    }
}

fn without_patch_the_error_names_the_deployment(p: &Plane, dir: &TfDir) {
    let admin = p.rt.block_on(p.planes.client(A));
    let role = rbac::document("Role", Some("abc"), "meshfed-rollout-restart");
    p.rt.block_on(rbac::apply(
        &admin,
        &rbac::without_verb(&role, "deployments", "patch"),
    ));
    let out = dir.run(&["apply", "-auto-approve", "-no-color", INVOKE_FOO]);
    p.rt.block_on(rbac::apply(&admin, &role));
    assert_ne!(out.code, 0, "refused without patch\n{out}");
    let text = out.combined();
    rbac::assert_one_denial(
        "restart without patch",
        &text,
        A,
        "patch",
        "deployments.apps",
        "abc",
    );
    let flat = flatten(&text);
    assert!(
        flat.contains("Cannot restart deployment abc/foo in cluster-a.local"),
        "{out}"
    );
    assert!(flat.contains("apps/v1 Deployment abc/foo"), "{out}");
}

#[test]
fn opentofu_without_actions_plans_with_this_provider() {
    let p = Plane::start();
    let dir = TfDir::new(Cli::Tofu);
    dir.write("provider.tf", p.provider());
    dir.write(
        "main.tf",
        "data \"meshfed_cluster\" \"a\" {\n  name = \"cluster-a.local\"\n}\n\noutput \"trust_domain\" {\n  value = data.meshfed_cluster.a.trust_domain\n}\n",
    );
    let out = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        out.stdout.contains("trust_domain = \"cluster-a.local\""),
        "{out}"
    );
}

/// Every CLI loads the provider's schema; only Terraform ≥ 1.14 lists the action in it, the
/// others ignore what they do not know.
#[test]
fn only_clis_with_actions_see_the_action_and_every_cli_loads_the_provider() {
    let required = "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {}\n";
    for cli in Cli::all() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", required);
        let out = dir.run_ok(&["providers", "schema", "-json"]);
        let line = out.stdout.lines().find(|l| l.starts_with('{'));
        let v: Value = serde_json::from_str(line.unwrap_or_default())
            .unwrap_or_else(|e| panic!("{cli}: schema JSON: {e}\n{out}"));
        let meshfed = v["provider_schemas"]
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with("/meshfed/meshfed")))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{cli}: meshfed missing\n{out}"));
        assert!(
            meshfed["resource_schemas"]["meshfed_trust"].is_object(),
            "{cli}"
        );
        let action = &meshfed["action_schemas"]["meshfed_rollout_restart"];
        if cli == Cli::Terraform {
            let attrs = &action["block"]["attributes"];
            assert_eq!(attrs["cluster"]["required"], true, "{cli}: {action}");
            assert_eq!(attrs["selector"]["optional"], true, "{cli}: {action}");
        } else {
            assert!(meshfed.get("action_schemas").is_none(), "{cli}: {meshfed}");
        }
    }
}

/// The action's docs show the registry example the tests invoke, verbatim.
#[test]
fn the_docs_show_the_example_that_is_invoked() {
    let docs = std::fs::read_to_string(format!(
        "{}/docs/actions/rollout_restart.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("docs/actions/rollout_restart.md");
    let example = example("actions/meshfed_rollout_restart/action.tf");
    assert!(
        docs.contains(&format!("```terraform\n{example}```")),
        "the docs' example is examples/actions/meshfed_rollout_restart/action.tf"
    );
}

/// The use the rotation guide gives: a `meshfed_trust` whose updates (each phase of a CA
/// rotation) trigger the restart, so that workloads fetch certificates of the CA istiod now signs
/// with.
#[test]
fn each_phase_of_a_ca_rotation_triggers_the_restart() {
    let p = Plane::start();
    p.create("abc", "foo", "foo");
    let trust = |generation: u32, rotation: &str| {
        format!(
            "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster  = \"{A}\"\n    rotation = {rotation}\n    ca {{ generation = {generation} }}\n  }}\n  lifecycle {{\n    action_trigger {{\n      events  = [after_update]\n      actions = [action.meshfed_rollout_restart.foo]\n    }}\n  }}\n}}\n"
        )
    };
    let dir = TfDir::new(Cli::Terraform);
    dir.write("provider.tf", p.provider());
    dir.write(
        "action.tf",
        example("actions/meshfed_rollout_restart/action.tf"),
    );
    dir.write("trust.tf", trust(1, "null"));
    let created = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        !created.combined().contains("restarted deployment"),
        "not when the trust is created\n{created}"
    );
    assert_eq!(restarted_at(&p.get("abc", "foo")), None);

    let mut last = String::new();
    for phase in ["\"overlap\"", "\"switch\"", "\"retire\""] {
        std::thread::sleep(Duration::from_millis(1100)); // a new stamp, in whole seconds
        dir.write("trust.tf", trust(2, phase));
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(
            out.combined()
                .contains("restarted deployment abc/foo in cluster-a.local"),
            "{phase}: restarted after the trust's update\n{out}"
        );
        let stamp = restarted_at(&p.get("abc", "foo")).expect("restarted");
        assert!(stamp > last, "{phase}: {stamp} after {last}");
        last = stamp;
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
    }
}
