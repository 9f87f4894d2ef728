//! Each member's CA, at plan and at apply: reused (its key read back from the cluster's
//! `cacerts` Secret, where alone it lives), generated anew, provided by the user, or adopted
//! from the cluster.
//!
//! A remembered generated CA is reused only while the Secret still holds it (judged from the
//! refreshed manifest at plan, from the key itself at apply); otherwise the plan shows the
//! member's root as known after apply, and apply generates a new CA.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::input::{CaInput, MemberInput, TrustInput};
use super::key_secret::{self, KeySecret};
use super::rotation::{self, Current, InProgress, Incoming, Signing, Step};
use super::state::{Private, Remembered, cacerts_key, next_key};
use crate::cert::encoding::{base64_decode, pem_text, pem_texts, sha256_display};
use crate::cert::{self, CaMaterial, CaRequest, CheckedCa, ProvidedCa};
use crate::k8s::ObjectRef;
use crate::mesh::trust::{self as tr, MemberCa};
use crate::resources::context::Ctx;
use crate::resources::objects::{Manifests, error_diag};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};

pub use super::plan::{KeyShown, MemberPlan, NextPlan, Planned, ResolvedMember};

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
        && shown("ca-cert.pem") == Some(sha256_display(pem_text(&r.ca_cert_pem).as_bytes()))
}

/// Plans every member: its CA (reused, regenerated, provided, adopted) and the rotation step.
/// `None` when `diags` got a refusal.
pub fn plan_cas(
    p: &TrustInput,
    private: &Private,
    prior: &Manifests,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, MemberPlan>> {
    let mut out = BTreeMap::new();
    for m in &p.members {
        match plan_member(m, private, prior) {
            Ok(plan) => {
                out.insert(m.cluster.clone(), plan);
            }
            Err(d) => diags.push(d),
        }
    }
    (out.len() == p.members.len()).then_some(out)
}

fn plan_member(
    m: &MemberInput,
    private: &Private,
    prior: &Manifests,
) -> Result<MemberPlan, Diagnostic> {
    let step = rotation::decide(
        m,
        private,
        current(m, private, prior),
        next_intact(m, private, prior),
    )?;
    let plan = match &step {
        Step::Steady => MemberPlan::steady(steady_plan(m, private, prior)),
        Step::Overlap { signing, incoming } => MemberPlan {
            ca: remembered_plan(signing),
            extra_roots: incoming.root().into_iter().collect(),
            extra_unknown: incoming.root().is_none(),
            next: match incoming {
                Incoming::Generate => NextPlan::Unknown,
                Incoming::Staged(r) => NextPlan::Known(r.clone()),
                Incoming::Provided(_) => NextPlan::None,
            },
            step: step.clone(),
        },
        Step::Switch { signing, retiring } => MemberPlan {
            ca: match signing {
                Signing::Configured => steady_plan(m, private, prior),
                Signing::Staged(r) => remembered_plan(r),
                Signing::Regenerate => Planned::Unknown,
            },
            extra_roots: retiring.clone(),
            extra_unknown: false,
            next: NextPlan::None,
            step: step.clone(),
        },
    };
    Ok(MemberPlan { step, ..plan })
}

/// A remembered CA whose key stays in the cluster.
fn remembered_plan(r: &Remembered) -> Planned {
    let shown = KeyShown::Display(r.key_display.clone());
    Planned::Known(MemberCa::Generated(r.in_cluster()), shown)
}

/// The CA remembered in the member's `cacerts`, and whether that Secret still holds it.
fn current<'a>(m: &MemberInput, private: &'a Private, prior: &Manifests) -> Current<'a> {
    let remembered = match m.ca {
        CaInput::Generate { .. } => private.generated.get(&m.cluster),
        CaInput::Provided(_) => private.provided.get(&m.cluster),
        CaInput::Cluster => None,
    };
    let secret = prior.get(&cacerts_key(&m.cluster, &m.istio_namespace));
    match remembered {
        Some(r) if intact(r, secret) => Current {
            remembered: Some(r),
            lost: None,
        },
        other => Current {
            remembered: None,
            lost: other,
        },
    }
}

