//! The provider configuration, parsed in two stages: Terraform's raw value is read attribute by
//! attribute into [`Field`]s, then checked and turned into the typed [`ProviderConfig`] that the
//! resources work with. Every problem is a diagnostic on its attribute's path, e.g.
//! `cluster["cluster-a.local"].host`.
//!
//! Values unknown at plan time (a cluster created in the same run) are accepted: the connection
//! or the mesh facts of that cluster are then unknown, settled at apply. No network call.
//!
//! Writes into the resources' configuration types; must not import a resource module.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cert::encoding::{has_certificate, has_private_key};
use crate::k8s::config::{Auth, Connection, DirectConnection, ExecConfig};
use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::names::check_trust_domain;
use crate::mesh::{DEFAULT_ISTIO_NAMESPACE, MeshFacts};
use crate::resources::context::{ClusterConfig, DEFAULT_FIELD_MANAGER, ProviderConfig};
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

/// Parses and checks the provider configuration. Returns `None` when there are errors.
pub fn parse_config(config: &Value) -> (Option<ProviderConfig>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let field_manager = match values::string(config, "field_manager") {
        Field::Known(s) => {
            if s.trim().is_empty() || s.len() > 128 || s.chars().any(|c| c.is_control()) {
                diags.error_at(
                    AttrPath::attr("field_manager"),
                    "Invalid field manager",
                    "field_manager must be 1 to 128 printable characters.",
                );
            }
            s
        }
        _ => DEFAULT_FIELD_MANAGER.to_string(),
    };
    let mut clusters = BTreeMap::new();
    match config.get("cluster") {
        Some(Value::Unknown(_)) => diags.error_at(
            AttrPath::attr("cluster"),
            "Clusters not known",
            "The set of cluster blocks must be known at plan time.",
        ),
        Some(v) => {
            for (label, block) in v.entries().into_iter().flatten() {
                let path = AttrPath::attr("cluster").key(label);
                if let Some(c) = parse_cluster(label, block, &path, &mut diags) {
                    clusters.insert(label.clone(), c);
                }
            }
        }
        None => {}
    }
    if diags.has_errors() {
        return (None, diags);
    }
    let config = ProviderConfig {
        field_manager,
        clusters,
    };
    (Some(config), diags)
}

