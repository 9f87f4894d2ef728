//! Tests of [`super::mtls_handshake`]: two clusters, each with its own generated CA, and the
//! three trust configurations that matter.

use super::*;
use crate::cert::{CaMaterial, CaRequest, generate_ca, issue_workload_cert};

struct Cluster {
    ca: CaMaterial,
    workload: WorkloadCert,
}

fn cluster(trust_domain: &str, ns: &str, sa: &str) -> Cluster {
    let now = time::OffsetDateTime::now_utc();
    let ca = generate_ca(CaRequest::new(trust_domain, now)).expect("generate CA");
    let id = format!("spiffe://{trust_domain}/ns/{ns}/sa/{sa}");
    let workload = issue_workload_cert(ca.issuing(), &id, now).expect("issue");
    Cluster { ca, workload }
}

fn a_and_b() -> (Cluster, Cluster) {
    (
        cluster("cluster-a.local", "abc", "foo"),
        cluster("cluster-b.local", "xyz", "bar"),
    )
}

#[test]
fn the_handshake_succeeds_when_each_side_trusts_the_others_root() {
    let (a, b) = a_and_b();
    let a_trusts = [&a.ca.root_cert_pem, &b.ca.root_cert_pem];
    let b_trusts = [&b.ca.root_cert_pem, &a.ca.root_cert_pem];
    let seen = mtls_handshake(&a.workload, &a_trusts, &b.workload, &b_trusts)
        .expect("mutual trust lets foo call bar");
    assert_eq!(seen.server_id, "spiffe://cluster-b.local/ns/xyz/sa/bar");
    assert_eq!(seen.client_id, "spiffe://cluster-a.local/ns/abc/sa/foo");
}

/// How foo (cluster-a, the client) calling bar (cluster-b, the server) fails when `distrustful`
/// trusts only its own cluster's root and the other side trusts both.
fn failure_when_distrusted_by(distrustful: Side) -> HandshakeFailure {
    let (a, b) = a_and_b();
    let both = [&a.ca.root_cert_pem, &b.ca.root_cert_pem];
    let (a_trusts, b_trusts) = match distrustful {
        Side::Client => (&both[..1], &both[..]),
        Side::Server => (&both[..], &both[1..]),
    };
    let refused = format!("the {distrustful} must refuse a peer whose root it does not trust");
    mtls_handshake(&a.workload, a_trusts, &b.workload, b_trusts).expect_err(&refused)
}

/// The side that rejected the handshake, if that is how it failed.
fn rejected_by(err: &HandshakeFailure) -> Option<Side> {
    match err {
        HandshakeFailure::Rejected { side, .. } => Some(*side),
        _ => None,
    }
}

#[test]
fn the_server_rejects_a_client_whose_root_it_does_not_trust() {
    let err = failure_when_distrusted_by(Side::Server);
    assert_eq!(rejected_by(&err), Some(Side::Server), "{err}");
}

#[test]
fn the_client_rejects_a_server_whose_root_it_does_not_trust() {
    let err = failure_when_distrusted_by(Side::Client);
    assert_eq!(rejected_by(&err), Some(Side::Client), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[test]
fn workloads_of_one_cluster_trust_each_other_with_one_root() {
    let a = cluster("cluster-a.local", "abc", "foo");
    let now = time::OffsetDateTime::now_utc();
    let other = issue_workload_cert(
        a.ca.issuing(),
        "spiffe://cluster-a.local/ns/abc/sa/baz",
        now,
    )
    .expect("issue");
    let trusts = [&a.ca.root_cert_pem];
    mtls_handshake(&a.workload, &trusts, &other, &trusts).expect("same mesh");
}

#[test]
fn a_root_bundle_in_one_pem_text_is_trusted_whole() {
    let (a, b) = a_and_b();
    let bundle = format!("{}{}", a.ca.root_cert_pem, b.ca.root_cert_pem);
    mtls_handshake(&a.workload, &[&bundle], &b.workload, &[&bundle]).expect("bundle");
}

#[test]
fn garbage_trust_or_identity_fails_at_loading_not_at_the_handshake() {
    let (a, b) = a_and_b();
    let good = [&b.ca.root_cert_pem];
    let bad = ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"];
    let err = mtls_handshake(&a.workload, &bad, &b.workload, &good).expect_err("bad root");
    assert!(
        matches!(
            err,
            HandshakeFailure::LoadTrust {
                side: Side::Client,
                ..
            }
        ),
        "{err}"
    );
    let broken = WorkloadCert {
        key_pem: "nope".into(),
        ..a.workload.clone()
    };
    let err = mtls_handshake(&broken, &good, &b.workload, &good).expect_err("bad key");
    assert!(
        matches!(
            err,
            HandshakeFailure::LoadIdentity {
                side: Side::Client,
                ..
            }
        ),
        "{err}"
    );
}
