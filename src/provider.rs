//! The meshfed provider: its configuration schema (one `cluster "<name>" {}` block per cluster
//! plus `field_manager`), the two-stage parse of that configuration (raw Terraform value, then a
//! checked [`ProviderConfig`]), and the [`Provider`] implementation that ties in the resources.
//!
//! Configuring makes no network call: clusters are connected lazily by the apply engine.
//! Values unknown at plan time (a cluster created in the same run) are accepted and recorded as
//! "known at apply".

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use tokio::sync::RwLock;

use crate::k8s::ClusterSet;
use crate::k8s::config::{Auth, Connection, DirectConnection, ExecConfig};
use crate::k8s::names::check_dns_subdomain;
use crate::mesh::names::check_trust_domain;
use crate::mesh::{DEFAULT_ISTIO_NAMESPACE, MeshFacts};
use crate::resources::{Ctx, cluster, exported_service, service_entry, trust};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ConfigureRequest, ImportRequest, ImportResponse, PlanRequest,
    PlanResponse, Provider, ProviderSchemas, ReadDataRequest, ReadDataResponse, ReadRequest,
    ReadResponse, not_supported,
};
use crate::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

/// The provider's source address.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/meshfed/meshfed";
/// Field manager used for server-side apply unless configured otherwise.
pub const DEFAULT_FIELD_MANAGER: &str = "meshfed";

/// The provider configuration block's schema.
pub fn provider_schema() -> Schema {
    let exec = Block::new()
        .describe("A credential plugin that prints an ExecCredential, as in kubeconfig's `exec`.")
        .attr(Attribute::required("api_version", Type::String).describe(
            "API version of the ExecCredential the command prints: `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`.",
        ))
        .attr(Attribute::required("command", Type::String).describe("Command to run."))
        .attr(Attribute::optional("args", Type::list(Type::String)).describe("Arguments to the command."))
        .attr(Attribute::optional("env", Type::map(Type::String)).describe("Environment variables to set for the command."));

    let cluster = Block::new()
        .describe("One cluster of the federation. The label is the name resources use to refer to it.")
        .attr(Attribute::optional("kubeconfig", Type::String).describe(
            "Path to a kubeconfig file (`~` is expanded). Defaults to `KUBECONFIG`, then `~/.kube/config`, when neither `kubeconfig` nor `host` is set. Conflicts with `host`.",
        ))
        .attr(Attribute::optional("context", Type::String).describe(
            "Context of the kubeconfig to use. Defaults to the kubeconfig's current context. Conflicts with `host`.",
        ))
        .attr(Attribute::optional("host", Type::String).describe(
            "URL of the API server, e.g. `https://203.0.113.10:6443`. Use with `token`, `client_certificate` + `client_key`, or `exec`.",
        ))
        .attr(Attribute::optional("token", Type::String).sensitive().describe("Bearer token for the API server."))
        .attr(Attribute::optional("client_certificate", Type::String).describe(
            "PEM client certificate for TLS client authentication; requires `client_key`.",
        ))
        .attr(Attribute::optional("client_key", Type::String).sensitive().describe(
            "PEM private key of `client_certificate`.",
        ))
        .attr(Attribute::optional("cluster_ca_certificate", Type::String).describe(
            "PEM CA certificate(s) that sign the API server's certificate.",
        ))
        .attr(Attribute::optional("insecure", Type::Bool).describe(
            "Skip verification of the API server's certificate. Default `false`; not for production.",
        ))
        .attr(Attribute::optional("tls_server_name", Type::String).describe(
            "Server name to verify the API server's certificate against, when it differs from the host.",
        ))
        .attr(Attribute::optional("proxy_url", Type::String).describe(
            "URL of an HTTP(S) or SOCKS5 proxy to reach the API server through.",
        ))
        .attr(Attribute::optional("trust_domain", Type::String).describe(
            "SPIFFE trust domain of the cluster's workloads. Defaults to the cluster's label.",
        ))
        .attr(Attribute::optional("domain_suffix", Type::String).describe(
            "DNS suffix of the cluster's services (`<service>.<namespace>.svc.<domain_suffix>`). Defaults to the cluster's label.",
        ))
        .attr(Attribute::optional("istio_namespace", Type::String).describe(
            "Namespace where istiod runs and reads its CA. Default `istio-system`.",
        ))
        .attr(Attribute::optional("network", Type::String).describe(
            "Istio network name of the cluster (`topology.istio.io/network`), when it has one.",
        ))
        .block(NestedBlock::new("exec", Nesting::List, exec).max_items(1));

    Schema::new(
        0,
        Block::new()
            .describe("meshfed federates independent Istio meshes: each cluster keeps its own root CA; meshfed exchanges the roots, exposes services through east-west gateways and registers them in the consuming cluster.")
            .attr(Attribute::optional("field_manager", Type::String).describe(
                "Field manager name for Kubernetes server-side apply. Default `meshfed`.",
            ))
            .block(NestedBlock::new("cluster", Nesting::Map, cluster)),
    )
}

