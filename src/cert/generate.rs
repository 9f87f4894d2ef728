//! Generation of a cluster's CA for istiod's plug-in CA (the `cacerts` Secret): a self-signed
//! root and an intermediate signed by it, shaped like the ones Istio's `tools/certs` Makefiles
//! make (root: `CA:true`; intermediate: `CA:true, pathlen:0`, SAN `DNS:istiod.<ns>.svc`).
//!
//! The root's private key is dropped as soon as it has signed the intermediate: nothing can sign
//! under that root afterwards except istiod with the intermediate, and no root key exists to leak
//! from Terraform state. The price is that renewing the intermediate means a new root, which
//! meshfed propagates to every party in the same apply.
//!
//! Keys: ECDSA P-256/P-384 through rcgen with ring. ring cannot generate RSA keys (rcgen returns
//! `KeyGenerationUnavailable`), so RSA keys come from the RustCrypto `rsa` crate and are handed to
//! rcgen/ring as PKCS#8, which ring signs with. P-521 is not offered: rcgen signs P-521 only with
//! aws-lc-rs, and ring (rustls' provider here) cannot verify it.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use super::{CLOCK_SKEW, CertError, KeyAlgorithm};

/// Default root validity: 10 years, as Istio's `tools/certs` (`ROOTCA_DAYS=3650`). The root must
/// outlive the intermediate; as its key is discarded, a longer life adds no exposure.
pub const DEFAULT_ROOT_VALIDITY: Duration = Duration::days(3650);

/// Default intermediate validity: 5 years. Istio's `tools/certs` uses 2 years, but keeps the root
/// key to re-sign; here renewal means a new root propagated to every party, so a longer life
/// avoids a mesh-wide trust roll every other year while staying well inside the root's. Policies
/// that want shorter lives set `intermediate_validity`.
pub const DEFAULT_INTERMEDIATE_VALIDITY: Duration = Duration::days(1825);

/// What to generate. Build it with [`CaRequest::new`] and adjust the fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRequest {
    /// SPIFFE trust domain of the cluster: the subjects' organization (`O`).
    pub trust_domain: String,
    /// Namespace of istiod: the intermediate's SAN is `DNS:istiod.<istio_namespace>.svc`.
    pub istio_namespace: String,
    pub key_algorithm: KeyAlgorithm,
    pub root_validity: Duration,
    pub intermediate_validity: Duration,
    /// The clock reading the validity periods start from (less [`CLOCK_SKEW`]).
    pub now: OffsetDateTime,
}

impl CaRequest {
    /// A request with the defaults: ECDSA P-256, [`DEFAULT_ROOT_VALIDITY`],
    /// [`DEFAULT_INTERMEDIATE_VALIDITY`], istiod in `istio-system`.
    pub fn new(trust_domain: &str, now: OffsetDateTime) -> CaRequest {
        CaRequest {
            trust_domain: trust_domain.to_string(),
            istio_namespace: "istio-system".to_string(),
            key_algorithm: KeyAlgorithm::default(),
            root_validity: DEFAULT_ROOT_VALIDITY,
            intermediate_validity: DEFAULT_INTERMEDIATE_VALIDITY,
            now,
        }
    }
}

/// A generated CA, as the `cacerts` Secret holds it (`root-cert.pem`, `ca-cert.pem`,
/// `ca-key.pem`, `cert-chain.pem`). `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CaMaterial {
    pub root_cert_pem: String,
    pub intermediate_cert_pem: String,
    /// PKCS#8 `PRIVATE KEY` of the intermediate. Secret: never logged, never in state.
    pub intermediate_key_pem: String,
    /// The intermediate followed by the root, as Istio's `cert-chain.pem`.
    pub cert_chain_pem: String,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("root_cert_pem", &self.root_cert_pem)
            .field("intermediate_cert_pem", &self.intermediate_cert_pem)
            .field("intermediate_key_pem", &"<redacted>")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .finish()
    }
}

