//! The go-plugin handshake, run as Terraform runs it: the real `terraform-provider-meshfed` binary
//! as a subprocess, its stdout read for the handshake line, a real tonic client (plain, or over
//! AutoMTLS with tokio-rustls) on the announced unix socket, and GRPCController.Shutdown or a
//! signal to end it. Every child process is killed when its test ends, pass or fail.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use meshfed::tfplugin::wire::proto::plugin as gp;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-meshfed");
const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const SOURCE_ADDRESS: &str = "registry.terraform.io/meshfed/meshfed";

/// The longest any single step may take (the machine is small and busy).
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The provider process

/// A running provider process; killed on drop.
struct ProviderProcess {
    child: Child,
    stdout_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a clean plugin environment: no cookie, no protocol list, no logging settings
/// inherited from whoever runs the tests.
fn provider_command() -> Command {
    let mut c = Command::new(BINARY);
    for var in [
        "TF_PLUGIN_MAGIC_COOKIE",
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_UNIX_SOCKET_DIR",
        "PLUGIN_MIN_PORT",
        "PLUGIN_MAX_PORT",
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_PROVIDER_MESHFED",
        "TF_REATTACH_PROVIDERS",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// As Terraform starts it: the cookie, protocols 5 and 6, the socket in `socket_dir`.
fn plugin_command(socket_dir: &Path) -> Command {
    let mut c = provider_command();
    c.env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir);
    c
}

impl ProviderProcess {
    fn spawn(mut command: Command) -> ProviderProcess {
        let mut child = command.spawn().expect("start terraform-provider-meshfed");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr_pipe);
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        ProviderProcess {
            child,
            stdout_lines: rx,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout (with its newline), within the patience.
    fn next_line(&self, what: &str) -> String {
        match self.stdout_lines.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(e) => panic!("no {what} on stdout ({e:?}); stderr:\n{}", self.stderr()),
        }
    }

    /// Everything written to stdout so far beyond what was read; `until_eof` waits for stdout
    /// to close (the process must have exited).
    fn rest_of_stdout(&self, until_eof: bool) -> String {
        let mut rest = String::new();
        loop {
            let wait = if until_eof {
                PATIENCE
            } else {
                Duration::from_millis(300)
            };
            match self.stdout_lines.recv_timeout(wait) {
                Ok(l) => rest.push_str(&l),
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) if !until_eof => return rest,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("stdout did not close; stderr:\n{}", self.stderr())
                }
            }
        }
    }

