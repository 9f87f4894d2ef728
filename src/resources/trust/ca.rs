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
use super::state::{Private, Remembered, cacerts_key};
use crate::cert::encoding::{base64_decode, first_pem, pem_text, sha256_display};
use crate::cert::{self, CaMaterial, CaRequest, CheckedCa, ProvidedCa};
use crate::k8s::ObjectRef;
use crate::mesh::trust::{self as tr, MemberCa};
use crate::resources::context::Ctx;
use crate::resources::objects::{Manifests, error_diag};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};

/// How the `cacerts` Secret shows the CA's key at plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyShown {
    /// As rendered from the material (a `key_pem`).
    Rendered,
    /// This `sha256:` display of a key that stays in the cluster (generated, or in a Secret).
    Display(String),
    /// Known after apply (a key in a Secret, not read yet).
    Unknown,
}

/// What a member's CA is at plan time.
pub enum Planned {
    /// Known, with how its key shows.
    Known(MemberCa, KeyShown),
    /// Known only at apply: to be generated, read from the cluster, or still unknown material.
    Unknown,
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
        && shown("ca-cert.pem") == Some(sha256_display(pem_text(&r.ca_cert_pem).as_bytes()))
}

/// Plans every member's CA: reuse, regenerate (unknown), provided, adopted.
pub fn plan_cas(p: &TrustInput, private: &Private, prior: &Manifests) -> BTreeMap<String, Planned> {
    let mut out = BTreeMap::new();
    for m in &p.members {
        let planned = match &m.ca {
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
            CaInput::Generate { algorithm, .. } => match private.generated.get(&m.cluster) {
                Some(r)
                    if r.key_algorithm == algorithm.as_str()
                        && intact(r, prior.get(&cacerts_key(&m.cluster, &m.istio_namespace))) =>
                {
                    let material = CaMaterial {
                        root_cert_pem: r.root_cert_pem.clone(),
                        intermediate_cert_pem: r.ca_cert_pem.clone(),
                        intermediate_key_pem: "(in the cluster)".into(),
                        cert_chain_pem: r.cert_chain_pem.clone(),
                    };
                    let shown = KeyShown::Display(r.key_display.clone());
                    Planned::Known(MemberCa::Generated(material), shown)
                }
                _ => Planned::Unknown,
            },
        };
        out.insert(m.cluster.clone(), planned);
    }
    out
}

/// Resolves every member's CA for apply: reuse (key read back from the Secret), generate,
/// provided, or adopt (root read from the cluster).
pub async fn resolve_cas(
    ctx: &Ctx<'_>,
    p: &TrustInput,
    private: &Private,
    prior: &Manifests,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, MemberCa>> {
    let planned = plan_cas(p, private, prior);
    let mut out = BTreeMap::new();
    for m in &p.members {
        let ca = resolve(ctx, m, &planned[&m.cluster], private, diags).await?;
        out.insert(m.cluster.clone(), ca);
    }
    Some(out)
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
            match read_key(ctx, m).await {
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

async fn read_key(ctx: &Ctx<'_>, m: &MemberInput) -> Result<Option<String>, Diagnostic> {
    let secret = cacerts_key(&m.cluster, &m.istio_namespace).object;
    let live = ctx
        .clusters
        .get(&m.cluster, &secret)
        .await
        .map_err(|e| error_diag("Cannot read the cacerts Secret", &e))?;
    Ok(live.and_then(|s| s["data"]["ca-key.pem"].as_str().map(decode_text)))
}

/// A Secret value as text: base64 decoded, UTF-8 (empty when it is neither).
pub fn decode_text(s: &str) -> String {
    let bytes = base64_decode(s).unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The root a cluster's own CA uses: `istio-ca-root-cert` (written by istiod), else `cacerts`.
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
        return Ok(first_pem(&root));
    }
    let secret = cacerts_key(&m.cluster, &m.istio_namespace).object;
    if let Some(root) = ctx
        .clusters
        .get(&m.cluster, &secret)
        .await
        .map_err(err)?
        .and_then(|s| s["data"][tr::ROOT_CERT_KEY].as_str().map(decode_text))
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
