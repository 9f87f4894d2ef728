//! The Terraform state of a `meshfed_trust`, and what it remembers between runs.
//!
//! Private keys never enter it: the private data ([`Private`]) keeps each generated member's
//! certificates and the `sha256:` display of its key, and the state shows every Secret value as
//! such a digest. While a member's CA is not known (it is regenerated, or adopted from a cluster
//! not read yet), its root and everything rendered from it are unknown in the plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::ca::{KeyShown, Planned};
use super::input::{CaInput, TrustInput};
use crate::cert;
use crate::cert::encoding::pem_text;
use crate::k8s::ObjectRef;
use crate::mesh::trust::{self as tr, BundleMode, Member, MemberCa, TrustSpec};
use crate::resources::objects::{Manifests, ObjectKey};
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::value::Value;

/// What the resource remembers about each generated member between runs (no key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub root_cert_pem: String,
    pub ca_cert_pem: String,
    pub cert_chain_pem: String,
    /// `sha256:<hex>` of the key's PEM text, as the Secret's display shows it.
    pub key_display: String,
    pub key_algorithm: String,
}

/// The resource's private data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// By cluster: generated members whose material is in place.
    #[serde(default)]
    pub generated: BTreeMap<String, Remembered>,
    /// By cluster: adopted roots (source `cluster`).
    #[serde(default)]
    pub adopted: BTreeMap<String, String>,
}

