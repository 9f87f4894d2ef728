//! Checks of CA material that users hand to meshfed: a member's `provided` CA (`cert_pem`,
//! `key_pem`, `cert_chain_pem`, `root_cert_pem`) and an external peer's `root_cert_pem`.
//!
//! Input is parsed in two stages: [`ProvidedCa`] is raw text, [`CheckedCa`] can only be made by
//! [`check_provided`], so rendering never sees unchecked material. Every [`CertProblem`] names
//! the attribute it came from, so the resource layer puts the diagnostic on the right path;
//! certificates expiring within [`EXPIRY_WARNING`] give warnings, not errors.
//!
//! The checks are those istiod makes when it loads `cacerts` (the certificate verifies to the
//! root through the chain, the key matches the certificate), plus what Istio leaves to luck:
//! each certificate is a CA, none is expired or not yet valid, and the chain starts with the
//! signing certificate (istiod appends `cert-chain.pem` to every workload certificate, so a
//! chain without it leaves peers unable to verify workloads).

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::key::SigningKey;
use super::{IssuingCa, fingerprint_sha256};

/// A certificate expiring sooner than this after `now` gives a warning.
pub const EXPIRY_WARNING: Duration = Duration::days(30);

/// The attribute a problem belongs to, named as in the Terraform schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaField {
    CertPem,
    KeyPem,
    CertChainPem,
    RootCertPem,
}

impl CaField {
    /// The attribute name: `cert_pem`, `key_pem`, `cert_chain_pem` or `root_cert_pem`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaField::CertPem => "cert_pem",
            CaField::KeyPem => "key_pem",
            CaField::CertChainPem => "cert_chain_pem",
            CaField::RootCertPem => "root_cert_pem",
        }
    }
}

/// What is wrong with one piece of CA material. Every variant but `ExpiresSoon` is an error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("cannot read PEM: {0}")]
    ParsePem(String),
    #[error("cannot parse the certificate: {0}")]
    ParseCertificate(String),
    #[error("expected exactly one certificate, found {0}")]
    CountCertificates(usize),
    #[error("cannot use the private key: {0}")]
    ParseKey(String),
    #[error("{subject} is not a CA certificate: {reason}")]
    CheckCa { subject: String, reason: String },
    #[error("the private key does not belong to the certificate in cert_pem")]
    MatchKey,
    #[error("the chain must begin with the certificate in cert_pem")]
    ChainStart,
    #[error("the chain does not verify to root_cert_pem: {0}")]
    VerifyChain(String),
    #[error("{subject} expired at {not_after}")]
    Expired { subject: String, not_after: String },
    #[error("{subject} is not valid before {not_before}")]
    NotYetValid { subject: String, not_before: String },
    #[error("{subject} expires at {not_after}, in {days} days")]
    ExpiresSoon {
        subject: String,
        not_after: String,
        days: i64,
    },
}

/// One problem, with the attribute it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", field.as_str())]
pub struct CertProblem {
    pub field: CaField,
    pub kind: ProblemKind,
}

impl CertProblem {
    fn new(field: CaField, kind: ProblemKind) -> CertProblem {
        CertProblem { field, kind }
    }

    /// Whether this is only a warning (the material is usable).
    pub fn is_warning(&self) -> bool {
        matches!(self.kind, ProblemKind::ExpiresSoon { .. })
    }
}

/// User-provided CA material, unchecked. `Debug` never shows the key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProvidedCa {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_chain_pem: String,
    pub root_cert_pem: String,
}

impl std::fmt::Debug for ProvidedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvidedCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("root_cert_pem", &self.root_cert_pem)
            .finish()
    }
}

/// CA material that passed [`check_provided`]. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedCa {
    provided: ProvidedCa,
    warnings: Vec<CertProblem>,
}

