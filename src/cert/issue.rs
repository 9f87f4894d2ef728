//! Workload certificates, signed the way istiod signs them with a plug-in CA: a leaf whose only
//! identity is the SPIFFE URI SAN `spiffe://<trust domain>/ns/<ns>/sa/<sa>`, usable as TLS client
//! and server, short-lived, followed by the CA's `cert-chain.pem`. meshfed itself never issues
//! workload certificates into a cluster: these exist to prove a trust configuration with a real
//! handshake ([`super::mtls_handshake`]).

use rcgen::{
    CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use super::key::SigningKey;
use super::{CLOCK_SKEW, CaMaterial, CertError};

/// Validity of a workload certificate: one hour (istiod's default is 24 hours; a proof needs
/// minutes).
pub const WORKLOAD_VALIDITY: Duration = Duration::hours(1);

/// The CA that signs: its certificate, key (PKCS#8, PKCS#1 or SEC1 PEM) and chain, as the
/// `cacerts` Secret holds them (`ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`).
#[derive(Clone, Copy)]
pub struct IssuingCa<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    pub cert_chain_pem: &'a str,
}

impl std::fmt::Debug for IssuingCa<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuingCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .finish()
    }
}

impl CaMaterial {
    /// This CA's intermediate as a signer of workload certificates.
    pub fn issuing(&self) -> IssuingCa<'_> {
        IssuingCa {
            cert_pem: &self.intermediate_cert_pem,
            key_pem: &self.intermediate_key_pem,
            cert_chain_pem: &self.cert_chain_pem,
        }
    }
}

/// A workload's certificate chain (leaf first, then the CA's chain) and its PKCS#8 key.
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WorkloadCert {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for WorkloadCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadCert")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Issues a workload certificate for `spiffe_id` (`spiffe://<td>/ns/<ns>/sa/<sa>`), valid from
/// `now - CLOCK_SKEW` for [`WORKLOAD_VALIDITY`], with a fresh ECDSA P-256 key.
///
/// Guarantees: the leaf is not a CA, has keyUsage digitalSignature, extendedKeyUsage serverAuth
/// and clientAuth, an empty subject and the SPIFFE ID as its only (critical) SAN; it is signed
/// by `ca.key_pem` under the issuer name of `ca.cert_pem`. Assumptions: `ca` was checked (the
/// key belongs to the certificate); a mismatched pair yields a certificate nobody can verify.
pub fn issue_workload_cert(
    ca: IssuingCa<'_>,
    spiffe_id: &str,
    now: OffsetDateTime,
) -> Result<WorkloadCert, CertError> {
    check_spiffe_id(spiffe_id)?;
    let signer = SigningKey::from_pem(ca.key_pem).map_err(|reason| CertError::LoadIssuer {
        field: "key",
        reason,
    })?;
    let issuer =
        Issuer::from_ca_cert_pem(ca.cert_pem, signer).map_err(|e| CertError::LoadIssuer {
            field: "certificate",
            reason: e.to_string(),
        })?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| {
        CertError::GenerateKey {
            algorithm: super::KeyAlgorithm::EcdsaP256,
            reason: e.to_string(),
        }
    })?;
    let leaf = leaf_params(spiffe_id, now)?
        .signed_by(&key, &issuer)
        .map_err(|e| CertError::SignCertificate {
            what: "workload",
            reason: e.to_string(),
        })?;
    let mut chain = leaf.pem();
    chain.push_str(ca.cert_chain_pem);
    if !chain.ends_with('\n') {
        chain.push('\n');
    }
    Ok(WorkloadCert {
        cert_chain_pem: chain,
        key_pem: key.serialize_pem(),
    })
}

fn leaf_params(spiffe_id: &str, now: OffsetDateTime) -> Result<CertificateParams, CertError> {
    let uri = spiffe_id
        .to_string()
        .try_into()
        .map_err(|e: rcgen::Error| CertError::ParseSpiffeId {
            id: spiffe_id.into(),
            reason: e.to_string(),
        })?;
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.subject_alt_names = vec![SanType::URI(uri)];
    p.use_authority_key_identifier_extension = true;
    p.not_before = now - CLOCK_SKEW;
    p.not_after = now + WORKLOAD_VALIDITY;
    Ok(p)
}

