//! The apply engine's errors: one enum whose variants are named after what failed, each naming
//! the cluster and (where there is one) the object, so that a caller can show it as is. Knows
//! nothing of Istio or Terraform: "this kind is not served" is [`K8sError::MissingKind`]; saying
//! that Istio is not installed is the caller's business. Reading API server answers into these
//! variants lives in `status.rs`.

use std::fmt;
use std::time::Duration;

use super::object::{ObjectProblem, ObjectRef};

/// A boxed error from below (kubeconfig loading, client construction).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the engine was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Apply,
    Get,
    Delete,
    /// Listing a collection (`terraform query`, and the objects an action acts on).
    List,
    /// A merge patch of a few fields of an object meshfed does not own (an action's change).
    Patch,
}

impl Op {
    /// The RBAC verb a request of this kind needs (server-side apply is a `patch`).
    pub fn rbac_verb(self) -> &'static str {
        match self {
            Op::Apply => "patch",
            Op::Get => "get",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Patch => "patch",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Apply => "apply",
            Op::Get => "get",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Patch => "patch",
        })
    }
}

/// The request that failed: which cluster, what the engine was doing, about which object.
/// Displayed as `cluster-a.local: apply networking.istio.io/v1 ServiceEntry abc/bar`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRequest {
    pub cluster: String,
    pub op: Op,
    pub object: ObjectRef,
}

impl fmt::Display for FailedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.cluster, self.op, self.object)
    }
}

/// Why a request to a cluster failed. Every message starts with the cluster's name.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The cluster name is not one of the configured clusters.
    #[error("unknown cluster {cluster:?} (configured clusters: {known})")]
    UnknownCluster { cluster: String, known: String },

    /// The object handed to the engine lacks its identity.
    #[error("{cluster}: {op}: {problem}")]
    BadObject {
        cluster: String,
        op: Op,
        problem: ObjectProblem,
    },

    /// The connection settings are unusable: unreadable kubeconfig, unknown context, a CA or
    /// client certificate that does not parse, an exec plugin that fails.
    #[error("{cluster}: cannot use the connection settings ({origin}): {message}")]
    Config {
        cluster: String,
        /// Where the settings came from: `kubeconfig <path>, context <name>` or `host <url>`.
        origin: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// The API server could not be reached (connection refused or reset, DNS, TLS, timeout).
    #[error(
        "{request}: cannot reach the API server at {url}: {cause} \
         (gave up after {attempts} attempt{s})",
        s = if *attempts == 1 { "" } else { "s" }
    )]
    Connect {
        request: Box<FailedRequest>,
        url: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        cause: String,
        attempts: u32,
        #[source]
        source: Box<kube::Error>,
    },

    /// The API server does not serve this kind (no such resource, e.g. a CRD not installed).
    #[error(
        "{cluster}: the API server does not serve {api_version} {kind} \
         (is its CustomResourceDefinition installed?)"
    )]
    MissingKind {
        cluster: String,
        api_version: String,
        kind: String,
    },

    /// The object's namespace does not exist.
    #[error("{request}: namespace {namespace:?} does not exist")]
    NamespaceMissing {
        request: Box<FailedRequest>,
        namespace: String,
    },

    /// The object does not exist (`get` and `delete` turn this into `None` and success).
    #[error("{request}: not found")]
    NotFound { request: Box<FailedRequest> },

    /// The API server did not accept the credentials (401).
    #[error(
        "{request}: the API server rejected the credentials of {origin} \
         (401 Unauthorized): {message}"
    )]
    Unauthorized {
        request: Box<FailedRequest>,
        origin: String,
        message: String,
    },

    /// RBAC denied the request (403): who may not do what, and where.
    #[error("{request}: forbidden: {denial}")]
    Forbidden {
        request: Box<FailedRequest>,
        denial: Box<Denial>,
    },

    /// The API server refused the object (422, or 400 for fields its schema does not declare);
    /// `message` is the server's own and lists the fields.
    #[error("{request}: refused as invalid: {message}")]
    Invalid {
        request: Box<FailedRequest>,
        code: u16,
        message: String,
    },

    /// A conflicting write (409).
    #[error("{request}: conflict: {message}")]
    Conflict {
        request: Box<FailedRequest>,
        message: String,
    },

    /// Any other answer from the API server (including 429 and 5xx once retries are exhausted).
    #[error("{request}: the API server answered {code} {reason}: {message}")]
    Api {
        request: Box<FailedRequest>,
        code: u16,
        reason: String,
        message: String,
    },

    /// The object was still there when the wait for its deletion ran out.
    #[error(
        "{request}: still present {secs} s after deletion was requested{why}",
        secs = waited.as_secs(),
        why = finalizer_hint(finalizers)
    )]
    Timeout {
        request: Box<FailedRequest>,
        waited: Duration,
        /// The finalizers the object still carried at the last look.
        finalizers: Vec<String>,
    },

    /// The API server answered something that is not the JSON it should be.
    #[error("{request}: unreadable answer from the API server: {source}")]
    Decode {
        request: Box<FailedRequest>,
        #[source]
        source: serde_json::Error,
    },
}

/// What RBAC refused (a 403): `user` may not `verb` `resource` in `namespace`. Displayed as
/// `<identity> may not <verb> <resource> in namespace "<ns>": <the API server's message>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The RBAC verb refused (`patch`, or `create` for an apply that would create the object).
    pub verb: String,
    /// `<plural>` for the core group, else `<plural>.<group>`, e.g. `configmaps`,
    /// `serviceentries.networking.istio.io`.
    pub resource: String,
    pub namespace: Option<String>,
    /// The identity the API server saw (`system:serviceaccount:<ns>:<name>`, a user name), when
    /// its message says.
    pub user: Option<String>,
    /// Where the connection settings came from, to name the identity when `user` is unknown.
    pub origin: String,
    /// The API server's message.
    pub message: String,
}

