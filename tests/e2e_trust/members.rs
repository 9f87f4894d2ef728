//! Members and peers of one `meshfed_trust` trusting each other, as the clusters' objects show it
//! and as workloads prove it in mutual TLS: the registry example (each member its own CA, the
//! other's root recorded and in the mesh config; bundle mode; destroy), joining and leaving, a
//! third member, and an external peer. Needs real Terraform and OpenTofu and real control planes.

use std::collections::BTreeMap;

use meshfed::cert;
use serde_json::json;

use crate::fixture::{Planes, example, generated, trust};
use crate::support::tf::{Cli, TfDir};
use crate::{
    A, APPLY, B, BAR, C, FOO, MESH_CONFIG, PLAN, SECRET_KEYS, assert_plan_empty, configmap_key,
    pem_text, root_cm, secret_key, values,
};

/// `me` holds its own CA, records `other`'s root, and trusts it under `other`'s trust domain.
fn assert_own_ca_and_trusts_the_other(cli: Cli, p: &Planes, me: &str, other: &str) {
    let s = p
        .secret(me)
        .unwrap_or_else(|| panic!("{cli}: {me}: no cacerts Secret"));
    let keys: Vec<&str> = s.keys().map(String::as_str).collect();
    assert_eq!(keys, SECRET_KEYS, "{cli}: {me}");
    assert!(s["ca-key.pem"].contains("PRIVATE KEY"), "{cli}: {me}");
    let root = &s["root-cert.pem"];
    assert_eq!(root.matches("BEGIN CERTIFICATE").count(), 1, "{cli}: {me}");
    assert!(
        s["cert-chain.pem"].starts_with(&s["ca-cert.pem"])
            && s["cert-chain.pem"].ends_with(root.as_str()),
        "{cli}: {me}: chain is intermediate then root"
    );
    let other_root = p.root(other);
    assert_ne!(root, &other_root, "{cli}: each member has its own root");
    assert_eq!(
        p.recorded_root(me, other).as_deref(),
        Some(other_root.as_str()),
        "{cli}: {me} records {other}'s root"
    );
    assert!(
        p.recorded_root(me, me).is_none(),
        "{cli}: {me} records no root of its own"
    );
    let mesh = p
        .mesh_config(me)
        .unwrap_or_else(|| panic!("{cli}: {me}: no {MESH_CONFIG}"));
    assert_eq!(
        mesh["caCertificates"],
        json!([{"pem": other_root, "trustDomains": [other]}]),
        "{cli}: {me} trusts {other}'s root under {other}'s trust domain, not its own"
    );
    assert_eq!(
        mesh["defaultConfig"]["proxyMetadata"]["PROXY_CONFIG_XDS_AGENT"],
        json!("true"),
        "{cli}: {me}"
    );
    assert!(
        p.configmap(me, "istio-ca-root-cert").is_none(),
        "{cli}: {me}: istiod's own ConfigMap is never written"
    );
}

/// The state lists both roots, both fingerprints, and every object, without the keys.
fn assert_state_lists_both_members(cli: Cli, p: &Planes, dir: &TfDir) {
    let v = values(dir, "meshfed_trust.fed");
    assert_eq!(
        v["root_certificates"],
        json!({A: p.root(A), B: p.root(B)}),
        "{cli}"
    );
    let prints = v["fingerprints"].as_object().expect("fingerprints");
    assert_eq!(prints.len(), 2, "{cli}: {v}");
    assert_eq!(v["id"], json!(format!("{A},{B}")), "{cli}");
    let manifests = v["manifests"].as_object().expect("manifests");
    for (me, other) in [(A, B), (B, A)] {
        for key in [
            secret_key(me),
            configmap_key(me, &root_cm(other)),
            configmap_key(me, MESH_CONFIG),
        ] {
            assert!(manifests.contains_key(&key), "{cli}: {key} in {v}");
        }
    }
    let secret_yaml = manifests[&secret_key(A)].as_str().expect("YAML");
    assert!(
        secret_yaml.contains("ca-key.pem: sha256:") && !secret_yaml.contains("PRIVATE KEY"),
        "{cli}: {secret_yaml}"
    );
}

