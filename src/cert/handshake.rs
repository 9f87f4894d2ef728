//! A real mutual TLS handshake between two workload identities, run in memory: a rustls
//! `ClientConnection` and `ServerConnection` exchange their TLS records through buffers, no
//! sockets. This is how the trust exchange is proven without Istio's data plane: each side gets
//! a workload certificate from its own cluster's intermediate and trusts exactly the roots its
//! cluster's objects list.
//!
//! The server requires a client certificate and verifies it against its roots with webpki
//! (`WebPkiClientVerifier`). SPIFFE certificates carry no DNS name, so the client verifies the
//! server's chain against its roots with webpki — signatures, validity, `serverAuth` — but not
//! a host name; instead it requires a `spiffe://` URI SAN, as Envoy's SPIFFE validator does.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, ConnectionCommon, DigitallySignedStruct,
    RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::WorkloadCert;

/// The two ends of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// Why the handshake did not prove mutual trust. Each variant is the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeFailure {
    #[error("load the {side}'s certificate and key: {reason}")]
    LoadIdentity { side: Side, reason: String },
    #[error("load the {side}'s trusted roots: {reason}")]
    LoadTrust { side: Side, reason: String },
    #[error("configure the {side}: {reason}")]
    Configure { side: Side, reason: String },
    /// The side that detected the failure, e.g. the server for a client certificate signed by
    /// a root the server does not trust (`UnknownIssuer`).
    #[error("the {side} rejected the handshake: {error}")]
    Rejected { side: Side, error: String },
    #[error("exchange data after the handshake: {reason}")]
    ExchangeData { reason: String },
    #[error("the handshake did not complete after {rounds} rounds")]
    Stalled { rounds: usize },
}

/// Who each side authenticated: the SPIFFE IDs in the peer certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The server's SPIFFE ID, as the client verified it.
    pub server_id: String,
    /// The client's SPIFFE ID, as the server verified it.
    pub client_id: String,
}

const MAX_ROUNDS: usize = 16;

/// Runs a mutual TLS handshake between `client` and `server` and exchanges a message each way.
///
/// Each `*_trusts` entry is PEM text holding one or more root certificates. Guarantees: `Ok`
/// only when the server verified the client's chain to one of `server_trusts`, the client
/// verified the server's chain to one of `client_trusts`, and application data crossed both
/// ways. Caveats: the clock is the system clock (rustls asks for it), so the certificates must
/// be valid now.
pub fn mtls_handshake(
    client: &WorkloadCert,
    client_trusts: &[impl AsRef<str>],
    server: &WorkloadCert,
    server_trusts: &[impl AsRef<str>],
) -> Result<Authenticated, HandshakeFailure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = client_config(client, client_trusts, &provider)?;
    let server_config = server_config(server, server_trusts, &provider)?;
    let name = ServerName::try_from("workload.invalid").expect("a valid DNS name");
    let mut c = ClientConnection::new(Arc::new(client_config), name)
        .map_err(configure_failed(Side::Client))?;
    let mut s =
        ServerConnection::new(Arc::new(server_config)).map_err(configure_failed(Side::Server))?;
    pump(&mut c, &mut s)?;
    exchange(&mut c, &mut s)?;
    Ok(Authenticated {
        server_id: peer_id(c.peer_certificates()).unwrap_or_default(),
        client_id: peer_id(s.peer_certificates()).unwrap_or_default(),
    })
}

