//! Trust checks of one member: istiod reads meshfed's bundle (multi-root settings), istiod signs
//! with the plug-in CA in `cacerts` (the roots it publishes in `istio-ca-root-cert` are those of
//! `cacerts`, compared as sets: during a rotation both hold two), every other listed member's
//! root is in the member's mesh config under that member's trust domain, and no certificate is
//! expired or near expiry.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::{
    CertView, ClusterReport, Findings, Live, Observation, Observed, Settings, TrustedRoot, object,
};
use crate::cert::inspect::{CertSummary, rfc3339, summarize_bundle};
use crate::mesh::trust::{
    CACERTS_SECRET, ISTIO_ROOT_CONFIGMAP, MESH_CONFIG_CONFIGMAP, MESH_CONFIG_KEY, ROOT_CERT_KEY,
    istiod_env as container_env, required_env,
};

/// The certificates of one member, parsed once for every check that needs them.
pub(super) struct CaView {
    /// `cacerts` `root-cert.pem`; `None` without a readable `cacerts`.
    cacerts_roots: Option<Result<Vec<CertSummary>, String>>,
    /// `cacerts` `ca-cert.pem`.
    intermediate: Option<Result<CertSummary, String>>,
    /// `istio-ca-root-cert` `root-cert.pem`.
    published: Option<Result<Vec<CertSummary>, String>>,
    /// `caCertificates` of the mesh config, one entry per certificate; `None` without one.
    trusted: Option<Result<Vec<TrustedRoot>, String>>,
}

impl CaView {
    pub fn of(o: &Observation<'_>) -> CaView {
        let Observed::Read(live) = o.observed else {
            return CaView {
                cacerts_roots: None,
                intermediate: None,
                published: None,
                trusted: None,
            };
        };
        let cacerts = live.cacerts.as_ref().ok().and_then(Option::as_ref);
        let cacerts_roots = cacerts.map(|c| match &c.root_cert_pem {
            Some(pem) => summarize_bundle(pem),
            None => Err(format!("it has no {ROOT_CERT_KEY}")),
        });
        let intermediate = cacerts.and_then(|c| c.ca_cert_pem.as_deref()).map(|pem| {
            let first = summarize_bundle(pem)?.into_iter().next();
            first.ok_or_else(|| "no certificate".to_string())
        });
        let published =
            readable(&live.istio_root).map(|cm| match cm["data"][ROOT_CERT_KEY].as_str() {
                Some(pem) => summarize_bundle(pem),
                None => Err(format!("it has no {ROOT_CERT_KEY}")),
            });
        let trusted = readable(&live.mesh_config).map(trusted_roots);
        CaView {
            cacerts_roots,
            intermediate,
            published,
            trusted,
        }
    }

    /// The trusted roots, when the mesh config was read and parsed.
    fn trusted(&self) -> &[TrustedRoot] {
        match &self.trusted {
            Some(Ok(t)) => t,
            _ => &[],
        }
    }

    /// The member's own roots: those of `cacerts` (or, without one, of `istio-ca-root-cert`)
    /// that its mesh config does not bind to another party (in `cacerts` bundle mode
    /// `root-cert.pem` holds every party's root). Empty when not known.
    pub fn own_roots(&self) -> Vec<CertSummary> {
        let base = match (&self.cacerts_roots, &self.published) {
            (Some(Ok(roots)), _) | (None, Some(Ok(roots))) => roots,
            _ => return Vec::new(),
        };
        let others: BTreeSet<&str> = self
            .trusted()
            .iter()
            .map(|t| t.cert.fingerprint.as_str())
            .collect();
        let own: Vec<CertSummary> = base
            .iter()
            .filter(|r| !others.contains(r.fingerprint.as_str()))
            .cloned()
            .collect();
        if own.is_empty() {
            base.iter().take(1).cloned().collect()
        } else {
            own
        }
    }
}

fn readable(read: &super::Read<Json>) -> Option<&Json> {
    read.as_ref().ok().and_then(Option::as_ref)
}

