//! AutoMTLS as Terraform uses it: with `PLUGIN_CLIENT_CERT` set, the provider announces its own
//! server certificate (base64 without padding, for `localhost`) in the handshake line and serves
//! only a TLS client that pins that certificate and presents the announced client certificate;
//! clients without a certificate, with another one, or without TLS are refused. The client side is
//! tokio-rustls with a verifier pinning the announced certificate. Needs nothing external.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

use crate::client::{
    HandshakeLine, assert_is_meshfed, get_schema, parse_handshake, plain_channel, shut_down,
    tls_channel, within,
};
use crate::process::{ProviderProcess, plugin_command};

/// A client certificate like go-plugin's: self-signed, a CA, for localhost.
fn client_identity() -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .expect("generate a client key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("certificate parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyAgreement,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).expect("self-sign the client cert");
    (cert, key)
}

fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Trusts exactly one server certificate, for `localhost`.
#[derive(Debug)]
struct PinnedServer {
    der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if server_name.to_str() != "localhost" {
            return Err(rustls::Error::General(format!(
                "unexpected server name {server_name:?}"
            )));
        }
        if end_entity.as_ref() != self.der.as_slice() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn tls_config(
    server_der: &[u8],
    client: Option<(&rcgen::Certificate, &rcgen::KeyPair)>,
) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            der: server_der.to_vec(),
            algorithms: crypto().signature_verification_algorithms,
        }));
    let mut config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("a client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Connecting and calling GetProviderSchema fails, promptly.
async fn assert_refused(socket: &Path, config: Arc<rustls::ClientConfig>, who: &str) {
    let outcome = within(&format!("the refusal of {who}"), async {
        let channel = tls_channel(socket, config)
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        get_schema(channel)
            .await
            .map_err(|e| format!("call: {e:?}"))
    })
    .await;
    assert!(
        outcome.is_err(),
        "{who} must be refused, but GetProviderSchema answered"
    );
}

/// The server certificate the handshake line announces, checked to be standard base64 without
/// padding of an X.509 certificate for `localhost`.
fn announced_certificate(hs: &HandshakeLine, line: &str) -> Vec<u8> {
    assert!(
        !hs.cert.is_empty(),
        "the server certificate is announced: {line:?}"
    );
    assert!(!hs.cert.contains('='), "base64 without padding: {line:?}");
    let server_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&hs.cert)
        .expect("the 6th field is standard base64 without padding");
    let (_, parsed) =
        x509_parser::parse_x509_certificate(&server_der).expect("an X.509 certificate");
    let san = parsed
        .subject_alternative_name()
        .expect("a well-formed SAN extension")
        .expect("a SAN extension");
    assert!(
        san.value.general_names.iter().any(|n| matches!(
            n,
            x509_parser::extensions::GeneralName::DNSName("localhost")
        )),
        "go-plugin verifies the server as localhost: {:?}",
        san.value
    );
    server_der
}

/// Clients without a certificate, with another certificate, and without TLS are all refused.
async fn assert_everyone_else_refused(socket: &Path, server_der: &[u8]) {
    assert_refused(
        socket,
        tls_config(server_der, None),
        "a client without a certificate",
    )
    .await;
    let (other_cert, other_key) = client_identity();
    assert_refused(
        socket,
        tls_config(server_der, Some((&other_cert, &other_key))),
        "a client with another certificate",
    )
    .await;
    let plain = within("a plain connection", async {
        let channel = plain_channel(socket)
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        get_schema(channel)
            .await
            .map_err(|e| format!("call: {e:?}"))
    })
    .await;
    assert!(plain.is_err(), "a client without TLS must be refused");
}

#[tokio::test]
async fn with_automtls_only_the_announced_client_certificate_is_served() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let (client_cert, client_key) = client_identity();
    let mut command = plugin_command(dir.path());
    command.env("PLUGIN_CLIENT_CERT", client_cert.pem());
    let mut p = ProviderProcess::spawn(command);
    let line = p.next_line("handshake line");
    let hs = parse_handshake(&line);
    let server_der = announced_certificate(&hs, &line);

    // The client Terraform would be: pins the announced cert, presents the announced one.
    let config = tls_config(&server_der, Some((&client_cert, &client_key)));
    let channel = within(
        "the TLS connection",
        tls_channel(&hs.socket, config.clone()),
    )
    .await
    .expect("connect with the announced client certificate");
    let schema = within("GetProviderSchema over TLS", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema answers over TLS");
    assert_is_meshfed(&schema);

    // Anyone else is refused.
    assert_everyone_else_refused(&hs.socket, &server_der).await;

    // The legitimate client is still served, on its connection and on a new one.
    within("GetProviderSchema again", get_schema(channel.clone()))
        .await
        .expect("the announced client is still served");
    let again = within("a second TLS connection", tls_channel(&hs.socket, config))
        .await
        .expect("a new connection with the announced client certificate");
    within("GetProviderSchema on a new connection", get_schema(again))
        .await
        .expect("served on a new connection");

    shut_down(channel).await;
    let status = p.exit_status("after GRPCController.Shutdown").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
    assert_eq!(
        p.rest_of_stdout(true),
        "",
        "only the handshake line on stdout"
    );
    assert!(!hs.socket.exists(), "the socket file is removed on exit");
}
