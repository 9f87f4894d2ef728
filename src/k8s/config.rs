//! How to reach one cluster: a kubeconfig entry, or a host with credentials. Plain data, checked
//! by the provider before it gets here; no connection is made until a client is first needed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Connection settings for one cluster.
#[derive(Clone, PartialEq, Eq)]
pub enum Connection {
    /// A kubeconfig file (`None`: `KUBECONFIG`, else `~/.kube/config`) and context
    /// (`None`: its current context).
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// A host with explicit credentials.
    Direct(DirectConnection),
}

/// A host with explicit credentials and TLS settings.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct DirectConnection {
    pub host: String,
    pub auth: Auth,
    pub cluster_ca_certificate: Option<String>,
    pub insecure: bool,
    pub tls_server_name: Option<String>,
    pub proxy_url: Option<String>,
}

/// How to authenticate to the API server.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    Token(String),
    ClientCertificate {
        cert_pem: String,
        key_pem: String,
    },
    Exec(ExecConfig),
}

/// A credential plugin, as in kubeconfig's `exec`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExecConfig {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connection::Kubeconfig { path, context } => f
                .debug_struct("Kubeconfig")
                .field("path", path)
                .field("context", context)
                .finish(),
            Connection::Direct(d) => d.fmt(f),
        }
    }
}

impl fmt::Debug for DirectConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Direct")
            .field("host", &self.host)
            .field("auth", &self.auth)
            .field(
                "cluster_ca_certificate",
                &self.cluster_ca_certificate.as_ref().map(|_| "<pem>"),
            )
            .field("insecure", &self.insecure)
            .field("tls_server_name", &self.tls_server_name)
            .field("proxy_url", &self.proxy_url)
            .finish()
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::ClientCertificate { .. } => f.write_str("ClientCertificate { key: <redacted> }"),
            Auth::Exec(e) => f.debug_struct("Exec").field("command", &e.command).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_credentials() {
        let c = Connection::Direct(DirectConnection {
            host: "https://10.0.0.1".into(),
            auth: Auth::ClientCertificate {
                cert_pem: "CERT".into(),
                key_pem: "SECRET-KEY".into(),
            },
            ..DirectConnection::default()
        });
        let s = format!("{c:?}");
        assert!(!s.contains("SECRET-KEY"), "{s}");
        let t = format!("{:?}", Auth::Token("SECRET-TOKEN".into()));
        assert!(!t.contains("SECRET-TOKEN"), "{t}");
    }
}
