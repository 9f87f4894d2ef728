//! What meshfed must not overwrite, and keys it must not hold: an operator's own `cacerts` (made
//! by another manager) is refused at plan and, when it appears after the plan, at apply, where
//! nothing is written in that cluster while the other member converges; adopting it is the way
//! on. A mesh whose istiod signs with its self-signed CA gets a warning at plan. A provided CA
//! whose key stays in the operator's Secret (`key_secret`) is applied without the key reaching
//! plan, state or trace logs. Needs real Terraform and OpenTofu and real control planes.

use meshfed::cert;
use serde_json::Value as Json;

use crate::fixture::{Planes, generated, trust};
use crate::support::tf::Cli;
use crate::{
    A, APPLY, B, BAR, CACERTS, FOO, PLAN, assert_plan_empty, pem_text, root_cm, show_json,
};

/// The operator's own CA for A, as `kubectl create secret generic cacerts --from-file=...`
/// leaves it: field manager `kubectl-create`, no meshfed label.
fn operator_cacerts(p: &Planes) -> cert::CaMaterial {
    let ca = generated(A);
    p.create_secret_as(
        A,
        "kubectl-create",
        CACERTS,
        &[
            ("ca-cert.pem", &ca.intermediate_cert_pem),
            ("ca-key.pem", &ca.intermediate_key_pem),
            ("cert-chain.pem", &ca.cert_chain_pem),
            ("root-cert.pem", &ca.root_cert_pem),
        ],
    );
    ca
}

fn assert_refusal(cli: Cli, out: &str, nothing: &str) {
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [
        "Secret istio-system/cacerts in cluster-a.local is not managed by meshfed",
        "its field managers are kubectl-create (Update)",
        nothing,
        "ca { source = \"cluster\" }",
        "terraform import",
        "kubectl -n istio-system delete secret cacerts",
    ] {
        assert!(flat.contains(part), "{cli}: {part:?} in\n{out}");
    }
}

#[test]
fn an_operators_own_cacerts_is_refused_at_plan_and_at_apply_and_can_be_adopted() {
    let main = trust("fed", &[A, B], "");
    for cli in Cli::both() {
        {
            // At plan: the Secret is there before the plan.
            let p = Planes::start(&[A, B]);
            let ca = operator_cacerts(&p);
            let dir = p.dir(cli, &main);
            let out = dir.run_code(1, &PLAN);
            assert_refusal(
                cli,
                &out.combined(),
                "apply will write nothing in cluster-a.local",
            );
            let key = &p.secret(A).expect("A's Secret")["ca-key.pem"];
            assert_eq!(key, &ca.intermediate_key_pem, "{cli}");
        }

        // At apply: the Secret appears after the plan was saved. Both CLIs plan the change
        // again before applying it, so the look-ahead refuses it there: nothing is written in
        // any cluster. (Where the look-ahead cannot see the cluster, apply itself checks:
        // cp_k8s_engine's ownership tests.)
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &main);
        dir.run_ok(&["plan", "-no-color", "-out=tfplan"]);
        let ca = operator_cacerts(&p);
        let out = dir.run(&["apply", "-no-color", "tfplan"]);
        assert_eq!(out.code, 1, "{cli}: apply fails\n{out}");
        assert_refusal(
            cli,
            &out.combined(),
            "apply will write nothing in cluster-a.local",
        );
        let s = p.secret(A).expect("A's Secret");
        for (k, want) in [
            ("ca-key.pem", &ca.intermediate_key_pem),
            ("ca-cert.pem", &ca.intermediate_cert_pem),
            ("root-cert.pem", &ca.root_cert_pem),
        ] {
            assert_eq!(&s[k], want, "{cli}: the operator's {k} is untouched");
        }
        assert_eq!(
            p.meshfed_objects(A),
            ["Secret/cacerts"],
            "{cli}: nothing of meshfed's in A"
        );
        assert!(p.mesh_config(B).is_none(), "{cli}: nothing written in B");

        // The way on: adopt the operator's CA.
        let adopt = main.replacen(
            &format!("cluster = \"{A}\"\n"),
            &format!("cluster = \"{A}\"\n    ca {{\n      source = \"cluster\"\n    }}\n"),
            1,
        );
        dir.write("main.tf", &adopt);
        dir.run_ok(&APPLY);
        assert_eq!(
            p.secret(A).expect("A's Secret")["ca-key.pem"],
            ca.intermediate_key_pem
        );
        assert_eq!(
            p.recorded_root(B, A),
            Some(pem_text(&ca.root_cert_pem)),
            "{cli}: B trusts the operator's root"
        );
        assert!(p.configmap(A, &root_cm(B)).is_some(), "{cli}: A trusts B");
        assert_plan_empty(&dir);
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo (operator's CA) calls bar: {e}"));
    }
}

