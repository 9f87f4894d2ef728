//! `examples/terragrunt/` without Terragrunt, which cannot be installed here (no registry ships
//! it). For each unit the test builds the directory Terragrunt would run Terraform in: the module
//! of `terraform.source` copied, the `provider.tf` of root.hcl's `generate "provider"` (its
//! template rendered by Terraform's own HCL template engine, which Terragrunt shares, over
//! fleet.hcl's locals), the `backend.tf` that `remote_state` generates (written by hand, into a
//! temporary directory), and the unit's `inputs` evaluated by Terraform (with fleet.hcl's locals,
//! and `dependency.<unit>.outputs` set to the dependency's `output -json`, or its mock outputs)
//! and passed as `TF_VAR_*`, as Terragrunt passes them. Each unit then passes `init` and
//! `validate`; west plans with east's mock outputs; and the units apply in dependency order
//! (trust, east, west), plan empty, and destroy in reverse. What is not Terragrunt's own: the
//! Terragrunt functions (`find_in_parent_folders`, `read_terragrunt_config`, `get_repo_root`,
//! `get_parent_terragrunt_dir`, `path_relative_to_include`) are replaced by their values, and
//! Terragrunt's own handling of `remote_state` and `dependencies` is not exercised. Needs real
//! control planes and Terraform and OpenTofu.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::fixture::{Fleet, init, outputs};
use crate::support::tf::{Cli, TfDir};
use crate::{A, APPLY, B, C, CONSUMER_NS, PLAN, module_dir};

const UNITS: [&str; 3] = ["trust", "east", "west"];

/// cluster-b.local's gateway, from its Service's load-balancer status.
const B_GATEWAY: &str = "198.51.100.20";
/// cluster-c.local's gateway, as fleet.hcl gives it.
const C_GATEWAY: &str = "198.51.100.30";

fn layout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/terragrunt")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The heredoc (`<<EOF` to a line `EOF`) that starts right after `opener`, as an HCL
/// expression.
fn heredoc(text: &str, opener: &str) -> String {
    let start = text
        .find(opener)
        .unwrap_or_else(|| panic!("no {opener:?} in:\n{text}"))
        + opener.len();
    let rest = &text[start..];
    assert!(rest.starts_with("<<EOF\n"), "no <<EOF after {opener:?}");
    let end = rest
        .find("\nEOF\n")
        .unwrap_or_else(|| panic!("no end of the heredoc after {opener:?}"));
    rest[..end + "\nEOF\n".len()].to_string()
}

/// The expression after `opener` (e.g. `\ninputs = `): one `{ ... }`, braces counted outside
/// string literals.
fn braced(text: &str, opener: &str) -> String {
    let start = text
        .find(opener)
        .unwrap_or_else(|| panic!("no {opener:?} in:\n{text}"))
        + opener.len();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, ch) in text[start..].char_indices() {
        match (in_string, ch) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (_, '"') => in_string = !in_string,
            (false, '{') => depth += 1,
            (false, '}') => {
                depth -= 1;
                if depth == 0 {
                    return text[start..=start + i].to_string();
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after {opener:?}");
}

/// Evaluates HCL `outputs` (name → expression) with fleet.hcl's locals as `local.fleet` and
/// `dependencies` (unit → its outputs) as `local.dependency`, with Terraform.
fn evaluate(
    cli: Cli,
    outputs_hcl: &[(&str, String)],
    dependencies: &Json,
) -> BTreeMap<String, Json> {
    let dir = TfDir::new(cli);
    dir.write("fleet.tf", read(&layout().join("fleet.hcl")));
    dir.write("dependencies.json", dependencies.to_string());
    let mut eval = String::from(
        "locals {\n  fleet      = { clusters = local.clusters }\n  dependency = jsondecode(file(\"${path.module}/dependencies.json\"))\n}\n",
    );
    for (name, expr) in outputs_hcl {
        eval.push_str(&format!("\noutput \"{name}\" {{\n  value = {expr}\n}}\n"));
    }
    dir.write("eval.tf", eval);
    dir.run_ok(&APPLY);
    outputs(&dir)
}

/// A unit's `inputs`, evaluated as Terragrunt would, with `dependencies` as the outputs of the
/// units it depends on.
fn inputs(cli: Cli, unit: &str, dependencies: &Json) -> BTreeMap<String, Json> {
    let text = read(&layout().join(unit).join("terragrunt.hcl"));
    let expr = braced(&text, "\ninputs = ").replace("dependency.", "local.dependency.");
    let evaluated = evaluate(cli, &[("inputs", expr)], dependencies);
    serde_json::from_value(evaluated["inputs"].clone()).expect("inputs is an object")
}

/// The `mock_outputs` of `unit`'s dependency block (west has one: on east).
fn mock_outputs(cli: Cli, unit: &str) -> Json {
    let text = read(&layout().join(unit).join("terragrunt.hcl"));
    let expr = braced(&text, "\n  mock_outputs = ");
    evaluate(cli, &[("mock", expr)], &Json::Object(Default::default()))["mock"].clone()
}

/// root.hcl's generated `provider.tf`, its template rendered over fleet.hcl's locals.
fn provider_tf(cli: Cli) -> String {
    let root = read(&layout().join("root.hcl"));
    let template = heredoc(&root, "contents  = ");
    let rendered = evaluate(
        cli,
        &[("provider", template)],
        &Json::Object(Default::default()),
    );
    rendered["provider"].as_str().expect("a string").to_string()
}

/// The directory Terragrunt would run `unit` in, with its inputs as `TF_VAR_*`.
fn unit_dir(
    cli: Cli,
    unit: &str,
    provider: &str,
    state: &Path,
    inputs: &BTreeMap<String, Json>,
) -> TfDir {
    let mut dir = TfDir::new(cli);
    for entry in std::fs::read_dir(module_dir()).expect("modules/federation") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|x| x == "tf") {
            dir.write(path.file_name().expect("a file name"), read(&path));
        }
    }
    dir.write("provider.tf", provider);
    let state_file = state.join(unit).join("terraform.tfstate");
    dir.write(
        "backend.tf",
        format!(
            "terraform {{\n  backend \"local\" {{\n    path = \"{}\"\n  }}\n}}\n",
            state_file.display()
        ),
    );
    for (name, value) in inputs {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        dir.env(format!("TF_VAR_{name}"), text);
    }
    dir
}