impl Private {
    pub fn from_bytes(b: &[u8]) -> Private {
        serde_json::from_slice(b).unwrap_or_default()
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Where a member's `cacerts` Secret lives.
pub fn cacerts_key(cluster: &str, istio_namespace: &str) -> ObjectKey {
    let secret = ObjectRef::namespaced("v1", "Secret", istio_namespace, tr::CACERTS_SECRET);
    ObjectKey::new(cluster, secret)
}

/// Stands for a root not known until apply while the plan renders the other objects.
const PLACEHOLDER: &str =
    "-----BEGIN CERTIFICATE-----\nknown after apply\n-----END CERTIFICATE-----\n";

/// The trust spec with placeholders for unknown CAs, and the trust domains that are unknown.
fn spec_with(p: &TrustInput, cas: &BTreeMap<String, Planned>) -> (TrustSpec, BTreeSet<String>) {
    let mut unknown = BTreeSet::new();
    let members = p
        .members
        .iter()
        .map(|m| {
            let ca = match &cas[&m.cluster] {
                Planned::Known(ca, _) => ca.clone(),
                Planned::Unknown => {
                    unknown.insert(m.trust_domain.clone());
                    MemberCa::Cluster {
                        root_cert_pem: PLACEHOLDER.into(),
                    }
                }
            };
            Member {
                cluster: m.cluster.clone(),
                trust_domain: m.trust_domain.clone(),
                istio_namespace: m.istio_namespace.clone(),
                ca,
            }
        })
        .collect();
    let spec = TrustSpec {
        members,
        peers: p.peers.clone(),
        bundle: p.bundle,
    };
    (spec, unknown)
}

/// The planned manifests: every key known; a value `None` (unknown) when it depends on an
/// unknown root.
pub fn planned_manifests(
    p: &TrustInput,
    cas: &BTreeMap<String, Planned>,
) -> Result<BTreeMap<ObjectKey, Option<String>>, Diagnostic> {
    let (spec, unknown) = spec_with(p, cas);
    let rendered =
        tr::render(&spec).map_err(|e| Diagnostic::from_error("Invalid trust configuration", &e))?;
    let mut out = BTreeMap::new();
    for m in &p.members {
        let own_unknown = unknown.contains(&m.trust_domain);
        let others_unknown = unknown.iter().any(|td| *td != m.trust_domain);
        if matches!(m.ca, CaInput::Generate { .. } | CaInput::Provided(_)) {
            let key = cacerts_key(&m.cluster, &m.istio_namespace);
            let depends = own_unknown || (p.bundle == BundleMode::Cacerts && others_unknown);
            let key_unknown = matches!(
                cas.get(&m.cluster),
                Some(Planned::Known(_, KeyShown::Unknown))
            );
            let shown = rendered
                .iter()
                .find(|r| ObjectKey::of(&r.cluster, &r.manifest) == key)
                .filter(|_| !depends && !key_unknown)
                .map(|r| secret_display(r, cas.get(&m.cluster)));
            out.insert(key, shown);
        }
        for r in rendered
            .iter()
            .filter(|r| r.cluster == m.cluster && r.manifest.kind == "ConfigMap")
        {
            let depends = match r.manifest.name.strip_suffix("-ca-root-cert") {
                Some(td) => unknown.contains(td),
                None => others_unknown,
            };
            let key = ObjectKey::of(&r.cluster, &r.manifest);
            out.insert(key, (!depends).then(|| r.manifest.to_yaml()));
        }
    }
    Ok(out)
}

/// The Secret's display, with the remembered key fingerprint where the key is in the cluster.
fn secret_display(r: &tr::Rendered, planned: Option<&Planned>) -> String {
    let mut m = r.manifest.clone();
    if let Some(Planned::Known(_, KeyShown::Display(key_display))) = planned {
        m.object["data"]["ca-key.pem"] = Json::String(key_display.clone());
    }
    m.to_yaml()
}

/// `root_certificates` and `fingerprints`: every party's root by trust domain, unknown where
/// the member's CA is.
pub fn roots_value(p: &TrustInput, cas: &BTreeMap<String, Planned>) -> (Value, Value) {
    let mut roots = BTreeMap::new();
    let mut prints = BTreeMap::new();
    let mut put = |td: &str, root: Option<&str>| {
        let (r, f) = match root {
            Some(pem) => (
                Value::string(pem_text(pem)),
                Value::string(cert::fingerprint_sha256(pem.as_bytes())),
            ),
            None => (Value::unknown(), Value::unknown()),
        };
        roots.insert(td.to_string(), r);
        prints.insert(td.to_string(), f);
    };
    for m in &p.members {
        match &cas[&m.cluster] {
            Planned::Known(ca, _) => put(&m.trust_domain, Some(ca.root_cert_pem())),
            Planned::Unknown => put(&m.trust_domain, None),
        }
    }
    for peer in &p.peers {
        put(&peer.trust_domain, Some(&peer.root_cert_pem));
    }
    (Value::Map(roots), Value::Map(prints))
}

/// The state: the configuration as given, plus the computed attributes.
pub fn state(config: &Value, p: &TrustInput, roots: (Value, Value), manifests: Value) -> Value {
    let mut m = config.entries().cloned().unwrap_or_default();
    let clusters: Vec<&str> = p.members.iter().map(|m| m.cluster.as_str()).collect();
    m.insert("id".into(), Value::string(clusters.join(",")));
    m.insert("bundle".into(), Value::string(p.bundle.as_str()));
    m.insert("root_certificates".into(), roots.0);
    m.insert("fingerprints".into(), roots.1);
    m.insert("manifests".into(), manifests);
    Value::Object(m)
}

/// A map value without its unknown entries (a state after apply holds no unknowns).
pub fn strip_unknown(v: Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(m.into_iter().filter(|(_, v)| !v.is_unknown()).collect()),
        other => other,
    }
}

/// What to remember after an apply (generated CAs whose Secret was written, adopted roots), and
/// each member's CA as known now.
pub fn remember(
    p: &TrustInput,
    cas: &BTreeMap<String, MemberCa>,
    in_place: &Manifests,
) -> (Private, BTreeMap<String, Planned>) {
    let mut remembered = Private::default();
    let mut known = BTreeMap::new();
    for m in &p.members {
        let ca = &cas[&m.cluster];
        let secret_in_place = in_place.contains_key(&cacerts_key(&m.cluster, &m.istio_namespace));
        let planned = match (ca, &m.ca) {
            (MemberCa::Generated(g), CaInput::Generate { algorithm, .. }) if secret_in_place => {
                let key_display =
                    cert::encoding::sha256_display(pem_text(&g.intermediate_key_pem).as_bytes());
                let r = Remembered {
                    root_cert_pem: g.root_cert_pem.clone(),
                    ca_cert_pem: g.intermediate_cert_pem.clone(),
                    cert_chain_pem: g.cert_chain_pem.clone(),
                    key_display,
                    key_algorithm: algorithm.as_str().to_string(),
                };
                remembered.generated.insert(m.cluster.clone(), r);
                Planned::Known(ca.clone(), KeyShown::Rendered)
            }
            (MemberCa::Generated(_), _) => Planned::Unknown,
            (MemberCa::Cluster { root_cert_pem }, _) => {
                let root = root_cert_pem.clone();
                remembered.adopted.insert(m.cluster.clone(), root);
                Planned::Known(ca.clone(), KeyShown::Rendered)
            }
            (MemberCa::Provided(_), _) => Planned::Known(ca.clone(), KeyShown::Rendered),
        };
        known.insert(m.cluster.clone(), planned);
    }
    (remembered, known)
}