/// Whether `meshfed-cacerts-next` still holds the CA an `overlap` staged.
fn next_intact(m: &MemberInput, private: &Private, prior: &Manifests) -> bool {
    let Some(InProgress::Overlap { incoming }) = private.rotations.get(&m.cluster) else {
        return false;
    };
    let secret = prior.get(&next_key(&m.cluster, &m.istio_namespace));
    intact(incoming, secret)
}

/// A member's CA as planned when no rotation is involved: reuse, regenerate (unknown),
/// provided, adopted.
fn steady_plan(m: &MemberInput, private: &Private, prior: &Manifests) -> Planned {
    match &m.ca {
        CaInput::Provided(Some(checked)) => {
            let shown = match &m.key_secret {
                None => KeyShown::Rendered,
                Some(_) => {
                    let cacerts = cacerts_key(&m.cluster, &m.istio_namespace);
                    key_secret::planned_display(prior, &cacerts, checked.cert_pem())
                        .map_or(KeyShown::Unknown, KeyShown::Display)
                }
            };
            Planned::Known(MemberCa::Provided(checked.clone()), shown)
        }
        CaInput::Provided(None) => Planned::Unknown,
        CaInput::Cluster => match private.adopted.get(&m.cluster) {
            Some(root) => Planned::Known(
                MemberCa::Cluster {
                    root_cert_pem: root.clone(),
                },
                KeyShown::Rendered,
            ),
            None => Planned::Unknown,
        },
        CaInput::Generate {
            algorithm,
            generation,
            ..
        } => match private.generated.get(&m.cluster) {
            Some(r)
                if r.key_algorithm == algorithm.as_str()
                    && r.generation == *generation
                    && intact(r, prior.get(&cacerts_key(&m.cluster, &m.istio_namespace))) =>
            {
                remembered_plan(r)
            }
            _ => Planned::Unknown,
        },
    }
}

