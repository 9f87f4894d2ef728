//! Import of a `meshfed_trust` by its member list into a fresh directory: the state matches what
//! apply wrote, no key enters it, and the CAs the clusters hold are kept. Needs real Terraform and
//! OpenTofu and real control planes.

use crate::fixture::{Planes, example};
use crate::support::tf::Cli;
use crate::{A, APPLY, B, PLAN, assert_plan_empty, values};

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

/// Import followed by plan is empty, also for a member whose configuration asks for a non-default
/// key algorithm: import reads the CA the cluster holds, and nothing plans to replace it. Applying
/// keeps that CA.
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
        assert_eq!(
            plan.code, 0,
            "{cli}: the plan right after import is empty (no new CA for {A})\n{plan}"
        );
        second.run_ok(&APPLY);
        assert_eq!(p.root(A), a_root, "{cli}: A's root is kept");
        assert_eq!(p.secret(A), Some(a_secret), "{cli}: A's CA is kept");
        assert_plan_empty(&second);
    }
}