fn identity(
    side: Side,
    id: &WorkloadCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), HandshakeFailure> {
    let fail = |reason: String| HandshakeFailure::LoadIdentity { side, reason };
    let chain = CertificateDer::pem_slice_iter(id.cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(fail("no certificate in the chain".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes())
        .map_err(|_| fail("the private key is not PEM".into()))?;
    Ok((chain, key))
}

fn roots(side: Side, trusts: &[impl AsRef<str>]) -> Result<RootCertStore, HandshakeFailure> {
    let fail = |reason: String| HandshakeFailure::LoadTrust { side, reason };
    let mut store = RootCertStore::empty();
    for pem in trusts {
        for der in CertificateDer::pem_slice_iter(pem.as_ref().as_bytes()) {
            let der = der.map_err(|e| fail(e.to_string()))?;
            store.add(der).map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(store)
}

/// The `Configure` failure of `side`, from what rustls refused.
fn configure_failed(side: Side) -> impl Fn(rustls::Error) -> HandshakeFailure + Copy {
    move |e| HandshakeFailure::Configure {
        side,
        reason: e.to_string(),
    }
}

fn client_config(
    id: &WorkloadCert,
    trusts: &[impl AsRef<str>],
    provider: &Arc<CryptoProvider>,
) -> Result<ClientConfig, HandshakeFailure> {
    let side = Side::Client;
    let fail = configure_failed(side);
    let (chain, key) = identity(side, id)?;
    let verifier = SpiffeServerVerifier {
        roots: roots(side, trusts)?,
        algorithms: provider.signature_verification_algorithms,
    };
    ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(fail)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .map_err(fail)
}

fn server_config(
    id: &WorkloadCert,
    trusts: &[impl AsRef<str>],
    provider: &Arc<CryptoProvider>,
) -> Result<ServerConfig, HandshakeFailure> {
    let side = Side::Server;
    let fail = configure_failed(side);
    let (chain, key) = identity(side, id)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(side, trusts)?),
        provider.clone(),
    )
    .build()
    .map_err(|e| HandshakeFailure::LoadTrust {
        side,
        reason: e.to_string(),
    })?;
    ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(fail)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(fail)
}

/// Moves records both ways until neither side is handshaking nor has anything to send.
fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), HandshakeFailure> {
    for _ in 0..MAX_ROUNDS {
        deliver(&mut **c, &mut **s, Side::Server)?;
        deliver(&mut **s, &mut **c, Side::Client)?;
        let settled = !c.is_handshaking() && !s.is_handshaking();
        if settled && !c.wants_write() && !s.wants_write() {
            return Ok(());
        }
    }
    Err(HandshakeFailure::Stalled { rounds: MAX_ROUNDS })
}

/// Moves everything `from` has to send to `to`, the `side` that rejects what it objects to.
fn deliver<A, B>(
    from: &mut ConnectionCommon<A>,
    to: &mut ConnectionCommon<B>,
    side: Side,
) -> Result<(), HandshakeFailure> {
    let bytes = drain(from)?;
    feed(&bytes, to).map_err(|error| HandshakeFailure::Rejected { side, error })
}

/// Everything `conn` has to send.
fn drain<D>(conn: &mut ConnectionCommon<D>) -> Result<Vec<u8>, HandshakeFailure> {
    let mut buf = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut buf)
            .map_err(|e| HandshakeFailure::ExchangeData {
                reason: e.to_string(),
            })?;
    }
    Ok(buf)
}

/// Hands `bytes` to `conn` and lets it process them; the error is what `conn` objected to.
fn feed<D>(mut bytes: &[u8], conn: &mut ConnectionCommon<D>) -> Result<(), String> {
    while !bytes.is_empty() {
        conn.read_tls(&mut bytes).map_err(|e| e.to_string())?;
        conn.process_new_packets().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Sends `ping` client → server and `pong` back over the established session.
fn exchange(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), HandshakeFailure> {
    let fail = |reason: String| HandshakeFailure::ExchangeData { reason };
    c.writer()
        .write_all(b"ping")
        .map_err(|e| fail(e.to_string()))?;
    pump(c, s)?;
    let mut got = [0u8; 4];
    s.reader()
        .read_exact(&mut got)
        .map_err(|e| fail(e.to_string()))?;
    s.writer()
        .write_all(b"pong")
        .map_err(|e| fail(e.to_string()))?;
    pump(c, s)?;
    let mut back = [0u8; 4];
    c.reader()
        .read_exact(&mut back)
        .map_err(|e| fail(e.to_string()))?;
    if &got != b"ping" || &back != b"pong" {
        return Err(fail("the messages arrived altered".into()));
    }
    Ok(())
}

/// The `spiffe://` URI SAN of the first certificate, if any.
fn peer_id(certs: Option<&[CertificateDer<'_>]>) -> Option<String> {
    spiffe_id(certs?.first()?)
}

fn spiffe_id(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        GeneralName::URI(u) if u.starts_with("spiffe://") => Some(u.to_string()),
        _ => None,
    })
}

/// Verifies the server's chain to the roots without a host name; requires a SPIFFE ID.
#[derive(Debug)]
struct SpiffeServerVerifier {
    roots: RootCertStore,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if spiffe_id(end_entity).is_none() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
