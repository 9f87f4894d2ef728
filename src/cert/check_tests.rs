//! Tests of [`super::check_provided`] and [`super::parse_root`]: generated material passes,
//! and each kind of refused input is refused on the attribute it came from.

use super::*;
use crate::cert::{CaMaterial, CaRequest, KeyAlgorithm, generate_ca};

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("time")
}

/// 2025-06-15T15:06:40Z.
fn now() -> OffsetDateTime {
    at(1_750_000_000)
}

fn ca(trust_domain: &str) -> CaMaterial {
    generate_ca(CaRequest::new(trust_domain, now())).expect("generate")
}

fn provided(ca: &CaMaterial) -> ProvidedCa {
    ProvidedCa {
        cert_pem: ca.intermediate_cert_pem.clone(),
        key_pem: ca.intermediate_key_pem.clone(),
        cert_chain_pem: ca.cert_chain_pem.clone(),
        root_cert_pem: ca.root_cert_pem.clone(),
    }
}

fn problems(p: ProvidedCa, now: OffsetDateTime) -> Vec<CertProblem> {
    check_provided(p, now).expect_err("must be refused")
}

fn has(problems: &[CertProblem], field: CaField, pred: impl Fn(&ProblemKind) -> bool) -> bool {
    problems.iter().any(|p| p.field == field && pred(&p.kind))
}

/// Asserts that `p` is refused now with, among its problems, one on `field` that `pred` accepts.
fn assert_refused_on(p: ProvidedCa, field: CaField, pred: impl Fn(&ProblemKind) -> bool) {
    let found = problems(p, now());
    assert!(has(&found, field, pred), "{field:?}: {found:?}");
}

/// A self-signed certificate that is not a CA (a TLS server certificate).
fn leaf_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["not-a-ca.example".to_string()]).expect("params");
    params.not_before = now() - Duration::days(1);
    params.not_after = now() + Duration::days(365);
    params.self_signed(&key).expect("self-signed").pem()
}

#[test]
fn generated_material_passes_every_check_without_warnings() {
    let checked = check_provided(provided(&ca("cluster-a.local")), now()).expect("valid");
    assert!(checked.warnings().is_empty(), "{:?}", checked.warnings());
    assert!(checked.cert_pem().contains("BEGIN CERTIFICATE"));
}

#[test]
fn pem_that_does_not_parse_is_refused_on_each_field_it_appears_in() {
    let p = ProvidedCa {
        cert_pem: "not pem".into(),
        key_pem: "not pem".into(),
        cert_chain_pem: "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".into(),
        root_cert_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
    };
    let found = problems(p, now());
    for field in [
        CaField::CertPem,
        CaField::KeyPem,
        CaField::CertChainPem,
        CaField::RootCertPem,
    ] {
        assert!(
            found.iter().any(|p| p.field == field),
            "{field:?}: {found:?}"
        );
    }
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|s| s.starts_with("key_pem: ")),
        "{shown:?}"
    );
}

#[test]
fn a_private_key_given_as_a_certificate_is_refused_as_the_wrong_block() {
    let a = ca("cluster-a.local");
    let p = ProvidedCa {
        cert_pem: a.intermediate_key_pem.clone(),
        ..provided(&a)
    };
    let found = problems(p, now());
    assert!(has(
        &found,
        CaField::CertPem,
        |k| matches!(k, ProblemKind::ParsePem(m) if m.contains("PrivateKey"))
    ));
    assert!(
        !found.iter().any(|p| p.to_string().contains("MI")),
        "no key bytes in messages"
    );
}

#[test]
fn a_root_or_signing_certificate_that_is_not_a_ca_is_refused() {
    let a = ca("cluster-a.local");
    let leaf_as_root = ProvidedCa {
        root_cert_pem: leaf_pem(),
        ..provided(&a)
    };
    let leaf_as_signer = ProvidedCa {
        cert_pem: leaf_pem(),
        ..provided(&a)
    };
    for (p, field) in [
        (leaf_as_root, CaField::RootCertPem),
        (leaf_as_signer, CaField::CertPem),
    ] {
        assert_refused_on(p, field, |k| matches!(k, ProblemKind::CheckCa { .. }));
    }
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    let a = ca("cluster-a.local");
    let b = ca("cluster-b.local");
    let p = ProvidedCa {
        key_pem: b.intermediate_key_pem.clone(),
        ..provided(&a)
    };
    assert_refused_on(p, CaField::KeyPem, |k| *k == ProblemKind::MatchKey);
}

#[test]
fn an_expired_certificate_is_refused() {
    let mut req = CaRequest::new("cluster-a.local", now() - Duration::days(800));
    req.root_validity = Duration::days(730);
    req.intermediate_validity = Duration::days(365);
    let old = generate_ca(req).expect("generate in the past");
    let found = problems(provided(&old), now());
    for field in [CaField::CertPem, CaField::RootCertPem] {
        let expired = |k: &ProblemKind| matches!(k, ProblemKind::Expired { .. });
        assert!(has(&found, field, expired), "{field:?}: {found:?}");
    }
}