/// `spiffe://<trust domain>/<path>` with a non-empty trust domain and path, no query or fragment.
fn check_spiffe_id(id: &str) -> Result<(), CertError> {
    let fail = |reason: &str| CertError::ParseSpiffeId {
        id: id.into(),
        reason: reason.into(),
    };
    let rest = id
        .strip_prefix("spiffe://")
        .ok_or_else(|| fail("must start with spiffe://"))?;
    let (td, path) = rest
        .split_once('/')
        .ok_or_else(|| fail("must have a path after the trust domain"))?;
    if td.is_empty() || path.is_empty() {
        return Err(fail("trust domain and path must not be empty"));
    }
    if id.contains(['?', '#']) {
        return Err(fail("must not have a query or fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{CaRequest, generate_ca};
    use x509_parser::prelude::*;

    fn leaf_of(chain: &str) -> Vec<u8> {
        x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes())
            .next()
            .expect("a block")
            .expect("PEM")
            .contents
    }

    #[test]
    fn a_workload_certificate_carries_only_its_spiffe_id_and_is_signed_by_the_intermediate() {
        // X.509 times have whole seconds.
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("zero nanoseconds");
        let ca = generate_ca(CaRequest::new("cluster-a.local", now)).expect("ca");
        let id = "spiffe://cluster-a.local/ns/abc/sa/foo";
        let w = issue_workload_cert(ca.issuing(), id, now).expect("issue");
        let der = leaf_of(&w.cert_chain_pem);
        let (_, leaf) = X509Certificate::from_der(&der).expect("leaf");
        let san = leaf
            .subject_alternative_name()
            .expect("san")
            .expect("present");
        assert_eq!(san.value.general_names, vec![GeneralName::URI(id)]);
        assert!(san.critical, "an empty subject makes the SAN critical");
        let eku = leaf
            .extended_key_usage()
            .expect("eku")
            .expect("present")
            .value;
        assert!(eku.client_auth && eku.server_auth);
        assert!(!leaf.is_ca());

        let int_der = leaf_of(&ca.intermediate_cert_pem);
        let (_, int) = X509Certificate::from_der(&int_der).expect("intermediate");
        assert_eq!(leaf.issuer().as_raw(), int.subject().as_raw());
        leaf.verify_signature(Some(int.public_key()))
            .expect("signed by the intermediate");
        assert!(w.cert_chain_pem.ends_with(&ca.cert_chain_pem));
        assert_eq!(
            leaf.validity().not_after.to_datetime() - now,
            WORKLOAD_VALIDITY
        );
    }

    #[test]
    fn an_rsa_intermediate_signs_workloads_too() {
        let now = OffsetDateTime::now_utc();
        let mut req = CaRequest::new("cluster-b.local", now);
        req.key_algorithm = crate::cert::KeyAlgorithm::Rsa2048;
        let ca = generate_ca(req).expect("ca");
        let w = issue_workload_cert(ca.issuing(), "spiffe://cluster-b.local/ns/xyz/sa/bar", now)
            .expect("issue");
        let der = leaf_of(&w.cert_chain_pem);
        let (_, leaf) = X509Certificate::from_der(&der).expect("leaf");
        let int_der = leaf_of(&ca.intermediate_cert_pem);
        let (_, int) = X509Certificate::from_der(&int_der).expect("intermediate");
        leaf.verify_signature(Some(int.public_key()))
            .expect("RSA signature verifies");
    }

    #[test]
    fn malformed_spiffe_ids_are_refused() {
        let now = OffsetDateTime::now_utc();
        let ca = generate_ca(CaRequest::new("cluster-a.local", now)).expect("ca");
        for bad in [
            "cluster-a.local/ns/abc/sa/foo",
            "spiffe://cluster-a.local",
            "spiffe:///ns/abc",
            "spiffe://td/ns/a?x=1",
        ] {
            let err = issue_workload_cert(ca.issuing(), bad, now).expect_err(bad);
            assert!(
                matches!(err, CertError::ParseSpiffeId { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused_without_quoting_it() {
        let now = OffsetDateTime::now_utc();
        let ca = generate_ca(CaRequest::new("cluster-a.local", now)).expect("ca");
        let bad = IssuingCa {
            key_pem: "secret-garbage",
            ..ca.issuing()
        };
        let err = issue_workload_cert(bad, "spiffe://cluster-a.local/ns/a/sa/b", now)
            .expect_err("bad key");
        assert!(matches!(err, CertError::LoadIssuer { field: "key", .. }));
        assert!(!err.to_string().contains("secret-garbage"));
        assert!(format!("{bad:?}").contains("<redacted>"));
    }
}
