//! The federation's domain: the mesh facts of each cluster, Istio's naming rules, and one pure,
//! deterministic `render(spec) -> objects` per resource, golden-tested:
//!
//! - [`service_entry`]: the ServiceEntry and `ISTIO_MUTUAL` DestinationRule that import a remote
//!   service (`meshfed_service_entry`);
//! - [`exported_service`]: the `AUTO_PASSTHROUGH` Gateway, AuthorizationPolicy and alias
//!   ServiceEntry that expose a service (`meshfed_exported_service`);
//! - [`trust`]: each member's `cacerts` Secret, per-party root ConfigMaps and shared mesh config
//!   (`meshfed_trust`);
//! - [`names`]: Istio's naming rules (SPIFFE trust domains);
//! - [`discover`]: recognising a federation (meshfed's or made by hand) in live objects;
//! - [`status`]: judging a live federation (`meshfed_federation_status`): problems and fixes;
//! - here: [`MeshFacts`], [`Manifest`] (one rendered object), [`Protocol`].
//!
//! Must not import the protocol layer, the Kubernetes client or the resources; may use `cert`'s
//! types and encodings.

pub mod discover;
pub mod exported_service;
#[cfg(test)]
mod golden;
pub mod names;
pub mod service_entry;
pub mod status;
pub mod trust;

/// What meshfed needs to know about a cluster's mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshFacts {
    /// SPIFFE trust domain of the cluster's workloads.
    pub trust_domain: String,
    /// DNS suffix of its services (`<svc>.<ns>.svc.<domain_suffix>`).
    pub domain_suffix: String,
    /// Namespace of istiod and its CA material.
    pub istio_namespace: String,
    /// Istio network name, when the cluster sets one.
    pub network: Option<String>,
}

/// The east-west gateway's port for mutual-TLS passthrough (`AUTO_PASSTHROUGH`), as Istio's
/// multi-network samples configure it.
pub const DEFAULT_GATEWAY_PORT: u16 = 15443;

/// Istio's default control-plane namespace.
pub const DEFAULT_ISTIO_NAMESPACE: &str = "istio-system";

/// The label every object meshfed writes carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "meshfed";

/// The metadata every object meshfed writes starts from: its name and namespace, and the
/// managed-by label.
pub(crate) fn metadata(name: &str, namespace: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "namespace": namespace,
        "labels": { MANAGED_BY_LABEL: MANAGED_BY_VALUE },
    })
}

/// One rendered Kubernetes object: its identity and the complete object meshfed owns (only the
/// fields meshfed sets, nothing the API server adds).
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `apiVersion`, `kind`, `metadata` and the body field (`spec` or `data`), in that order.
    pub object: serde_json::Value,
}

impl Manifest {
    /// Builds a manifest from its metadata (which must hold `name` and `namespace`) and one body
    /// field, e.g. `("spec", {...})`.
    pub fn new(
        api_version: &str,
        kind: &str,
        metadata: serde_json::Value,
        body_field: &str,
        body: serde_json::Value,
    ) -> Manifest {
        let name = metadata["name"].as_str().unwrap_or_default().to_string();
        let namespace = metadata["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut object = serde_json::Map::new();
        object.insert("apiVersion".into(), api_version.into());
        object.insert("kind".into(), kind.into());
        object.insert("metadata".into(), metadata);
        object.insert(body_field.into(), body);
        Manifest {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace,
            name,
            object: serde_json::Value::Object(object),
        }
    }

    /// The object as YAML, as shown in plans.
    pub fn to_yaml(&self) -> String {
        to_yaml(&self.object)
    }
}

/// YAML text of a JSON value, keys in their given order.
pub fn to_yaml(v: &serde_json::Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n{v}\n"))
}

/// A port protocol Istio knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Https,
    Http2,
    Grpc,
    GrpcWeb,
    Tcp,
    Tls,
    Mongo,
    Mysql,
    Redis,
}

impl Protocol {
    /// Every protocol, with its name as Istio spells it: the one table code and docs use.
    pub const ALL: [(Protocol, &'static str); 10] = [
        (Protocol::Http, "HTTP"),
        (Protocol::Https, "HTTPS"),
        (Protocol::Http2, "HTTP2"),
        (Protocol::Grpc, "GRPC"),
        (Protocol::GrpcWeb, "GRPC-WEB"),
        (Protocol::Tcp, "TCP"),
        (Protocol::Tls, "TLS"),
        (Protocol::Mongo, "MONGO"),
        (Protocol::Mysql, "MYSQL"),
        (Protocol::Redis, "REDIS"),
    ];

    pub fn as_str(self) -> &'static str {
        Protocol::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, s)| *s)
            .unwrap_or("TCP")
    }

    /// Parses a protocol name, ignoring case as Istio does.
    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(p, _)| *p)
    }

    /// Whether traffic of this protocol is matched by destination address rather than by host
    /// header, so that the host needs a VIP in the consuming cluster.
    pub fn needs_vip(self) -> bool {
        matches!(
            self,
            Protocol::Tcp | Protocol::Tls | Protocol::Mongo | Protocol::Mysql | Protocol::Redis
        )
    }

    /// The accepted names, for messages.
    pub fn names() -> String {
        Protocol::ALL
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The strings of a JSON array (other elements and non-arrays: none), for reading live objects.
pub(crate) fn json_strings(v: &serde_json::Value) -> Vec<String> {
    let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The string entries of a JSON object, for reading live objects' labels.
pub(crate) fn json_string_map(v: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let Some(m) = v.as_object() else {
        return Default::default();
    };
    m.iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}
