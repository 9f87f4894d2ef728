//! The live state of a federation, judged: given what each member cluster's API server answered
//! (istiod's Deployment, the plug-in CA's public certificates, the root istiod publishes,
//! meshfed's mesh config, the ServiceEntries and export Gateways meshfed wrote, the gateway
//! Services), [`assess`] says per cluster what is in place and lists every problem with its fix.
//! Backs the data source `meshfed_federation_status`.
//!
//! - [`ca`]: istiod's multi-root settings, the plug-in CA in use, each party's root in every
//!   member's bundle, certificates near expiry;
//! - [`services`]: each import's endpoints against its exporting gateway's current addresses, and
//!   each export's gateway Service.
//!
//! Pure: no request, no clock (the caller passes `now`). Never sees key material: the caller
//! hands over only the `cacerts` Secret's certificates ([`CacertsPublic`]). Must not import the
//! protocol layer, the Kubernetes client or the resources.

mod ca;
mod services;
#[cfg(test)]
mod tests;

pub use super::trust::required_env;
pub use services::gateway_services;

use std::collections::BTreeMap;

use serde_json::Value as Json;
use time::{Duration, OffsetDateTime};

use super::MeshFacts;

/// Why one read of a cluster failed; `cause` is the engine's message (it names the cluster and
/// the object, never a body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub kind: ReadErrorKind,
    pub cause: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// The API server could not be reached, or its connection settings are unusable.
    Unreachable,
    /// The credentials were rejected (401).
    Unauthenticated,
    /// RBAC refused the read (403).
    Denied,
    /// Any other failure.
    Other,
}

/// One object read: present, absent, or not readable.
pub type Read<T> = Result<Option<T>, ReadError>;

/// The certificates of a `cacerts` Secret, base64-decoded; its key is never read into this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacertsPublic {
    /// `root-cert.pem`: the member's root(s), and in `cacerts` bundle mode every party's.
    pub root_cert_pem: Option<String>,
    /// `ca-cert.pem`: the intermediate istiod signs with.
    pub ca_cert_pem: Option<String>,
}

/// What one cluster's API server answered.
#[derive(Clone, Debug)]
pub enum Observed {
    /// The first read failed so that no other could succeed (unreachable, bad credentials).
    Unreachable(ReadError),
    Read(Box<Live>),
}

/// The objects read in one cluster.
#[derive(Clone, Debug)]
pub struct Live {
    /// Deployment `istiod` in the Istio namespace.
    pub istiod: Read<Json>,
    pub cacerts: Read<CacertsPublic>,
    /// ConfigMap `istio-ca-root-cert` in the Istio namespace (istiod publishes its root there).
    pub istio_root: Read<Json>,
    /// ConfigMap `meshfed-mesh-config` in the Istio namespace.
    pub mesh_config: Read<Json>,
    /// meshfed's ServiceEntries, every namespace.
    pub service_entries: Result<Vec<Json>, ReadError>,
    /// meshfed's Gateways, every namespace.
    pub gateways: Result<Vec<Json>, ReadError>,
    /// The gateway Services the export Gateways name, by (namespace, name).
    pub gateway_services: BTreeMap<(String, String), Read<Json>>,
}

/// One member cluster: its label in the provider configuration and its mesh facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub cluster: String,
    pub facts: MeshFacts,
}

/// How certificates are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub now: OffsetDateTime,
    /// A certificate expiring within this window is a problem.
    pub expiry_window: Duration,
}

/// One thing wrong, where, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub cluster: String,
    /// `<Kind> <namespace>/<name>`, or empty for the cluster as a whole.
    pub object: String,
    pub problem: String,
    pub fix: String,
}

/// A certificate as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertView {
    pub fingerprint: String,
    pub subject: String,
    pub not_after: OffsetDateTime,
}

/// A root a member trusts for other parties (`caCertificates` of its mesh config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedRoot {
    pub trust_domains: Vec<String>,
    pub cert: CertView,
}

/// One imported service (a meshfed ServiceEntry to a remote gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub namespace: String,
    pub name: String,
    pub host: String,
    /// The endpoint addresses of the ServiceEntry, sorted.
    pub endpoints: Vec<String>,
    /// The listed cluster that exports the host; `None` when none of them does.
    pub exporter: Option<String>,
    /// The exporting gateway's current addresses, sorted; `None` when not known.
    pub gateway_addresses: Option<Vec<String>>,
    /// Endpoints equal the gateway's addresses; `None` when those are not known.
    pub current: Option<bool>,
}

/// One export (a meshfed export Gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportReport {
    /// `<namespace>/<service>` of the exported service.
    pub service: String,
    /// The Gateway's namespace and name.
    pub gateway: String,
    pub hosts: Vec<String>,
    /// `<namespace>/<name>` of the gateway Service; `None` when the export has fixed addresses.
    pub gateway_service: Option<String>,
    /// Where other clusters reach it: the fixed addresses, or the Service's load-balancer ones.
    pub addresses: Vec<String>,
}