/// A configuration value that may not be known until apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known<T> {
    Known(T),
    /// Depends on something created in the same run.
    AtApply,
}

impl<T> Known<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Known::Known(t) => Some(t),
            Known::AtApply => None,
        }
    }
}

/// One cluster, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub name: String,
    pub connection: Known<Connection>,
    pub mesh: Known<MeshFacts>,
}

/// The provider configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    pub field_manager: String,
    pub clusters: BTreeMap<String, ClusterConfig>,
}

/// A string attribute as configured: absent, not yet known, or a value.
enum Setting<T> {
    Unset,
    Unknown,
    Set(T),
}

impl<T> Setting<T> {
    fn is_set(&self) -> bool {
        !matches!(self, Setting::Unset)
    }
}

fn string_setting(obj: &Value, name: &str) -> Setting<String> {
    match obj.get(name) {
        None | Some(Value::Null) => Setting::Unset,
        Some(Value::Unknown(_)) => Setting::Unknown,
        Some(v) => v
            .as_str()
            .map(|s| Setting::Set(s.to_string()))
            .unwrap_or(Setting::Unknown),
    }
}

/// Parses and checks the provider configuration. Returns `None` when there are errors.
pub fn parse_config(config: &Value) -> (Option<ProviderConfig>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let field_manager = match string_setting(config, "field_manager") {
        Setting::Set(s) => {
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
        Some(Value::Unknown(_)) => {
            diags.error_at(
                AttrPath::attr("cluster"),
                "Clusters not known",
                "The set of cluster blocks must be known at plan time.",
            );
        }
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
    (
        Some(ProviderConfig {
            field_manager,
            clusters,
        }),
        diags,
    )
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

fn parse_connection(block: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Known<Connection> {
    let kubeconfig = string_setting(block, "kubeconfig");
    let context = string_setting(block, "context");
    let host = string_setting(block, "host");
    let token = string_setting(block, "token");
    let cert = string_setting(block, "client_certificate");
    let key = string_setting(block, "client_key");
    let ca = string_setting(block, "cluster_ca_certificate");
    let tls_server_name = string_setting(block, "tls_server_name");
    let proxy_url = string_setting(block, "proxy_url");
    let exec = block.get("exec").cloned().unwrap_or(Value::Null);
    let exec_set = exec.elements().is_some_and(|e| !e.is_empty()) || exec.is_unknown();
    let insecure = match block.get("insecure") {
        Some(Value::Bool(b)) => Setting::Set(*b),
        Some(Value::Unknown(_)) => Setting::Unknown,
        _ => Setting::Unset,
    };

    fn conflict(diags: &mut Diagnostics, path: &AttrPath, attr: &str, other: &str, why: &str) {
        diags.error_at(
            path.then(attr),
            format!("Conflicting cluster settings: {attr} and {other}"),
            why.to_string(),
        );
    }
    if host.is_set() {
        let why = "A cluster is reached either through a kubeconfig (kubeconfig, context) or through host and credentials, not both.";
        if kubeconfig.is_set() {
            conflict(diags, path, "host", "kubeconfig", why);
        }
        if context.is_set() {
            conflict(diags, path, "host", "context", why);
        }
    } else {
        for (attr, set) in [
            ("token", token.is_set()),
            ("client_certificate", cert.is_set()),
            ("client_key", key.is_set()),
            ("cluster_ca_certificate", ca.is_set()),
            ("insecure", insecure.is_set()),
            ("tls_server_name", tls_server_name.is_set()),
            ("proxy_url", proxy_url.is_set()),
            ("exec", exec_set),
        ] {
            if set && (kubeconfig.is_set() || context.is_set()) {
                conflict(
                    diags,
                    path,
                    attr,
                    "kubeconfig",
                    "Credentials and TLS settings come from the kubeconfig; set them there, or use host instead of kubeconfig.",
                );
            } else if set {
                diags.error_at(
                    path.then(attr),
                    format!("{attr} requires host"),
                    format!("Set host (the API server URL) to use {attr}."),
                );
            }
        }
    }
    let auth_methods = [
        ("token", token.is_set()),
        ("client_certificate", cert.is_set()),
        ("exec", exec_set),
    ];
    let chosen: Vec<&str> = auth_methods
        .iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| *n)
        .collect();
    if host.is_set() && chosen.len() > 1 {
        diags.error_at(
            path.then(chosen[1]),
            format!(
                "Conflicting cluster settings: {} and {}",
                chosen[1], chosen[0]
            ),
            "Use exactly one of token, client_certificate + client_key, or exec.",
        );
    }
    if cert.is_set() != key.is_set() {
        let (missing, present) = if cert.is_set() {
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
    if let (Setting::Set(true), true) = (&insecure, ca.is_set()) {
        diags.error_at(
            path.then("insecure"),
            "Conflicting cluster settings: insecure and cluster_ca_certificate",
            "Either verify the API server against cluster_ca_certificate or skip verification with insecure = true, not both.",
        );
    }
    if let Setting::Set(h) = &host
        && let Err(why) = check_url(h, &["https", "http"])
    {
        diags.error_at(
            path.then("host"),
            "Invalid host",
            format!("host {h:?} {why}. Example: https://203.0.113.10:6443"),
        );
    }
    if let Setting::Set(p) = &proxy_url
        && let Err(why) = check_url(p, &["http", "https", "socks5", "socks5h"])
    {
        diags.error_at(
            path.then("proxy_url"),
            "Invalid proxy_url",
            format!("proxy_url {p:?} {why}."),
        );
    }
    for (attr, setting) in [
        ("cluster_ca_certificate", &ca),
        ("client_certificate", &cert),
    ] {
        if let Setting::Set(pem) = setting
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            diags.error_at(
                path.then(attr),
                format!("Invalid {attr}"),
                format!("{attr} must be PEM text starting with -----BEGIN CERTIFICATE-----."),
            );
        }
    }
    if let Setting::Set(k) = &key
        && !k.contains("PRIVATE KEY-----")
    {
        diags.error_at(
            path.then("client_key"),
            "Invalid client_key",
            "client_key must be a PEM private key.",
        );
    }
    let exec_cfg = parse_exec(&exec, &path.then("exec"), diags);

    // Anything unknown: the connection is settled at apply.
    let any_unknown = [
        &kubeconfig,
        &context,
        &host,
        &token,
        &cert,
        &key,
        &ca,
        &tls_server_name,
        &proxy_url,
    ]
    .iter()
    .any(|s| matches!(s, Setting::Unknown))
        || matches!(insecure, Setting::Unknown)
        || (exec_set && exec_cfg.is_none());
    if any_unknown {
        return Known::AtApply;
    }
    let get = |s: Setting<String>| match s {
        Setting::Set(v) => Some(v),
        _ => None,
    };
    if let Setting::Set(host) = host {
        let auth = match (get(token), get(cert), get(key), exec_cfg) {
            (Some(t), _, _, _) => Auth::Token(t),
            (_, Some(c), Some(k), _) => Auth::ClientCertificate {
                cert_pem: c,
                key_pem: k,
            },
            (_, _, _, Some(e)) => Auth::Exec(e),
            _ => Auth::None,
        };
        return Known::Known(Connection::Direct(DirectConnection {
            host,
            auth,
            cluster_ca_certificate: get(ca),
            insecure: matches!(insecure, Setting::Set(true)),
            tls_server_name: get(tls_server_name),
            proxy_url: get(proxy_url),
        }));
    }
    Known::Known(Connection::Kubeconfig {
        path: get(kubeconfig).map(|p| expand_home(&p)),
        context: get(context),
    })
}

fn parse_exec(exec: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<ExecConfig> {
    let block = exec.elements()?.first()?;
    let path = path.index(0);
    let api_version = match string_setting(block, "api_version") {
        Setting::Set(v) => v,
        _ => return None,
    };
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
    let command = match string_setting(block, "command") {
        Setting::Set(c) if !c.trim().is_empty() => c,
        Setting::Set(_) => {
            diags.error_at(
                path.then("command"),
                "Empty exec command",
                "command must name the credential plugin to run.",
            );
            return None;
        }
        _ => return None,
    };
    let args = match block.get("args") {
        Some(Value::Null) | None => Vec::new(),
        Some(v) => v
            .elements()?
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
    };
    let env = match block.get("env") {
        Some(Value::Null) | None => BTreeMap::new(),
        Some(v) => v
            .entries()?
            .iter()
            .map(|(k, a)| a.as_str().map(|s| (k.clone(), s.to_string())))
            .collect::<Option<_>>()?,
    };
    Some(ExecConfig {
        api_version,
        command,
        args,
        env,
    })
}

fn parse_mesh(
    label: &str,
    block: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Known<MeshFacts> {
    let mut unknown = false;
    let mut get = |name: &str, default: Option<&str>| match string_setting(block, name) {
        Setting::Set(s) => Some(s),
        Setting::Unknown => {
            unknown = true;
            None
        }
        Setting::Unset => default.map(str::to_string),
    };
    let explicit_td = string_setting(block, "trust_domain").is_set();
    let explicit_ds = string_setting(block, "domain_suffix").is_set();
    let trust_domain = get("trust_domain", Some(label));
    let domain_suffix = get("domain_suffix", Some(label));
    // A default taken from an invalid label is reported once, on the label itself.
    let label_ok = check_dns_subdomain(label).is_ok();
    let istio_namespace = get("istio_namespace", Some(DEFAULT_ISTIO_NAMESPACE));
    let network = get("network", None);
    if let Some(td) = trust_domain.as_ref().filter(|_| explicit_td || label_ok)
        && let Err(e) = check_trust_domain(td)
    {
        diags.error_at(
            path.then("trust_domain"),
            "Invalid trust domain",
            format!("trust_domain {td:?} is not a valid SPIFFE trust domain: it {e}."),
        );
    }
    if let Some(ds) = domain_suffix.as_ref().filter(|_| explicit_ds || label_ok)
        && let Err(e) = check_dns_subdomain(ds)
    {
        diags.error_at(
            path.then("domain_suffix"),
            "Invalid domain suffix",
            format!("domain_suffix {ds:?} is not a valid DNS name: {e}."),
        );
    }
    if let Some(ns) = &istio_namespace
        && let Err(e) = crate::k8s::names::check_dns_label(ns)
    {
        diags.error_at(
            path.then("istio_namespace"),
            "Invalid namespace",
            format!("istio_namespace {ns:?} {e}."),
        );
    }
    if let Some(n) = &network
        && (n.is_empty()
            || n.len() > 63
            || n.chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))))
    {
        diags.error_at(
            path.then("network"),
            "Invalid network name",
            format!(
                "network {n:?} must be a label value: up to 63 letters, digits, '-', '_' or '.'."
            ),
        );
    }
    match (unknown, trust_domain, domain_suffix, istio_namespace) {
        (false, Some(trust_domain), Some(domain_suffix), Some(istio_namespace)) => {
            Known::Known(MeshFacts {
                trust_domain,
                domain_suffix,
                istio_namespace,
                network,
            })
        }
        _ => Known::AtApply,
    }
}

fn check_url(s: &str, schemes: &[&str]) -> Result<(), String> {
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!(
            "must be a URL with a scheme ({})",
            schemes.join(", ")
        ));
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "has scheme {scheme:?}; expected one of {}",
            schemes.join(", ")
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err("has no host".to_string());
    }
    if host.chars().any(char::is_whitespace) {
        return Err("contains white space".to_string());
    }
    Ok(())
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The meshfed provider as the protocol layer sees it.
pub struct Meshfed {
    schemas: ProviderSchemas,
    state: RwLock<Option<Configured>>,
}

/// What ConfigureProvider produced: the configuration and the (not yet connected) clusters.
struct Configured {
    config: ProviderConfig,
    clusters: ClusterSet,
}

impl Configured {
    fn new(config: ProviderConfig) -> Configured {
        let connections = config
            .clusters
            .iter()
            .filter_map(|(name, c)| {
                c.connection
                    .known()
                    .map(|conn| (name.clone(), conn.clone()))
            })
            .collect();
        let clusters = ClusterSet::new(config.field_manager.clone(), connections);
        Configured { config, clusters }
    }
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            clusters: &self.clusters,
        }
    }
}

