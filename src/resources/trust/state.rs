//! The Terraform state of a `meshfed_trust`, and what it remembers between runs.
//!
//! Private keys never enter it: the private data ([`Private`]) keeps each generated member's
//! certificates and the `sha256:` display of its key, and the state shows every Secret value as
//! such a digest. While a member's CA is not known (it is regenerated, or adopted from a cluster
//! not read yet), its root and everything rendered from it are unknown in the plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::ca::{KeyShown, MemberPlan, NextPlan, Planned, ResolvedMember};
use super::input::{CaInput, TrustInput};
use super::rotation::InProgress;
use crate::cert::encoding::pem_text;
use crate::cert::{self, CaMaterial};
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
    /// `ca.generation` of a generated CA (1 for states from before rotation existed).
    #[serde(default = "first_generation")]
    pub generation: u64,
}

fn first_generation() -> u64 {
    1
}

impl Remembered {
    /// The material as plans show it: the key stays in the cluster.
    pub fn in_cluster(&self) -> CaMaterial {
        self.with_key("(in the cluster)".into())
    }

    /// The material with its key, read back from the cluster.
    pub fn with_key(&self, key: String) -> CaMaterial {
        CaMaterial {
            root_cert_pem: self.root_cert_pem.clone(),
            intermediate_cert_pem: self.ca_cert_pem.clone(),
            intermediate_key_pem: key,
            cert_chain_pem: self.cert_chain_pem.clone(),
        }
    }

