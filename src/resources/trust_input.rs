//! `meshfed_trust`'s schema and the checks of its configuration: Terraform values in, a checked
//! [`Parsed`] out, every problem a diagnostic on its attribute path.

use std::collections::BTreeSet;

use super::values::{self, Field};
use super::{Ctx, cluster_of};
use crate::cert::{self, CaField, CheckedCa, KeyAlgorithm, ProvidedCa};
use crate::mesh::names::check_trust_domain;
use crate::mesh::trust::{BundleMode, Peer};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_trust";

const CA_FIELDS: [&str; 4] = ["cert_pem", "key_pem", "cert_chain_pem", "root_cert_pem"];

pub fn schema() -> Schema {
    let ca = Block::new()
        .describe("Where the member's CA comes from. Default: `source = \"generate\"`.")
        .attr(Attribute::optional("source", Type::String).describe("`generate` (default): meshfed generates a root CA and an intermediate for istiod. `provided`: the CA below. `cluster`: adopt the root the cluster already uses; meshfed never writes its `cacerts` Secret."))
        .attr(Attribute::optional("key_algorithm", Type::String).describe(&format!("Key algorithm of a generated CA: one of {}. Default `ECDSA_P256`.", KeyAlgorithm::names())))
        .attr(Attribute::optional("root_validity_days", Type::Number).describe("Validity of a generated root, in days. Default 3650."))
        .attr(Attribute::optional("intermediate_validity_days", Type::Number).describe("Validity of a generated intermediate, in days. Default 1825; never beyond the root."))
        .attr(Attribute::optional("cert_pem", Type::String).describe("`provided`: istiod's signing (intermediate) CA certificate, PEM."))
        .attr(Attribute::optional("key_pem", Type::String).sensitive().write_only().describe("`provided`: the private key of `cert_pem`, PEM. Sensitive and write-only: never stored in state."))
        .attr(Attribute::optional("cert_chain_pem", Type::String).describe("`provided`: the chain from `cert_pem` up to the root, PEM, starting with `cert_pem`."))
        .attr(Attribute::optional("root_cert_pem", Type::String).describe("`provided`: the root CA certificate, PEM."));
    let member = Block::new()
        .describe("A member cluster: it gets its own CA and trusts every other party.")
        .attr(
            Attribute::required("cluster", Type::String)
                .describe("A `cluster` label of the provider configuration."),
        )
        .block(NestedBlock::new("ca", Nesting::List, ca).max_items(1));
    let peer = Block::new()
        .describe("An external party: every member trusts its root; it receives nothing.")
        .attr(
            Attribute::required("trust_domain", Type::String)
                .describe("The peer's SPIFFE trust domain."),
        )
        .attr(
            Attribute::required("root_cert_pem", Type::String)
                .describe("The peer's root CA certificate, PEM."),
        );
    Schema::new(
        0,
        Block::new()
            .describe("Mutual trust among member clusters, each with its own root CA, plus trust of external parties. Private keys never enter Terraform state.")
            .attr(Attribute::computed("id", Type::String).describe("The member cluster names, comma-separated; also the import ID."))
            .attr(Attribute::optional_computed("bundle", Type::String).describe("Where other parties' roots go: `mesh_config` (default; the `meshfed-mesh-config` ConfigMap's `caCertificates`) or `cacerts` (also appended to each member's `cacerts` `root-cert.pem`)."))
            .attr(Attribute::computed("root_certificates", Type::map(Type::String)).describe("Root certificate (PEM) of every party, by trust domain."))
            .attr(Attribute::computed("fingerprints", Type::map(Type::String)).describe("SHA-256 fingerprint (hex, of the DER) of every party's root, by trust domain."))
            .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML (Secret values as `sha256:` digests), keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`."))
            .block(NestedBlock::new("member", Nesting::List, member).min_items(1))
            .block(NestedBlock::new("peer", Nesting::List, peer)),
    )
}

/// A member's CA, checked.
#[derive(Clone, Debug)]
pub enum CaInput {
    Generate {
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
}

#[derive(Clone, Debug)]
pub struct Parsed {
    pub members: Vec<MemberInput>,
    pub peers: Vec<Peer>,
    pub bundle: BundleMode,
}

pub fn parse(ctx: &Ctx<'_>, config: &Value, diags: &mut Diagnostics) -> Option<Parsed> {
    let before = diags.0.len();
    let bundle = match values::string(config, "bundle") {
        Field::Known(b) => BundleMode::parse(&b).unwrap_or_else(|| {
            diags.error_at(
                AttrPath::attr("bundle"),
                "Invalid bundle",
                format!("bundle {b:?} is not one of mesh_config, cacerts."),
            );
            BundleMode::MeshConfig
        }),
        _ => BundleMode::MeshConfig,
    };
    let mut members = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (i, m) in config
        .get("member")
        .and_then(Value::elements)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = AttrPath::attr("member").index(i);
        if let Some(mi) = parse_member(ctx, m, &path, diags) {
            if !seen.insert(mi.cluster.clone()) {
                diags.error_at(
                    path.then("cluster"),
                    "Member listed twice",
                    format!(
                        "{} is already a member; list each cluster once.",
                        mi.cluster
                    ),
                );
                continue;
            }
            members.push(mi);
        }
    }
    let mut tds: BTreeSet<String> = members.iter().map(|m| m.trust_domain.clone()).collect();
    let mut peers = Vec::new();
    for (i, p) in config
        .get("peer")
        .and_then(Value::elements)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = AttrPath::attr("peer").index(i);
        if let Some(peer) = parse_peer(p, &path, diags) {
            if !tds.insert(peer.trust_domain.clone()) {
                diags.error_at(
                    path.then("trust_domain"),
                    "Trust domain listed twice",
                    format!(
                        "{} is already a member's or another peer's trust domain.",
                        peer.trust_domain
                    ),
                );
                continue;
            }
            peers.push(peer);
        }
    }
    if diags.0[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Parsed {
        members,
        peers,
        bundle,
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
    let cfg = match cluster_of(ctx, &cluster, path.then("cluster")) {
        Ok(c) => c,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let Some(mesh) = cfg.mesh.known() else {
        diags.error_at(path.then("cluster"), "Trust domain not known", format!("The trust domain of {cluster} depends on a value known only after apply; set it literally."));
        return None;
    };
    let empty = Value::Null;
    let ca_block = m
        .get("ca")
        .and_then(Value::elements)
        .and_then(|e| e.first())
        .unwrap_or(&empty);
    if let Err(e) = crate::mesh::trust::check_configmap_name(&mesh.trust_domain) {
        diags.error_at(
            path.then("cluster"),
            "Trust domain cannot name a ConfigMap",
            e.to_string(),
        );
        return None;
    }
    let ca = parse_ca(ca_block, &path.then("ca").index(0), diags)?;
    Some(MemberInput {
        cluster,
        trust_domain: mesh.trust_domain.clone(),
        istio_namespace: mesh.istio_namespace.clone(),
        ca,
    })
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
        .collect();
    match source.as_str() {
        "generate" => {
            for f in &set {
                diags.error_at(path.then(*f), format!("{f} is only for source = \"provided\""), "A generated CA needs no certificate or key; remove this, or set source = \"provided\".");
            }
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
                algorithm,
                root_validity,
                intermediate_validity,
            })
        }
        "cluster" => {
            for f in set.iter().chain(
                ["key_algorithm"]
                    .iter()
                    .filter(|_| !values::whole(ca, "key_algorithm").is_null()),
            ) {
                diags.error_at(path.then(*f), format!("{f} is not used with source = \"cluster\""), "An adopted CA stays the cluster's own; meshfed never writes its cacerts Secret.");
            }
            Some(CaInput::Cluster)
        }
        "provided" => parse_provided(ca, path, diags),
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

fn parse_provided(ca: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<CaInput> {
    let mut got = Vec::new();
    let mut unknown = false;
    for f in CA_FIELDS {
        match values::string(ca, f) {
            Field::Known(v) => got.push(v),
            Field::Unknown => {
                unknown = true;
                got.push(String::new());
            }
            Field::Null => {
                diags.error_at(
                    path.then(f),
                    format!("Missing {f}"),
                    format!("source = \"provided\" needs {}.", CA_FIELDS.join(", ")),
                );
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
    match cert::check_provided(provided, cert::now()) {
        Ok(checked) => {
            for w in checked.warnings() {
                diags.push(
                    Diagnostic::warning("CA certificate expires soon", w.to_string())
                        .at(path.then(field_name(w.field))),
                );
            }
            Some(CaInput::Provided(Some(checked)))
        }
        Err(problems) => {
            for p in &problems {
                let d = if p.is_warning() {
                    Diagnostic::warning("CA certificate expires soon", p.to_string())
                } else {
                    Diagnostic::error("Invalid CA material", p.to_string())
                };
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
        && let Err(e) = crate::mesh::trust::check_configmap_name(td)
    {
        diags.error_at(
            path.then("trust_domain"),
            "Trust domain cannot name a ConfigMap",
            e.to_string(),
        );
        return None;
    }
    if let Some(root) = &root {
        match cert::parse_root(root, cert::now()) {
            Ok(info) => {
                for w in &info.warnings {
                    diags.push(
                        Diagnostic::warning("Peer root expires soon", w.to_string())
                            .at(path.then("root_cert_pem")),
                    );
                }
            }
            Err(problem) => {
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

/// A `ca` block value with only `source` set.
pub fn ca_block_value(source: Option<&str>, key_algorithm: Option<&str>) -> Value {
    let Some(ca_ty) = ca_object_type() else {
        return Value::Null;
    };
    let mut v = Value::null_object(&ca_ty);
    if let Value::Object(m) = &mut v {
        if let Some(s) = source {
            m.insert("source".into(), Value::string(s));
        }
        if let Some(a) = key_algorithm {
            m.insert("key_algorithm".into(), Value::string(a));
        }
    }
    v
}

fn ca_object_type() -> Option<Type> {
    let s = schema();
    let member = s.block.blocks.iter().find(|b| b.type_name == "member")?;
    let ca = member.block.blocks.iter().find(|b| b.type_name == "ca")?;
    Some(ca.block.value_type())
}

/// A whole configuration value (every attribute present), for import.
pub fn config_value(members: Value, peers: Value, bundle: BundleMode) -> Value {
    let mut v = Value::null_object(&schema().value_type());
    if let Value::Object(m) = &mut v {
        m.insert("member".into(), members);
        m.insert("peer".into(), peers);
        m.insert("bundle".into(), Value::string(bundle.as_str()));
    }
    v
}
