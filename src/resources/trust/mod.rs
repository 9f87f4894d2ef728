//! Resource `meshfed_trust`: each member cluster gets its own CA (generated, provided, or the
//! cluster's own) and trusts every other party's root, in its `cacerts` Secret (bundle mode
//! `cacerts`), per-party root ConfigMaps and the shared mesh config.
//!
//! Private keys never enter Terraform state or plan output. A generated key lives only in the
//! member's `cacerts` Secret; the resource's private data keeps the member's certificates and the
//! key's fingerprint, and apply reads the key back from the Secret when it must rewrite it. When
//! the Secret is gone or changed, the plan says the member's CA will be regenerated (its root
//! becomes "known after apply") and every other member's bundle changes with it.
//! Import ID: the member cluster names, comma-separated.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::Ctx;
use super::objects::{self, Desired};
use super::trust_input::{self, CaInput, Parsed};
use crate::cert::{self, CaMaterial, CaRequest};
use crate::k8s::ObjectRef;
use crate::mesh::Manifest;
use crate::mesh::trust::{self as tr, BundleMode, Member, MemberCa, TrustSpec};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ImportRequest, ImportResponse, ImportedResource, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse,
};
use crate::tfplugin::value::Value;

mod import;

pub use import::import;
pub use trust_input::{TYPE_NAME, schema};

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
    fn from_bytes(b: &[u8]) -> Private {
        serde_json::from_slice(b).unwrap_or_default()
    }
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

const PLACEHOLDER: &str =
    "-----BEGIN CERTIFICATE-----\nknown after apply\n-----END CERTIFICATE-----\n";

fn secret_key(cluster: &str, ns: &str) -> String {
    format!("{cluster}/v1/Secret/{ns}/{}", tr::CACERTS_SECRET)
}

/// Whether a remembered generated CA is still what the cluster's Secret holds, judged from the
/// refreshed manifest of that Secret.
fn intact(r: &Remembered, secret_yaml: Option<&String>) -> bool {
    let Some(yaml) = secret_yaml else {
        return false;
    };
    let Ok(j) = serde_saphyr::from_str::<Json>(yaml) else {
        return false;
    };
    let shown = |k: &str| j["data"][k].as_str().map(str::to_string);
    shown("ca-key.pem").as_deref() == Some(r.key_display.as_str())
        && shown("ca-cert.pem")
            == Some(tr::secret_value_display(
                pem_text(&r.ca_cert_pem).as_bytes(),
            ))
}

fn pem_text(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}

/// What each member's CA is at plan time.
enum Planned {
    Known(MemberCa, Option<String>),
    Unknown,
}

/// Plans every member's CA: reuse, regenerate (unknown), provided, adopted.
fn plan_cas(
    p: &Parsed,
    private: &Private,
    prior: &BTreeMap<String, String>,
) -> BTreeMap<String, Planned> {
    let mut out = BTreeMap::new();
    for m in &p.members {
        let planned = match &m.ca {
            CaInput::Provided(Some(checked)) => {
                Planned::Known(MemberCa::Provided(checked.clone()), None)
            }
            CaInput::Provided(None) => Planned::Unknown,
            CaInput::Cluster => match private.adopted.get(&m.cluster) {
                Some(root) => Planned::Known(
                    MemberCa::Cluster {
                        root_cert_pem: root.clone(),
                    },
                    None,
                ),
                None => Planned::Unknown,
            },
            CaInput::Generate { algorithm, .. } => match private.generated.get(&m.cluster) {
                Some(r)
                    if r.key_algorithm == algorithm.as_str()
                        && intact(r, prior.get(&secret_key(&m.cluster, &m.istio_namespace))) =>
                {
                    let material = CaMaterial {
                        root_cert_pem: r.root_cert_pem.clone(),
                        intermediate_cert_pem: r.ca_cert_pem.clone(),
                        intermediate_key_pem: "(in the cluster)".into(),
                        cert_chain_pem: r.cert_chain_pem.clone(),
                    };
                    Planned::Known(MemberCa::Generated(material), Some(r.key_display.clone()))
                }
                _ => Planned::Unknown,
            },
        };
        out.insert(m.cluster.clone(), planned);
    }
    out
}