/// `terraform output -json` of an applied unit as `dependency.<unit>.outputs` sees it.
fn dependency_outputs(unit: &str, dir: &TfDir) -> Json {
    serde_json::json!({ unit: { "outputs": outputs(dir) } })
}

#[test]
fn every_unit_of_the_terragrunt_layout_renders_and_validates_with_both_clis() {
    let state = tempfile::tempdir().expect("a state directory");
    for cli in Cli::both() {
        let provider = provider_tf(cli);
        for name in [A, B, C] {
            assert!(
                provider.contains(&format!("cluster \"{name}\" {{")),
                "{cli}: {provider}"
            );
        }
        let mock = serde_json::json!({ "east": { "outputs": mock_outputs(cli, "west") } });
        for unit in UNITS {
            let dir = unit_dir(
                cli,
                unit,
                &provider,
                state.path(),
                &inputs(cli, unit, &mock),
            );
            init(&dir);
            dir.run_ok(&["validate", "-no-color"]);
        }
    }
}

/// The units with `cli`, as `terragrunt run-all` would run them: west planned with east's mock
/// outputs first (nothing is applied yet), then trust, east and west applied in that order, west
/// with east's real outputs; then an empty plan in each, and destroy in reverse order.
fn apply_units_in_order(f: &Fleet, cli: Cli) {
    let state = tempfile::tempdir().expect("a state directory");
    let provider = provider_tf(cli);
    let kubeconfig = f.provider_kubeconfig();
    let unit = |name: &str, deps: &Json| {
        let mut dir = unit_dir(cli, name, &provider, state.path(), &inputs(cli, name, deps));
        dir.env("TF_VAR_kubeconfig", kubeconfig.clone());
        init(&dir);
        dir
    };
    let mock = serde_json::json!({ "east": { "outputs": mock_outputs(cli, "west") } });
    unit("west", &mock).run_code(2, &PLAN);

    let none = Json::Object(Default::default());
    let trust = unit("trust", &none);
    trust.run_ok(&APPLY);
    let east = unit("east", &none);
    east.run_ok(&APPLY);
    let west = unit("west", &dependency_outputs("east", &east));
    west.run_ok(&APPLY);

    for (cluster, others) in [(A, [B, C]), (B, [A, C]), (C, [A, B])] {
        let trusted = f.trusted_domains(cluster);
        assert_eq!(trusted, others, "{cli}: {cluster} trusts the others");
    }
    let bar = "bar-xyz-svc-cluster-b-local";
    let qux = "qux-xyz-svc-cluster-c-local";
    for (cluster, name, gateway) in [
        (A, bar, B_GATEWAY),
        (C, bar, B_GATEWAY),
        (A, qux, C_GATEWAY),
    ] {
        let se = f
            .service_entry(cluster, CONSUMER_NS, name)
            .unwrap_or_else(|| panic!("{cli}: no ServiceEntry {CONSUMER_NS}/{name} in {cluster}"));
        assert_eq!(
            se["spec"]["endpoints"][0]["address"], gateway,
            "{cli}: {se}"
        );
    }
    for dir in [&trust, &east, &west] {
        dir.run_code(0, &PLAN);
    }
    for dir in [&west, &east, &trust] {
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    }
    for cluster in [A, B, C] {
        let left = f.meshfed_objects(cluster);
        assert_eq!(
            left,
            Vec::<String>::new(),
            "{cli}: {cluster} keeps meshfed objects"
        );
    }
}

#[test]
fn the_terragrunt_units_apply_in_dependency_order_plan_empty_and_destroy() {
    let f = Fleet::start(&[A, B, C]);
    f.gateway_service(B, B_GATEWAY);
    for cli in Cli::both() {
        apply_units_in_order(&f, cli);
    }
}