#[test]
fn a_certificate_that_is_not_yet_valid_is_refused() {
    let future = generate_ca(CaRequest::new("cluster-a.local", now() + Duration::days(2)))
        .expect("generate in the future");
    assert_refused_on(provided(&future), CaField::CertPem, |k| {
        matches!(k, ProblemKind::NotYetValid { .. })
    });
}

#[test]
fn a_chain_that_does_not_verify_to_the_root_is_refused() {
    let a = ca("cluster-a.local");
    let b = ca("cluster-b.local");
    let p = ProvidedCa {
        root_cert_pem: b.root_cert_pem.clone(),
        ..provided(&a)
    };
    assert_refused_on(p, CaField::CertChainPem, |k| {
        matches!(k, ProblemKind::VerifyChain(_))
    });
}

#[test]
fn a_forged_root_with_the_right_name_but_another_key_is_refused() {
    // Same subject as cluster-a's root (same trust domain), different key.
    let a = ca("cluster-a.local");
    let impostor = ca("cluster-a.local");
    let p = ProvidedCa {
        root_cert_pem: impostor.root_cert_pem.clone(),
        ..provided(&a)
    };
    assert_refused_on(
        p,
        CaField::CertChainPem,
        |k| matches!(k, ProblemKind::VerifyChain(m) if m.contains("signature")),
    );
}

#[test]
fn a_chain_that_does_not_begin_with_the_signing_certificate_is_refused() {
    let a = ca("cluster-a.local");
    let p = ProvidedCa {
        cert_chain_pem: a.root_cert_pem.clone(),
        ..provided(&a)
    };
    assert_refused_on(p, CaField::CertChainPem, |k| *k == ProblemKind::ChainStart);
}

#[test]
fn a_certificate_expiring_within_30_days_gives_a_warning_not_an_error() {
    let mut req = CaRequest::new("cluster-a.local", now());
    req.intermediate_validity = Duration::days(10);
    let soon = generate_ca(req).expect("generate");
    let checked = check_provided(provided(&soon), now()).expect("usable");
    assert_eq!(checked.warnings().len(), 1, "{:?}", checked.warnings());
    let w = &checked.warnings()[0];
    assert!(w.is_warning());
    assert_eq!(w.field, CaField::CertPem);
    assert!(
        matches!(w.kind, ProblemKind::ExpiresSoon { days: 10, .. }),
        "{w}"
    );
}

#[test]
fn keys_in_openssl_legacy_encodings_are_accepted() {
    let a = ca("cluster-a.local");
    let der = crate::cert::key::tests::pkcs8_der(&a.intermediate_key_pem);
    let p = ProvidedCa {
        key_pem: crate::cert::key::tests::legacy_pem(&der, "EC PRIVATE KEY"),
        ..provided(&a)
    };
    check_provided(p, now()).expect("SEC1 key accepted");

    let mut req = CaRequest::new("cluster-b.local", now());
    req.key_algorithm = KeyAlgorithm::Rsa2048;
    let b = generate_ca(req).expect("RSA");
    let der = crate::cert::key::tests::pkcs8_der(&b.intermediate_key_pem);
    let p = ProvidedCa {
        key_pem: crate::cert::key::tests::legacy_pem(&der, "RSA PRIVATE KEY"),
        ..provided(&b)
    };
    check_provided(p, now()).expect("PKCS#1 key accepted");
}

#[test]
fn debug_output_of_provided_and_checked_material_never_shows_the_key() {
    let p = provided(&ca("cluster-a.local"));
    assert!(!format!("{p:?}").contains("PRIVATE KEY"));
    let checked = check_provided(p, now()).expect("valid");
    assert!(!format!("{checked:?}").contains("PRIVATE KEY"));
}

#[test]
fn a_peer_root_parses_to_its_subject_expiry_and_fingerprint() {
    let c = ca("cluster-c.local");
    let info = parse_root(&c.root_cert_pem, now()).expect("valid root");
    assert_eq!(
        info.subject,
        "certificate \"O=cluster-c.local, OU=meshfed, CN=Root CA\""
    );
    assert_eq!(info.not_after, now() + crate::cert::DEFAULT_ROOT_VALIDITY);
    assert_eq!(
        info.fingerprint,
        fingerprint_sha256(c.root_cert_pem.as_bytes())
    );
    assert!(info.warnings.is_empty());
}

#[test]
fn a_peer_root_that_is_not_a_ca_expired_garbage_or_several_is_refused() {
    let kind = |pem: &str, at: OffsetDateTime| parse_root(pem, at).expect_err(pem).kind;
    assert!(matches!(
        kind(&leaf_pem(), now()),
        ProblemKind::CheckCa { .. }
    ));
    let c = ca("cluster-c.local");
    let later = now() + crate::cert::DEFAULT_ROOT_VALIDITY + Duration::days(1);
    assert!(matches!(
        kind(&c.root_cert_pem, later),
        ProblemKind::Expired { .. }
    ));
    assert!(matches!(kind("hello", now()), ProblemKind::ParsePem(_)));
    let two = format!("{}{}", c.root_cert_pem, c.root_cert_pem);
    assert_eq!(kind(&two, now()), ProblemKind::CountCertificates(2));
    assert_eq!(
        parse_root("hello", now()).expect_err("garbage").field,
        CaField::RootCertPem
    );
}
