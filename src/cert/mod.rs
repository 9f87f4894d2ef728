//! Certificates for the federation: pure functions over typed requests, each returning `Result`.
//! This module owns X.509 generation (rcgen), parsing and checking (x509-parser), fingerprints,
//! workload certificates for the mutual TLS proof, and the in-memory rustls handshake that proves
//! it. It must not import the protocol layer, the Kubernetes client, the resources or the
//! provider: callers hand it PEM text and a clock reading, and get PEM text or problems back.
//!
//! # Contents
//! - [`generate`]: [`generate_ca`] makes a self-signed root and the intermediate istiod signs
//!   with (Istio's plug-in CA, the `cacerts` Secret).
//! - [`check`]: [`check_provided`] checks user-provided CA material, [`parse_root`] an external
//!   party's root; problems name the attribute they came from.
//! - [`encoding`]: PEM text, base64 and SHA-256 digests (fingerprints, and the `sha256:` form
//!   in which Secret values are shown), in one place.
//! - [`inspect`]: what a live bundle holds (fingerprints, subjects, `not_after`), for reports.
//! - [`issue`]: [`issue_workload_cert`] signs a SPIFFE workload certificate with an
//!   intermediate, as istiod would.
//! - [`handshake`]: [`mtls_handshake`] runs a real rustls mutual TLS handshake in memory.
//! - `key` (private): private keys in PKCS#8, PKCS#1 or SEC1 form, as rcgen signing keys.
//!
//! Keys are held in [`String`]s and never printed: every struct that holds one has a
//! hand-written `Debug` that shows `<redacted>`.

pub mod check;
pub mod encoding;
pub mod generate;
pub mod handshake;
pub mod inspect;
pub mod issue;
mod key;

pub use check::{
    CaField, CertProblem, CheckedCa, ProblemKind, ProvidedCa, RootInfo, certificate_fingerprint,
    check_certificates, check_provided, not_after, parse_root, rfc3339_text,
};
pub use encoding::fingerprint_sha256;
pub use generate::{
    CaMaterial, CaRequest, DEFAULT_INTERMEDIATE_VALIDITY, DEFAULT_ROOT_VALIDITY, generate_ca,
};
pub use handshake::{Authenticated, HandshakeFailure, Side, mtls_handshake};
pub use issue::{IssuingCa, WORKLOAD_VALIDITY, WorkloadCert, issue_workload_cert};

/// Backdating of `not_before` on every certificate meshfed signs, so that a cluster whose clock
/// runs a little behind the machine running Terraform accepts the certificate at once.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Key algorithm of a generated CA (root and intermediate use the same one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256: small, fast, accepted by istiod and Envoy.
    #[default]
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048 with PKCS#1 v1.5 SHA-256 signatures.
    Rsa2048,
    /// RSA 3072 with PKCS#1 v1.5 SHA-256 signatures.
    Rsa3072,
    /// RSA 4096 with PKCS#1 v1.5 SHA-256 signatures (Istio's `tools/certs` default size).
    Rsa4096,
}