/// Resolves every member for apply: its CA (key read back from the cluster where it stays
/// there, generated, provided, adopted), its other roots and staged CA.
pub async fn resolve_cas(
    ctx: &Ctx<'_>,
    p: &TrustInput,
    private: &Private,
    prior: &Manifests,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, ResolvedMember>> {
    let plans = plan_cas(p, private, prior, diags)?;
    let mut out = BTreeMap::new();
    for m in &p.members {
        let r = resolve_member(ctx, m, &plans[&m.cluster], private, diags).await?;
        out.insert(m.cluster.clone(), r);
    }
    Some(out)
}

/// The configured generation of a generated member's CA.
fn generation(m: &MemberInput) -> u64 {
    match m.ca {
        CaInput::Generate { generation, .. } => generation,
        _ => 0,
    }
}

async fn resolve_member(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    plan: &MemberPlan,
    private: &Private,
    diags: &mut Diagnostics,
) -> Option<ResolvedMember> {
    let steady = |ca| ResolvedMember {
        ca,
        generation: generation(m),
        algorithm: algorithm(m),
        extra_roots: vec![],
        next: None,
        progress: None,
    };
    match &plan.step {
        Step::Steady => Some(steady(resolve(ctx, m, &plan.ca, private, diags).await?)),
        Step::Overlap { signing, incoming } => {
            resolve_overlap(ctx, m, signing, incoming, diags).await
        }
        Step::Switch { signing, retiring } => {
            let ca = match signing {
                Signing::Configured => resolve(ctx, m, &plan.ca, private, diags).await?,
                Signing::Staged(r) => {
                    let next = next_key(&m.cluster, &m.istio_namespace);
                    MemberCa::Generated(r.with_key(kept_key(ctx, m, &next, r, diags).await?))
                }
                Signing::Regenerate => generate(m, diags)?,
            };
            Some(ResolvedMember {
                ca,
                generation: generation(m),
                algorithm: algorithm(m),
                extra_roots: retiring.clone(),
                next: None,
                progress: Some(InProgress::Switch {
                    retiring: retiring.clone(),
                }),
            })
        }
    }
}

/// Phase `overlap`: the remembered CA keeps signing (its key read back from `cacerts`), the
/// incoming CA's root is trusted too (generated now, or staged before with its key read back).
async fn resolve_overlap(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    signing: &Remembered,
    incoming: &Incoming,
    diags: &mut Diagnostics,
) -> Option<ResolvedMember> {
    let cacerts = cacerts_key(&m.cluster, &m.istio_namespace);
    let key = kept_key(ctx, m, &cacerts, signing, diags).await?;
    let (extra, next, incoming) = match incoming {
        Incoming::Generate => {
            let MemberCa::Generated(n) = generate(m, diags)? else {
                return None;
            };
            let alg = algorithm(m);
            let r = Remembered::of(&n, &alg, generation(m));
            (n.root_cert_pem.clone(), Some(n), r)
        }
        Incoming::Staged(r) => {
            let next = next_key(&m.cluster, &m.istio_namespace);
            let key = kept_key(ctx, m, &next, r, diags).await?;
            (r.root_cert_pem.clone(), Some(r.with_key(key)), r.clone())
        }
        Incoming::Provided(c) => {
            let root = c.root_cert_pem().to_string();
            let r = Remembered {
                root_cert_pem: root.clone(),
                ..Remembered::default()
            };
            (root, None, r)
        }
    };
    Some(ResolvedMember {
        ca: MemberCa::Generated(signing.with_key(key)),
        generation: signing.generation,
        algorithm: signing.key_algorithm.clone(),
        extra_roots: vec![extra],
        next,
        progress: Some(InProgress::Overlap { incoming }),
    })
}

fn algorithm(m: &MemberInput) -> String {
    match &m.ca {
        CaInput::Generate { algorithm, .. } => algorithm.as_str().to_string(),
        _ => String::new(),
    }
}

/// The key of remembered CA `r`, read back from the Secret `at`; an error when that Secret no
/// longer holds it (changed since the plan).
async fn kept_key(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    at: &crate::resources::objects::ObjectKey,
    r: &Remembered,
    diags: &mut Diagnostics,
) -> Option<String> {
    match read_secret_key(ctx, m, &at.object).await {
        Ok(Some(key)) if sha256_display(pem_text(&key).as_bytes()) == r.key_display => Some(key),
        Ok(_) => {
            let o = &at.object;
            diags.push(Diagnostic::error(
                format!("Secret {}/{} changed in {}", o.namespace.as_deref().unwrap_or_default(), o.name, m.cluster),
                "It no longer holds the CA key this plan was made with (changed or deleted since). Run terraform plan again: meshfed then plans from what the cluster holds now.",
            ));
            None
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// One member's CA for apply; `None` when `diags` got the error that stops the apply.
async fn resolve(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    planned: &Planned,
    private: &Private,
    diags: &mut Diagnostics,
) -> Option<MemberCa> {
    let fail = |d: Diagnostic, diags: &mut Diagnostics| {
        diags.push(d);
        None
    };
    match (&m.ca, planned) {
        (CaInput::Generate { .. }, Planned::Known(MemberCa::Generated(r), _)) => {
            let remembered = &private.generated[&m.cluster].key_display;
            let secret = cacerts_key(&m.cluster, &m.istio_namespace).object;
            match read_secret_key(ctx, m, &secret).await {
                Ok(Some(key)) if sha256_display(pem_text(&key).as_bytes()) == *remembered => {
                    Some(MemberCa::Generated(CaMaterial {
                        intermediate_key_pem: key,
                        ..r.clone()
                    }))
                }
                Ok(_) => generate(m, diags),
                Err(d) => fail(d, diags),
            }
        }
        (CaInput::Generate { .. }, _) => generate(m, diags),
        (CaInput::Provided(Some(c)), _) => match &m.key_secret {
            None => Some(MemberCa::Provided(c.clone())),
            Some(r) => match with_key_from_secret(ctx, m, r, c).await {
                Ok(full) => Some(MemberCa::Provided(full)),
                Err(d) => fail(d, diags),
            },
        },
        (CaInput::Provided(None), _) => {
            let detail = format!(
                "The provided CA of {} is not known during apply.",
                m.cluster
            );
            fail(
                Diagnostic::error("CA material still unknown at apply", detail),
                diags,
            )
        }
        (CaInput::Cluster, _) => match read_cluster_root(ctx, m).await {
            Ok(root_cert_pem) => Some(MemberCa::Cluster { root_cert_pem }),
            Err(d) => fail(d, diags),
        },
    }
}

/// The provided certificates `c` with the key read from the Secret `r` names, checked together.
async fn with_key_from_secret(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    r: &KeySecret,
    c: &CheckedCa,
) -> Result<CheckedCa, Diagnostic> {
    let key_pem = key_secret::read(ctx, m, r).await?;
    let provided = ProvidedCa {
        cert_pem: c.cert_pem().to_string(),
        key_pem,
        cert_chain_pem: c.cert_chain_pem().to_string(),
        root_cert_pem: c.root_cert_pem().to_string(),
    };
    cert::check_provided(provided, cert::now()).map_err(|problems| {
        let why: Vec<String> = problems
            .iter()
            .filter(|p| !p.is_warning())
            .map(|p| p.kind.to_string())
            .collect();
        Diagnostic::error(
            format!(
                "The key in key_secret does not fit cert_pem ({})",
                m.cluster
            ),
            format!(
                "The Secret key_secret names holds a key that cannot sign as cert_pem: {}.",
                why.join("; ")
            ),
        )
        .at(r.path.clone())
    })
}

fn generate(m: &MemberInput, diags: &mut Diagnostics) -> Option<MemberCa> {
    let CaInput::Generate {
        algorithm,
        root_validity,
        generation: _,
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

/// The `ca-key.pem` of Secret `secret` (`cacerts` or the staged next CA), as text.
async fn read_secret_key(
    ctx: &Ctx<'_>,
    m: &MemberInput,
    secret: &ObjectRef,
) -> Result<Option<String>, Diagnostic> {
    let live = ctx
        .clusters
        .get(&m.cluster, secret)
        .await
        .map_err(|e| error_diag(&format!("Cannot read the {} Secret", secret.name), &e))?;
    Ok(live.and_then(|s| s["data"]["ca-key.pem"].as_str().map(decode_text)))
}

/// A Secret value as text: base64 decoded, UTF-8 (empty when it is neither).
pub fn decode_text(s: &str) -> String {
    let bytes = base64_decode(s).unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The roots a cluster's own CA uses: `istio-ca-root-cert` (written by istiod; every root in
/// it), else the first root of `cacerts`.
pub async fn read_cluster_root(ctx: &Ctx<'_>, m: &MemberInput) -> Result<String, Diagnostic> {
    let cm = ObjectRef::namespaced(
        "v1",
        "ConfigMap",
        &m.istio_namespace,
        tr::ISTIO_ROOT_CONFIGMAP,
    );
    let err = |e| error_diag("Cannot read the cluster's root certificate", &e);
    if let Some(root) = ctx
        .clusters
        .get(&m.cluster, &cm)
        .await
        .map_err(err)?
        .and_then(|c| c["data"][tr::ROOT_CERT_KEY].as_str().map(str::to_string))
    {
        // Every root istiod publishes: two while the cluster's owner rotates its CA.
        let all = pem_texts(&root);
        return Ok(if all.is_empty() { root } else { all.concat() });
    }
    let secret = cacerts_key(&m.cluster, &m.istio_namespace).object;
    if let Some(root) = ctx
        .clusters
        .get(&m.cluster, &secret)
        .await
        .map_err(err)?
        .and_then(|s| s["data"][tr::ROOT_CERT_KEY].as_str().map(decode_text))
    {
        return Ok(crate::cert::encoding::first_pem(&root));
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
