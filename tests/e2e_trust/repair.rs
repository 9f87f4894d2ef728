//! Repairs and warnings on a federation in place: a member's lost `cacerts` Secret planned and
//! regenerated, its new root propagated while the other member keeps its CA; and the warning, with
//! the fix, while istiod lacks the settings to read meshfed's trust bundle. Needs real Terraform
//! and OpenTofu and real control planes.

use std::collections::BTreeMap;

use meshfed::cert;
use serde_json::json;

use crate::fixture::{Planes, example, generated, trust};
use crate::support::tf::{Cli, TfOutput};
use crate::{
    A, APPLY, B, BAR, FOO, MESH_CONFIG, PLAN, assert_plan_empty, configmap_key, plan_section,
    root_cm, secret_key, values,
};

/// The plan after A lost its Secret: A's Secret created, A's root and fingerprint and B's two
/// bundle ConfigMaps known after apply, nothing else of A's or B's changing.
fn assert_plan_regenerates_only_as_ca(cli: Cli, plan: &TfOutput) {
    let text = &plan.stdout;
    let manifests = plan_section(text, "manifests = {");
    let roots = plan_section(text, "root_certificates = {");
    let prints = plan_section(text, "fingerprints = {");
    assert!(
        manifests.contains(&format!("+ \"{}\" = (known after apply)", secret_key(A))),
        "{cli}: A's Secret will be created\n{plan}"
    );
    for key in [configmap_key(B, &root_cm(A)), configmap_key(B, MESH_CONFIG)] {
        assert!(
            manifests.contains(&format!("~ \"{key}\" = <<-EOT")),
            "{cli}: {key} changes\n{plan}"
        );
    }
    assert_eq!(
        manifests.matches("EOT -> (known after apply)").count(),
        2,
        "{cli}: B's two bundle ConfigMaps are known after apply\n{plan}"
    );
    for unchanged in [
        secret_key(B),
        configmap_key(A, &root_cm(B)),
        configmap_key(A, MESH_CONFIG),
    ] {
        assert!(
            !manifests.contains(&format!("\"{unchanged}\"")),
            "{cli}: {unchanged} does not change\n{plan}"
        );
    }
    assert!(
        roots.contains(&format!("~ \"{A}\" = <<-EOT"))
            && roots.contains("EOT -> (known after apply)"),
        "{cli}: A's root is known after apply\n{plan}"
    );
    assert!(
        prints.contains(&format!("~ \"{A}\" = \"")) && prints.contains("-> (known after apply)"),
        "{cli}: A's fingerprint is known after apply\n{plan}"
    );
    for section in [&roots, &prints] {
        assert!(
            !section.contains(&format!("\"{B}\"")),
            "{cli}: B's root is kept\n{plan}"
        );
    }
    assert!(
        text.contains("0 to add, 1 to change, 0 to destroy"),
        "{cli}: {plan}"
    );
}

#[test]
fn a_lost_secret_regenerates_that_members_ca_and_propagates_the_new_root() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &example());
        dir.run_ok(&APPLY);
        let (old_a, b_secret) = (p.root(A), p.secret(B).expect("Secret"));
        let old_a = pems(&old_a).concat();
        p.delete_secret(A);

        let plan = dir.run_code(2, &PLAN);
        assert_plan_regenerates_only_as_ca(cli, &plan);

        let out = dir.run_ok(&APPLY);
        assert!(
            out.combined().contains("is lost and will be regenerated"),
            "{cli}: {out}"
        );
        // Phase "switch" of a rotation: A signs with a new CA; its old root stays trusted in A
        // and in B, so certificates of the lost CA keep working until A's workloads rotate.
        let own = pems(&p.root(A));
        assert_eq!(
            own.len(),
            2,
            "{cli}: A's root-cert.pem: the new root, then the lost one"
        );
        let new_a = own[0].clone();
        assert_ne!(new_a, old_a, "{cli}: A has a new root");
        assert_eq!(own[1], old_a, "{cli}: the lost root stays trusted in A");
        let both = sorted(vec![new_a.clone(), old_a.clone()]);
        let recorded = p.recorded_root(B, A).map(|r| sorted(pems(&r)));
        assert_eq!(
            recorded,
            Some(both.clone()),
            "{cli}: B records both of A's roots"
        );
        let in_mesh = p.ca_certificates(B).get(A).map(|r| sorted(pems(r)));
        assert_eq!(in_mesh, Some(both), "{cli}: B trusts both of A's roots");
        assert_eq!(p.secret(B), Some(b_secret), "{cli}: B's CA is kept");
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(v["root_certificates"][A], json!(p.root(A)), "{cli}");
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo calls bar with A's new CA: {e}"));
        assert_plan_empty(&dir);

        // Retiring the lost root: it leaves A's root-cert.pem and B's bundle.
        let retire = "member {\n    cluster  = \"cluster-a.local\"\n    rotation = \"retire\"\n  }";
        let config = example();
        assert!(config.contains(MEMBER_A), "the example changed");
        dir.write("main.tf", config.replace(MEMBER_A, retire));
        dir.run_ok(&APPLY);
        assert_eq!(
            pems(&p.root(A)),
            vec![new_a.clone()],
            "{cli}: A keeps its new root only"
        );
        let expected = BTreeMap::from([(A.to_string(), new_a.clone())]);
        assert_eq!(
            p.ca_certificates(B),
            expected,
            "{cli}: B trusts A's new root only"
        );
        assert_eq!(p.recorded_root(B, A), Some(new_a), "{cli}");
        assert_plan_empty(&dir);
    }
}

const MEMBER_A: &str = "member { cluster = \"cluster-a.local\" }";

/// The PEM blocks of `text`, each ending in one newline.
fn pems(text: &str) -> Vec<String> {
    cert::encoding::pem_texts(text)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const WARNING: &str = "istiod in cluster-a.local does not read meshfed's trust bundle";

#[test]
fn apply_warns_with_the_fix_when_istiod_lacks_the_multi_root_settings() {
    let partner = generated("partner.example");
    let peer = "  peer {\n    trust_domain  = \"partner.example\"\n    root_cert_pem = file(\"partner-root.pem\")\n  }\n";
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        p.istiod(A, &[]);
        let dir = p.dir(cli, &example());
        dir.write("partner-root.pem", &partner.root_cert_pem);
        let out = dir.run_ok(&APPLY);
        let text = out.combined();
        assert!(text.contains(WARNING), "{cli}: {out}");
        for fix in [
            "ISTIO_MULTIROOT_MESH=true",
            "SHARED_MESH_CONFIG=meshfed-mesh-config",
        ] {
            assert!(text.contains(fix), "{cli}: the warning says {fix}\n{out}");
        }
        assert!(
            !text.contains("istiod in cluster-b.local"),
            "{cli}: no istiod in B, no warning for B\n{out}"
        );

        // One setting is not enough.
        p.istiod(A, &[("ISTIO_MULTIROOT_MESH", "true")]);
        dir.write("main.tf", trust("fed", &[A, B], peer));
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert!(out.combined().contains(WARNING), "{cli}: {out}");

        // Both set: no warning.
        p.istiod(
            A,
            &[
                ("ISTIO_MULTIROOT_MESH", "true"),
                ("SHARED_MESH_CONFIG", "meshfed-mesh-config"),
            ],
        );
        dir.write("main.tf", trust("fed", &[A, B], ""));
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert!(
            !out.combined()
                .contains("does not read meshfed's trust bundle"),
            "{cli}: {out}"
        );
        assert_plan_empty(&dir);
    }
}