impl KeyAlgorithm {
    /// Every algorithm with its configuration name: the one table code and docs use.
    pub const ALL: [(KeyAlgorithm, &'static str); 5] = [
        (KeyAlgorithm::EcdsaP256, "ECDSA_P256"),
        (KeyAlgorithm::EcdsaP384, "ECDSA_P384"),
        (KeyAlgorithm::Rsa2048, "RSA_2048"),
        (KeyAlgorithm::Rsa3072, "RSA_3072"),
        (KeyAlgorithm::Rsa4096, "RSA_4096"),
    ];

    /// The configuration name, e.g. `ECDSA_P256`.
    pub fn as_str(self) -> &'static str {
        KeyAlgorithm::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, s)| *s)
            .unwrap_or("ECDSA_P256")
    }

    /// Parses a configuration name, ignoring case.
    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        KeyAlgorithm::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(a, _)| *a)
    }

    /// The accepted names, for messages.
    pub fn names() -> String {
        KeyAlgorithm::ALL
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// RSA modulus size in bits, for the RSA algorithms.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyAlgorithm::Rsa2048 => Some(2048),
            KeyAlgorithm::Rsa3072 => Some(3072),
            KeyAlgorithm::Rsa4096 => Some(4096),
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => None,
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why generating or issuing a certificate failed. Each variant is the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("validity of the {what} certificate must be positive (got {validity})")]
    CheckValidity {
        what: &'static str,
        validity: time::Duration,
    },
    #[error(
        "the intermediate validity ({intermediate}) must not exceed the root validity ({root})"
    )]
    IntermediateOutlivesRoot {
        intermediate: time::Duration,
        root: time::Duration,
    },
    #[error("generate a {algorithm} key: {reason}")]
    GenerateKey {
        algorithm: KeyAlgorithm,
        reason: String,
    },
    #[error("sign the {what} certificate: {reason}")]
    SignCertificate { what: &'static str, reason: String },
    #[error("load the issuing CA's {field}: {reason}")]
    LoadIssuer { field: &'static str, reason: String },
    #[error("invalid SPIFFE ID {id:?}: {reason}")]
    ParseSpiffeId { id: String, reason: String },
}

/// The current time, for callers that do not test against a fixed clock.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The key algorithm of a certificate's public key, when it is one meshfed generates.
pub fn key_algorithm_of(cert_pem: &str) -> Option<KeyAlgorithm> {
    use x509_parser::public_key::PublicKey;
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    match cert.public_key().parsed().ok()? {
        PublicKey::EC(point) if point.data().len() == 65 => Some(KeyAlgorithm::EcdsaP256),
        PublicKey::EC(point) if point.data().len() == 97 => Some(KeyAlgorithm::EcdsaP384),
        PublicKey::RSA(rsa) => match rsa.key_size() {
            2048 => Some(KeyAlgorithm::Rsa2048),
            3072 => Some(KeyAlgorithm::Rsa3072),
            4096 => Some(KeyAlgorithm::Rsa4096),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_algorithm_is_read_back_from_a_generated_certificate() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384] {
            let mut req = CaRequest::new("cluster-a.local", now());
            req.key_algorithm = alg;
            let ca = generate_ca(req).expect("generate");
            assert_eq!(key_algorithm_of(&ca.intermediate_cert_pem), Some(alg));
        }
        assert_eq!(key_algorithm_of("not a certificate"), None);
    }

    #[test]
    fn a_fingerprint_is_the_same_for_pem_and_der_and_is_64_lower_case_hex_digits() {
        let ca = generate_ca(CaRequest::new("cluster-a.local", now())).expect("generate");
        let pem = ca.root_cert_pem.as_bytes();
        let der = &encoding::pem_blocks(pem)[0].contents;
        let fp = fingerprint_sha256(pem);
        assert_eq!(fp, fingerprint_sha256(der));
        assert_eq!(fp.len(), 64);
        assert!(
            fp.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }

    #[test]
    fn a_fingerprint_of_known_bytes_is_their_sha256() {
        assert_eq!(
            fingerprint_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn keys_have_fingerprints_too_and_they_differ_from_their_certificates() {
        let ca = generate_ca(CaRequest::new("cluster-a.local", now())).expect("generate");
        let key = fingerprint_sha256(ca.intermediate_key_pem.as_bytes());
        let cert = fingerprint_sha256(ca.intermediate_cert_pem.as_bytes());
        assert_eq!(key.len(), 64);
        assert_ne!(key, cert);
    }

    #[test]
    fn key_algorithms_round_trip_through_their_names() {
        for (alg, name) in KeyAlgorithm::ALL {
            assert_eq!(alg.as_str(), name);
            assert_eq!(KeyAlgorithm::parse(&name.to_lowercase()), Some(alg));
        }
        assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::EcdsaP256);
        assert_eq!(KeyAlgorithm::parse("ECDSA_P521"), None);
    }
}
