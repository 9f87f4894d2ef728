//! Inputs `modules/federation` refuses at plan, each with one message that names the export or
//! import at fault and the way out: an export from or to a cluster that is not in
//! `var.clusters`, an export to its own cluster, an export listed twice, an import (of another
//! instance's export) into a cluster not in `var.clusters` or of an export this instance makes
//! itself, and a cluster the provider does not configure (refused by the provider itself, through
//! `data.meshfed_cluster`). Planning new objects makes no API call, so the provider's clusters here
//! are addresses nothing listens on: no control plane is needed. Needs real Terraform and
//! OpenTofu.

use crate::fixture::init;
use crate::support::tf::{Cli, TfDir};
use crate::{A, B, C, module_dir};

/// A provider block for cluster-a.local and cluster-b.local at an address nothing listens on.
fn unreachable_provider() -> String {
    let mut s = String::from(
        "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
    );
    for name in [A, B] {
        s.push_str(&format!(
            "  cluster \"{name}\" {{\n    host     = \"https://127.0.0.1:9\"\n    token    = \"unused\"\n    insecure = true\n  }}\n"
        ));
    }
    s.push_str("}\n");
    s
}

/// The module over `clusters` (HCL map entries) with `inputs` (attribute lines).
fn module_call(clusters: &str, inputs: &str) -> String {
    format!(
        "module \"federation\" {{\n  source   = \"{}\"\n  clusters = {{\n{clusters}  }}\n{inputs}}}\n",
        module_dir().display()
    )
}

/// The `exports` attribute listing `exports` (HCL list elements).
fn exports(exports: &[String]) -> String {
    format!("  exports = [\n{}  ]\n", exports.concat())
}

/// The `imports` attribute importing bar (as cluster-b.local exports it) into `to`.
fn import_bar(to: &str) -> String {
    let export = "{\n        host              = \"bar.xyz.svc.cluster-b.local\"\n        ports             = [{ name = \"http\", number = 8080, protocol = \"HTTP\" }]\n        gateway_endpoints = [{ address = \"192.0.2.1\", port = 15443 }]\n        subject_alt_names = [\"spiffe://cluster-b.local/ns/xyz/sa/bar\"]\n        trust_domain      = \"cluster-b.local\"\n      }";
    format!(
        "  imports = {{\n    \"bar.xyz@cluster-b.local\" = {{\n      export    = {export}\n      to        = [\"{to}\"]\n      namespace = \"abc\"\n    }}\n  }}\n"
    )
}

fn export(service: &str, from: &str, to: &[&str]) -> String {
    let to: Vec<String> = to.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "    {{\n      service   = \"{service}\"\n      namespace = \"xyz\"\n      from      = \"{from}\"\n      to        = [{}]\n      ports     = [{{ name = \"http\", number = 8080 }}]\n    }},\n",
        to.join(", ")
    )
}

const TWO_CLUSTERS: &str = "    \"cluster-a.local\" = {}\n    \"cluster-b.local\" = {}\n";

/// Plans the module over `clusters` with `inputs` with `cli`; the plan must fail and show each of `expected`
/// (blanks and the box-drawing margin squashed, as the CLIs wrap long messages).
fn assert_refused(cli: Cli, clusters: &str, inputs: &str, expected: &[&str]) {
    let dir = TfDir::new(cli);
    dir.write(
        "main.tf",
        format!(
            "{}\n{}",
            unreachable_provider(),
            module_call(clusters, inputs)
        ),
    );
    init(&dir);
    let out = dir.run(&["plan", "-no-color"]);
    assert_eq!(out.code, 1, "{cli}: the plan is refused\n{out}");
    let flat = out
        .combined()
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for want in expected {
        assert!(flat.contains(want), "{cli}: {want:?} in\n{out}");
    }
}

#[test]
fn an_export_from_a_cluster_not_in_var_clusters_is_refused_naming_the_export() {
    for cli in Cli::both() {
        let qux = exports(&[export("qux", C, &[A])]);
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &qux,
            &[
                "Export qux.xyz@cluster-c.local: from = \"cluster-c.local\" is not a key of var.clusters (cluster-a.local, cluster-b.local).",
            ],
        );
    }
}

#[test]
fn an_export_to_a_cluster_not_in_var_clusters_is_refused_naming_the_import() {
    for cli in Cli::both() {
        let bar = exports(&[export("bar", B, &[A, C])]);
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &bar,
            &[
                "Import bar.xyz@cluster-b.local->cluster-c.local: to = \"cluster-c.local\" is not a key of var.clusters (cluster-a.local, cluster-b.local).",
            ],
        );
    }
}

#[test]
fn an_export_to_its_own_cluster_and_an_export_listed_twice_are_refused() {
    for cli in Cli::both() {
        let own = exports(&[export("bar", B, &[A, B])]);
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &own,
            &["An export's to list must not contain its own from cluster"],
        );
        let twice = exports(&[export("bar", B, &[A]), export("bar", B, &[A])]);
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &twice,
            &["Each export must be listed once"],
        );
    }
}

#[test]
fn a_cluster_the_provider_does_not_configure_is_refused_by_the_provider() {
    for cli in Cli::both() {
        let clusters = format!("{TWO_CLUSTERS}    \"{C}\" = {{}}\n");
        assert_refused(
            cli,
            &clusters,
            "",
            &[
                "Unknown cluster \"cluster-c.local\"",
                "The provider configuration has clusters cluster-a.local, cluster-b.local",
            ],
        );
    }
}

#[test]
fn an_import_into_an_unknown_cluster_or_of_an_export_of_the_same_instance_is_refused() {
    for cli in Cli::both() {
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &import_bar(C),
            &[
                "Import bar.xyz@cluster-b.local->cluster-c.local: to = \"cluster-c.local\" is not a key of var.clusters",
            ],
        );
        let both = format!("{}{}", exports(&[export("bar", B, &[A])]), import_bar(A));
        assert_refused(
            cli,
            TWO_CLUSTERS,
            &both,
            &[
                "bar.xyz@cluster-b.local is both an export of this instance and a key of var.imports",
            ],
        );
    }
}
