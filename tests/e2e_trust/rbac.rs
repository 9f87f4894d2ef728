//! Least privilege for `meshfed_trust`. Every test of this suite runs the provider as meshfed's
//! ServiceAccount bound to exactly the roles of `examples/rbac/` (see `support/rbac.rs`); here
//! one member's Role `meshfed-trust` lacks `delete` on ConfigMaps. Destroy then deletes
//! everything it may (the other member's objects, this member's `cacerts`), keeps the rest in
//! state, and reports the missing permission once, although two ConfigMaps needed it. With the
//! verb back, destroy finishes. Needs real Terraform and OpenTofu and real control planes.

use crate::fixture::{Planes, trust};
use crate::support::rbac::{self, assert_one_denial};
use crate::support::tf::Cli;
use crate::{A, APPLY, B, MESH_CONFIG, NS, root_cm};

const DESTROY: [&str; 3] = ["destroy", "-auto-approve", "-no-color"];

#[test]
fn a_verb_missing_in_one_member_fails_destroy_there_with_one_error_and_the_rest_goes() {
    let role = rbac::document("Role", Some(NS), "meshfed-trust");
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        p.apply_rbac(A, &rbac::without_verb(&role, "configmaps", "delete"));

        let out = dir.run_code(1, &DESTROY).combined();
        assert_one_denial(
            &format!("{cli} destroy"),
            &out,
            A,
            "delete",
            "configmaps",
            NS,
        );
        assert_eq!(
            p.meshfed_objects(A),
            [
                format!("ConfigMap/{}", root_cm(B)),
                format!("ConfigMap/{MESH_CONFIG}")
            ],
            "{cli}: what A's role lets meshfed delete is gone"
        );
        assert!(p.meshfed_objects(B).is_empty(), "{cli}: B is destroyed");
        let state = dir.read("terraform.tfstate");
        assert!(
            state.contains(MESH_CONFIG) && !state.contains(&format!("{B}/v1/Secret")),
            "{cli}: the state keeps exactly what is left"
        );

        p.apply_rbac(A, &role);
        dir.run_ok(&DESTROY);
        assert!(p.meshfed_objects(A).is_empty(), "{cli}: A is destroyed");
    }
}
