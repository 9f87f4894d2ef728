//! The two-stage parse of a `meshfed_trust` configuration: Terraform values in, a checked
//! [`TrustInput`] out, every problem a diagnostic on its attribute path. Stage one ([`check`])
//! needs no provider configuration and runs at validation too: the bundle mode, each member's
//! `ca` block (provided material is parsed and checked) and each peer; unknown values pass.
//! Stage two ([`parse`]) joins the members with their clusters' mesh facts and refuses a member
//! or trust domain listed twice.

use std::collections::BTreeSet;

use super::key_secret::{self, KeySecret};
use super::rotation::Phase;
use crate::cert::encoding::pem_texts;
use crate::cert::{self, CaField, CheckedCa, KeyAlgorithm, ProvidedCa};
use crate::mesh::names::check_trust_domain;
use crate::mesh::trust::{BundleMode, Peer, check_configmap_name};
use crate::resources::context::Ctx;
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

const CA_FIELDS: [&str; 4] = ["cert_pem", "key_pem", "cert_chain_pem", "root_cert_pem"];

/// A member's CA, checked.
#[derive(Clone, Debug)]
pub enum CaInput {
    Generate {
        /// Raised by the user to rotate to a new generated CA (default 1).
        generation: u64,
        algorithm: KeyAlgorithm,
        root_validity: Option<time::Duration>,
        intermediate_validity: Option<time::Duration>,
    },
    /// `None` while some of the material is unknown (plan).
    Provided(Option<CheckedCa>),
    Cluster,
}

#[derive(Clone, Debug)]
pub struct MemberInput {
    pub cluster: String,
    pub trust_domain: String,
    pub istio_namespace: String,
    pub ca: CaInput,
    /// Where a provided CA's key is kept, when not in `key_pem`.
    pub key_secret: Option<KeySecret>,
    /// The rotation phase the configuration asks for (`rotation`).
    pub rotation: Option<Phase>,
    /// Where the member block is: `member[i]`.
    pub path: AttrPath,
}

#[derive(Clone, Debug)]
pub struct TrustInput {
    pub members: Vec<MemberInput>,
    pub peers: Vec<Peer>,
    pub bundle: BundleMode,
    /// `expiry_warning_days`: how long before a CA expires plan warns.
    pub expiry_window: time::Duration,
}

/// The default of `expiry_warning_days`.
pub const DEFAULT_EXPIRY_WINDOW_DAYS: i64 = 90;

fn parse_window(config: &Value, diags: &mut Diagnostics) -> time::Duration {
    let days = config
        .get("expiry_warning_days")
        .filter(|v| !v.is_unknown() && !v.is_null())
        .and_then(|v| {
            let path = AttrPath::attr("expiry_warning_days");
            values::int_in(v, 1, 3650, &path, "expiry_warning_days", diags)
        });
    time::Duration::days(days.unwrap_or(DEFAULT_EXPIRY_WINDOW_DAYS))
}

/// The `member` and `peer` blocks of a configuration.
fn blocks<'a>(config: &'a Value, name: &str) -> &'a [Value] {
    config
        .get(name)
        .and_then(Value::elements)
        .unwrap_or_default()
}

/// A member's `ca` block (null when absent).
fn ca_block(member: &Value) -> &Value {
    let first = member
        .get("ca")
        .and_then(Value::elements)
        .and_then(<[Value]>::first);
    first.unwrap_or(&Value::Null)
}

fn ca_path(member: usize) -> AttrPath {
    AttrPath::attr("member").index(member).then("ca").index(0)
}

/// Stage one: what can be checked without the provider configuration. Unknown values pass.
pub fn check(config: &Value, diags: &mut Diagnostics) {
    parse_bundle(config, diags);
    for (i, m) in blocks(config, "member").iter().enumerate() {
        let ca = ca_block(m);
        if !values::string(ca, "source").is_unknown() {
            parse_ca(ca, &ca_path(i), diags);
        }
    }
    for (i, p) in blocks(config, "peer").iter().enumerate() {
        if p.is_wholly_known() {
            parse_peer(p, &AttrPath::attr("peer").index(i), diags);
        }
    }
}

