//! Private keys as users and istiod store them — PKCS#8 (`PRIVATE KEY`), PKCS#1
//! (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) — turned into a signing key for rcgen, with
//! the public key they carry. ring (through rustls) does the parsing and signing, so the key
//! kinds are those ring supports: RSA 2048–8192 bits, ECDSA P-256 and P-384. Istio itself accepts
//! only RSA and ECDSA CA keys, so Ed25519 keys are refused here too.
//!
//! Private to `cert`: nothing outside sees a key object, only PEM text.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// A parsed private key that rcgen can sign with.
pub(crate) struct SigningKey {
    key: Arc<dyn rustls::sign::SigningKey>,
    scheme: SignatureScheme,
    algorithm: &'static rcgen::SignatureAlgorithm,
    /// DER of the key's SubjectPublicKeyInfo.
    spki: Vec<u8>,
    /// The subjectPublicKey bit string's contents (an EC point or an RSAPublicKey).
    public_key: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("scheme", &self.scheme)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The signature schemes we sign certificates with, in order of preference, with rcgen's name
/// for the same algorithm.
const SCHEMES: [(SignatureScheme, &rcgen::SignatureAlgorithm); 3] = [
    (
        SignatureScheme::ECDSA_NISTP256_SHA256,
        &rcgen::PKCS_ECDSA_P256_SHA256,
    ),
    (
        SignatureScheme::ECDSA_NISTP384_SHA384,
        &rcgen::PKCS_ECDSA_P384_SHA384,
    ),
    (SignatureScheme::RSA_PKCS1_SHA256, &rcgen::PKCS_RSA_SHA256),
];

impl SigningKey {
    /// Parses the first private key in `pem`. Errors say what is wrong without quoting the key.
    pub(crate) fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key found (expected \
                 PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY; encrypted keys are not supported)"
                .to_string(),
            other => format!("not valid PEM: {other}"),
        })?;
        let key = rustls::crypto::ring::sign::any_supported_type(&der)
            .map_err(|_| "not an RSA (2048 to 8192 bits) or ECDSA P-256/P-384 key".to_string())?;
        let (scheme, algorithm) = SCHEMES
            .iter()
            .find(|(s, _)| key.choose_scheme(&[*s]).is_some())
            .copied()
            .ok_or("unsupported key type: Istio accepts RSA and ECDSA keys")?;
        let spki = key
            .public_key()
            .ok_or("cannot derive the public key")?
            .as_ref()
            .to_vec();
        let public_key = SubjectPublicKeyInfo::from_der(&spki)
            .map_err(|e| format!("cannot read the public key: {e}"))?
            .1
            .subject_public_key
            .data
            .to_vec();
        // ring checks an RSA signature before returning it, so a key whose CRT values are damaged
        // parses, matches its certificate, and still cannot sign: find out now.
        key.choose_scheme(&[scheme])
            .ok_or("unsupported key type: Istio accepts RSA and ECDSA keys")?
            .sign(b"meshfed: can this key sign?")
            .map_err(|_| "the key cannot sign (its private values are inconsistent)".to_string())?;
        Ok(SigningKey {
            key,
            scheme,
            algorithm,
            spki,
            public_key,
        })
    }

    /// Whether this key is the private half of the public key in `spki` (DER), comparing the
    /// algorithm and the key itself rather than the encoding.
    pub(crate) fn matches(&self, spki: &SubjectPublicKeyInfo<'_>) -> bool {
        let Ok((_, own)) = SubjectPublicKeyInfo::from_der(&self.spki) else {
            return false;
        };
        own.algorithm.algorithm == spki.algorithm.algorithm
            && own.subject_public_key.data == spki.subject_public_key.data
    }
}

impl rcgen::PublicKeyData for SigningKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::SigningKey for SigningKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signer = self
            .key
            .choose_scheme(&[self.scheme])
            .ok_or(rcgen::Error::RemoteKeyError)?;
        signer.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The DER inside a PKCS#8 `PRIVATE KEY` PEM.
    pub(crate) fn pkcs8_der(pem: &str) -> Vec<u8> {
        PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .expect("PEM key")
            .secret_der()
            .to_vec()
    }

    fn p256_pkcs8() -> (String, Vec<u8>) {
        let kp = rcgen::KeyPair::generate().expect("generate P-256");
        (kp.serialize_pem(), kp.subject_public_key_info_der())
    }

    trait SpkiDer {
        fn subject_public_key_info_der(&self) -> Vec<u8>;
    }
    impl SpkiDer for rcgen::KeyPair {
        fn subject_public_key_info_der(&self) -> Vec<u8> {
            rcgen::PublicKeyData::subject_public_key_info(self)
        }
    }

    #[test]
    fn a_pkcs8_p256_key_parses_and_matches_its_own_public_key_only() {
        let (pem, spki) = p256_pkcs8();
        let key = SigningKey::from_pem(&pem).expect("parse");
        let (_, own) = SubjectPublicKeyInfo::from_der(&spki).expect("spki");
        assert!(key.matches(&own));
        let (_, other_spki) = p256_pkcs8();
        let (_, other) = SubjectPublicKeyInfo::from_der(&other_spki).expect("spki");
        assert!(!key.matches(&other));
    }

    /// The same key in the legacy encoding OpenSSL writes (`EC PRIVATE KEY`, `RSA PRIVATE
    /// KEY`): the inner structure of its PKCS#8 form.
    pub(crate) fn legacy_pem(pkcs8_der: &[u8], label: &str) -> String {
        use base64::Engine;
        let (_, outer) = x509_parser::der_parser::parse_der(pkcs8_der).expect("PKCS#8 DER");
        let fields = outer.as_sequence().expect("PKCS#8 is a sequence");
        let inner = fields[2].as_slice().expect("privateKey octet string");
        let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn a_sec1_ec_private_key_is_accepted_and_matches_like_its_pkcs8_form() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384");
        let sec1 = legacy_pem(kp.serialized_der(), "EC PRIVATE KEY");
        let key = SigningKey::from_pem(&sec1).expect("SEC1 parses");
        assert_eq!(key.scheme, SignatureScheme::ECDSA_NISTP384_SHA384);
        let spki = kp.subject_public_key_info_der();
        let (_, own) = SubjectPublicKeyInfo::from_der(&spki).expect("spki");
        assert!(key.matches(&own));
    }

    #[test]
    fn text_without_a_key_is_refused_with_a_reason() {
        let err = SigningKey::from_pem("hello").expect_err("not a key");
        assert!(err.contains("no PEM private key"), "{err}");
        let cert_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(SigningKey::from_pem(cert_only).is_err());
    }

    #[test]
    fn an_ed25519_key_is_refused_because_istio_does_not_accept_it() {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let err = SigningKey::from_pem(&kp.serialize_pem()).expect_err("ed25519");
        assert!(err.contains("Istio accepts RSA and ECDSA"), "{err}");
    }
}
