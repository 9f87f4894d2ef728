//! Local installation as users get it: `scripts/install-local` builds the release provider into
//! a filesystem mirror and release archives; a configuration with `source = "meshfed/meshfed"`
//! and a version constraint then initializes with a plain `terraform init` / `tofu init`. Needs
//! real Terraform and OpenTofu (`scripts/setup`) and a release build (slow); no control plane.
#[path = "../support/mod.rs"]
mod support;

use std::process::Command;

use support::tf::{Cli, TfDir};

#[test]
fn init_resolves_meshfed_from_the_local_mirror_with_a_version_constraint() {
    let work = tempfile::tempdir().expect("temp dir");
    let mirror = work.path().join("mirror");
    let dist = work.path().join("dist");
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/install-local"
    ))
    .args([
        "--mirror",
        mirror.to_str().expect("path"),
        "--dist",
        dist.to_str().expect("path"),
    ])
    .output()
    .expect("run scripts/install-local");
    assert!(
        out.status.success(),
        "install-local failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    let sums = std::fs::read_to_string(
        dist.join(format!("terraform-provider-meshfed_{version}_SHA256SUMS")),
    )
    .expect("SHA256SUMS");
    assert!(
        sums.contains(&format!("terraform-provider-meshfed_{version}_linux_")),
        "{sums}"
    );
    assert!(
        dist.join(format!(
            "terraform-provider-meshfed_{version}_manifest.json"
        ))
        .exists()
    );

    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        std::fs::write(
            dir.config_file(),
            format!(
                r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/meshfed/meshfed", "registry.opentofu.org/meshfed/meshfed"]
  }}
  direct {{
    exclude = ["registry.terraform.io/meshfed/meshfed", "registry.opentofu.org/meshfed/meshfed"]
  }}
}}
"#,
                mirror.display()
            ),
        )
        .expect("write the CLI configuration");
        dir.write(
            "main.tf",
            r#"
terraform {
  required_providers {
    meshfed = {
      source  = "meshfed/meshfed"
      version = "~> 0.1"
    }
  }
}
provider "meshfed" {}
data "meshfed_cluster" "a" {
  name = "cluster-a.local"
}
"#,
        );
        let init = dir.run_ok(&["init", "-no-color"]);
        assert!(
            init.stdout
                .contains(&format!("Installed meshfed/meshfed v{version}"))
                || init
                    .stdout
                    .contains(&format!("Installing meshfed/meshfed v{version}")),
            "{cli}: {init}"
        );
        let lock = dir.read(".terraform.lock.hcl");
        assert!(
            lock.contains("meshfed/meshfed") && lock.contains(&format!("\"{version}\"")),
            "{cli}: lock file\n{lock}"
        );
        // The installed provider answers: the data source fails only on the unknown cluster.
        let plan = dir.run_code(1, &["plan", "-no-color"]);
        assert!(
            plan.combined()
                .contains(r#"Unknown cluster "cluster-a.local""#),
            "{cli}: {plan}"
        );
    }
}