#[test]
fn plugging_a_ca_where_istiod_signs_with_its_own_warns_at_plan() {
    let main = trust("fed", &[A, B], "");
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        // What a self-signed istiod leaves in the cluster: its key Secret (meshfed must not need
        // to read it) and the root it publishes.
        let own = generated(A);
        p.create_secret_as(
            A,
            "pilot-discovery",
            "istio-ca-secret",
            &[("ca-cert.pem", &own.root_cert_pem)],
        );
        p.create_configmap_as(
            A,
            "pilot-discovery",
            "istio-ca-root-cert",
            &[("root-cert.pem", &own.root_cert_pem)],
        );
        let dir = p.dir(cli, &main);
        let out = dir.run_ok(&["plan", "-no-color"]).combined();
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        for part in [
            "Plugging a CA into cluster-a.local changes every workload identity there",
            "it published ConfigMap istio-system/istio-ca-root-cert",
            "kubectl -n istio-system rollout restart deployment/istiod",
        ] {
            assert!(flat.contains(part), "{cli}: {part:?} in\n{out}");
        }
        assert!(
            !flat.contains("into cluster-b.local"),
            "{cli}: B has no istiod CA\n{out}"
        );
        dir.run_ok(&APPLY);
        let again = dir.run_code(0, &PLAN).combined();
        assert!(
            !again.contains("Plugging a CA"),
            "{cli}: warned once, before the first write\n{again}"
        );
    }
}

/// A provided CA for A whose key is in the operator's Secret `operator-ca-key`.
fn key_secret_config() -> String {
    format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      source         = \"provided\"\n      cert_pem       = file(\"cert.pem\")\n      cert_chain_pem = file(\"chain.pem\")\n      root_cert_pem  = file(\"root.pem\")\n      key_secret {{\n        name = \"operator-ca-key\"\n      }}\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    )
}

#[test]
fn a_key_kept_in_the_operators_secret_is_used_and_never_stored() {
    let ca = generated(A);
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        p.create_secret_as(
            A,
            "kubectl-create",
            "operator-ca-key",
            &[("tls.key", &ca.intermediate_key_pem)],
        );
        let mut dir = p.dir(cli, &key_secret_config());
        for (name, text) in [
            ("cert.pem", &ca.intermediate_cert_pem),
            ("chain.pem", &ca.cert_chain_pem),
            ("root.pem", &ca.root_cert_pem),
        ] {
            dir.write(name, text);
        }
        dir.env("TF_LOG", "trace");
        let plan = dir.run_ok(&["plan", "-no-color", "-out=tfplan"]);
        let planned = show_json(&dir, &["tfplan"]);
        let key = format!("{A}/v1/Secret/istio-system/{CACERTS}");
        let change = &planned["resource_changes"][0]["change"];
        assert_eq!(
            change["after_unknown"]["manifests"][&key],
            Json::Bool(true),
            "{cli}: the Secret is known after apply (its key is read then)"
        );
        let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
        let s = p.secret(A).expect("A's cacerts");
        assert_eq!(s["ca-key.pem"], pem_text(&ca.intermediate_key_pem), "{cli}");
        assert_eq!(
            s["ca-cert.pem"],
            pem_text(&ca.intermediate_cert_pem),
            "{cli}"
        );
        let again = dir.run_code(0, &PLAN);
        let needles: Vec<&str> = std::iter::once("PRIVATE KEY")
            .chain(
                ca.intermediate_key_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16),
            )
            .collect();
        let state = dir.read("terraform.tfstate");
        for (what, text) in [
            ("plan (TF_LOG=trace)", plan.combined()),
            ("saved plan", planned.to_string()),
            ("apply (TF_LOG=trace)", apply.combined()),
            ("second plan (TF_LOG=trace)", again.combined()),
            ("state", state),
        ] {
            for n in &needles {
                assert!(
                    !text.contains(n),
                    "{cli}: {what} holds key material ({n:.24}…)"
                );
            }
        }
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo calls bar: {e}"));
    }
}
