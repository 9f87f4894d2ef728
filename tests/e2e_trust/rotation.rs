//! Rotations with both CLIs (istiod's side is `tests/e2e_rotation`): a provided CA replaced by
//! one with another root in the three phases, each phase's objects checked in both clusters, a
//! skipped phase refused; a peer's root rotated with an overlap, and replaced outright refused;
//! and the expiry warnings and `not_after`. Needs real Terraform and OpenTofu and real control
//! planes.

use meshfed::cert::{self, CaMaterial, CaRequest};

use crate::fixture::{Planes, ca_files, generated};
use crate::support::tf::{Cli, TfDir};
use crate::{A, APPLY, B, BAR, FOO, PLAN, assert_plan_empty, values};

const PEER: &str = "peer.example";

/// A trust of A (provided CA from files, `rotation` if given) and B (generated), trusting
/// peer.example's roots from peer.pem.
fn config(rotation: Option<&str>) -> String {
    let rotation = rotation.map_or(String::new(), |r| format!("    rotation = \"{r}\"\n"));
    format!(
        r#"resource "meshfed_trust" "fed" {{
  member {{
    cluster = "{A}"
{rotation}    ca {{
      source         = "provided"
      cert_pem       = file("cert.pem")
      key_pem        = file("key.pem")
      cert_chain_pem = file("chain.pem")
      root_cert_pem  = file("root.pem")
    }}
  }}
  member {{ cluster = "{B}" }}
  peer {{
    trust_domain  = "{PEER}"
    root_cert_pem = file("peer.pem")
  }}
}}
"#
    )
}

fn write_ca(dir: &TfDir, ca: &CaMaterial) {
    let files = ca_files(
        &ca.intermediate_cert_pem,
        &ca.intermediate_key_pem,
        &ca.cert_chain_pem,
        &ca.root_cert_pem,
    );
    for (name, text) in files {
        dir.write(name, text);
    }
}

fn pems(text: &str) -> Vec<String> {
    cert::encoding::pem_texts(text)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What B holds for A: the record ConfigMap's roots and the mesh config's, both sorted.
fn b_trusts_of_a(p: &Planes) -> (Vec<String>, Vec<String>) {
    let recorded = p.recorded_root(B, A).map(|r| sorted(pems(&r)));
    let in_mesh = p.ca_certificates(B).get(A).map(|r| sorted(pems(r)));
    (recorded.unwrap_or_default(), in_mesh.unwrap_or_default())
}

fn foo_calls_bar(cli: Cli, p: &Planes, when: &str) {
    let (client, server) = (p.workload(A, FOO), p.workload(B, BAR));
    cert::mtls_handshake(&client, &p.trusted_roots(A), &server, &p.trusted_roots(B))
        .unwrap_or_else(|e| panic!("{cli}: {when}: foo calls bar with A's current CA: {e}"));
}

#[test]
fn a_provided_ca_rotates_in_three_phases_and_a_skipped_phase_is_refused() {
    let (old, new) = (generated(A), generated(A));
    let peer_root = generated(PEER).root_cert_pem;
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &config(None));
        write_ca(&dir, &old);
        dir.write("peer.pem", &peer_root);
        dir.run_ok(&APPLY);
        let both = sorted(vec![
            pems(&old.root_cert_pem)[0].clone(),
            pems(&new.root_cert_pem)[0].clone(),
        ]);

        // New material with another root: only through the phases.
        write_ca(&dir, &new);
        let out = dir.run_code(1, &PLAN);
        let text = out.combined();
        assert!(
            text.contains("Rotation of cluster-a.local refused"),
            "{cli}: {out}"
        );
        assert!(
            text.contains("rotation = \"overlap\""),
            "{cli}: the next step is named\n{out}"
        );
        dir.write("main.tf", config(Some("switch")));
        let out = dir.run_code(1, &PLAN);
        assert!(out.combined().contains("skips the overlap"), "{cli}: {out}");

        dir.write("main.tf", config(Some("overlap")));
        dir.run_ok(&APPLY);
        let s = p.secret(A).expect("A's cacerts");
        assert_eq!(
            s["ca-cert.pem"],
            pems(&old.intermediate_cert_pem)[0],
            "{cli}: still the old CA signs"
        );
        assert_eq!(
            s["ca-key.pem"],
            cert::encoding::pem_text(&old.intermediate_key_pem),
            "{cli}"
        );
        let own = pems(&s["root-cert.pem"]);
        assert_eq!(
            own,
            vec![
                pems(&old.root_cert_pem)[0].clone(),
                pems(&new.root_cert_pem)[0].clone()
            ],
            "{cli}: old root, then the new one"
        );
        assert_eq!(
            b_trusts_of_a(&p),
            (both.clone(), both.clone()),
            "{cli}: B trusts both"
        );
        foo_calls_bar(cli, &p, "overlap");
        assert_plan_empty(&dir);

        dir.write("main.tf", config(Some("retire")));
        let out = dir.run_code(1, &PLAN);
        assert!(
            out.combined().contains("would skip \"switch\""),
            "{cli}: {out}"
        );

        dir.write("main.tf", config(Some("switch")));
        dir.run_ok(&APPLY);
        let s = p.secret(A).expect("A's cacerts");
        assert_eq!(
            s["ca-cert.pem"],
            pems(&new.intermediate_cert_pem)[0],
            "{cli}: the new CA signs"
        );
        assert_eq!(
            sorted(pems(&s["root-cert.pem"])),
            both,
            "{cli}: both roots in A"
        );
        assert_eq!(
            b_trusts_of_a(&p),
            (both.clone(), both.clone()),
            "{cli}: B unchanged"
        );
        foo_calls_bar(cli, &p, "switch");
        assert_plan_empty(&dir);

        dir.write("main.tf", config(Some("retire")));
        dir.run_ok(&APPLY);
        let only_new = pems(&new.root_cert_pem);
        assert_eq!(
            pems(&p.secret(A).expect("cacerts")["root-cert.pem"]),
            only_new,
            "{cli}"
        );
        assert_eq!(
            b_trusts_of_a(&p),
            (only_new.clone(), only_new.clone()),
            "{cli}: B trusts the new root only"
        );
        foo_calls_bar(cli, &p, "retire");
        assert_plan_empty(&dir);
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(
            pems(v["root_certificates"][A].as_str().unwrap_or_default()),
            only_new,
            "{cli}"
        );
    }
}