/// Generates a root CA and an intermediate CA signed by it.
///
/// Guarantees: both certificates start at `now - CLOCK_SKEW`; the root ends at
/// `now + root_validity`, the intermediate at `now + intermediate_validity`, never after the
/// root. Assumptions: `trust_domain` was checked as a SPIFFE trust domain by the caller.
pub fn generate_ca(req: CaRequest) -> Result<CaMaterial, CertError> {
    check_validities(&req)?;
    let root_key = generate_key(req.key_algorithm)?;
    let intermediate_key = generate_key(req.key_algorithm)?;
    let start = req.now - CLOCK_SKEW;

    let root_params = root_params(&req, start);
    let root = root_params
        .self_signed(&root_key)
        .map_err(|e| sign_error("root", e))?;
    let issuer = Issuer::new(root_params, root_key);

    let intermediate = intermediate_params(&req, start)?
        .signed_by(&intermediate_key, &issuer)
        .map_err(|e| sign_error("intermediate", e))?;

    let root_cert_pem = root.pem();
    let intermediate_cert_pem = intermediate.pem();
    Ok(CaMaterial {
        cert_chain_pem: format!("{intermediate_cert_pem}{root_cert_pem}"),
        root_cert_pem,
        intermediate_cert_pem,
        intermediate_key_pem: intermediate_key.serialize_pem(),
    })
}

fn check_validities(req: &CaRequest) -> Result<(), CertError> {
    for (what, validity) in [
        ("root", req.root_validity),
        ("intermediate", req.intermediate_validity),
    ] {
        if !validity.is_positive() {
            return Err(CertError::CheckValidity { what, validity });
        }
    }
    if req.intermediate_validity > req.root_validity {
        return Err(CertError::IntermediateOutlivesRoot {
            intermediate: req.intermediate_validity,
            root: req.root_validity,
        });
    }
    Ok(())
}

fn sign_error(what: &'static str, e: rcgen::Error) -> CertError {
    CertError::SignCertificate {
        what,
        reason: e.to_string(),
    }
}

/// A fresh key pair of the given algorithm, usable by rcgen (ring signs with it).
pub(crate) fn generate_key(algorithm: KeyAlgorithm) -> Result<KeyPair, CertError> {
    let fail = |reason: String| CertError::GenerateKey { algorithm, reason };
    match algorithm {
        KeyAlgorithm::EcdsaP256 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| fail(e.to_string()))
        }
        KeyAlgorithm::EcdsaP384 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(|e| fail(e.to_string()))
        }
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let bits = algorithm.rsa_bits().unwrap_or(2048);
            generate_rsa(bits).map_err(fail)
        }
    }
}

/// RSA through the `rsa` crate (ring cannot generate RSA keys), loaded into rcgen as PKCS#8.
fn generate_rsa(bits: usize) -> Result<KeyPair, String> {
    use rsa::pkcs8::EncodePrivateKey;
    let key =
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).map_err(|e| e.to_string())?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| e.to_string())
}