impl Default for Meshfed {
    fn default() -> Self {
        Meshfed::new()
    }
}

impl Meshfed {
    pub fn new() -> Meshfed {
        Meshfed {
            schemas: schemas().clone(),
            state: RwLock::new(None),
        }
    }

    /// The configuration from the last ConfigureProvider, if any.
    pub async fn config(&self) -> Option<ProviderConfig> {
        self.state.read().await.as_ref().map(|s| s.config.clone())
    }
}

fn not_configured() -> Diagnostic {
    Diagnostic::error(
        "Provider not configured",
        "meshfed received no valid provider configuration before this request; see the errors about the provider block.",
    )
}

fn schemas() -> &'static ProviderSchemas {
    static SCHEMAS: OnceLock<ProviderSchemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| ProviderSchemas {
        provider: provider_schema(),
        provider_meta: None,
        resources: BTreeMap::from([
            (
                service_entry::TYPE_NAME.to_string(),
                service_entry::schema(),
            ),
            (trust::TYPE_NAME.to_string(), trust::schema()),
            (
                exported_service::TYPE_NAME.to_string(),
                exported_service::schema(),
            ),
        ]),
        data_sources: BTreeMap::from([(cluster::TYPE_NAME.to_string(), cluster::schema())]),
    })
}

#[tonic::async_trait]
impl Provider for Meshfed {
    fn schemas(&self) -> &ProviderSchemas {
        &self.schemas
    }