/// Bundle mode `cacerts`: the same CAs, each `root-cert.pem` the own root then the other's.
fn assert_bundle_mode_keeps_the_cas(cli: Cli, p: &Planes, dir: &TfDir) {
    let (a_root, b_root) = (p.root(A), p.root(B));
    let a_before = p.secret(A).expect("Secret");
    dir.write(
        "main.tf",
        example().replacen(
            "resource \"meshfed_trust\" \"fed\" {",
            "resource \"meshfed_trust\" \"fed\" {\n  bundle = \"cacerts\"",
            1,
        ),
    );
    let out = dir.run_ok(&APPLY);
    assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
    let a = p.secret(A).expect("Secret");
    assert_eq!(
        a["root-cert.pem"],
        format!("{a_root}{b_root}"),
        "{cli}: A's own root first, then B's"
    );
    assert_eq!(
        p.secret(B).expect("Secret")["root-cert.pem"],
        format!("{b_root}{a_root}"),
        "{cli}"
    );
    for k in ["ca-cert.pem", "ca-key.pem", "cert-chain.pem"] {
        assert_eq!(a[k], a_before[k], "{cli}: A's CA is kept: {k}");
    }
    assert_eq!(p.recorded_root(B, A), Some(a_root.clone()), "{cli}");
    assert_eq!(p.ca_certificates(B), BTreeMap::from([(A.into(), a_root)]));
    assert_plan_empty(dir);
}

#[test]
fn the_example_gives_each_member_its_own_ca_and_the_others_root_and_a_second_plan_is_empty() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &example());
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 added"), "{cli}: {out}");
        for (me, other) in [(A, B), (B, A)] {
            assert_own_ca_and_trusts_the_other(cli, &p, me, other);
        }
        assert_state_lists_both_members(cli, &p, &dir);
        assert_plan_empty(&dir);
        assert_bundle_mode_keeps_the_cas(cli, &p, &dir);

        // Destroy removes everything meshfed wrote.
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        for me in [A, B] {
            assert_eq!(p.meshfed_objects(me), Vec::<String>::new(), "{cli}: {me}");
        }
    }
}

#[test]
fn workloads_of_two_members_complete_mutual_tls_only_while_both_are_members() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        // Before: each cluster has its own CA, from its own single-member trust.
        let dir = p.dir(
            cli,
            &format!("{}{}", trust("fed", &[A], ""), trust("b", &[B], "")),
        );
        dir.run_ok(&APPLY);
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        let err = cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .expect_err("no handshake without mutual trust");
        eprintln!("{cli}: before the federation: {err}");

        // B's separate trust goes; then B joins A's federation.
        dir.write("main.tf", trust("fed", &[A], ""));
        dir.run_ok(&APPLY);
        assert!(p.secret(B).is_none(), "{cli}: B's separate trust is gone");
        dir.write("main.tf", trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        let (a_trusts, b_trusts) = (p.trusted_roots(A), p.trusted_roots(B));
        assert_eq!(a_trusts, vec![p.root(A), p.root(B)], "{cli}");
        assert_eq!(b_trusts, vec![p.root(B), p.root(A)], "{cli}");
        let ok = cert::mtls_handshake(&foo, &a_trusts, &bar, &b_trusts)
            .unwrap_or_else(|e| panic!("{cli}: foo calls bar: {e}"));
        assert_eq!((ok.client_id.as_str(), ok.server_id.as_str()), (FOO, BAR));
        let ok = cert::mtls_handshake(&bar, &b_trusts, &foo, &a_trusts)
            .unwrap_or_else(|e| panic!("{cli}: bar calls foo: {e}"));
        assert_eq!((ok.client_id.as_str(), ok.server_id.as_str()), (BAR, FOO));
        // Each side's own root alone is not enough.
        let own = |c: &str| vec![p.root(c)];
        assert!(cert::mtls_handshake(&foo, &own(A), &bar, &b_trusts).is_err());
        assert!(cert::mtls_handshake(&foo, &a_trusts, &bar, &own(B)).is_err());
        assert_plan_empty(&dir);

        // B leaves: A no longer trusts B's root, and B's objects are gone.
        let b_root = p.root(B);
        dir.write("main.tf", trust("fed", &[A], ""));
        dir.run_ok(&APPLY);
        let a_now = p.trusted_roots(A);
        assert_eq!(a_now, vec![p.root(A)], "{cli}: A trusts only itself");
        assert!(!a_now.contains(&b_root), "{cli}");
        assert!(p.meshfed_objects(B).is_empty(), "{cli}");
        let err = cert::mtls_handshake(&foo, &a_now, &bar, &p.trusted_roots(B))
            .expect_err("no handshake after B left");
        eprintln!("{cli}: after B left: {err}");
        // Even if B's workloads kept trusting A, A refuses them now.
        assert!(
            cert::mtls_handshake(&bar, &b_trusts, &foo, &a_now).is_err(),
            "{cli}: A must refuse B's workload"
        );
        assert_plan_empty(&dir);
    }
}

