//! go-plugin's AutoMTLS: a fresh server certificate per process, and a client certificate that
//! must be exactly the one Terraform announced in `PLUGIN_CLIENT_CERT`.
//!
//! Guarantees: only the holder of the announced client key can connect; the server certificate
//! is self-signed, valid for `localhost`, and its DER goes into the handshake line so the client
//! can pin it. The key never leaves this process.
//! Caveats: go-plugin's client certificate is a self-signed CA certificate, which WebPKI refuses
//! as an end-entity certificate, so the client is verified by pinning its exact DER instead; and
//! its key is ECDSA P-521, which ring cannot verify, so P-521 handshake signatures are checked with
//! the RustCrypto `p521` crate.
//! Must not import the rest of the protocol layer: this is TLS only.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

#[derive(Debug, thiserror::Error)]
pub enum AutoMtlsError {
    #[error("generate the plugin server certificate")]
    GenerateCert(#[source] rcgen::Error),
    #[error("PLUGIN_CLIENT_CERT does not hold a PEM certificate")]
    ParseClientCert,
    #[error("build the TLS server configuration")]
    TlsConfig(#[source] rustls::Error),
}

/// The server side of AutoMTLS: a rustls configuration and the certificate to announce.
pub struct AutoMtls {
    pub config: Arc<rustls::ServerConfig>,
    pub server_cert_der: Vec<u8>,
}

impl std::fmt::Debug for AutoMtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoMtls")
            .field("config", &"<redacted>")
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl AutoMtls {
    /// Generates the server certificate and pins `client_cert_pem`.
    pub fn new(client_cert_pem: &str) -> Result<AutoMtls, AutoMtlsError> {
        let client_der = first_cert_der(client_cert_pem).ok_or(AutoMtlsError::ParseClientCert)?;

        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .map_err(AutoMtlsError::GenerateCert)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "meshfed plugin");
        // go-plugin's client adds this certificate to its root pool, so it is its own CA.
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = time_now();
        params.not_before = now - std::time::Duration::from_secs(30);
        params.not_after = now + std::time::Duration::from_secs(60 * 60 * 24 * 30);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(AutoMtlsError::GenerateCert)?;
        let cert = params
            .self_signed(&key)
            .map_err(AutoMtlsError::GenerateCert)?;
        let server_cert_der = cert.der().to_vec();

        let verifier = Arc::new(PinnedClient {
            expected: client_der,
            algorithms: provider().signature_verification_algorithms,
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(AutoMtlsError::TlsConfig)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(AutoMtlsError::TlsConfig)?;
        // grpc-go insists on ALPN h2.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(AutoMtls {
            config: Arc::new(config),
            server_cert_der,
        })
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The DER of the first certificate in a PEM text.
pub fn first_cert_der(pem: &str) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    (parsed.label == "CERTIFICATE").then_some(parsed.contents)
}

/// Accepts exactly one client certificate.
#[derive(Debug)]
struct PinnedClient {
    expected: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// How rustls verifies a handshake signature for one TLS version
/// (`rustls::crypto::verify_tls12_signature` or `verify_tls13_signature`).
type VerifySignature = fn(
    &[u8],
    &CertificateDer<'_>,
    &rustls::DigitallySignedStruct,
    &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error>;

impl PinnedClient {
    /// Verifies a handshake signature: P-521 ones here (ring cannot), the rest with `verify`.
    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
        verify: VerifySignature,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme == rustls::SignatureScheme::ECDSA_NISTP521_SHA512 {
            return verify_p521(message, cert, dss.signature());
        }
        verify(message, cert, dss, &self.algorithms)
    }
}

impl ClientCertVerifier for PinnedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_slice() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss, rustls::crypto::verify_tls12_signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss, rustls::crypto::verify_tls13_signature)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        schemes.push(rustls::SignatureScheme::ECDSA_NISTP521_SHA512);
        schemes
    }
}

/// Verifies an ECDSA P-521/SHA-512 signature (DER) over `message` with the certificate's key.
fn verify_p521(
    message: &[u8],
    cert: &CertificateDer<'_>,
    signature: &[u8],
) -> Result<HandshakeSignatureValid, rustls::Error> {
    use p521::ecdsa::signature::Verifier;
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| bad())?;
    let point = &parsed.public_key().subject_public_key.data;
    let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad())?;
    let sig = p521::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
    key.verify(message, &sig).map_err(|_| bad())?;
    Ok(HandshakeSignatureValid::assertion())
}
