//! Least privilege. Every test of this suite runs the provider as meshfed's ServiceAccount bound
//! to exactly the roles of `examples/rbac/` (see `support/rbac.rs`); here one verb of
//! `meshfed-service-entry` is taken away at a time, and the apply or destroy that needs it fails
//! with exactly one error naming the cluster, the identity, the verb and the resource. Server-side
//! apply needs `patch` always, and `create` when the object does not exist yet.

use serde_json::Value as Json;

use crate::support::rbac::{self, assert_one_denial};
use crate::support::tf::Cli;
use crate::{A, Cluster};

const APPLY: [&str; 3] = ["apply", "-auto-approve", "-no-color"];
const DESTROY: [&str; 3] = ["destroy", "-auto-approve", "-no-color"];

impl Cluster {
    /// Replaces ClusterRole `meshfed-service-entry` (as the admin).
    fn set_role(&self, role: &Json) {
        self.rt.block_on(rbac::apply(&self.client, role));
    }
}

#[test]
fn each_missing_verb_fails_with_one_error_naming_cluster_identity_verb_and_resource_and_a_missing_get_is_warned_at_plan()
 {
    // DestinationRules: only this role grants them (meshfed_exported_service's role grants
    // ServiceEntries in abc too, for its alias entries).
    let role = rbac::document("ClusterRole", None, "meshfed-service-entry");
    let dr = "destinationrules.networking.istio.io";
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        let denied = |verb: &str, command: &[&str]| {
            c.set_role(&rbac::without_verb(&role, "destinationrules", verb));
            let out = dir.run_code(1, command).combined();
            let what = format!("{cli} {} without {verb}", command[0]);
            assert_one_denial(&what, &out, A, verb, dr, "abc");
        };

        // Without `get`, plan warns already (it cannot check who manages the rule), and apply
        // stops before writing anything to that cluster.
        c.set_role(&rbac::without_verb(&role, "destinationrules", "get"));
        let out = dir.run_code(1, &APPLY).combined();
        let flat = out
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains(&format!(
                "Warning: Cannot look at object in {A}: permission denied"
            )),
            "{cli}: plan warns of the missing get\n{out}"
        );
        assert_one_denial(
            &format!("{cli} apply without get"),
            &out,
            A,
            "get",
            dr,
            "abc",
        );
        assert!(c.get("ServiceEntry").is_none(), "{cli}: nothing written");

        denied("patch", &APPLY);
        assert!(c.get("ServiceEntry").is_some(), "{cli}: the entry before");
        assert!(c.get("DestinationRule").is_none(), "{cli}: no rule");

        // Server-side apply creates an object only with `create` as well.
        denied("create", &APPLY);
        assert!(c.get("DestinationRule").is_none(), "{cli}: still no rule");

        c.set_role(&role);
        dir.run_ok(&APPLY);
        assert!(
            c.get("DestinationRule").is_some(),
            "{cli}: applied with the role"
        );

        denied("delete", &DESTROY);
        assert!(c.get("DestinationRule").is_some(), "{cli}: kept");
        assert!(
            dir.read("terraform.tfstate").contains("DestinationRule"),
            "{cli}: the state keeps what could not be deleted"
        );

        c.set_role(&role);
        dir.run_ok(&DESTROY);
        assert!(c.get("ServiceEntry").is_none() && c.get("DestinationRule").is_none());
    }
}