impl CheckedCa {
    pub fn cert_pem(&self) -> &str {
        &self.provided.cert_pem
    }
    pub fn key_pem(&self) -> &str {
        &self.provided.key_pem
    }
    pub fn cert_chain_pem(&self) -> &str {
        &self.provided.cert_chain_pem
    }
    pub fn root_cert_pem(&self) -> &str {
        &self.provided.root_cert_pem
    }
    /// Certificates that expire within [`EXPIRY_WARNING`].
    pub fn warnings(&self) -> &[CertProblem] {
        &self.warnings
    }
    /// The material as a signer of workload certificates.
    pub fn issuing(&self) -> IssuingCa<'_> {
        IssuingCa {
            cert_pem: self.cert_pem(),
            key_pem: self.key_pem(),
            cert_chain_pem: self.cert_chain_pem(),
        }
    }
}

impl std::fmt::Debug for CheckedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedCa")
            .field("provided", &self.provided)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// What meshfed shows about a root: for `fingerprints` and plan output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootInfo {
    /// The subject as text, e.g. `O=cluster-c.local, OU=meshfed, CN=Root CA`.
    pub subject: String,
    pub not_after: OffsetDateTime,
    /// [`fingerprint_sha256`] of the certificate.
    pub fingerprint: String,
    /// The root expires within [`EXPIRY_WARNING`].
    pub warnings: Vec<CertProblem>,
}

/// Checks user-provided CA material at `now`.
///
/// Guarantees: on `Ok`, every PEM parses, `root_cert_pem` is one CA certificate, `cert_pem` is
/// one CA certificate whose private key is `key_pem`, `cert_chain_pem` starts with `cert_pem`
/// and every link up to the root carries a valid signature by its issuer, and no certificate is
/// expired or not yet valid. On `Err`, every problem found (errors and warnings), each naming
/// its attribute.
pub fn check_provided(p: ProvidedCa, now: OffsetDateTime) -> Result<CheckedCa, Vec<CertProblem>> {
    check(p, now, true)
}

/// Like [`check_provided`], for material whose key is not at hand yet (it is read from the
/// cluster at apply, then checked with [`check_provided`]): `key_pem` is ignored.
pub fn check_certificates(
    p: ProvidedCa,
    now: OffsetDateTime,
) -> Result<CheckedCa, Vec<CertProblem>> {
    check(p, now, false)
}

fn check(
    p: ProvidedCa,
    now: OffsetDateTime,
    with_key: bool,
) -> Result<CheckedCa, Vec<CertProblem>> {
    let mut problems = Vec::new();
    let root = single(CaField::RootCertPem, &p.root_cert_pem, &mut problems);
    let cert = single(CaField::CertPem, &p.cert_pem, &mut problems);
    let chain =
        certificates(CaField::CertChainPem, &p.cert_chain_pem).map_err(|e| problems.push(e));
    let key = if with_key {
        let parsed = SigningKey::from_pem(&p.key_pem);
        Some(parsed.map_err(|e| {
            problems.push(CertProblem::new(CaField::KeyPem, ProblemKind::ParseKey(e)))
        }))
    } else {
        None
    };

    let root = root.as_deref().map(view);
    let cert = cert.as_deref().map(view);
    if let Some(root) = &root {
        check_ca(CaField::RootCertPem, root, &mut problems);
        check_validity(CaField::RootCertPem, root, now, &mut problems);
    }
    if let Some(cert) = &cert {
        check_ca(CaField::CertPem, cert, &mut problems);
        check_validity(CaField::CertPem, cert, now, &mut problems);
        if let Some(Ok(key)) = &key
            && !key.matches(cert.public_key())
        {
            problems.push(CertProblem::new(CaField::KeyPem, ProblemKind::MatchKey));
        }
    }
    if let Ok(chain) = &chain {
        let chain: Vec<X509Certificate<'_>> = chain.iter().map(|d| view(d)).collect();
        check_chain(&chain, cert.as_ref(), root.as_ref(), now, &mut problems);
    }
    if problems.iter().any(|p| !p.is_warning()) {
        return Err(problems);
    }
    Ok(CheckedCa {
        provided: p,
        warnings: problems,
    })
}

/// The fingerprint of the one certificate in `pem` (as meshfed shows roots: [`fingerprint_sha256`]
/// of its DER), read as strictly as CA material is; expiry does not matter.
pub fn certificate_fingerprint(pem: &str) -> Result<String, ProblemKind> {
    let ders = certificates(CaField::RootCertPem, pem).map_err(|p| p.kind)?;
    match ders.as_slice() {
        [der] => Ok(fingerprint_sha256(der)),
        _ => Err(ProblemKind::CountCertificates(ders.len())),
    }
}