/// The `caCertificates` of a mesh config ConfigMap.
fn trusted_roots(cm: &Json) -> Result<Vec<TrustedRoot>, String> {
    let text = cm["data"][MESH_CONFIG_KEY]
        .as_str()
        .ok_or_else(|| format!("it has no key {MESH_CONFIG_KEY:?}"))?;
    let mesh: Json = serde_saphyr::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut out = Vec::new();
    for entry in mesh["caCertificates"].as_array().into_iter().flatten() {
        let pem = entry["pem"].as_str().unwrap_or_default();
        let domains = super::super::json_strings(&entry["trustDomains"]);
        let certs = summarize_bundle(pem).map_err(|e| format!("a caCertificates pem: {e}"))?;
        out.extend(certs.into_iter().map(|c| TrustedRoot {
            trust_domains: domains.clone(),
            cert: view(&c),
        }));
    }
    Ok(out)
}

pub(super) fn view(c: &CertSummary) -> CertView {
    CertView {
        fingerprint: c.fingerprint.clone(),
        subject: c.subject.clone(),
        not_after: c.not_after,
    }
}

/// istiod's Deployment and its multi-root settings.
pub(super) fn istiod(live: &Live, ns: &str, c: &mut ClusterReport, out: &mut Findings) {
    let what = object("Deployment", ns, "istiod");
    let flags = required_env()
        .map(|(k, v)| format!("--set values.pilot.env.{k}={v}"))
        .join(" ");
    let deployment = match &live.istiod {
        Err(e) => return out.failed_read(&what, e),
        Ok(None) => {
            return out.push(
                what,
                format!("istiod was not found: no Deployment istiod in namespace {ns}, so nothing in {} loads meshfed's CA or bundle.", out.cluster),
                format!("Install Istio there with meshfed's settings, e.g. helm install istiod istio/istiod -n {ns} {flags}. (An istiod of a revision, e.g. istiod-1-31, is not looked at: check its settings by hand.)"),
            );
        }
        Ok(Some(d)) => d,
    };
    c.istiod_found = true;
    let env = container_env(deployment);
    let missing: Vec<String> = required_env()
        .into_iter()
        .filter(|(k, v)| !env.iter().any(|(ek, ev)| ek == k && ev == v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    c.multiroot = missing.is_empty();
    if !missing.is_empty() {
        let set = required_env().map(|(k, v)| format!("{k}={v}")).join(" ");
        out.push(
            what,
            format!("istiod lacks {}, so it ignores the other parties' roots in {MESH_CONFIG_CONFIGMAP}: calls from other clusters fail mutual TLS.", missing.join(" and ")),
            format!("Upgrade Istio with helm upgrade istiod istio/istiod -n {ns} --reuse-values {flags} (or istioctl with the same values), or kubectl -n {ns} set env deployment/istiod {set} (which restarts istiod)."),
        );
    }
}

/// Whether istiod signs with the plug-in CA: the roots it publishes are those of `cacerts`
/// (plus, where istiod publishes the merged bundle, only roots the mesh config trusts).
pub(super) fn plugin_ca(
    live: &Live,
    v: &CaView,
    ns: &str,
    c: &mut ClusterReport,
    out: &mut Findings,
) {
    let secret = object("Secret", ns, CACERTS_SECRET);
    let published_cm = object("ConfigMap", ns, ISTIO_ROOT_CONFIGMAP);
    match &live.cacerts {
        Err(e) => out.failed_read(&secret, e),
        Ok(found) => c.plugin_ca = found.is_some(),
    }
    if let Err(e) = &live.istio_root {
        return out.failed_read(&published_cm, e);
    }
    let restart = format!("kubectl -n {ns} rollout restart deployment/istiod");
    let published = match &v.published {
        None => {
            return out.push(
                published_cm,
                format!("istiod has published no root (ConfigMap {ISTIO_ROOT_CONFIGMAP} is missing): it is not running, or has not started its CA."),
                format!("Check istiod: kubectl -n {ns} get pods -l app=istiod, and its logs; then {restart}."),
            );
        }
        Some(Err(e)) => {
            return out.push(
                published_cm,
                format!("The root istiod published cannot be read: {e}."),
                format!("{restart}; istiod writes it again."),
            );
        }
        Some(Ok(p)) => p,
    };
    if let Some(roots) = &v.cacerts_roots {
        let roots = match roots {
            Ok(r) => r,
            Err(e) => {
                c.plugin_ca_in_use = Some(false);
                return out.push(secret, format!("The root-cert.pem of the plug-in CA cannot be read: {e}."), "Apply the meshfed_trust that manages this member again (or fix the Secret if you manage it yourself), then restart istiod.".into());
            }
        };
        let plugged = fingerprints(roots);
        let shown = fingerprints(published);
        let trusted: BTreeSet<String> = v
            .trusted()
            .iter()
            .map(|t| t.cert.fingerprint.clone())
            .collect();
        let in_use =
            plugged.is_subset(&shown) && shown.difference(&plugged).all(|f| trusted.contains(f));
        c.plugin_ca_in_use = Some(in_use);
        if !in_use {
            out.push(
                secret,
                format!("istiod does not sign with the plug-in CA in {CACERTS_SECRET}: it publishes root(s) {} in {ISTIO_ROOT_CONFIGMAP}, while {CACERTS_SECRET} holds {}. istiod reads {CACERTS_SECRET} only when it starts, so workloads still get certificates of the old CA.", short_list(&shown), short_list(&plugged)),
                format!("{restart}, then restart the workloads so they get certificates of the new CA (kubectl -n <namespace> rollout restart deployment)."),
            );
        }
    }
}

fn fingerprints(certs: &[CertSummary]) -> BTreeSet<String> {
    certs.iter().map(|c| c.fingerprint.clone()).collect()
}

/// Fingerprints shortened to 16 hex digits, comma-separated.
fn short_list(f: &BTreeSet<String>) -> String {
    let short: Vec<String> = f.iter().map(|s| short(s)).collect();
    short.join(", ")
}

pub(super) fn short(fingerprint: &str) -> String {
    fingerprint.chars().take(16).collect()
}

/// Every other listed member's own roots are in this member's mesh config, under that member's
/// trust domain.
pub(super) fn bundle(
    live: &Live,
    views: &[CaView],
    me: usize,
    members: &[Observation<'_>],
    ns: &str,
    c: &mut ClusterReport,
    out: &mut Findings,
) {
    let what = object("ConfigMap", ns, MESH_CONFIG_CONFIGMAP);
    let apply = "Apply the meshfed_trust whose members are these clusters again: terraform apply restores meshfed-mesh-config (a cluster that is no member of it: add member { cluster = \"<name>\" }).";
    let trusted = match (&live.mesh_config, &views[me].trusted) {
        (Err(e), _) => return out.failed_read(&what, e),
        (Ok(_), Some(Ok(t))) => t.clone(),
        (Ok(_), Some(Err(e))) => {
            return out.push(
                what,
                format!("meshfed's mesh config cannot be read: {e}."),
                apply.to_string(),
            );
        }
        (Ok(_), None) => Vec::new(),
    };
    c.trusted = trusted.clone();
    for (j, other) in members.iter().enumerate() {
        if j == me || other.member.facts.trust_domain == members[me].member.facts.trust_domain {
            continue;
        }
        let td = &other.member.facts.trust_domain;
        let roots = views[j].own_roots();
        let absent: Vec<&CertSummary> = roots
            .iter()
            .filter(|r| {
                !trusted
                    .iter()
                    .any(|t| t.cert.fingerprint == r.fingerprint && t.trust_domains.contains(td))
            })
            .collect();
        if absent.is_empty() {
            continue;
        }
        c.missing_roots.push(other.member.cluster.clone());
        let fps: BTreeSet<String> = absent.iter().map(|r| r.fingerprint.clone()).collect();
        let where_ = if live.mesh_config.as_ref().is_ok_and(Option::is_none) {
            format!("{MESH_CONFIG_CONFIGMAP} does not exist")
        } else {
            format!("{MESH_CONFIG_CONFIGMAP} does not list it for trust domain {td}")
        };
        out.push(
            what.clone(),
            format!("The root of {} ({}) is not in {}'s trust bundle: {where_}, so workloads of {} refuse certificates of {td}.", other.member.cluster, short_list(&fps), c.cluster, c.cluster),
            apply.to_string(),
        );
    }
}

/// Own roots, the intermediate, and the roots trusted for external peers: expired or within the
/// window.
pub(super) fn expiry(
    views: &[CaView],
    me: usize,
    members: &[Observation<'_>],
    ns: &str,
    s: Settings,
    c: &mut ClusterReport,
    out: &mut Findings,
) {
    let v = &views[me];
    let cluster = c.cluster.clone();
    let rotate = format!(
        "Rotate the CA of {cluster} before then with meshfed_trust (docs/guides/rotation.md): its new root is first trusted everywhere, then used by istiod, then the old root retired; restart the workloads after the switch."
    );
    let own_from = if v.cacerts_roots.is_some() {
        object("Secret", ns, CACERTS_SECRET)
    } else {
        object("ConfigMap", ns, ISTIO_ROOT_CONFIGMAP)
    };
    c.roots = v.own_roots().iter().map(view).collect();
    for r in c.roots.clone() {
        if let Some(when) = due(&r, s) {
            out.push(
                own_from.clone(),
                format!(
                    "The root CA of {cluster} ({}, {}) {when}.",
                    r.subject,
                    short(&r.fingerprint)
                ),
                rotate.clone(),
            );
        }
    }
    match &v.intermediate {
        Some(Ok(i)) => {
            let i = view(i);
            if let Some(when) = due(&i, s) {
                out.push(
                    object("Secret", ns, CACERTS_SECRET),
                    format!(
                        "The intermediate CA istiod signs with in {cluster} ({}) {when}.",
                        i.subject
                    ),
                    rotate.clone(),
                );
            }
            c.intermediate = Some(i);
        }
        Some(Err(e)) => out.push(
            object("Secret", ns, CACERTS_SECRET),
            format!("The ca-cert.pem of the plug-in CA cannot be read: {e}."),
            "Apply the meshfed_trust that manages this member again, then restart istiod.".into(),
        ),
        None => {}
    }
    peer_expiry(members, ns, s, c, out);
}

/// The roots a member trusts for parties that are no listed member (external peers): expired or
/// within the window. A listed member's root is reported in that member.
fn peer_expiry(
    members: &[Observation<'_>],
    ns: &str,
    s: Settings,
    c: &ClusterReport,
    out: &mut Findings,
) {
    let members_td: BTreeSet<&str> = members
        .iter()
        .map(|o| o.member.facts.trust_domain.as_str())
        .collect();
    for t in &c.trusted {
        if t.trust_domains
            .iter()
            .any(|d| members_td.contains(d.as_str()))
        {
            continue;
        }
        if let Some(when) = due(&t.cert, s) {
            out.push(
                object("ConfigMap", ns, MESH_CONFIG_CONFIGMAP),
                format!("The root {} trusts for {} ({}) {when}.", c.cluster, t.trust_domains.join(", "), short(&t.cert.fingerprint)),
                "Ask that party for its new root and add it next to the old one in meshfed_trust (peer), then remove the old one once the party uses the new root.".into(),
            );
        }
    }
}

/// "expired on …" or "expires on … (in N days)" when `cert` is expired or within the window.
fn due(cert: &CertView, s: Settings) -> Option<String> {
    let left = cert.not_after - s.now;
    let date = rfc3339(cert.not_after);
    if left <= time::Duration::ZERO {
        Some(format!("expired on {date}"))
    } else if left <= s.expiry_window {
        Some(format!("expires on {date} (in {} days)", left.whole_days()))
    } else {
        None
    }
}