    async fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        parse_config(config).1
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        let (cfg, diags) = parse_config(&req.config);
        if let Some(cfg) = cfg {
            tracing::info!(
                terraform_version = %req.terraform_version,
                clusters = cfg.clusters.len(),
                field_manager = %cfg.field_manager,
                "provider configured"
            );
            *self.state.write().await = Some(Configured::new(cfg));
        }
        diags
    }

    async fn validate_resource_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            service_entry::TYPE_NAME => service_entry::validate(config),
            exported_service::TYPE_NAME => exported_service::validate(config),
            _ => Diagnostics::new(),
        }
    }

    async fn plan_resource_change(&self, req: PlanRequest) -> PlanResponse {
        let state = self.state.read().await;
        let Some(s) = state.as_ref() else {
            return PlanResponse {
                diagnostics: not_configured().into(),
                planned_state: req.proposed_new_state,
                ..PlanResponse::default()
            };
        };
        match req.type_name.as_str() {
            service_entry::TYPE_NAME => service_entry::plan(&s.ctx(), req),
            exported_service::TYPE_NAME => exported_service::plan(&s.ctx(), req).await,
            trust::TYPE_NAME => trust::plan(&s.ctx(), req),
            other => PlanResponse {
                diagnostics: not_supported(&format!("resource {other}")).into(),
                ..PlanResponse::default()
            },
        }
    }

    async fn apply_resource_change(&self, req: ApplyRequest) -> ApplyResponse {
        let state = self.state.read().await;
        let Some(s) = state.as_ref() else {
            return ApplyResponse {
                diagnostics: not_configured().into(),
                new_state: req.prior_state,
                ..ApplyResponse::default()
            };
        };
        match req.type_name.as_str() {
            service_entry::TYPE_NAME => service_entry::apply(&s.ctx(), req).await,
            exported_service::TYPE_NAME => exported_service::apply(&s.ctx(), req).await,
            trust::TYPE_NAME => trust::apply(&s.ctx(), req).await,
            other => ApplyResponse {
                diagnostics: not_supported(&format!("resource {other}")).into(),
                new_state: req.prior_state,
                ..ApplyResponse::default()
            },
        }
    }

    async fn read_resource(&self, req: ReadRequest) -> ReadResponse {
        let state = self.state.read().await;
        let Some(s) = state.as_ref() else {
            return ReadResponse {
                diagnostics: not_configured().into(),
                new_state: req.current_state,
                private: req.private,
            };
        };
        match req.type_name.as_str() {
            service_entry::TYPE_NAME => service_entry::read(&s.ctx(), req).await,
            exported_service::TYPE_NAME => exported_service::read(&s.ctx(), req).await,
            trust::TYPE_NAME => trust::read(&s.ctx(), req).await,
            _ => ReadResponse {
                new_state: req.current_state,
                private: req.private,
                ..ReadResponse::default()
            },
        }
    }

    async fn import_resource_state(&self, req: ImportRequest) -> ImportResponse {
        let state = self.state.read().await;
        let Some(s) = state.as_ref() else {
            return ImportResponse {
                diagnostics: not_configured().into(),
                ..ImportResponse::default()
            };
        };
        match req.type_name.as_str() {
            service_entry::TYPE_NAME => service_entry::import(&s.ctx(), req).await,
            exported_service::TYPE_NAME => exported_service::import(&s.ctx(), req).await,
            trust::TYPE_NAME => trust::import(&s.ctx(), req).await,
            other => ImportResponse {
                diagnostics: not_supported(&format!("importing {other}")).into(),
                ..ImportResponse::default()
            },
        }
    }

    async fn read_data_source(&self, req: ReadDataRequest) -> ReadDataResponse {
        let state = self.state.read().await;
        let config = state.as_ref().map(|s| &s.config);
        match req.type_name.as_str() {
            cluster::TYPE_NAME => cluster::read(config, req),
            other => ReadDataResponse {
                diagnostics: crate::tfplugin::provider::not_supported(&format!(
                    "data source {other}"
                ))
                .into(),
                ..ReadDataResponse::default()
            },
        }
    }
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;