/// Checks an external party's root at `now`: one certificate, a CA, within its validity.
pub fn parse_root(pem: &str, now: OffsetDateTime) -> Result<RootInfo, CertProblem> {
    let field = CaField::RootCertPem;
    let ders = certificates(field, pem)?;
    let [der] = ders.as_slice() else {
        return Err(CertProblem::new(
            field,
            ProblemKind::CountCertificates(ders.len()),
        ));
    };
    let root = view(der);
    let mut problems = Vec::new();
    check_ca(field, &root, &mut problems);
    check_validity(field, &root, now, &mut problems);
    if let Some(error) = problems.iter().find(|p| !p.is_warning()) {
        return Err(error.clone());
    }
    Ok(RootInfo {
        subject: subject(&root),
        not_after: root.validity().not_after.to_datetime(),
        fingerprint: fingerprint_sha256(der),
        warnings: problems,
    })
}

/// When the first certificate in `pem` expires; `None` when `pem` holds no certificate.
pub fn not_after(pem: &str) -> Option<OffsetDateTime> {
    let ders = certificates(CaField::RootCertPem, pem).ok()?;
    let first = ders.first()?;
    Some(view(first).validity().not_after.to_datetime())
}

/// `t` as RFC 3339 text, as meshfed shows dates.
pub fn rfc3339_text(t: OffsetDateTime) -> String {
    rfc3339(t)
}

/// The DER of every certificate in `pem`; an error when there is none, when a block is not a
/// certificate, or when one does not parse as X.509.
pub(crate) fn certificates(field: CaField, pem: &str) -> Result<Vec<Vec<u8>>, CertProblem> {
    use rustls::pki_types::pem::{PemObject, SectionKind};
    let fail = |kind| CertProblem::new(field, kind);
    let mut ders = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
        let (kind, der) = section.map_err(|e| fail(ProblemKind::ParsePem(e.to_string())))?;
        if kind != SectionKind::Certificate {
            return Err(fail(ProblemKind::ParsePem(format!(
                "expected CERTIFICATE blocks only, found a {kind:?} block"
            ))));
        }
        X509Certificate::from_der(&der)
            .map_err(|e| fail(ProblemKind::ParseCertificate(e.to_string())))?;
        ders.push(der);
    }
    if ders.is_empty() {
        return Err(fail(ProblemKind::ParsePem(
            "no PEM CERTIFICATE block found".into(),
        )));
    }
    // One reading of the text: what `encoding` reads (the fingerprints shown, `first_pem`, the
    // certificate counts) must be these very blocks.
    let blocks = super::encoding::pem_blocks(pem.as_bytes());
    let same = blocks.len() == ders.len()
        && blocks
            .iter()
            .zip(&ders)
            .all(|(b, der)| b.label == "CERTIFICATE" && b.contents == *der);
    if !same {
        return Err(fail(ProblemKind::ParsePem(
            "malformed PEM (base64 without its padding, or text between blocks that looks like a block)".into(),
        )));
    }
    Ok(ders)
}

/// The only certificate in `pem`, recording a problem otherwise.
fn single(field: CaField, pem: &str, problems: &mut Vec<CertProblem>) -> Option<Vec<u8>> {
    match certificates(field, pem) {
        Ok(mut ders) if ders.len() == 1 => ders.pop(),
        Ok(ders) => {
            problems.push(CertProblem::new(
                field,
                ProblemKind::CountCertificates(ders.len()),
            ));
            None
        }
        Err(p) => {
            problems.push(p);
            None
        }
    }
}

/// A parsed view of DER that [`certificates`] already parsed once.
fn view(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der)
        .expect("certificates() parsed this DER already")
        .1
}

pub(crate) fn subject(cert: &X509Certificate<'_>) -> String {
    let s = cert.subject().to_string();
    if s.is_empty() {
        "the certificate with an empty subject".into()
    } else {
        format!("certificate {s:?}")
    }
}