impl Denial {
    /// Who the request was made as: the user the API server named, else where the credentials
    /// came from.
    pub fn identity(&self) -> String {
        self.user
            .clone()
            .unwrap_or_else(|| format!("the credentials of {}", self.origin))
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} may not {} {}{}: {}",
            self.identity(),
            self.verb,
            self.resource,
            in_namespace(self.namespace.as_deref()),
            self.message
        )
    }
}

fn in_namespace(namespace: Option<&str>) -> String {
    namespace.map_or_else(String::new, |ns| format!(" in namespace {ns:?}"))
}

fn finalizer_hint(finalizers: &[String]) -> String {
    if finalizers.is_empty() {
        String::new()
    } else {
        format!(
            " (it carries the finalizers {}; whoever added them must remove them)",
            finalizers.join(", ")
        )
    }
}

/// What a failure is about: a whole cluster, or one request about one object.
enum Subject<'a> {
    Cluster(&'a str),
    Request(&'a FailedRequest),
}

impl K8sError {
    /// The one place that says which variants are about a request and which about a cluster.
    fn subject(&self) -> Subject<'_> {
        match self {
            K8sError::UnknownCluster { cluster, .. }
            | K8sError::BadObject { cluster, .. }
            | K8sError::Config { cluster, .. }
            | K8sError::MissingKind { cluster, .. } => Subject::Cluster(cluster),
            K8sError::Connect { request, .. }
            | K8sError::NamespaceMissing { request, .. }
            | K8sError::NotFound { request, .. }
            | K8sError::Unauthorized { request, .. }
            | K8sError::Forbidden { request, .. }
            | K8sError::Invalid { request, .. }
            | K8sError::Conflict { request, .. }
            | K8sError::Api { request, .. }
            | K8sError::Timeout { request, .. }
            | K8sError::Decode { request, .. } => Subject::Request(request),
        }
    }

    /// The cluster the failed request was for.
    pub fn cluster(&self) -> &str {
        match self.subject() {
            Subject::Cluster(cluster) => cluster,
            Subject::Request(request) => &request.cluster,
        }
    }

    /// The object the failed request was about, where there is one.
    pub fn object(&self) -> Option<&ObjectRef> {
        self.request().map(|r| &r.object)
    }

    /// The request that failed, where the failure is about one object.
    pub fn request(&self) -> Option<&FailedRequest> {
        match self.subject() {
            Subject::Request(request) => Some(request),
            Subject::Cluster(_) => None,
        }
    }

    /// The API server does not serve the object's kind (for Istio kinds: Istio is not installed).
    /// Whether a write that failed with this error may still have taken effect: the request may
    /// have reached the API server before the connection was lost (a connection error: an
    /// earlier attempt may have been sent), the server failed after accepting it (5xx), or it
    /// answered success in a form we could not read. A refusal (4xx) took no effect.
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            K8sError::Connect { .. } | K8sError::Decode { .. } => true,
            K8sError::Api { code, .. } => *code >= 500,
            _ => false,
        }
    }

    pub fn is_missing_kind(&self) -> bool {
        matches!(self, K8sError::MissingKind { .. })
    }

    /// The object's namespace does not exist.
    pub fn is_namespace_missing(&self) -> bool {
        matches!(self, K8sError::NamespaceMissing { .. })
    }

    /// The object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, K8sError::NotFound { .. })
    }

    /// The cluster could not be reached.
    pub fn is_connect(&self) -> bool {
        matches!(self, K8sError::Connect { .. })
    }

    /// The credentials were refused (401) or the request was not permitted (403).
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self,
            K8sError::Unauthorized { .. } | K8sError::Forbidden { .. }
        )
    }
}
/// The innermost message of an error chain: what actually went wrong
/// (`Connection refused (os error 111)` rather than `ServiceError: client error (Connect)`).
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> ObjectRef {
        ObjectRef::namespaced("v1", "ConfigMap", "xyz", "held")
    }

    /// A deletion of [`held`] in cluster-b that timed out.
    fn timeout() -> K8sError {
        K8sError::Timeout {
            request: Box::new(FailedRequest {
                cluster: "cluster-b.local".into(),
                op: Op::Delete,
                object: held(),
            }),
            waited: Duration::from_secs(60),
            finalizers: vec!["example.com/hold".into()],
        }
    }

    #[test]
    fn the_cluster_is_named_whether_or_not_the_failure_is_about_one_object() {
        let unknown = K8sError::UnknownCluster {
            cluster: "cluster-z.local".into(),
            known: "cluster-a.local".into(),
        };
        assert_eq!(unknown.cluster(), "cluster-z.local");
        assert_eq!(unknown.request(), None);
        assert_eq!(unknown.object(), None);
        let e = timeout();
        assert_eq!(e.cluster(), "cluster-b.local");
        assert_eq!(e.request().map(|r| r.op), Some(Op::Delete));
        assert_eq!(e.object(), Some(&held()));
    }

    #[test]
    fn a_deletion_timeout_names_the_finalizers_holding_the_object() {
        let e = timeout();
        assert_eq!(
            e.to_string(),
            "cluster-b.local: delete v1 ConfigMap xyz/held: still present 60 s after deletion was \
             requested (it carries the finalizers example.com/hold; whoever added them must \
             remove them)"
        );
    }
}