#[test]
fn a_peers_root_rotates_with_an_overlap_and_is_not_replaced_outright() {
    let (p1, p2, p3) = (generated(PEER), generated(PEER), generated(PEER));
    let (r1, r2) = (
        pems(&p1.root_cert_pem)[0].clone(),
        pems(&p2.root_cert_pem)[0].clone(),
    );
    let a_ca = generated(A);
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &config(None));
        write_ca(&dir, &a_ca);
        dir.write("peer.pem", &r1);
        dir.run_ok(&APPLY);

        dir.write("peer.pem", p3.root_cert_pem.clone());
        let out = dir.run_code(1, &PLAN);
        assert!(
            out.combined()
                .contains("Rotation of peer peer.example refused"),
            "{cli}: {out}"
        );

        dir.write("peer.pem", format!("{r1}{r2}"));
        dir.run_ok(&APPLY);
        for cluster in [A, B] {
            let trusted = p
                .ca_certificates(cluster)
                .get(PEER)
                .map(|r| sorted(pems(r)));
            assert_eq!(
                trusted,
                Some(sorted(vec![r1.clone(), r2.clone()])),
                "{cli}: {cluster}"
            );
        }
        assert_plan_empty(&dir);

        dir.write("peer.pem", &r2);
        dir.run_ok(&APPLY);
        for cluster in [A, B] {
            let trusted = p.ca_certificates(cluster).get(PEER).map(|r| pems(r));
            assert_eq!(
                trusted,
                Some(vec![r2.clone()]),
                "{cli}: {cluster} trusts the new root only"
            );
        }
        assert_plan_empty(&dir);
    }
}

#[test]
fn plan_warns_of_cas_expiring_within_the_window_with_the_date_and_the_rotation() {
    let mut short = CaRequest::new(PEER, cert::now());
    short.root_validity = time::Duration::days(20);
    short.intermediate_validity = time::Duration::days(20);
    let peer = cert::generate_ca(short).expect("a short-lived peer CA");
    let main = format!(
        r#"resource "meshfed_trust" "fed" {{
  member {{
    cluster = "{A}"
    ca {{ root_validity_days = 30 }}
  }}
  member {{ cluster = "{B}" }}
  peer {{
    trust_domain  = "{PEER}"
    root_cert_pem = file("peer.pem")
  }}
}}
"#
    );
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &main);
        dir.write("peer.pem", &peer.root_cert_pem);
        dir.run_ok(&APPLY);
        let out = dir.run_code(0, &PLAN);
        // The CLIs wrap long details: compare with runs of blanks squashed.
        let text = out
            .combined()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for says in [
            "The root CA of cluster-a.local expires in 29 days",
            "The intermediate CA of cluster-a.local expires in 29 days",
            "A root of peer peer.example expires in 19 days",
            "ca.generation = 2 and rotation = \"overlap\"",
        ] {
            assert!(text.contains(says), "{cli}: the plan says {says:?}\n{out}");
        }
        assert!(
            !text.contains("CA of cluster-b.local"),
            "{cli}: B's CA is good for years\n{out}"
        );
        let v = values(&dir, "meshfed_trust.fed");
        let root = v["not_after"][A]["root"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let when =
            time::OffsetDateTime::parse(&root, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("{cli}: not_after of A's root {root:?}: {e}"));
        let days = (when - cert::now()).whole_days();
        assert_eq!(days, 29, "{cli}: {v}");
        assert!(v["not_after"][B]["intermediate"].is_string(), "{cli}: {v}");
        assert!(v["not_after"][PEER]["intermediate"].is_null(), "{cli}: {v}");

        dir.write(
            "main.tf",
            main.replace(
                &format!("  member {{ cluster = \"{B}\" }}\n"),
                &format!("  member {{ cluster = \"{B}\" }}\n  expiry_warning_days = 10\n"),
            ),
        );
        let out = dir.run_code(2, &PLAN);
        assert!(
            !out.combined().contains("expires in"),
            "{cli}: a 10-day window\n{out}"
        );
    }
}