fn parse_cluster(
    label: &str,
    block: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<ClusterConfig> {
    let before = diags.0.len();
    if let Err(e) = check_dns_subdomain(label) {
        diags.error_at(
            path.clone(),
            "Invalid cluster name",
            format!("The cluster label {label:?} must be a DNS name (it is the default trust domain and DNS suffix): {e}."),
        );
    }
    let connection = parse_connection(block, path, diags);
    let mesh = parse_mesh(label, block, path, diags);
    if diags.0[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(ClusterConfig {
        name: label.to_string(),
        connection,
        mesh,
    })
}

/// A cluster block's connection settings, as configured.
struct Settings {
    kubeconfig: Field<String>,
    context: Field<String>,
    host: Field<String>,
    token: Field<String>,
    cert: Field<String>,
    key: Field<String>,
    ca: Field<String>,
    tls_server_name: Field<String>,
    proxy_url: Field<String>,
    insecure: Field<bool>,
    /// The `exec` block is present (or unknown).
    exec_set: bool,
}

impl Settings {
    fn read(block: &Value) -> Settings {
        let s = |name: &str| values::string(block, name);
        let exec = block.get("exec").unwrap_or(&Value::Null);
        Settings {
            kubeconfig: s("kubeconfig"),
            context: s("context"),
            host: s("host"),
            token: s("token"),
            cert: s("client_certificate"),
            key: s("client_key"),
            ca: s("cluster_ca_certificate"),
            tls_server_name: s("tls_server_name"),
            proxy_url: s("proxy_url"),
            insecure: values::boolean(block, "insecure"),
            exec_set: exec.elements().is_some_and(|e| !e.is_empty()) || exec.is_unknown(),
        }
    }

    /// Whether any setting is not known until apply.
    fn any_unknown(&self) -> bool {
        let strings = [
            &self.kubeconfig,
            &self.context,
            &self.host,
            &self.token,
            &self.cert,
            &self.key,
            &self.ca,
            &self.tls_server_name,
            &self.proxy_url,
        ];
        strings.iter().any(|s| s.is_unknown()) || self.insecure.is_unknown()
    }

    /// The settings that only go with `host`, and whether each is set.
    fn host_only(&self) -> [(&'static str, bool); 8] {
        [
            ("token", self.token.is_set()),
            ("client_certificate", self.cert.is_set()),
            ("client_key", self.key.is_set()),
            ("cluster_ca_certificate", self.ca.is_set()),
            ("insecure", self.insecure.is_set()),
            ("tls_server_name", self.tls_server_name.is_set()),
            ("proxy_url", self.proxy_url.is_set()),
            ("exec", self.exec_set),
        ]
    }
}

fn parse_connection(block: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Field<Connection> {
    let s = Settings::read(block);
    check_source(&s, path, diags);
    check_credentials(&s, path, diags);
    check_values(&s, path, diags);
    let exec = parse_exec(
        block.get("exec").unwrap_or(&Value::Null),
        &path.then("exec"),
        diags,
    );
    // Anything unknown: the connection is settled at apply.
    if s.any_unknown() || (s.exec_set && exec.is_none()) {
        return Field::Unknown;
    }
    Field::Known(connection(s, exec))
}

fn conflict(diags: &mut Diagnostics, path: &AttrPath, attr: &str, other: &str, why: &str) {
    diags.error_at(
        path.then(attr),
        format!("Conflicting cluster settings: {attr} and {other}"),
        why.to_string(),
    );
}

/// A cluster is reached through a kubeconfig or through `host`, and settings of the one do not
/// go with the other.
fn check_source(s: &Settings, path: &AttrPath, diags: &mut Diagnostics) {
    let via_kubeconfig = s.kubeconfig.is_set() || s.context.is_set();
    if s.host.is_set() {
        let why = "A cluster is reached either through a kubeconfig (kubeconfig, context) or through host and credentials, not both.";
        if s.kubeconfig.is_set() {
            conflict(diags, path, "host", "kubeconfig", why);
        }
        if s.context.is_set() {
            conflict(diags, path, "host", "context", why);
        }
        return;
    }
    for (attr, _) in s.host_only().into_iter().filter(|(_, set)| *set) {
        if via_kubeconfig {
            conflict(
                diags,
                path,
                attr,
                "kubeconfig",
                "Credentials and TLS settings come from the kubeconfig; set them there, or use host instead of kubeconfig.",
            );
        } else {
            diags.error_at(
                path.then(attr),
                format!("{attr} requires host"),
                format!("Set host (the API server URL) to use {attr}."),
            );
        }
    }
}

/// One way to authenticate; a client certificate with its key; verification or `insecure`.
fn check_credentials(s: &Settings, path: &AttrPath, diags: &mut Diagnostics) {
    let methods = [
        ("token", s.token.is_set()),
        ("client_certificate", s.cert.is_set()),
        ("exec", s.exec_set),
    ];
    let chosen: Vec<&str> = methods
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    if s.host.is_set() && chosen.len() > 1 {
        diags.error_at(
            path.then(chosen[1]),
            format!(
                "Conflicting cluster settings: {} and {}",
                chosen[1], chosen[0]
            ),
            "Use exactly one of token, client_certificate + client_key, or exec.",
        );
    }
    if s.cert.is_set() != s.key.is_set() {
        let (missing, present) = if s.cert.is_set() {
            ("client_key", "client_certificate")
        } else {
            ("client_certificate", "client_key")
        };
        diags.error_at(
            path.then(present),
            format!("{present} requires {missing}"),
            "A client certificate and its key are set together.",
        );
    }
    if s.insecure == Field::Known(true) && s.ca.is_set() {
        diags.error_at(
            path.then("insecure"),
            "Conflicting cluster settings: insecure and cluster_ca_certificate",
            "Either verify the API server against cluster_ca_certificate or skip verification with insecure = true, not both.",
        );
    }
}

/// URLs that parse with the right scheme; PEM that holds a certificate or a key.
fn check_values(s: &Settings, path: &AttrPath, diags: &mut Diagnostics) {
    if let Field::Known(h) = &s.host
        && let Err(why) = check_url(h, &["https", "http"])
    {
        let detail = format!("host {h:?} {why}. Example: https://203.0.113.10:6443");
        diags.error_at(path.then("host"), "Invalid host", detail);
    }
    if let Field::Known(p) = &s.proxy_url
        && let Err(why) = check_url(p, &["http", "https", "socks5", "socks5h"])
    {
        let detail = format!("proxy_url {p:?} {why}.");
        diags.error_at(path.then("proxy_url"), "Invalid proxy_url", detail);
    }
    for (attr, setting) in [
        ("cluster_ca_certificate", &s.ca),
        ("client_certificate", &s.cert),
    ] {
        if let Field::Known(pem) = setting
            && !has_certificate(pem)
        {
            diags.error_at(
                path.then(attr),
                format!("Invalid {attr}"),
                format!(
                    "{attr} must be PEM text holding a certificate (-----BEGIN CERTIFICATE-----)."
                ),
            );
        }
    }
    if let Field::Known(k) = &s.key
        && !has_private_key(k)
    {
        let detail = "client_key must be a PEM private key.";
        diags.error_at(path.then("client_key"), "Invalid client_key", detail);
    }
}

/// The connection the (known, checked) settings describe.
fn connection(s: Settings, exec: Option<ExecConfig>) -> Connection {
    let Field::Known(host) = s.host else {
        return Connection::Kubeconfig {
            path: s.kubeconfig.known().map(|p| expand_home(&p)),
            context: s.context.known(),
        };
    };
    let auth = match (s.token.known(), s.cert.known(), s.key.known(), exec) {
        (Some(t), _, _, _) => Auth::Token(t),
        (_, Some(cert_pem), Some(key_pem), _) => Auth::ClientCertificate { cert_pem, key_pem },
        (_, _, _, Some(e)) => Auth::Exec(e),
        _ => Auth::None,
    };
    Connection::Direct(DirectConnection {
        host,
        auth,
        cluster_ca_certificate: s.ca.known(),
        insecure: s.insecure == Field::Known(true),
        tls_server_name: s.tls_server_name.known(),
        proxy_url: s.proxy_url.known(),
    })
}

/// The `exec` block, when present and known.
fn parse_exec(exec: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<ExecConfig> {
    let block = exec.elements()?.first()?;
    let path = path.index(0);
    let api_version = values::string(block, "api_version").known()?;
    const VERSIONS: [&str; 2] = [
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
    ];
    if !VERSIONS.contains(&api_version.as_str()) {
        diags.error_at(
            path.then("api_version"),
            "Unsupported exec api_version",
            format!(
                "api_version {api_version:?} is not one of {}.",
                VERSIONS.join(", ")
            ),
        );
    }
    let command = values::string(block, "command").known()?;
    if command.trim().is_empty() {
        diags.error_at(
            path.then("command"),
            "Empty exec command",
            "command must name the credential plugin to run.",
        );
        return None;
    }
    Some(ExecConfig {
        api_version,
        command,
        args: match values::strings(block, "args") {
            Field::Null => Vec::new(),
            other => other.known()?,
        },
        env: match values::string_map(block, "env") {
            Field::Null => BTreeMap::new(),
            other => other.known()?,
        },
    })
}

/// The mesh facts of a cluster block, defaults taken from its label. Each known part is
/// checked, even while another is unknown.
fn parse_mesh(
    label: &str,
    block: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Field<MeshFacts> {
    let get = |name: &str| values::string(block, name);
    let (td, ds) = (get("trust_domain"), get("domain_suffix"));
    // A default taken from an invalid label is reported once, on the label itself.
    let label_ok = check_dns_subdomain(label).is_ok();
    let checked = |f: &Field<String>| f.is_set() || label_ok;
    let (check_td, check_ds) = (checked(&td), checked(&ds));
    let trust_domain = td.or_default_with(|| label.to_string());
    let domain_suffix = ds.or_default_with(|| label.to_string());
    let istio_namespace =
        get("istio_namespace").or_default_with(|| DEFAULT_ISTIO_NAMESPACE.to_string());
    let network = get("network").optional();
    let at = |attr: &str| path.then(attr);
    if let Some(td) = trust_domain.as_ref().filter(|_| check_td)
        && let Err(e) = check_trust_domain(td)
    {
        let detail = format!("trust_domain {td:?} is not a valid SPIFFE trust domain: it {e}.");
        diags.error_at(at("trust_domain"), "Invalid trust domain", detail);
    }
    if let Some(ds) = domain_suffix.as_ref().filter(|_| check_ds)
        && let Err(e) = check_dns_subdomain(ds)
    {
        let detail = format!("domain_suffix {ds:?} is not a valid DNS name: {e}.");
        diags.error_at(at("domain_suffix"), "Invalid domain suffix", detail);
    }
    if let Some(ns) = &istio_namespace
        && let Err(e) = check_dns_label(ns)
    {
        let detail = format!("istio_namespace {ns:?} {e}.");
        diags.error_at(at("istio_namespace"), "Invalid namespace", detail);
    }
    if let Some(Some(n)) = &network
        && !is_label_value(n)
    {
        let detail = format!(
            "network {n:?} must be a label value: up to 63 letters, digits, '-', '_' or '.'."
        );
        diags.error_at(at("network"), "Invalid network name", detail);
    }
    let facts = || {
        Some(MeshFacts {
            trust_domain: trust_domain?,
            domain_suffix: domain_suffix?,
            istio_namespace: istio_namespace?,
            network: network?,
        })
    };
    facts().map_or(Field::Unknown, Field::Known)
}

/// A Kubernetes label value as Istio's network names are: 1 to 63 of `[A-Za-z0-9._-]`.
fn is_label_value(n: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !n.is_empty() && n.len() <= 63 && n.chars().all(allowed)
}

/// Checks a URL with `http::Uri`: one of `schemes`, and a host.
pub(super) fn check_url(s: &str, schemes: &[&str]) -> Result<(), String> {
    if s.chars().any(char::is_whitespace) {
        return Err("contains white space".to_string());
    }
    let with_scheme = || format!("must be a URL with a scheme ({})", schemes.join(", "));
    let uri: http::Uri = s.parse().map_err(|e| format!("is not a URL ({e})"))?;
    let Some(scheme) = uri.scheme_str() else {
        return Err(with_scheme());
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "has scheme {scheme:?}; expected one of {}",
            schemes.join(", ")
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host".to_string());
    }
    Ok(())
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}