/// Why `cert` may not sign certificates, if it may not.
pub(crate) fn not_ca_reason(cert: &X509Certificate<'_>) -> Option<String> {
    match cert.basic_constraints() {
        Err(e) => return Some(format!("unreadable basicConstraints: {e}")),
        Ok(None) => return Some("it has no basicConstraints extension".into()),
        Ok(Some(bc)) if !bc.value.ca => return Some("basicConstraints has cA=false".into()),
        Ok(Some(_)) => {}
    }
    match cert.key_usage() {
        Err(e) => Some(format!("unreadable keyUsage: {e}")),
        Ok(Some(ku)) if !ku.value.key_cert_sign() => Some("keyUsage lacks keyCertSign".into()),
        Ok(_) => None,
    }
}

fn check_ca(field: CaField, cert: &X509Certificate<'_>, problems: &mut Vec<CertProblem>) {
    if let Some(reason) = not_ca_reason(cert) {
        let subject = subject(cert);
        problems.push(CertProblem::new(
            field,
            ProblemKind::CheckCa { subject, reason },
        ));
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn check_validity(
    field: CaField,
    cert: &X509Certificate<'_>,
    now: OffsetDateTime,
    problems: &mut Vec<CertProblem>,
) {
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let subject = subject(cert);
    let kind = if now < not_before {
        ProblemKind::NotYetValid {
            subject,
            not_before: rfc3339(not_before),
        }
    } else if now > not_after {
        ProblemKind::Expired {
            subject,
            not_after: rfc3339(not_after),
        }
    } else if not_after - now < EXPIRY_WARNING {
        ProblemKind::ExpiresSoon {
            subject,
            not_after: rfc3339(not_after),
            days: (not_after - now).whole_days(),
        }
    } else {
        return;
    };
    problems.push(CertProblem::new(field, kind));
}

/// The chain starts with `cert`, its other certificates are valid CAs, and a path of valid
/// signatures leads from `cert` to `root`.
fn check_chain(
    chain: &[X509Certificate<'_>],
    cert: Option<&X509Certificate<'_>>,
    root: Option<&X509Certificate<'_>>,
    now: OffsetDateTime,
    problems: &mut Vec<CertProblem>,
) {
    let field = CaField::CertChainPem;
    let fail = |kind| CertProblem::new(field, kind);
    let is_known = |c: &X509Certificate<'_>| {
        [cert, root]
            .iter()
            .flatten()
            .any(|k| k.as_raw() == c.as_raw())
    };
    for c in chain.iter().filter(|c| !is_known(c)) {
        check_ca(field, c, problems);
        check_validity(field, c, now, problems);
    }
    let (Some(cert), Some(root)) = (cert, root) else {
        return;
    };
    if chain.first().map(|c| c.as_raw()) != Some(cert.as_raw()) {
        problems.push(fail(ProblemKind::ChainStart));
    }
    if let Err(reason) = verify_path(cert, chain, root) {
        problems.push(fail(ProblemKind::VerifyChain(reason)));
    }
}

/// Walks from `cert` to `root` through `chain` by issuer name, checking each signature.
pub(crate) fn verify_path(
    cert: &X509Certificate<'_>,
    chain: &[X509Certificate<'_>],
    root: &X509Certificate<'_>,
) -> Result<(), String> {
    let mut current = cert;
    for _ in 0..=chain.len() {
        if current.issuer().as_raw() == root.subject().as_raw() {
            return current
                .verify_signature(Some(root.public_key()))
                .map_err(|e| {
                    format!(
                        "the signature on {} does not verify with the root's key ({e})",
                        subject(current)
                    )
                });
        }
        let parent = chain
            .iter()
            .find(|c| {
                c.as_raw() != current.as_raw() && c.subject().as_raw() == current.issuer().as_raw()
            })
            .ok_or_else(|| {
                format!(
                    "no certificate in the chain or the root is the issuer of {} (issuer {:?})",
                    subject(current),
                    current.issuer().to_string()
                )
            })?;
        current
            .verify_signature(Some(parent.public_key()))
            .map_err(|e| {
                format!(
                    "the signature on {} does not verify with the key of {} ({e})",
                    subject(current),
                    subject(parent)
                )
            })?;
        current = parent;
    }
    Err("the chain loops without reaching the root".into())
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