    /// What to remember of `material` (its key only as a digest).
    pub fn of(material: &CaMaterial, key_algorithm: &str, generation: u64) -> Remembered {
        Remembered {
            root_cert_pem: material.root_cert_pem.clone(),
            ca_cert_pem: material.intermediate_cert_pem.clone(),
            cert_chain_pem: material.cert_chain_pem.clone(),
            key_display: cert::encoding::sha256_display(
                pem_text(&material.intermediate_key_pem).as_bytes(),
            ),
            key_algorithm: key_algorithm.to_string(),
            generation,
        }
    }
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
    /// By cluster: the provided CA last written to `cacerts` (a rotation keeps signing with it
    /// through `overlap`).
    #[serde(default)]
    pub provided: BTreeMap<String, Remembered>,
    /// By cluster: rotations in progress.
    #[serde(default)]
    pub rotations: BTreeMap<String, InProgress>,
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

/// Where a member's staged next CA lives during a rotation's `overlap`.
pub fn next_key(cluster: &str, istio_namespace: &str) -> ObjectKey {
    let secret = ObjectRef::namespaced("v1", "Secret", istio_namespace, tr::NEXT_CA_SECRET);
    ObjectKey::new(cluster, secret)
}

/// Stands for a root not known until apply while the plan renders the other objects.
const PLACEHOLDER: &str =
    "-----BEGIN CERTIFICATE-----\nknown after apply\n-----END CERTIFICATE-----\n";

/// The material that stands for a CA not known until apply.
fn placeholder_material() -> CaMaterial {
    CaMaterial {
        root_cert_pem: PLACEHOLDER.into(),
        intermediate_cert_pem: PLACEHOLDER.into(),
        intermediate_key_pem: "(known after apply)".into(),
        cert_chain_pem: PLACEHOLDER.into(),
    }
}

/// The trust spec with placeholders for unknown CAs, and the trust domains whose roots are not
/// all known.
fn spec_with(
    p: &TrustInput,
    plans: &BTreeMap<String, MemberPlan>,
) -> (TrustSpec, BTreeSet<String>) {
    let mut unknown = BTreeSet::new();
    let members = p
        .members
        .iter()
        .map(|m| {
            let plan = &plans[&m.cluster];
            let ca = match &plan.ca {
                Planned::Known(ca, _) => ca.clone(),
                Planned::Unknown => MemberCa::Cluster {
                    root_cert_pem: PLACEHOLDER.into(),
                },
            };
            let mut extra_roots = plan.extra_roots.clone();
            if plan.extra_unknown {
                extra_roots.push(PLACEHOLDER.into());
            }
            if plan.roots_unknown() {
                unknown.insert(m.trust_domain.clone());
            }
            let next = match &plan.next {
                NextPlan::None => None,
                NextPlan::Known(r) => Some(r.in_cluster()),
                NextPlan::Unknown => Some(placeholder_material()),
            };
            Member {
                cluster: m.cluster.clone(),
                trust_domain: m.trust_domain.clone(),
                istio_namespace: m.istio_namespace.clone(),
                ca,
                extra_roots,
                next,
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
/// unknown root or key.
pub fn planned_manifests(
    p: &TrustInput,
    plans: &BTreeMap<String, MemberPlan>,
) -> Result<BTreeMap<ObjectKey, Option<String>>, Diagnostic> {
    let (spec, unknown) = spec_with(p, plans);
    let rendered =
        tr::render(&spec).map_err(|e| Diagnostic::from_error("Invalid trust configuration", &e))?;
    let find = |key: &ObjectKey| {
        rendered
            .iter()
            .find(|r| ObjectKey::of(&r.cluster, &r.manifest) == *key)
    };
    let mut out = BTreeMap::new();
    for m in &p.members {
        let plan = &plans[&m.cluster];
        let own_unknown = unknown.contains(&m.trust_domain);
        let others_unknown = unknown.iter().any(|td| *td != m.trust_domain);
        if matches!(m.ca, CaInput::Generate { .. } | CaInput::Provided(_)) {
            let key = cacerts_key(&m.cluster, &m.istio_namespace);
            let depends = own_unknown || (p.bundle == BundleMode::Cacerts && others_unknown);
            let key_unknown = matches!(plan.ca, Planned::Known(_, KeyShown::Unknown));
            let shown = find(&key)
                .filter(|_| !depends && !key_unknown)
                .map(|r| with_key_display(r, plan.ca.key_display()));
            out.insert(key, shown);
        }
        if !matches!(plan.next, NextPlan::None) {
            let key = next_key(&m.cluster, &m.istio_namespace);
            let shown = match &plan.next {
                NextPlan::Known(r) => find(&key).map(|x| with_key_display(x, Some(&r.key_display))),
                _ => None,
            };
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

/// A Secret's display, with the remembered key digest where the key stays in the cluster.
fn with_key_display(r: &tr::Rendered, key_display: Option<&String>) -> String {
    let mut m = r.manifest.clone();
    if let Some(d) = key_display {
        m.object["data"]["ca-key.pem"] = Json::String(d.clone());
    }
    m.to_yaml()
}

/// `root_certificates` and `fingerprints`: every party's roots by trust domain (several during
/// a rotation, signing root first; fingerprints then comma-separated), unknown where a root is.
pub fn roots_value(p: &TrustInput, plans: &BTreeMap<String, MemberPlan>) -> (Value, Value) {
    let mut roots = BTreeMap::new();
    let mut prints = BTreeMap::new();
    let mut put = |td: &str, all: Option<Vec<String>>| {
        let (r, f) = match all {
            Some(all) => {
                let fps: Vec<String> = all
                    .iter()
                    .map(|pem| cert::fingerprint_sha256(pem.as_bytes()))
                    .collect();
                (Value::string(all.concat()), Value::string(fps.join(",")))
            }
            None => (Value::unknown(), Value::unknown()),
        };
        roots.insert(td.to_string(), r);
        prints.insert(td.to_string(), f);
    };
    for m in &p.members {
        let plan = &plans[&m.cluster];
        put(&m.trust_domain, plan.roots());
    }
    for peer in &p.peers {
        put(&peer.trust_domain, Some(peer.roots()));
    }
    (Value::Map(roots), Value::Map(prints))
}

/// The state: the configuration as given, plus the computed attributes.
pub fn state(
    config: &Value,
    p: &TrustInput,
    roots: (Value, Value),
    not_after: Value,
    manifests: Value,
) -> Value {
    let mut m = config.entries().cloned().unwrap_or_default();
    let clusters: Vec<&str> = p.members.iter().map(|m| m.cluster.as_str()).collect();
    m.insert("id".into(), Value::string(clusters.join(",")));
    m.insert("bundle".into(), Value::string(p.bundle.as_str()));
    m.insert("root_certificates".into(), roots.0);
    m.insert("fingerprints".into(), roots.1);
    m.insert("not_after".into(), not_after);
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

/// What to remember after an apply (the CA in each member's `cacerts` where that Secret was
/// written, adopted roots, rotations in progress), and each member as known now. A member whose
/// `cacerts` was not written keeps what was remembered before, so an interrupted rotation goes
/// on from where it was.
pub fn remember(
    p: &TrustInput,
    resolved: &BTreeMap<String, ResolvedMember>,
    prior: &Private,
    in_place: &Manifests,
) -> (Private, BTreeMap<String, MemberPlan>) {
    let mut out = Private::default();
    let mut known = BTreeMap::new();
    for m in &p.members {
        let r = &resolved[&m.cluster];
        let writes_secret = r.ca.signing().is_some();
        let secret_in_place = in_place.contains_key(&cacerts_key(&m.cluster, &m.istio_namespace));
        if writes_secret && !secret_in_place {
            keep_prior(&mut out, prior, &m.cluster);
            known.insert(m.cluster.clone(), MemberPlan::unknown());
            continue;
        }
        let c = m.cluster.clone();
        match (&r.ca, &m.ca) {
            (MemberCa::Generated(g), CaInput::Generate { .. }) => {
                let kept = Remembered::of(g, &r.algorithm, r.generation);
                out.generated.insert(c.clone(), kept);
            }
            (MemberCa::Generated(g), _) => {
                out.provided.insert(c.clone(), Remembered::of(g, "", 0));
            }
            (MemberCa::Provided(checked), _) => {
                let material = CaMaterial {
                    root_cert_pem: checked.root_cert_pem().to_string(),
                    intermediate_cert_pem: checked.cert_pem().to_string(),
                    intermediate_key_pem: checked.key_pem().to_string(),
                    cert_chain_pem: checked.cert_chain_pem().to_string(),
                };
                out.provided
                    .insert(c.clone(), Remembered::of(&material, "", 0));
            }
            (MemberCa::Cluster { root_cert_pem }, _) => {
                out.adopted.insert(c.clone(), root_cert_pem.clone());
            }
        }
        if let Some(progress) = &r.progress {
            out.rotations.insert(c.clone(), progress.clone());
        }
        known.insert(c, MemberPlan::known(r));
    }
    (out, known)
}

/// Copies what `prior` remembers of `cluster` into `out`.
fn keep_prior(out: &mut Private, prior: &Private, cluster: &str) {
    let c = cluster.to_string();
    if let Some(r) = prior.generated.get(cluster) {
        out.generated.insert(c.clone(), r.clone());
    }
    if let Some(r) = prior.provided.get(cluster) {
        out.provided.insert(c.clone(), r.clone());
    }
    if let Some(r) = prior.rotations.get(cluster) {
        out.rotations.insert(c, r.clone());
    }
}