/// One member cluster, as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterReport {
    pub cluster: String,
    pub trust_domain: String,
    /// Every read the report needs was answered (a refused or failed read is a problem).
    pub reachable: bool,
    pub istiod_found: bool,
    /// istiod has `ISTIO_MULTIROOT_MESH=true` and `SHARED_MESH_CONFIG=meshfed-mesh-config`.
    pub multiroot: bool,
    /// A `cacerts` Secret exists.
    pub plugin_ca: bool,
    /// istiod publishes the roots of `cacerts` (it loaded the plug-in CA); `None` without one.
    pub plugin_ca_in_use: Option<bool>,
    /// The cluster's own root(s).
    pub roots: Vec<CertView>,
    /// The intermediate of `cacerts` (`ca-cert.pem`).
    pub intermediate: Option<CertView>,
    pub trusted: Vec<TrustedRoot>,
    /// Other listed clusters whose root is missing from this cluster's bundle.
    pub missing_roots: Vec<String>,
    pub imports: Vec<ImportReport>,
    pub exports: Vec<ExportReport>,
}

/// The whole federation: one report per member, in the order given, and every problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub clusters: Vec<ClusterReport>,
    pub problems: Vec<Problem>,
}

/// One member and what its cluster answered.
pub struct Observation<'a> {
    pub member: &'a Member,
    pub observed: &'a Observed,
}

/// Judges the federation of `members` from what each answered.
///
/// Guarantees: every failed read, missing setting, stale endpoint and certificate within the
/// window is one [`Problem`] naming the cluster and object; an unreachable cluster is one problem
/// and its report says `reachable = false` (the others are still judged, against what is known).
pub fn assess(members: &[Observation<'_>], settings: Settings) -> Report {
    let mut report = Report::default();
    let views: Vec<ca::CaView> = members.iter().map(ca::CaView::of).collect();
    for (i, o) in members.iter().enumerate() {
        let mut out = Findings::new(&o.member.cluster);
        let mut c = ClusterReport {
            cluster: o.member.cluster.clone(),
            trust_domain: o.member.facts.trust_domain.clone(),
            ..ClusterReport::default()
        };
        match o.observed {
            Observed::Unreachable(e) => out.failed_read("", e),
            Observed::Read(live) => {
                c.reachable = true;
                let ns = &o.member.facts.istio_namespace;
                ca::istiod(live, ns, &mut c, &mut out);
                ca::plugin_ca(live, &views[i], ns, &mut c, &mut out);
                ca::bundle(live, &views, i, members, ns, &mut c, &mut out);
                ca::expiry(&views, i, members, ns, settings, &mut c, &mut out);
                services::imports(live, members, i, &mut c, &mut out);
                services::exports(live, &mut c, &mut out);
                c.reachable = !out.any_failed_read;
            }
        }
        report.clusters.push(c);
        report.problems.extend(out.problems);
    }
    report
}

/// The problems found in one cluster.
struct Findings {
    cluster: String,
    problems: Vec<Problem>,
    any_failed_read: bool,
}

impl Findings {
    fn new(cluster: &str) -> Findings {
        Findings {
            cluster: cluster.to_string(),
            problems: Vec::new(),
            any_failed_read: false,
        }
    }

    fn push(&mut self, object: impl Into<String>, problem: String, fix: String) {
        self.problems.push(Problem {
            cluster: self.cluster.clone(),
            object: object.into(),
            problem,
            fix,
        });
    }

    /// A read that failed: the cause, and the fix for that kind of failure.
    fn failed_read(&mut self, object: &str, e: &ReadError) {
        self.any_failed_read = true;
        let c = &self.cluster;
        let fix = match e.kind {
            ReadErrorKind::Unreachable => format!(
                "Check that the API server of {c} is up and reachable from where Terraform runs, and its cluster block in the provider configuration (host or kubeconfig/context, CA, proxy)."
            ),
            ReadErrorKind::Unauthenticated => format!(
                "Renew the credentials of {c} in the provider configuration (token, client certificate or exec plugin)."
            ),
            ReadErrorKind::Denied => format!(
                "Grant meshfed's identity the read-only permissions of examples/rbac/status.yaml in {c} (docs/guides/rbac.md, meshfed_federation_status)."
            ),
            ReadErrorKind::Other => {
                "Look at the cause above; the status is read again at the next plan.".to_string()
            }
        };
        let what = if object.is_empty() {
            format!("{c} cannot be read")
        } else {
            format!("{object} cannot be read")
        };
        self.push(object, format!("{what}: {}", e.cause), fix);
    }
}

/// `<Kind> <namespace>/<name>`.
fn object(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind} {namespace}/{name}")
}