fn name(trust_domain: &str, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, trust_domain);
    dn.push(DnType::OrganizationalUnitName, "meshfed");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn root_params(req: &CaRequest, start: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(&req.trust_domain, "Root CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = start;
    p.not_after = req.now + req.root_validity;
    p
}

fn intermediate_params(
    req: &CaRequest,
    start: OffsetDateTime,
) -> Result<CertificateParams, CertError> {
    let san = format!("istiod.{}.svc", req.istio_namespace);
    let dns = san
        .clone()
        .try_into()
        .map_err(|e: rcgen::Error| CertError::SignCertificate {
            what: "intermediate",
            reason: format!("SAN {san:?}: {e}"),
        })?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(&req.trust_domain, "Intermediate CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.subject_alt_names = vec![SanType::DnsName(dns)];
    p.use_authority_key_identifier_extension = true;
    p.not_before = start;
    p.not_after = req.now + req.intermediate_validity;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn parse(pem: &str) -> (Vec<u8>, String) {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
        (p.contents, p.label)
    }

    fn with_cert<T>(pem: &str, f: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
        let (der, _) = parse(pem);
        let (_, cert) = X509Certificate::from_der(&der).expect("X.509");
        f(&cert)
    }

    #[test]
    fn the_root_is_a_self_signed_ca_that_signs_certificates_and_crls() {
        let ca = generate_ca(CaRequest::new("cluster-a.local", now())).expect("generate");
        with_cert(&ca.root_cert_pem, |root| {
            let bc = root.basic_constraints().expect("bc").expect("present");
            assert!(bc.critical && bc.value.ca);
            let ku = root.key_usage().expect("ku").expect("present").value;
            assert!(ku.key_cert_sign() && ku.crl_sign());
            assert_eq!(root.subject(), root.issuer());
            root.verify_signature(None).expect("self-signed");
            assert!(root.subject().to_string().contains("O=cluster-a.local"));
        });
    }

    #[test]
    fn the_intermediate_is_a_pathlen_zero_ca_for_istiod_signed_by_the_root() {
        let mut req = CaRequest::new("cluster-b.local", now());
        req.istio_namespace = "istio-ops".into();
        let ca = generate_ca(req).expect("generate");
        let (root_der, _) = parse(&ca.root_cert_pem);
        let (_, root) = X509Certificate::from_der(&root_der).expect("root");
        with_cert(&ca.intermediate_cert_pem, |int| {
            let bc = int.basic_constraints().expect("bc").expect("present").value;
            assert!(bc.ca);
            assert_eq!(bc.path_len_constraint, Some(0));
            let ku = int.key_usage().expect("ku").expect("present").value;
            assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
            let san = int
                .subject_alternative_name()
                .expect("san")
                .expect("present");
            assert_eq!(
                san.value.general_names,
                vec![GeneralName::DNSName("istiod.istio-ops.svc")]
            );
            assert_eq!(int.issuer(), root.subject());
            int.verify_signature(Some(root.public_key()))
                .expect("signed by the root");
        });
    }

    #[test]
    fn the_chain_is_the_intermediate_then_the_root_and_the_key_is_pkcs8() {
        let ca = generate_ca(CaRequest::new("cluster-a.local", now())).expect("generate");
        assert_eq!(
            ca.cert_chain_pem,
            format!("{}{}", ca.intermediate_cert_pem, ca.root_cert_pem)
        );
        assert!(
            ca.intermediate_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }

    #[test]
    fn validity_starts_just_before_now_and_the_intermediate_ends_before_the_root() {
        let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).expect("time");
        let ca = generate_ca(CaRequest::new("cluster-a.local", now)).expect("generate");
        let (root_nb, root_na) = with_cert(&ca.root_cert_pem, |c| {
            (
                c.validity().not_before.to_datetime(),
                c.validity().not_after.to_datetime(),
            )
        });
        let int_na = with_cert(&ca.intermediate_cert_pem, |c| {
            c.validity().not_after.to_datetime()
        });
        assert_eq!(root_nb, now - CLOCK_SKEW);
        assert_eq!(root_na, now + DEFAULT_ROOT_VALIDITY);
        assert_eq!(int_na, now + DEFAULT_INTERMEDIATE_VALIDITY);
        assert!(int_na < root_na);
    }

    #[test]
    fn an_intermediate_outliving_its_root_or_a_non_positive_validity_is_refused() {
        let mut req = CaRequest::new("cluster-a.local", now());
        req.intermediate_validity = req.root_validity + Duration::days(1);
        assert!(matches!(
            generate_ca(req.clone()),
            Err(CertError::IntermediateOutlivesRoot { .. })
        ));
        req.intermediate_validity = Duration::ZERO;
        assert!(matches!(
            generate_ca(req),
            Err(CertError::CheckValidity {
                what: "intermediate",
                ..
            })
        ));
    }

    /// Runs `f` on the intermediate of a CA generated with `algorithm`.
    fn with_intermediate_of(algorithm: KeyAlgorithm, f: impl FnOnce(&X509Certificate<'_>)) {
        let mut req = CaRequest::new("cluster-a.local", now());
        req.key_algorithm = algorithm;
        let ca = generate_ca(req).expect("generate");
        with_cert(&ca.intermediate_cert_pem, f)
    }

    #[test]
    fn p384_cas_are_signed_with_ecdsa_sha384() {
        with_intermediate_of(KeyAlgorithm::EcdsaP384, |c| {
            assert_eq!(
                c.signature_algorithm.algorithm,
                x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA384
            );
        });
    }

    #[test]
    fn rsa_cas_are_generated_outside_ring_and_signed_with_sha256() {
        with_intermediate_of(KeyAlgorithm::Rsa2048, |c| {
            assert_eq!(
                c.signature_algorithm.algorithm,
                x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA
            );
            match c.public_key().parsed().expect("public key") {
                x509_parser::public_key::PublicKey::RSA(k) => assert_eq!(k.key_size(), 2048),
                other => panic!("not RSA: {other:?}"),
            }
        });
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let ca = generate_ca(CaRequest::new("cluster-a.local", now())).expect("generate");
        let shown = format!("{ca:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("PRIVATE KEY"));
    }
}
