//! The provider as users meet it: a real Terraform and a real OpenTofu load this build of meshfed
//! through `dev_overrides` and talk to it over the plugin protocol (handshake, AutoMTLS, schema,
//! validation, configuration, data source reads). No cluster is reached. Needs real Terraform and
//! OpenTofu (`scripts/setup`); no control plane.
#[path = "../support/mod.rs"]
mod support;

use support::tf::{Cli, TfDir, TfOutput};

const REQUIRED: &str = r#"
terraform {
  required_providers {
    meshfed = { source = "meshfed/meshfed" }
  }
}
"#;

fn config(provider_block: &str, rest: &str) -> String {
    format!("{REQUIRED}\n{provider_block}\n{rest}\n")
}

/// A data source keeps the provider in the graph, so Terraform validates and configures it.
const CLUSTER_A: &str = r#"
data "meshfed_cluster" "a" {
  name = "cluster-a.local"
}
"#;

/// meshfed's entry of `providers schema -json`, and its provider address.
fn meshfed_schema(cli: Cli, out: &TfOutput) -> (String, serde_json::Value) {
    let v: serde_json::Value = serde_json::from_str(
        out.stdout
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("{cli}: no JSON line\n{out}")),
    )
    .unwrap_or_else(|e| panic!("{cli}: schema JSON: {e}\n{out}"));
    let schemas = v["provider_schemas"]
        .as_object()
        .unwrap_or_else(|| panic!("{cli}: no provider_schemas\n{out}"));
    let (addr, meshfed) = schemas
        .iter()
        .find(|(k, _)| k.ends_with("/meshfed/meshfed"))
        .unwrap_or_else(|| panic!("{cli}: meshfed missing from {:?}", schemas.keys()));
    (addr.clone(), meshfed.clone())
}

#[test]
fn providers_schema_json_shows_the_cluster_map_block_with_both_clis() {
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", config(r#"provider "meshfed" {}"#, ""));
        let out = dir.run_ok(&["providers", "schema", "-json"]);
        let (addr, meshfed) = meshfed_schema(cli, &out);
        let cluster = &meshfed["provider"]["block"]["block_types"]["cluster"];
        assert_eq!(cluster["nesting_mode"], "map", "{cli} {addr}: {cluster}");
        let attrs = &cluster["block"]["attributes"];
        for a in [
            "kubeconfig",
            "context",
            "host",
            "token",
            "client_certificate",
            "client_key",
            "cluster_ca_certificate",
            "insecure",
            "tls_server_name",
            "proxy_url",
            "trust_domain",
            "domain_suffix",
            "istio_namespace",
            "network",
        ] {
            assert!(attrs[a].is_object(), "{cli}: cluster.{a} missing: {attrs}");
            assert!(
                attrs[a]["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{cli}: cluster.{a} has no description"
            );
        }
        assert_eq!(
            attrs["token"]["sensitive"], true,
            "{cli}: token must be sensitive"
        );
        assert_eq!(
            attrs["client_key"]["sensitive"], true,
            "{cli}: client_key must be sensitive"
        );
        assert_eq!(
            cluster["block"]["block_types"]["exec"]["max_items"], 1,
            "{cli}: exec block"
        );
        assert!(
            meshfed["provider"]["block"]["attributes"]["field_manager"].is_object(),
            "{cli}: field_manager"
        );
        assert!(
            meshfed["data_source_schemas"]["meshfed_cluster"].is_object(),
            "{cli}: data source"
        );
    }
}

#[test]
fn validate_names_the_conflicting_provider_attribute_with_both_clis() {
    let provider = r#"
provider "meshfed" {
  cluster "cluster-a.local" {
    kubeconfig = "/nonexistent/kubeconfig"
    host       = "https://127.0.0.1:6443"
  }
}
"#;
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        let text = config(provider, CLUSTER_A);
        let host_line = 1 + text
            .lines()
            .position(|l| l.trim_start().starts_with("host"))
            .expect("host line");
        dir.write("main.tf", text);
        let out = dir.run_code(1, &["validate", "-json"]);
        let v: serde_json::Value =
            serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
                .unwrap_or_else(|e| panic!("{cli}: validate -json output: {e}\n{out}"));
        assert_eq!(v["valid"], false, "{cli}: {v}");
        let diags = v["diagnostics"].as_array().expect("diagnostics");
        let d = diags
            .iter()
            .find(|d| d["severity"] == "error")
            .unwrap_or_else(|| panic!("{cli}: no error in {v}"));
        assert_eq!(
            d["summary"], "Conflicting cluster settings: host and kubeconfig",
            "{cli}: {d}"
        );
        // Terraform points at the attribute the provider named: the `host` line.
        assert_eq!(
            d["range"]["start"]["line"], host_line,
            "{cli}: wrong source line in {d}"
        );
        assert!(
            d["snippet"]["code"]
                .as_str()
                .is_some_and(|c| c.contains("host")),
            "{cli}: {d}"
        );
    }
}

