//! From [`Connection`] settings to a `kube::Config` and client: a kubeconfig entry read the way
//! kubectl reads it, or a host with explicit credentials assembled by hand. Runs on first use of
//! a cluster, never at configuration time. Errors name the cluster and where the settings came
//! from, never a credential.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

use super::config::{Auth, Connection, DirectConnection, ExecConfig};
use super::error::{BoxError, K8sError};

/// How long to wait for a TCP connection (and TLS handshake) to the API server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for an answer once a request is sent.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the settings of a connection came from, for messages: `kubeconfig <path>, context <c>`
/// or `host <url>`. Never contains a credential.
pub fn origin(connection: &Connection) -> String {
    match connection {
        Connection::Kubeconfig { path, context } => {
            let file = path.as_ref().map_or_else(
                || "the default kubeconfig (KUBECONFIG or ~/.kube/config)".to_string(),
                |p| format!("kubeconfig {}", p.display()),
            );
            match context {
                Some(c) => format!("{file}, context {c}"),
                None => format!("{file}, current context"),
            }
        }
        Connection::Direct(d) => format!("host {}", d.host),
    }
}

/// A cluster's client and the API server's URL.
#[derive(Clone)]
pub struct Connected {
    pub client: kube::Client,
    pub url: String,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected").field("url", &self.url).finish()
    }
}

impl Connected {
    /// Whether the credentials the client was made with (an exec plugin's client certificate)
    /// expire within a minute, so that it must be made again.
    pub fn expired(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.client
            .valid_until()
            .as_ref()
            .is_some_and(|until| until.as_second() <= i64::try_from(now + 60).unwrap_or(i64::MAX))
    }
}

/// Builds the client of cluster `cluster`. Makes no request: the first request connects.
pub async fn client(cluster: &str, connection: &Connection) -> Result<Connected, K8sError> {
    let fail = |message: String, source: Option<BoxError>| K8sError::Config {
        cluster: cluster.to_string(),
        origin: origin(connection),
        message,
        source,
    };
    let mut config = match connection {
        Connection::Kubeconfig { path, context } => {
            from_kubeconfig(path.as_deref(), context.as_deref()).await
        }
        Connection::Direct(direct) => direct_config(direct),
    }
    .map_err(|(message, source)| fail(message, source))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    // Retries are ours (see retry.rs): one policy, covering 5xx and broken connections too.
    config.default_retry = false;
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| fail(format!("cannot build a client: {e}"), Some(Box::new(e))))?;
    Ok(Connected { client, url })
}

type Problem = (String, Option<BoxError>);

async fn from_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, Problem> {
    let kubeconfig = match path {
        Some(p) => Kubeconfig::read_from(expand_home(p)),
        None => Kubeconfig::read(),
    }
    .map_err(|e| (format!("cannot read the kubeconfig: {e}"), boxed(e)))?;
    if let Some(wanted) = context
        && !kubeconfig.contexts.iter().any(|c| c.name == wanted)
    {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err((
            format!(
                "the kubeconfig has no context {wanted:?} (it has: {})",
                known.join(", ")
            ),
            None,
        ));
    }
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| (format!("cannot load the kubeconfig entry: {e}"), boxed(e)))
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> Option<BoxError> {
    Some(Box::new(e))
}

/// `~/x` → `$HOME/x`, as a shell would.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

fn direct_config(d: &DirectConnection) -> Result<kube::Config, Problem> {
    let url = d
        .host
        .parse()
        .map_err(|e| (format!("host {:?} is not a URL: {e}", d.host), None))?;
    let mut config = kube::Config::new(url);
    if let Some(pem) = &d.cluster_ca_certificate {
        config.root_cert = Some(certificates_der(pem)?);
    }
    config.accept_invalid_certs = d.insecure;
    config.tls_server_name = d.tls_server_name.clone();
    if let Some(proxy) = &d.proxy_url {
        let uri = proxy
            .parse()
            .map_err(|e| (format!("proxy_url {proxy:?} is not a URL: {e}"), None))?;
        config.proxy_url = Some(uri);
    }
    config.auth_info = auth_info(&d.auth);
    Ok(config)
}

/// The DER of every `CERTIFICATE` block of a PEM bundle; at least one.
fn certificates_der(pem: &str) -> Result<Vec<Vec<u8>>, Problem> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| {
            (
                format!("cluster_ca_certificate is not valid PEM: {e}"),
                boxed(e),
            )
        })?;
        if block.label == "CERTIFICATE" {
            ders.push(block.contents);
        }
    }
    if ders.is_empty() {
        return Err((
            "cluster_ca_certificate holds no PEM CERTIFICATE block".to_string(),
            None,
        ));
    }
    Ok(ders)
}