fn parse_bundle(config: &Value, diags: &mut Diagnostics) -> BundleMode {
    match values::string(config, "bundle") {
        Field::Known(b) => BundleMode::parse(&b).unwrap_or_else(|| {
            diags.error_at(
                AttrPath::attr("bundle"),
                "Invalid bundle",
                format!("bundle {b:?} is not one of mesh_config, cacerts."),
            );
            BundleMode::MeshConfig
        }),
        _ => BundleMode::MeshConfig,
    }
}

/// Stage two: the whole configuration, each member joined with its cluster's mesh facts.
/// `None` when `diags` got errors.
pub fn parse(ctx: &Ctx<'_>, config: &Value, diags: &mut Diagnostics) -> Option<TrustInput> {
    let before = diags.0.len();
    let bundle = parse_bundle(config, diags);
    let expiry_window = parse_window(config, diags);
    let mut members: Vec<MemberInput> = Vec::new();
    for (i, m) in blocks(config, "member").iter().enumerate() {
        let path = AttrPath::attr("member").index(i);
        let Some(mi) = parse_member(ctx, m, &path, diags) else {
            continue;
        };
        if members.iter().any(|other| other.cluster == mi.cluster) {
            let detail = format!(
                "{} is already a member; list each cluster once.",
                mi.cluster
            );
            diags.error_at(path.then("cluster"), "Member listed twice", detail);
            continue;
        }
        members.push(mi);
    }
    let mut tds: BTreeSet<String> = members.iter().map(|m| m.trust_domain.clone()).collect();
    let mut peers = Vec::new();
    for (i, p) in blocks(config, "peer").iter().enumerate() {
        let path = AttrPath::attr("peer").index(i);
        let Some(peer) = parse_peer(p, &path, diags) else {
            continue;
        };
        if !tds.insert(peer.trust_domain.clone()) {
            let detail = format!(
                "{} is already a member's or another peer's trust domain.",
                peer.trust_domain
            );
            diags.error_at(
                path.then("trust_domain"),
                "Trust domain listed twice",
                detail,
            );
            continue;
        }
        peers.push(peer);
    }
    if diags.0[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(TrustInput {
        members,
        peers,
        bundle,
        expiry_window,
    })
}

fn parse_member(
    ctx: &Ctx<'_>,
    m: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<MemberInput> {
    let Field::Known(cluster) = values::string(m, "cluster") else {
        diags.error_at(
            path.then("cluster"),
            "Cluster not known",
            "A member's cluster must be known at plan time.",
        );
        return None;
    };
    let cfg = match ctx.cluster(&cluster, path.then("cluster")) {
        Ok(c) => c,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let Some(mesh) = cfg.mesh.as_known() else {
        diags.error_at(path.then("cluster"), "Trust domain not known", format!("The trust domain of {cluster} depends on a value known only after apply; set it literally."));
        return None;
    };
    if let Err(e) = check_configmap_name(&mesh.trust_domain) {
        diags.error_at(
            path.then("cluster"),
            "Trust domain cannot name a ConfigMap",
            e.to_string(),
        );
        return None;
    }
    let ca_path = path.then("ca").index(0);
    let ca = parse_ca(ca_block(m), &ca_path, diags)?;
    let rotation = parse_rotation(m, path, diags)?;
    if rotation.is_some() && matches!(ca, CaInput::Cluster) {
        diags.error_at(path.then("rotation"), "An adopted CA is rotated by its cluster", format!("{cluster} keeps its own CA (source = \"cluster\"), so meshfed does not rotate it: rotate it where it is managed, adding the new root next to the old one in root-cert.pem first. meshfed trusts every root istiod publishes in istio-ca-root-cert, so each apply follows that rotation. Remove rotation here."));
        return None;
    }
    let key_secret = match ca {
        // parse_ca reported its problems already.
        CaInput::Provided(_) => key_secret::parse(ca_block(m), &ca_path, &mut Diagnostics::new()),
        _ => None,
    };
    Some(MemberInput {
        cluster,
        trust_domain: mesh.trust_domain.clone(),
        istio_namespace: mesh.istio_namespace.clone(),
        ca,
        key_secret,
        rotation,
        path: path.clone(),
    })
}

/// The member's `rotation` attribute; `Some(None)` when unset or `retire`'s absence.
fn parse_rotation(m: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Option<Phase>> {
    match values::string(m, "rotation") {
        Field::Null => Some(None),
        Field::Known(s) => match Phase::parse(&s) {
            Some(p) => Some(Some(p)),
            None => {
                diags.error_at(
                    path.then("rotation"),
                    "Unknown rotation phase",
                    format!("rotation {s:?} is not one of {}.", Phase::names()),
                );
                None
            }
        },
        Field::Unknown => {
            diags.error_at(
                path.then("rotation"),
                "Rotation phase not known",
                "rotation must be known at plan time: each phase is its own plan.",
            );
            None
        }
    }
}

fn parse_ca(ca: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<CaInput> {
    let source = match values::string(ca, "source") {
        Field::Known(s) => s,
        Field::Null => "generate".to_string(),
        Field::Unknown => {
            diags.error_at(
                path.then("source"),
                "CA source not known",
                "ca.source must be known at plan time.",
            );
            return None;
        }
    };
    let set: Vec<&str> = CA_FIELDS
        .iter()
        .copied()
        .filter(|f| !values::whole(ca, f).is_null())
        .chain(key_secret::is_set(ca).then_some("key_secret"))
        .collect();
    match source.as_str() {
        "generate" => {
            for f in &set {
                diags.error_at(path.then(*f), format!("{f} is only for source = \"provided\""), "A generated CA needs no certificate or key; remove this, or set source = \"provided\".");
            }
            parse_generate(ca, path, diags)
        }
        "cluster" => {
            let generated_only = ["key_algorithm", "generation"];
            for f in set.iter().chain(
                generated_only
                    .iter()
                    .filter(|f| !values::whole(ca, f).is_null()),
            ) {
                diags.error_at(path.then(*f), format!("{f} is not used with source = \"cluster\""), "An adopted CA stays the cluster's own; meshfed never writes its cacerts Secret.");
            }
            Some(CaInput::Cluster)
        }
        "provided" => {
            if !values::whole(ca, "generation").is_null() {
                diags.error_at(path.then("generation"), "generation is only for source = \"generate\"", "A provided CA is rotated by giving the new material here (with rotation = \"overlap\" on the member); remove generation.");
            }
            parse_provided(ca, path, diags)
        }
        other => {
            diags.error_at(
                path.then("source"),
                "Unknown CA source",
                format!("source {other:?} is not one of generate, provided, cluster."),
            );
            None
        }
    }
}

/// A generated CA's settings: key algorithm and validities (the intermediate never outlives
/// the root).
fn parse_generate(ca: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<CaInput> {
    let algorithm = match values::string(ca, "key_algorithm") {
        Field::Known(a) => KeyAlgorithm::parse(&a).or_else(|| {
            diags.error_at(
                path.then("key_algorithm"),
                "Unknown key algorithm",
                format!("{a:?} is not one of {}.", KeyAlgorithm::names()),
            );
            None
        })?,
        _ => KeyAlgorithm::default(),
    };
    let days = |name: &str, diags: &mut Diagnostics| {
        ca.get(name)
            .filter(|v| !v.is_null())
            .and_then(|v| values::int_in(v, 1, 36500, &path.then(name), name, diags))
            .map(time::Duration::days)
    };
    let generation = match ca.get("generation").filter(|v| !v.is_null()) {
        Some(v) => {
            let g = values::int_in(
                v,
                1,
                1_000_000,
                &path.then("generation"),
                "generation",
                diags,
            )?;
            u64::try_from(g).unwrap_or(1)
        }
        None => 1,
    };
    let root_validity = days("root_validity_days", diags);
    let mut intermediate_validity = days("intermediate_validity_days", diags);
    let root_days = root_validity.unwrap_or(cert::DEFAULT_ROOT_VALIDITY);
    match intermediate_validity {
        Some(i) if i > root_days => {
            diags.error_at(path.then("intermediate_validity_days"), "Intermediate outlives its root", format!("intermediate_validity_days ({}) must not exceed the root's validity ({} days).", i.whole_days(), root_days.whole_days()));
        }
        // The default intermediate never outlives a shorter root.
        None if cert::DEFAULT_INTERMEDIATE_VALIDITY > root_days => {
            intermediate_validity = Some(root_days)
        }
        _ => {}
    }
    Some(CaInput::Generate {
        generation,
        algorithm,
        root_validity,
        intermediate_validity,
    })
}

fn parse_provided(ca: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<CaInput> {
    let in_secret = key_secret::is_set(ca);
    if in_secret {
        key_secret::parse(ca, path, diags);
        if !values::whole(ca, "key_pem").is_null() {
            diags.error_at(
                path.then("key_pem"),
                "key_pem and key_secret both set",
                "Give the CA's key either in key_pem or in a Secret named by key_secret, not both.",
            );
        }
    }
    let mut got = Vec::new();
    let mut unknown = false;
    for f in CA_FIELDS {
        if f == "key_pem" && in_secret {
            got.push(String::new());
            continue;
        }
        match values::string(ca, f) {
            Field::Known(v) => got.push(v),
            Field::Unknown => {
                unknown = true;
                got.push(String::new());
            }
            Field::Null => {
                let detail = match f {
                    "key_pem" => "source = \"provided\" needs the CA's key: key_pem, or key_secret naming a Secret in the member cluster that holds it.".to_string(),
                    _ => format!("source = \"provided\" needs {}.", CA_FIELDS.join(", ")),
                };
                diags.error_at(path.then(f), format!("Missing {f}"), detail);
                got.push(String::new());
            }
        }
    }
    if diags.has_errors() {
        return None;
    }
    if unknown {
        return Some(CaInput::Provided(None));
    }
    let provided = ProvidedCa {
        cert_pem: got[0].clone(),
        key_pem: got[1].clone(),
        cert_chain_pem: got[2].clone(),
        root_cert_pem: got[3].clone(),
    };
    let checked = if in_secret {
        cert::check_certificates(provided, cert::now())
    } else {
        cert::check_provided(provided, cert::now())
    };
    match checked {
        // Certificates expiring soon are warned about with the trust's window (`expiry`).
        Ok(checked) => Some(CaInput::Provided(Some(checked))),
        Err(problems) => {
            for p in problems.iter().filter(|p| !p.is_warning()) {
                let d = Diagnostic::error("Invalid CA material", p.to_string());
                diags.push(d.at(path.then(field_name(p.field))));
            }
            None
        }
    }
}

fn field_name(f: CaField) -> &'static str {
    f.as_str()
}

fn parse_peer(p: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<Peer> {
    let td = values::string(p, "trust_domain").known();
    let root = values::string(p, "root_cert_pem").known();
    if let Some(td) = &td
        && let Err(e) = check_trust_domain(td)
    {
        diags.error_at(
            path.then("trust_domain"),
            "Invalid trust domain",
            format!("{td:?} is not a valid SPIFFE trust domain: it {e}."),
        );
        return None;
    }
    if let Some(td) = &td
        && let Err(e) = check_configmap_name(td)
    {
        diags.error_at(
            path.then("trust_domain"),
            "Trust domain cannot name a ConfigMap",
            e.to_string(),
        );
        return None;
    }
    if let Some(root) = &root {
        // One root, or several while the peer rotates; each checked on its own. Expiry is
        // judged with the trust's window at plan (`expiry`).
        let blocks = pem_texts(root);
        let each = if blocks.is_empty() {
            vec![root.clone()]
        } else {
            blocks
        };
        for one in &each {
            if let Err(problem) = cert::parse_root(one, cert::now()) {
                let expired = matches!(problem.kind, cert::ProblemKind::Expired { .. });
                if expired && each.len() > 1 {
                    continue; // an expired old root next to its successor: a warning at plan
                }
                diags.error_at(
                    path.then("root_cert_pem"),
                    "Invalid peer root certificate",
                    problem.to_string(),
                );
                return None;
            }
        }
    }
    match (td, root) {
        (Some(trust_domain), Some(root_cert_pem)) => Some(Peer {
            trust_domain,
            root_cert_pem,
        }),
        _ => {
            diags.error_at(
                path.clone(),
                "Peer not known",
                "A peer's trust domain and root must be known at plan time.",
            );
            None
        }
    }
}
