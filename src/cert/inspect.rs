//! Reading what certificates a live object holds, for reports: each certificate of a PEM bundle
//! (a `root-cert.pem` holds one root, or several during a rotation or in `cacerts` bundle mode)
//! with its fingerprint, subject and end of validity. Nothing is checked here beyond parsing:
//! a report says what is there, expired or not.
//!
//! Pure functions over PEM text; never given key material.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::check::{CaField, certificates};
use super::encoding::fingerprint_sha256;

/// One certificate of a bundle, as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// [`fingerprint_sha256`] of its DER: the same form `meshfed_trust` shows roots in.
    pub fingerprint: String,
    /// The subject as text, e.g. `O=cluster-a.local, CN=Root CA`.
    pub subject: String,
    pub not_after: OffsetDateTime,
    /// Whether it is a CA (basic constraints).
    pub is_ca: bool,
}

/// Every certificate of `pem`, in order; an error (what is wrong, as a sentence fragment) when a
/// block is not a certificate or none is there.
pub fn summarize_bundle(pem: &str) -> Result<Vec<CertSummary>, String> {
    let ders = certificates(CaField::RootCertPem, pem).map_err(|p| p.kind.to_string())?;
    ders.iter()
        .map(|der| {
            let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
            Ok(CertSummary {
                fingerprint: fingerprint_sha256(der),
                subject: cert.subject().to_string(),
                not_after: cert.validity().not_after.to_datetime(),
                is_ca: cert.is_ca(),
            })
        })
        .collect()
}

/// `t` as RFC 3339 (`2027-03-01T12:00:00Z`), the form Terraform's `timecmp` and `timeadd` read.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{CaRequest, generate_ca};

    #[test]
    fn a_bundle_of_two_roots_reads_as_two_summaries_in_order() {
        let a = generate_ca(CaRequest::new("a.local", crate::cert::now())).expect("CA a");
        let b = generate_ca(CaRequest::new("b.local", crate::cert::now())).expect("CA b");
        let bundle = format!("{}{}", a.root_cert_pem, b.root_cert_pem);
        let all = summarize_bundle(&bundle).expect("two roots");
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|c| c.is_ca));
        assert_eq!(
            all[0].fingerprint,
            fingerprint_sha256(a.root_cert_pem.as_bytes())
        );
        assert!(all[1].subject.contains("b.local"), "{}", all[1].subject);
        assert!(rfc3339(all[0].not_after).ends_with('Z'));
    }

    #[test]
    fn a_key_block_is_refused_not_summarised() {
        let a = generate_ca(CaRequest::new("a.local", crate::cert::now())).expect("CA a");
        assert!(summarize_bundle(&a.intermediate_key_pem).is_err());
        assert!(summarize_bundle("").is_err());
    }
}