    /// Waits for the process to exit, without blocking the async runtime.
    async fn exit_status(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the provider process") {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "the provider did not exit ({what}) within {PATIENCE:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("poll the provider process")
            .is_none()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }
}

/// Runs the binary to its end (bounded), returning exit status, stdout and stderr.
async fn run_to_exit(command: Command) -> (ExitStatus, String, String) {
    let mut p = ProviderProcess::spawn(command);
    let status = p.exit_status("run to completion").await;
    let stdout = p.rest_of_stdout(true);
    // The stderr reader may still be draining the pipe.
    tokio::time::sleep(Duration::from_millis(100)).await;
    (status, stdout, p.stderr())
}

// ---------------------------------------------------------------------------------------------
// The handshake line and clients

/// The fields of `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT`.
struct HandshakeLine {
    socket: PathBuf,
    cert: String,
}

fn parse_handshake(line: &str) -> HandshakeLine {
    assert!(
        line.ends_with('\n'),
        "the handshake line ends with a newline: {line:?}"
    );
    let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
    assert_eq!(fields.len(), 6, "six fields: {line:?}");
    assert_eq!(fields[0], "1", "go-plugin core protocol 1: {line:?}");
    assert_eq!(fields[1], "6", "Terraform plugin protocol 6: {line:?}");
    assert_eq!(fields[2], "unix", "a unix socket: {line:?}");
    assert_eq!(fields[4], "grpc", "gRPC: {line:?}");
    HandshakeLine {
        socket: PathBuf::from(fields[3]),
        cert: fields[5].to_string(),
    }
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

async fn plain_channel(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .expect("a static endpoint URI")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
}

async fn tls_channel(
    socket: &Path,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .expect("a static endpoint URI")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            let config = config.clone();
            async move {
                let tcp = UnixStream::connect(socket).await?;
                let name = ServerName::try_from("localhost").expect("a valid server name");
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

async fn get_schema(channel: Channel) -> Result<pb::get_provider_schema::Response, tonic::Status> {
    pb::provider_client::ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .map(tonic::Response::into_inner)
}

fn assert_is_meshfed(schema: &pb::get_provider_schema::Response) {
    let provider = schema.provider.as_ref().expect("a provider schema");
    let block = provider.block.as_ref().expect("a block");
    assert!(
        block.block_types.iter().any(|b| b.type_name == "cluster"),
        "the meshfed provider schema has the cluster block"
    );
    assert!(schema.data_source_schemas.contains_key("meshfed_cluster"));
}

/// What go-plugin's client does on Kill: GRPCController.Shutdown, then close the connection.
async fn shut_down(channel: Channel) {
    within(
        "GRPCController.Shutdown",
        gp::grpc_controller_client::GrpcControllerClient::new(channel.clone())
            .shutdown(gp::Empty {}),
    )
    .await
    .expect("GRPCController.Shutdown answers");
    drop(channel);
}

// =============================================================================================
// Without Terraform

#[tokio::test]
async fn run_by_hand_it_explains_itself_on_stderr_and_exits_1() {
    let (status, stdout, stderr) = run_to_exit(provider_command()).await;
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stdout, "", "nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    assert!(lines[0].contains("Terraform"), "{stderr:?}");
}

#[tokio::test]
async fn a_client_offering_only_protocol_5_is_refused_naming_protocol_6() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut c = plugin_command(dir.path());
    c.env("PLUGIN_PROTOCOL_VERSIONS", "5");
    let (status, stdout, stderr) = run_to_exit(c).await;
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stdout, "", "no handshake line");
    assert!(stderr.contains("protocol 6"), "{stderr:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read the socket directory")
        .collect();
    assert!(leftovers.is_empty(), "no socket is left: {leftovers:?}");
}

// =============================================================================================
// As Terraform runs it

#[tokio::test]
async fn the_handshake_line_names_a_socket_that_serves_until_grpc_controller_shutdown() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut p = ProviderProcess::spawn(plugin_command(dir.path()));
    let line = p.next_line("handshake line");
    let hs = parse_handshake(&line);
    assert_eq!(hs.cert, "", "no certificate without AutoMTLS: {line:?}");
    assert!(
        hs.socket.starts_with(dir.path()),
        "the socket is in PLUGIN_UNIX_SOCKET_DIR: {line:?}"
    );
    assert!(hs.socket.exists(), "the socket exists: {line:?}");

    let channel = within("connecting", plain_channel(&hs.socket))
        .await
        .expect("connect to the announced socket");
    // go-plugin opens the stdio stream right after connecting.
    let mut stdio = within(
        "StreamStdio",
        gp::grpc_stdio_client::GrpcStdioClient::new(channel.clone()).stream_stdio(()),
    )
    .await
    .expect("StreamStdio opens")
    .into_inner();
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema answers");
    assert_is_meshfed(&schema);
    assert_eq!(
        p.rest_of_stdout(false),
        "",
        "nothing but the handshake line reaches stdout"
    );

    shut_down(channel).await;
    let end = within("StreamStdio to end", stdio.message()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
    let status = p.exit_status("after GRPCController.Shutdown").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
    assert_eq!(
        p.rest_of_stdout(true),
        "",
        "nothing but the handshake line ever reaches stdout"
    );
    assert!(!hs.socket.exists(), "the socket file is removed on exit");
}

#[tokio::test]
async fn an_interrupt_in_plugin_mode_is_left_to_stop_provider_and_serving_continues() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut p = ProviderProcess::spawn(plugin_command(dir.path()));
    let hs = parse_handshake(&p.next_line("handshake line"));
    let channel = within("connecting", plain_channel(&hs.socket))
        .await
        .expect("connect to the announced socket");
    // Terraform forwards Ctrl-C to the process group, then sends StopProvider.
    p.signal("INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.is_running(), "SIGINT must not kill the provider");
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema still answers");
    assert_is_meshfed(&schema);
    shut_down(channel).await;
    let status = p.exit_status("after GRPCController.Shutdown").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
}

// =============================================================================================
// AutoMTLS

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

#[tokio::test]
async fn with_automtls_only_the_announced_client_certificate_is_served() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let (client_cert, client_key) = client_identity();
    let mut command = plugin_command(dir.path());
    command.env("PLUGIN_CLIENT_CERT", client_cert.pem());
    let mut p = ProviderProcess::spawn(command);
    let line = p.next_line("handshake line");
    let hs = parse_handshake(&line);

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
    assert_refused(
        &hs.socket,
        tls_config(&server_der, None),
        "a client without a certificate",
    )
    .await;
    let (other_cert, other_key) = client_identity();
    assert_refused(
        &hs.socket,
        tls_config(&server_der, Some((&other_cert, &other_key))),
        "a client with another certificate",
    )
    .await;
    let plain = within("a plain connection", async {
        let channel = plain_channel(&hs.socket)
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        get_schema(channel)
            .await
            .map_err(|e| format!("call: {e:?}"))
    })
    .await;
    assert!(plain.is_err(), "a client without TLS must be refused");

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

// =============================================================================================
// Debug mode

#[tokio::test]
async fn debug_mode_prints_tf_reattach_providers_and_serves_until_sigterm() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let mut command = provider_command();
    command.arg("--debug").env("TMPDIR", tmp.path());
    let mut p = ProviderProcess::spawn(command);

    let mut printed = String::new();
    let reattach = loop {
        let line = p.next_line("TF_REATTACH_PROVIDERS");
        printed.push_str(&line);
        if let Some(start) = line.find("TF_REATTACH_PROVIDERS='") {
            let rest = &line[start + "TF_REATTACH_PROVIDERS='".len()..];
            let end = rest.rfind('\'').expect("the value is quoted");
            break rest[..end].to_string();
        }
        assert!(
            printed.len() < 10_000,
            "no TF_REATTACH_PROVIDERS in {printed:?}"
        );
    };
    let v: serde_json::Value = serde_json::from_str(&reattach)
        .unwrap_or_else(|e| panic!("TF_REATTACH_PROVIDERS is JSON ({e}): {reattach}"));
    let entry = &v[SOURCE_ADDRESS];
    assert!(entry.is_object(), "it names {SOURCE_ADDRESS}: {v}");
    assert_eq!(entry["Protocol"], "grpc", "{v}");
    assert_eq!(entry["ProtocolVersion"], 6, "{v}");
    assert_eq!(entry["Pid"], p.pid(), "{v}");
    assert_eq!(entry["Addr"]["Network"], "unix", "{v}");
    let socket = PathBuf::from(entry["Addr"]["String"].as_str().expect("a socket path"));
    assert!(socket.starts_with(tmp.path()), "{socket:?} is in TMPDIR");

    let channel = within("connecting", plain_channel(&socket))
        .await
        .expect("connect to the debug socket");
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema answers in debug mode");
    assert_is_meshfed(&schema);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(p.is_running(), "it keeps serving");

    p.signal("TERM");
    let status = p.exit_status("after SIGTERM").await;
    drop(channel);
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
    assert!(!socket.exists(), "the socket file is removed on exit");
}