/// The roots `cluster` trusts for other parties, from its mesh config, and its recorded roots.
pub(crate) fn assert_trusts_exactly(cli: Cli, p: &Planes, cluster: &str, others: &[&str]) {
    let want: BTreeMap<String, String> =
        others.iter().map(|o| (o.to_string(), p.root(o))).collect();
    assert_eq!(
        p.ca_certificates(cluster),
        want,
        "{cli}: {cluster}'s mesh config"
    );
    let mut recorded: Vec<String> = p
        .meshfed_objects(cluster)
        .into_iter()
        .filter_map(|o| {
            o.strip_prefix("ConfigMap/")
                .and_then(|n| n.strip_suffix("-ca-root-cert"))
                .map(str::to_string)
        })
        .collect();
    recorded.sort();
    let mut others: Vec<String> = others.iter().map(|o| o.to_string()).collect();
    others.sort();
    assert_eq!(recorded, others, "{cli}: {cluster}'s root ConfigMaps");
    for o in &others {
        assert_eq!(
            p.recorded_root(cluster, o),
            Some(p.root(o)),
            "{cli}: {cluster}"
        );
    }
}

#[test]
fn adding_a_third_member_updates_every_bundle_in_one_apply_and_removing_it_cleans_up() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B, C]);
        let dir = p.dir(cli, &trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (a_root, b_root) = (p.root(A), p.root(B));
        assert!(p.meshfed_objects(C).is_empty(), "{cli}");

        dir.write("main.tf", trust("fed", &[A, B, C], ""));
        let plan = dir.run_code(2, &PLAN);
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
        let out = dir.run_ok(&APPLY);
        assert!(out.stdout.contains("1 changed"), "{cli}: {out}");
        assert_eq!((p.root(A), p.root(B)), (a_root, b_root), "{cli}: CAs kept");
        assert_trusts_exactly(cli, &p, A, &[B, C]);
        assert_trusts_exactly(cli, &p, B, &[A, C]);
        assert_trusts_exactly(cli, &p, C, &[A, B]);
        assert_plan_empty(&dir);

        dir.write("main.tf", trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        assert_trusts_exactly(cli, &p, A, &[B]);
        assert_trusts_exactly(cli, &p, B, &[A]);
        assert_eq!(
            p.meshfed_objects(C),
            Vec::<String>::new(),
            "{cli}: nothing of meshfed's is left in C"
        );
        assert!(p.configmap(C, MESH_CONFIG).is_none(), "{cli}");
        let v = values(&dir, "meshfed_trust.fed");
        let roots = v["root_certificates"]
            .as_object()
            .expect("root_certificates");
        assert!(!roots.contains_key(C), "{cli}: {v}");
        let manifests = v["manifests"].as_object().expect("manifests");
        assert!(
            !manifests.keys().any(|k| k.contains("cluster-c.local")),
            "{cli}: {v}"
        );
        assert_plan_empty(&dir);
    }
}

#[test]
fn an_external_peer_is_trusted_by_every_member() {
    let partner = generated("partner.example");
    let partner_root = pem_text(&partner.root_cert_pem);
    let peer = "  peer {\n    trust_domain  = \"partner.example\"\n    root_cert_pem = file(\"partner-root.pem\")\n  }\n";
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &trust("fed", &[A, B], peer));
        dir.write("partner-root.pem", &partner.root_cert_pem);
        dir.run_ok(&APPLY);
        for (me, other) in [(A, B), (B, A)] {
            assert_eq!(
                p.recorded_root(me, "partner.example"),
                Some(partner_root.clone()),
                "{cli}: {me}"
            );
            let want = BTreeMap::from([
                (other.to_string(), p.root(other)),
                ("partner.example".to_string(), partner_root.clone()),
            ]);
            assert_eq!(p.ca_certificates(me), want, "{cli}: {me}");
        }
        let v = values(&dir, "meshfed_trust.fed");
        assert_eq!(
            v["root_certificates"]["partner.example"],
            json!(partner_root),
            "{cli}"
        );
        assert_eq!(
            v["fingerprints"]["partner.example"],
            json!(cert::fingerprint_sha256(partner.root_cert_pem.as_bytes())),
            "{cli}"
        );
        // A partner workload that trusts A's root and foo complete mutual TLS.
        let partner_id = "spiffe://partner.example/ns/shop/sa/checkout";
        let checkout = cert::issue_workload_cert(partner.issuing(), partner_id, cert::now())
            .expect("a partner workload");
        let foo = p.workload(A, FOO);
        let ok = cert::mtls_handshake(
            &foo,
            &p.trusted_roots(A),
            &checkout,
            &[partner_root.clone(), p.root(A)],
        )
        .unwrap_or_else(|e| panic!("{cli}: foo calls the partner: {e}"));
        assert_eq!(ok.server_id, partner_id);
        assert_plan_empty(&dir);
    }
}
