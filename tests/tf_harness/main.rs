//! The test harness itself: a real Terraform and a real OpenTofu run from `tests/support/tf.rs`
//! (pinned versions, `dev_overrides` with this build's provider, exit codes, environment), with the
//! built-in `terraform_data` resource only. Needs real Terraform and OpenTofu (`scripts/setup`);
//! no control plane.
#[path = "../support/mod.rs"]
mod support;

use support::tf::{Cli, TfDir};

/// A configuration that uses only the built-in `terraform_data` resource, so `init` needs no
/// network and no meshfed provider.
fn builtin_only(input: &str) -> String {
    format!(
        r#"
resource "terraform_data" "probe" {{
  input = "{input}"
}}

output "probe" {{
  value = terraform_data.probe.output
}}
"#
    )
}

#[test]
fn version_prints_the_pinned_release() {
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        let out = dir.run_ok(&["version"]);
        let first = out.stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(cli.version_prefix()),
            "{cli}: expected a first line starting with {:?}\n{out}",
            cli.version_prefix()
        );
    }
}

#[test]
fn builtin_resource_init_apply_then_empty_plan() {
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", builtin_only("one"));

        let init = dir.run_ok(&["init", "-no-color"]);
        assert!(
            init.stdout.contains("has been successfully initialized"),
            "{cli}: init\n{init}"
        );

        let apply = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(
            apply.stdout.contains("1 added, 0 changed, 0 destroyed"),
            "{cli}: apply\n{apply}"
        );
        // The dev_overrides of the CLI configuration file are in effect (the CLI warns about them).
        assert!(
            apply
                .combined()
                .contains("Provider development overrides are in effect"),
            "{cli}: expected the dev_overrides warning\n{apply}"
        );
        assert!(
            !apply.combined().contains('\u{1b}'),
            "{cli}: -no-color output has escape codes\n{apply}"
        );

        // The state was written and is read back.
        let output = dir.run_ok(&["output", "-raw", "probe"]);
        assert_eq!(output.stdout, "one", "{cli}: output\n{output}");

        // A second plan is empty: exit code 0 with -detailed-exitcode ...
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);

        // ... and a changed configuration plans a change: exit code 2.
        dir.write("main.tf", builtin_only("two"));
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: plan after changing the input\n{plan}"
        );
    }
}

#[test]
fn invalid_configuration_fails_with_a_diagnostic() {
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", "resource \"terraform_data\" {\n");
        let out = dir.run(&["validate", "-no-color"]);
        assert_eq!(out.code, 1, "{cli}: validate of broken HCL\n{out}");
        assert!(out.stderr.contains("Error: "), "{cli}: validate\n{out}");
    }
}

#[test]
#[should_panic(expected = "expected exit code 0")]
fn run_ok_panics_on_failure() {
    let dir = TfDir::new(Cli::Terraform);
    dir.write("main.tf", "this is not HCL {\n");
    dir.run_ok(&["validate", "-no-color"]);
}

#[test]
fn env_reaches_the_cli() {
    for cli in Cli::both() {
        let mut dir = TfDir::new(cli);
        dir.env("TF_LOG", "INFO");
        let out = dir.run_ok(&["version"]);
        assert!(
            out.stderr.contains("[INFO]"),
            "{cli}: TF_LOG=INFO should log to stderr\n{out}"
        );
    }
}