/// The trust spec with placeholders for unknown CAs, and the trust domains that are unknown.
fn spec_with(p: &Parsed, cas: &BTreeMap<String, Planned>) -> (TrustSpec, BTreeSet<String>) {
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
    (
        TrustSpec {
            members,
            peers: p.peers.clone(),
            bundle: p.bundle,
        },
        unknown,
    )
}

/// The planned manifests: known keys; a value is unknown when it depends on an unknown root.
fn planned_manifests(
    p: &Parsed,
    cas: &BTreeMap<String, Planned>,
) -> Result<BTreeMap<String, Option<String>>, Diagnostic> {
    let (spec, unknown) = spec_with(p, cas);
    let rendered =
        tr::render(&spec).map_err(|e| Diagnostic::from_error("Invalid trust configuration", &e))?;
    let mut out = BTreeMap::new();
    for m in &p.members {
        let own_unknown = unknown.contains(&m.trust_domain);
        let others_unknown = unknown.iter().any(|td| *td != m.trust_domain);
        if matches!(m.ca, CaInput::Generate { .. } | CaInput::Provided(_)) {
            let key = secret_key(&m.cluster, &m.istio_namespace);
            let depends = own_unknown || (p.bundle == BundleMode::Cacerts && others_unknown);
            let shown = if depends {
                None
            } else {
                rendered
                    .iter()
                    .find(|r| r.key() == key)
                    .map(|r| secret_display(r, cas.get(&m.cluster)))
            };
            out.insert(key, shown);
        }
        for r in rendered
            .iter()
            .filter(|r| r.cluster == m.cluster && r.manifest.kind == "ConfigMap")
        {
            let td = r.manifest.name.strip_suffix("-ca-root-cert");
            let depends = match td {
                Some(td) => unknown.contains(td),
                None => others_unknown,
            };
            out.insert(r.key(), (!depends).then(|| r.manifest.to_yaml()));
        }
    }
    Ok(out)
}

/// The Secret's display, with the remembered key fingerprint where the key is in the cluster.
fn secret_display(r: &tr::Rendered, planned: Option<&Planned>) -> String {
    let mut m = r.manifest.clone();
    if let Some(Planned::Known(_, Some(key_display))) = planned {
        m.object["data"]["ca-key.pem"] = Json::String(key_display.clone());
    }
    m.to_yaml()
}

fn roots_value(p: &Parsed, cas: &BTreeMap<String, Planned>) -> (Value, Value) {
    let mut roots = BTreeMap::new();
    let mut prints = BTreeMap::new();
    for m in &p.members {
        match &cas[&m.cluster] {
            Planned::Known(ca, _) => {
                roots.insert(
                    m.trust_domain.clone(),
                    Value::string(pem_text(ca.root_cert_pem())),
                );
                prints.insert(
                    m.trust_domain.clone(),
                    Value::string(cert::fingerprint_sha256(ca.root_cert_pem().as_bytes())),
                );
            }
            Planned::Unknown => {
                roots.insert(m.trust_domain.clone(), Value::unknown());
                prints.insert(m.trust_domain.clone(), Value::unknown());
            }
        }
    }
    for peer in &p.peers {
        roots.insert(
            peer.trust_domain.clone(),
            Value::string(pem_text(&peer.root_cert_pem)),
        );
        prints.insert(
            peer.trust_domain.clone(),
            Value::string(cert::fingerprint_sha256(peer.root_cert_pem.as_bytes())),
        );
    }
    (Value::Map(roots), Value::Map(prints))
}