#[test]
fn validate_reports_each_bad_cluster_attribute_at_its_line() {
    let provider = r#"
provider "meshfed" {
  cluster "cluster-a.local" {
    host         = "127.0.0.1:6443"
    token        = "t"
    trust_domain = "Not A Domain"
  }
}
"#;
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", config(provider, CLUSTER_A));
        let out = dir.run_code(1, &["validate", "-no-color"]);
        let text = out.combined();
        assert!(text.contains("Error: Invalid host"), "{cli}: {out}");
        assert!(text.contains("Error: Invalid trust domain"), "{cli}: {out}");
        assert!(
            text.contains(r#"host         = "127.0.0.1:6443""#),
            "{cli}: the host line is shown\n{out}"
        );
    }
}

#[test]
fn a_valid_configuration_validates_and_the_data_source_reads_mesh_facts() {
    // Nothing listens on this address: configuring the provider must not connect.
    let provider = r#"
provider "meshfed" {
  cluster "cluster-a.local" {
    host  = "https://127.0.0.1:1"
    token = "not-a-real-token"
  }
  cluster "cluster-b.local" {
    kubeconfig      = "/nonexistent/kubeconfig"
    trust_domain    = "b.example"
    istio_namespace = "mesh-system"
    network         = "net-b"
  }
}
"#;
    let rest = r#"
data "meshfed_cluster" "a" {
  name = "cluster-a.local"
}
data "meshfed_cluster" "b" {
  name = "cluster-b.local"
}
output "a" { value = data.meshfed_cluster.a }
output "b" { value = data.meshfed_cluster.b }
"#;
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", config(provider, rest));
        dir.run_ok(&["validate", "-no-color"]);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let out = dir.run_ok(&["output", "-json"]);
        let v: serde_json::Value =
            serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
                .unwrap_or_else(|e| panic!("{cli}: output -json: {e}\n{out}"));
        assert_eq!(
            v["a"]["value"]["trust_domain"], "cluster-a.local",
            "{cli}: {v}"
        );
        assert_eq!(
            v["a"]["value"]["istio_namespace"], "istio-system",
            "{cli}: {v}"
        );
        assert!(v["a"]["value"]["network"].is_null(), "{cli}: {v}");
        assert_eq!(v["b"]["value"]["trust_domain"], "b.example", "{cli}: {v}");
        assert_eq!(
            v["b"]["value"]["domain_suffix"], "cluster-b.local",
            "{cli}: {v}"
        );
        assert_eq!(
            v["b"]["value"]["istio_namespace"], "mesh-system",
            "{cli}: {v}"
        );
        assert_eq!(v["b"]["value"]["network"], "net-b", "{cli}: {v}");
        // The second plan is empty.
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
        // The token is in no output.
        let show = dir.run_ok(&["show", "-no-color"]);
        assert!(
            !show.combined().contains("not-a-real-token"),
            "{cli}: token leaked\n{show}"
        );
    }
}

#[test]
fn an_unknown_cluster_name_is_refused_at_plan_on_the_name_attribute() {
    let provider = r#"
provider "meshfed" {
  cluster "cluster-a.local" {
    context = "a"
  }
}
"#;
    let rest = r#"
data "meshfed_cluster" "x" {
  name = "cluster-x.local"
}
"#;
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", config(provider, rest));
        let out = dir.run_code(1, &["plan", "-no-color"]);
        let text = out.combined();
        assert!(
            text.contains(r#"Error: Unknown cluster "cluster-x.local""#),
            "{cli}: {out}"
        );
        assert!(
            text.contains("cluster-a.local"),
            "{cli}: lists the configured clusters\n{out}"
        );
        assert!(
            text.contains(r#"name = "cluster-x.local""#),
            "{cli}: points at name\n{out}"
        );
    }
}

#[test]
fn provider_settings_unknown_until_apply_do_not_break_planning() {
    // The cluster's host comes from a resource created in the same run.
    let provider = r#"
resource "terraform_data" "cluster" {
  input = "https://127.0.0.1:1"
}
provider "meshfed" {
  cluster "cluster-a.local" {
    host  = terraform_data.cluster.output
    token = "t"
  }
}
"#;
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", config(provider, CLUSTER_A));
        dir.run_ok(&["validate", "-no-color"]);
        let out = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(out.stdout.contains("1 to add"), "{cli}: {out}");
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(out.stdout.contains("Apply complete"), "{cli}: {out}");
    }
}
