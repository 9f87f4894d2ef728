//! The oldest CLIs meshfed supports, Terraform 1.0.3 and OpenTofu 1.6.3 (SPEC: Terraform >= 1.0,
//! OpenTofu >= 1.6), drive this build of the provider against real kube-apiservers with Istio's
//! CRDs: the lifecycle of each resource (`lifecycle.rs`: apply, an empty second plan, the `import`
//! command into a fresh state directory and an empty plan, destroy) and the refusals at plan
//! (`refused.rs`); `fixture.rs` holds the control planes and the CLI steps. The other e2e suites
//! run the newest Terraform and OpenTofu. Needs the floor CLIs (`scripts/setup`:
//! `scripts/setup-terraform-floor`, `scripts/setup-tofu`) and real control planes.

mod fixture;
mod lifecycle;
mod refused;
#[path = "../support/mod.rs"]
mod support;

use support::tf::{Cli, TfDir};

/// The harness's picture of these CLIs is right: the pinned releases run, and they have exactly
/// the language features `Cli` says (what tests must work around).
#[test]
fn the_floor_clis_are_the_pinned_releases_with_the_features_the_harness_assumes() {
    for cli in Cli::floors() {
        let dir = TfDir::new(cli);
        let version = dir.run_ok(&["version"]);
        let first = version.stdout.lines().next().unwrap_or_default();
        assert_eq!(first, cli.version_prefix(), "{cli}\n{version}");

        dir.write("provider.tf", fixture::unreachable_provider());
        let entry = lifecycle::example("meshfed_service_entry");
        let import_block = format!(
            "import {{\n  to = meshfed_service_entry.bar\n  id = \"cluster-a.local/abc/bar\"\n}}\n\n{entry}"
        );
        for (feature, has, main) in [
            (
                "import blocks",
                cli.has_import_blocks(),
                import_block.as_str(),
            ),
            (
                "terraform_data",
                cli.has_terraform_data(),
                "resource \"terraform_data\" \"x\" {}\n",
            ),
        ] {
            dir.write("main.tf", main);
            let out = dir.run(&["validate", "-no-color"]);
            assert_eq!(
                out.code == 0,
                has,
                "{cli}: {feature}: the harness says {has}\n{out}"
            );
        }
    }
}
