//! The go-plugin handshake: how Terraform starts a provider process and finds its gRPC server.
//!
//! Terraform runs the binary with `TF_PLUGIN_MAGIC_COOKIE` set, the protocol versions it speaks in
//! `PLUGIN_PROTOCOL_VERSIONS`, and, for AutoMTLS, its client certificate in `PLUGIN_CLIENT_CERT`.
//! The provider listens (a unix socket here), then writes exactly one line to stdout:
//! `CORE|APP|NETWORK|ADDRESS|grpc|SERVER-CERT`. Nothing else may ever reach stdout.
//! Pure decisions live here ([`Handshake::from_env`], [`Handshake::line`]); the socket and TLS
//! set-up are in `serve.rs`. Must not import the services, TLS or the rest of the layer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version meshfed speaks.
pub const APP_PROTOCOL_VERSION: u32 = 6;
/// The cookie Terraform sets for every provider it starts.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// What a person sees when running the binary by hand.
pub const NOT_BY_HAND: &str = "This binary is a plugin for Terraform and OpenTofu (provider meshfed/meshfed). \
These are not meant to be executed directly: reference it in a configuration and run `terraform init`, \
or run it with --debug to attach Terraform through TF_REATTACH_PROVIDERS.";

/// Why the provider cannot serve Terraform's request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("{NOT_BY_HAND}")]
    NoMagicCookie,
    #[error(
        "this provider speaks Terraform plugin protocol {APP_PROTOCOL_VERSION}, but the client offers only {offered:?}: \
         use Terraform 1.0 or later, or OpenTofu 1.6 or later"
    )]
    NoCommonProtocol { offered: String },
    #[error("PLUGIN_CLIENT_CERT is set but holds no PEM certificate")]
    BadClientCert,
}

/// What the environment asks of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The client's certificate (PEM), when it wants AutoMTLS.
    pub client_cert_pem: Option<String>,
    /// Where to put the unix socket.
    pub socket_dir: PathBuf,
}

impl Handshake {
    /// Reads the handshake request from environment variables (passed in, so tests need no
    /// process environment).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Handshake, HandshakeError> {
        if env.get(MAGIC_COOKIE_KEY).map(String::as_str) != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NoMagicCookie);
        }
        // go-plugin sends the list of app protocol versions it can speak; absent means "the
        // client's default", which for Terraform ≥ 1.0 includes 6.
        if let Some(offered) = env
            .get("PLUGIN_PROTOCOL_VERSIONS")
            .filter(|s| !s.trim().is_empty())
        {
            let speaks_ours = offered
                .split(',')
                .any(|v| v.trim().parse::<u32>().ok() == Some(APP_PROTOCOL_VERSION));
            if !speaks_ours {
                return Err(HandshakeError::NoCommonProtocol {
                    offered: offered.clone(),
                });
            }
        }
        let client_cert_pem = match env
            .get("PLUGIN_CLIENT_CERT")
            .filter(|s| !s.trim().is_empty())
        {
            Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(pem.clone()),
            Some(_) => return Err(HandshakeError::BadClientCert),
            None => None,
        };
        let socket_dir = env
            .get("PLUGIN_UNIX_SOCKET_DIR")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Ok(Handshake {
            client_cert_pem,
            socket_dir,
        })
    }

    /// The one line written to stdout once the server listens.
    pub fn line(socket: &Path, server_cert_der: Option<&[u8]>) -> String {
        use base64::Engine;
        let cert = server_cert_der
            .map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d))
            .unwrap_or_default();
        format!(
            "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{}|grpc|{cert}\n",
            socket.display()
        )
    }
}

/// The value for `TF_REATTACH_PROVIDERS` that attaches Terraform to a provider in debug mode.
pub fn reattach_value(source_address: &str, socket: &Path, pid: u32) -> String {
    serde_json::json!({
        source_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "unix", "String": socket.display().to_string() },
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn without_the_cookie_it_refuses_with_the_explanation() {
        let e = Handshake::from_env(&env(&[])).expect_err("no cookie");
        assert_eq!(e, HandshakeError::NoMagicCookie);
        assert!(e.to_string().contains("plugin for Terraform"));
        let wrong = env(&[(MAGIC_COOKIE_KEY, "nope")]);
        assert_eq!(
            Handshake::from_env(&wrong),
            Err(HandshakeError::NoMagicCookie)
        );
    }

    /// The handshake of a client with the cookie that offers `versions`.
    fn offering(versions: &str) -> Result<Handshake, HandshakeError> {
        Handshake::from_env(&env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", versions),
        ]))
    }

    #[test]
    fn it_accepts_a_client_that_offers_protocol_6() {
        let h = offering("5,6").expect("accepted");
        assert_eq!(h.client_cert_pem, None);
    }

    #[test]
    fn it_refuses_a_client_that_offers_only_protocol_5() {
        let err = offering("5").expect_err("refused");
        assert!(matches!(err, HandshakeError::NoCommonProtocol { .. }));
        assert!(err.to_string().contains("Terraform 1.0"));
    }

    #[test]
    fn the_line_has_six_fields_and_an_unpadded_certificate() {
        let line = Handshake::line(Path::new("/tmp/plugin1"), Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|unix|/tmp/plugin1|grpc|AQIDBA\n");
        let line = Handshake::line(Path::new("/tmp/plugin1"), None);
        assert_eq!(line, "1|6|unix|/tmp/plugin1|grpc|\n");
    }

    #[test]
    fn reattach_names_the_socket() {
        let v: serde_json::Value = serde_json::from_str(&reattach_value(
            "registry.terraform.io/meshfed/meshfed",
            Path::new("/tmp/s"),
            7,
        ))
        .expect("json");
        let p = &v["registry.terraform.io/meshfed/meshfed"];
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Addr"]["String"], "/tmp/s");
    }
}