fn auth_info(auth: &Auth) -> AuthInfo {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut info = AuthInfo::default();
    match auth {
        Auth::None => {}
        Auth::Token(token) => info.token = Some(token.clone().into()),
        Auth::ClientCertificate { cert_pem, key_pem } => {
            info.client_certificate_data = Some(b64(cert_pem));
            info.client_key_data = Some(b64(key_pem).into());
        }
        Auth::Exec(exec) => info.exec = Some(exec_config(exec)),
    }
    info
}

fn exec_config(exec: &ExecConfig) -> kube::config::ExecConfig {
    let env = exec
        .env
        .iter()
        .map(|(name, value)| {
            [("name", name), ("value", value)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
        .collect();
    kube::config::ExecConfig {
        api_version: Some(exec.api_version.clone()),
        command: Some(exec.command.clone()),
        args: Some(exec.args.clone()),
        env: Some(env),
        drop_env: None,
        install_hint: None,
        interactive_mode: None,
        provide_cluster_info: false,
        cluster: None,
        other: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn direct(auth: Auth) -> DirectConnection {
        DirectConnection {
            host: "https://10.0.0.1:6443".into(),
            auth,
            ..DirectConnection::default()
        }
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("generating a key");
        let mut params = rcgen::CertificateParams::new(vec!["ca".into()]).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signing").pem()
    }

    #[test]
    fn a_direct_connection_carries_host_ca_and_tls_settings() {
        let mut d = direct(Auth::Token("t0k3n".into()));
        let pem = ca_pem();
        d.cluster_ca_certificate = Some(format!("{pem}{pem}"));
        d.tls_server_name = Some("kubernetes.default".into());
        let c = direct_config(&d).expect("valid settings");
        assert_eq!(c.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert_eq!(c.root_cert.as_ref().map(Vec::len), Some(2));
        assert_eq!(c.tls_server_name.as_deref(), Some("kubernetes.default"));
        assert!(!c.accept_invalid_certs);
        assert!(c.auth_info.token.is_some());
    }

    #[test]
    fn a_ca_that_is_not_pem_is_refused_with_the_setting_named() {
        let mut d = direct(Auth::None);
        d.cluster_ca_certificate = Some("not a certificate".into());
        let (message, _) = direct_config(&d).expect_err("no PEM");
        assert!(message.contains("cluster_ca_certificate"), "{message}");
    }

    #[test]
    fn client_certificates_are_passed_as_kubeconfig_data() {
        let auth = Auth::ClientCertificate {
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        let info = auth_info(&auth);
        assert_eq!(info.client_certificate_data.as_deref(), Some("Q0VSVA=="));
        assert!(info.client_key_data.is_some());
        assert!(
            !format!("{info:?}").contains("S0VZ"),
            "key data is redacted"
        );
    }

    #[test]
    fn exec_plugins_get_their_environment_as_name_value_pairs() {
        let exec = ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: "aws".into(),
            args: vec!["eks".into(), "get-token".into()],
            env: BTreeMap::from([("AWS_PROFILE".to_string(), "prod".to_string())]),
        };
        let k = exec_config(&exec);
        let env = k.env.expect("env");
        assert_eq!(env[0].get("name").map(String::as_str), Some("AWS_PROFILE"));
        assert_eq!(env[0].get("value").map(String::as_str), Some("prod"));
    }

    #[test]
    fn origins_name_the_file_and_context_or_the_host_but_no_credentials() {
        let k = Connection::Kubeconfig {
            path: Some("/etc/kc".into()),
            context: Some("a".into()),
        };
        assert_eq!(origin(&k), "kubeconfig /etc/kc, context a");
        let d = Connection::Direct(direct(Auth::Token("s3cret".into())));
        assert_eq!(origin(&d), "host https://10.0.0.1:6443");
    }

    #[tokio::test]
    async fn an_unknown_context_is_a_config_error_naming_cluster_file_and_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kc");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts:\n- name: a\n  context: \
             {cluster: a, user: a}\nusers: []\n",
        )
        .expect("writing kubeconfig");
        let conn = Connection::Kubeconfig {
            path: Some(path.clone()),
            context: Some("nope".into()),
        };
        let e = client("cluster-a.local", &conn)
            .await
            .expect_err("no such context");
        let s = e.to_string();
        assert!(s.starts_with("cluster-a.local: "), "{s}");
        assert!(s.contains(&path.display().to_string()), "{s}");
        assert!(s.contains("\"nope\""), "{s}");
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_file_is_a_config_error() {
        let conn = Connection::Kubeconfig {
            path: Some("/nonexistent/kubeconfig".into()),
            context: None,
        };
        let e = client("c", &conn).await.expect_err("no file");
        assert!(matches!(e, K8sError::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/kubeconfig"), "{e}");
    }

    #[test]
    fn a_tilde_means_the_home_directory() {
        let home = std::env::var_os("HOME").expect("HOME is set in tests");
        assert_eq!(
            expand_home(Path::new("~/.kube/config")),
            PathBuf::from(home).join(".kube/config")
        );
        assert_eq!(expand_home(Path::new("/x")), PathBuf::from("/x"));
    }
}