fn state(config: &Value, p: &Parsed, roots: Value, prints: Value, manifests: Value) -> Value {
    let mut m = config.entries().cloned().unwrap_or_default();
    m.insert(
        "id".into(),
        Value::string(
            p.members
                .iter()
                .map(|m| m.cluster.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
    );
    m.insert("bundle".into(), Value::string(p.bundle.as_str()));
    m.insert("root_certificates".into(), roots);
    m.insert("fingerprints".into(), prints);
    m.insert("manifests".into(), manifests);
    Value::Object(m)
}

pub fn plan(ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse {
    if req.proposed_new_state.is_null() {
        return PlanResponse {
            planned_state: Value::Null,
            ..PlanResponse::default()
        };
    }
    let mut diags = Diagnostics::new();
    let Some(p) = trust_input::parse(ctx, &req.config, &mut diags) else {
        return PlanResponse {
            planned_state: req.proposed_new_state,
            diagnostics: diags,
            ..PlanResponse::default()
        };
    };
    let private = Private::from_bytes(&req.prior_private);
    let prior = objects::manifests_of(&req.prior_state);
    let cas = plan_cas(&p, &private, &prior);
    let manifests = match planned_manifests(&p, &cas) {
        Ok(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (k, v.map(Value::String).unwrap_or_else(Value::unknown)))
                .collect(),
        ),
        Err(d) => {
            diags.push(d);
            return PlanResponse {
                planned_state: req.proposed_new_state,
                diagnostics: diags,
                ..PlanResponse::default()
            };
        }
    };
    let (roots, prints) = roots_value(&p, &cas);
    let planned_state = state(&req.config, &p, roots, prints, manifests);
    PlanResponse {
        planned_state,
        planned_private: req.prior_private,
        diagnostics: diags,
        ..PlanResponse::default()
    }
}

/// Resolves every member's CA for apply: reuse (key read back from the Secret), generate,
/// provided, or adopt (root read from the cluster).
async fn resolve_cas(
    ctx: &Ctx<'_>,
    p: &Parsed,
    private: &Private,
    prior: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, MemberCa>> {
    let planned = plan_cas(p, private, prior);
    let mut out = BTreeMap::new();
    for m in &p.members {
        let ca = match (&m.ca, &planned[&m.cluster]) {
            (CaInput::Generate { .. }, Planned::Known(MemberCa::Generated(r), _)) => {
                match read_key(ctx, m).await {
                    Ok(Some(key))
                        if tr::secret_value_display(pem_text(&key).as_bytes())
                            == private.generated[&m.cluster].key_display =>
                    {
                        MemberCa::Generated(CaMaterial {
                            intermediate_key_pem: key,
                            ..r.clone()
                        })
                    }
                    Ok(_) => generate(m, diags)?,
                    Err(d) => {
                        diags.push(d);
                        return None;
                    }
                }
            }
            (CaInput::Generate { .. }, _) => generate(m, diags)?,
            (CaInput::Provided(Some(c)), _) => MemberCa::Provided(c.clone()),
            (CaInput::Provided(None), _) => {
                diags.push(Diagnostic::error(
                    "CA material still unknown at apply",
                    format!(
                        "The provided CA of {} is not known during apply.",
                        m.cluster
                    ),
                ));
                return None;
            }
            (CaInput::Cluster, _) => match read_cluster_root(ctx, m).await {
                Ok(root) => MemberCa::Cluster {
                    root_cert_pem: root,
                },
                Err(d) => {
                    diags.push(d);
                    return None;
                }
            },
        };
        out.insert(m.cluster.clone(), ca);
    }
    Some(out)
}

fn generate(m: &trust_input::MemberInput, diags: &mut Diagnostics) -> Option<MemberCa> {
    let CaInput::Generate {
        algorithm,
        root_validity,
        intermediate_validity,
    } = &m.ca
    else {
        return None;
    };
    let mut req = CaRequest::new(&m.trust_domain, cert::now());
    req.istio_namespace = m.istio_namespace.clone();
    req.key_algorithm = *algorithm;
    if let Some(v) = root_validity {
        req.root_validity = *v;
    }
    if let Some(v) = intermediate_validity {
        req.intermediate_validity = *v;
    }
    tracing::info!(cluster = %m.cluster, trust_domain = %m.trust_domain, algorithm = algorithm.as_str(), "generating a CA");
    match cert::generate_ca(req) {
        Ok(material) => Some(MemberCa::Generated(material)),
        Err(e) => {
            diags.push(Diagnostic::from_error(
                format!("Cannot generate the CA of {}", m.cluster),
                &e,
            ));
            None
        }
    }
}

async fn read_key(
    ctx: &Ctx<'_>,
    m: &trust_input::MemberInput,
) -> Result<Option<String>, Diagnostic> {
    let secret = ObjectRef::namespaced("v1", "Secret", &m.istio_namespace, tr::CACERTS_SECRET);
    let live = ctx
        .clusters
        .get(&m.cluster, &secret)
        .await
        .map_err(|e| objects::error_diag("Cannot read the cacerts Secret", &e))?;
    Ok(live.and_then(|s| s["data"]["ca-key.pem"].as_str().map(decode_b64)))
}

fn decode_b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// The root a cluster's own CA uses: `istio-ca-root-cert` (written by istiod), else `cacerts`.
async fn read_cluster_root(
    ctx: &Ctx<'_>,
    m: &trust_input::MemberInput,
) -> Result<String, Diagnostic> {
    let cm = ObjectRef::namespaced(
        "v1",
        "ConfigMap",
        &m.istio_namespace,
        tr::ISTIO_ROOT_CONFIGMAP,
    );
    let err = |e| objects::error_diag("Cannot read the cluster's root certificate", &e);
    if let Some(root) = ctx
        .clusters
        .get(&m.cluster, &cm)
        .await
        .map_err(err)?
        .and_then(|c| c["data"][tr::ROOT_CERT_KEY].as_str().map(str::to_string))
    {
        return Ok(first_pem(&root));
    }
    let secret = ObjectRef::namespaced("v1", "Secret", &m.istio_namespace, tr::CACERTS_SECRET);
    if let Some(root) = ctx
        .clusters
        .get(&m.cluster, &secret)
        .await
        .map_err(err)?
        .and_then(|s| s["data"][tr::ROOT_CERT_KEY].as_str().map(decode_b64))
    {
        return Ok(first_pem(&root));
    }
    Err(Diagnostic::error(
        format!("No root certificate found in {}", m.cluster),
        format!(
            "ca.source = \"cluster\" adopts the root istiod uses, but {} has neither ConfigMap {}/{} nor Secret {}/{}. Is Istio running there?",
            m.cluster,
            m.istio_namespace,
            tr::ISTIO_ROOT_CONFIGMAP,
            m.istio_namespace,
            tr::CACERTS_SECRET
        ),
    ))
}

fn first_pem(text: &str) -> String {
    let end = "-----END CERTIFICATE-----";
    match text.find(end) {
        Some(i) => format!("{}\n", &text[..i + end.len()]),
        None => text.to_string(),
    }
}

pub async fn apply(ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
    let prior = objects::manifests_of(&req.prior_state);
    if req.planned_state.is_null() {
        let keys: Vec<String> = prior.keys().cloned().collect();
        let (gone, diags) = objects::delete_keys(ctx.clusters, &keys).await;
        if !diags.has_errors() {
            return ApplyResponse {
                new_state: Value::Null,
                ..ApplyResponse::default()
            };
        }
        let left: BTreeMap<String, String> = prior
            .into_iter()
            .filter(|(k, _)| !gone.contains(k))
            .collect();
        let mut state = req.prior_state.clone();
        if let Value::Object(m) = &mut state {
            m.insert("manifests".into(), objects::manifests_value(&left));
        }
        return ApplyResponse {
            new_state: state,
            private: req.planned_private,
            diagnostics: diags,
        };
    }
    let mut diags = Diagnostics::new();
    let fail = |diags: Diagnostics, req: &ApplyRequest| ApplyResponse {
        new_state: req.prior_state.clone(),
        private: req.planned_private.clone(),
        diagnostics: diags,
    };
    let Some(p) = trust_input::parse(ctx, &req.config, &mut diags) else {
        return fail(diags, &req);
    };
    let private = Private::from_bytes(&req.planned_private);
    let Some(cas) = resolve_cas(ctx, &p, &private, &prior, &mut diags).await else {
        return fail(diags, &req);
    };
    let spec = TrustSpec {
        members: p
            .members
            .iter()
            .map(|m| Member {
                cluster: m.cluster.clone(),
                trust_domain: m.trust_domain.clone(),
                istio_namespace: m.istio_namespace.clone(),
                ca: cas[&m.cluster].clone(),
            })
            .collect(),
        peers: p.peers.clone(),
        bundle: p.bundle,
    };
    let rendered = match tr::render(&spec) {
        Ok(r) => r,
        Err(e) => {
            diags.push(Diagnostic::from_error("Invalid trust configuration", &e));
            return fail(diags, &req);
        }
    };
    let desired: Vec<Desired> = rendered
        .into_iter()
        .map(|r| Desired {
            cluster: r.cluster,
            manifest: r.apply,
        })
        .collect();
    let (in_place, d) = objects::converge_per_cluster(ctx.clusters, &desired, &prior).await;
    diags.extend(d);
    for m in &p.members {
        warn_istiod(ctx, m, &mut diags).await;
    }
    // Remember what is in place: generated CAs whose Secret was written, adopted roots.
    let mut remembered = Private::default();
    let mut known = BTreeMap::new();
    for m in &p.members {
        let ca = &cas[&m.cluster];
        let secret_in_place = in_place.contains_key(&secret_key(&m.cluster, &m.istio_namespace));
        match ca {
            MemberCa::Generated(g) if secret_in_place => {
                let CaInput::Generate { algorithm, .. } = &m.ca else {
                    continue;
                };
                remembered.generated.insert(
                    m.cluster.clone(),
                    Remembered {
                        root_cert_pem: g.root_cert_pem.clone(),
                        ca_cert_pem: g.intermediate_cert_pem.clone(),
                        cert_chain_pem: g.cert_chain_pem.clone(),
                        key_display: tr::secret_value_display(
                            pem_text(&g.intermediate_key_pem).as_bytes(),
                        ),
                        key_algorithm: algorithm.as_str().to_string(),
                    },
                );
                known.insert(m.cluster.clone(), Planned::Known(ca.clone(), None));
            }
            MemberCa::Cluster { root_cert_pem } => {
                remembered
                    .adopted
                    .insert(m.cluster.clone(), root_cert_pem.clone());
                known.insert(m.cluster.clone(), Planned::Known(ca.clone(), None));
            }
            MemberCa::Provided(_) => {
                known.insert(m.cluster.clone(), Planned::Known(ca.clone(), None));
            }
            MemberCa::Generated(_) => {
                known.insert(m.cluster.clone(), Planned::Unknown);
            }
        }
    }
    let (roots, prints) = roots_value(&p, &known);
    let roots = if diags.has_errors() {
        strip_unknown(roots)
    } else {
        roots
    };
    let prints = if diags.has_errors() {
        strip_unknown(prints)
    } else {
        prints
    };
    let new_state = state(
        &req.config,
        &p,
        roots,
        prints,
        objects::manifests_value(&in_place),
    );
    ApplyResponse {
        new_state,
        private: remembered.to_bytes(),
        diagnostics: diags,
    }
}

fn strip_unknown(v: Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(m.into_iter().filter(|(_, v)| !v.is_unknown()).collect()),
        other => other,
    }
}

/// Warns, with the fix, when a visible istiod runs without the settings that make it read the
/// shared mesh config and trust several roots.
async fn warn_istiod(ctx: &Ctx<'_>, m: &trust_input::MemberInput, diags: &mut Diagnostics) {
    let deploy = ObjectRef::namespaced("apps/v1", "Deployment", &m.istio_namespace, "istiod");
    let Ok(Some(d)) = ctx.clusters.get(&m.cluster, &deploy).await else {
        return;
    };
    let env: BTreeMap<String, String> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let multi = env.get("ISTIO_MULTIROOT_MESH").map(String::as_str) == Some("true");
    let shared =
        env.get("SHARED_MESH_CONFIG").map(String::as_str) == Some(tr::MESH_CONFIG_CONFIGMAP);
    if !(multi && shared) {
        diags.push(Diagnostic::warning(
            format!("istiod in {} does not read meshfed's trust bundle", m.cluster),
            format!(
                "Deployment {}/istiod lacks ISTIO_MULTIROOT_MESH=true and SHARED_MESH_CONFIG={}, so it ignores the other parties' roots. Fix: install Istio with\n  --set values.pilot.env.ISTIO_MULTIROOT_MESH=true --set values.pilot.env.SHARED_MESH_CONFIG={}\nor add both variables to the istiod container.",
                m.istio_namespace,
                tr::MESH_CONFIG_CONFIGMAP,
                tr::MESH_CONFIG_CONFIGMAP
            ),
        ));
    }
}

pub async fn read(ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse {
    objects::refresh_state(ctx.clusters, &[], req).await
}
