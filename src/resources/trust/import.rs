//! Import of `meshfed_trust` by its member clusters (`cluster-a.local,cluster-b.local`, or the
//! identity `{ members = [...] }`): reads
//! each member's `cacerts` Secret (a CA meshfed can keep using, remembered without its key) or
//! adopts the cluster's own root where there is none, then reads back the objects a plan of that
//! configuration would own.

use std::collections::BTreeMap;

use super::Trust;
use super::ca::{MemberPlan, decode_text, plan_cas, read_cluster_root};
use super::input::{self, CaInput, TrustInput};
use super::state::{self, Private, Remembered, cacerts_key, planned_manifests, roots_value};
use crate::cert::encoding::{certificate_count, first_pem, pem_text, sha256_display};
use crate::cert::{self, KeyAlgorithm};
use crate::mesh::Manifest;
use crate::mesh::trust::{self as tr, BundleMode};
use crate::resources::context::Ctx;
use crate::resources::lifecycle::refresh;
use crate::resources::objects::{Manifests, error_diag, manifests_value};
use crate::resources::resource::Outcome;
use crate::resources::resource::Resource;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::identity::{IdentityAttribute, IdentitySchema};
use crate::tfplugin::value::{Type, Value};

/// `members`: the member clusters, in order.
pub(super) fn identity_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![IdentityAttribute::required(
            "members",
            Type::list(Type::String),
            "The member clusters (`cluster` labels of the provider), in the order of the `member` blocks.",
        )],
    }
}

/// The member clusters of `state`.
pub(super) fn identity(state: &Value) -> Value {
    let members = state
        .get("member")
        .and_then(Value::elements)
        .unwrap_or_default();
    let clusters = members
        .iter()
        .map(|m| m.get("cluster").cloned().unwrap_or(Value::Null));
    Value::object([("members", Value::List(clusters.collect()))])
}

/// `<cluster>,<cluster>,...` of an identity's members.
pub(super) fn import_id(identity: &Value) -> Result<String, String> {
    let members = identity
        .get("members")
        .and_then(Value::elements)
        .unwrap_or_default();
    let clusters: Vec<&str> = members.iter().filter_map(Value::as_str).collect();
    if clusters.is_empty() {
        return Err("has no members".into());
    }
    if let Some(c) = clusters.iter().find(|c| c.contains(',') || c.is_empty()) {
        return Err(format!("has a member {c:?}, which is no cluster name"));
    }
    Ok(clusters.join(","))
}

/// The state and private data of the trust among the clusters `id` lists.
pub(super) async fn import(ctx: &Ctx<'_>, id: &str) -> Result<Outcome, Diagnostics> {
    let clusters: Vec<&str> = id
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if clusters.is_empty() {
        return Err(Diagnostic::error(
            "Invalid import ID",
            "Expected the member cluster names, comma-separated, e.g. cluster-a.local,cluster-b.local.",
        )
        .into());
    }
    let mut found = Found::default();
    for c in &clusters {
        found.read_member(ctx, c).await?;
    }
    let config = config_value(Value::List(found.members), found.bundle);
    let mut diags = Diagnostics::new();
    let p = input::parse(ctx, &config, &mut diags).ok_or(diags)?;
    let mut private = found.private;
    // Adopted roots are read now, so that the imported state is complete.
    for m in p
        .members
        .iter()
        .filter(|m| matches!(m.ca, CaInput::Cluster))
    {
        let root = read_cluster_root(ctx, m).await?;
        private.adopted.insert(m.cluster.clone(), root);
    }
    let mut diags = Diagnostics::new();
    let Some(cas) = plan_cas(&p, &private, &secret_displays(&p, &private), &mut diags) else {
        return Err(diags);
    };
    let live = live_objects(ctx, &p, &cas).await?;
    let (roots, prints) = roots_value(&p, &cas);
    let roots = (state::strip_unknown(roots), state::strip_unknown(prints));
    let not_after = state::strip_unknown(super::expiry::value(&p, &cas));
    Ok(Outcome {
        state: state::state(&config, &p, roots, not_after, manifests_value(&live)),
        private: private.to_bytes(),
    })
}

/// What the members' clusters hold: the configuration that describes it, and what to remember.
#[derive(Default)]
struct Found {
    members: Vec<Value>,
    bundle: BundleMode,
    private: Private,
}

impl Found {
    /// Reads member `cluster`'s `cacerts` Secret: a CA to keep (with a `ca` block only where the
    /// configuration needs one: a key algorithm that is not the default), or none, to adopt.
    async fn read_member(&mut self, ctx: &Ctx<'_>, cluster: &str) -> Result<(), Diagnostic> {
        let mesh = ctx.cluster(cluster, AttrPath::root())?.mesh.as_known();
        let mesh = mesh.ok_or_else(|| {
            Diagnostic::error(
                "Mesh facts unknown",
                format!("The mesh facts of {cluster} are not known."),
            )
        })?;
        let secret = cacerts_key(cluster, &mesh.istio_namespace).object;
        let live = ctx.clusters.get(cluster, &secret).await;
        let live = live.map_err(|e| error_diag("Cannot read the cacerts Secret", &e))?;
        let Some(s) = live else {
            self.members
                .push(member_block(cluster, Some("cluster"), None));
            return Ok(());
        };
        let field = |k: &str| s["data"][k].as_str().map(decode_text).unwrap_or_default();
        let root_bundle = field(tr::ROOT_CERT_KEY);
        if certificate_count(&root_bundle) > 1 {
            self.bundle = BundleMode::Cacerts;
        }
        let algorithm = cert::key_algorithm_of(&field("ca-cert.pem")).unwrap_or_default();
        let remembered = Remembered {
            root_cert_pem: first_pem(&root_bundle),
            ca_cert_pem: field("ca-cert.pem"),
            cert_chain_pem: field("cert-chain.pem"),
            key_display: sha256_display(pem_text(&field("ca-key.pem")).as_bytes()),
            key_algorithm: algorithm.as_str().to_string(),
            generation: 1,
        };
        self.private
            .generated
            .insert(cluster.to_string(), remembered);
        let non_default = (algorithm != KeyAlgorithm::default()).then_some(algorithm.as_str());
        self.members.push(member_block(cluster, None, non_default));
        Ok(())
    }
}

/// What the clusters hold of the objects a plan of `p` would own, as state shows them.
async fn live_objects(
    ctx: &Ctx<'_>,
    p: &TrustInput,
    cas: &BTreeMap<String, MemberPlan>,
) -> Result<Manifests, Diagnostics> {
    let planned = planned_manifests(p, cas)?;
    let planned: Manifests = planned
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    refresh(ctx.clusters, &[], &planned).await
}

/// Secret manifests as the remembered material shows them (for import's planning).
fn secret_displays(p: &TrustInput, private: &Private) -> Manifests {
    let shown = |m: &input::MemberInput| {
        let r = private.generated.get(&m.cluster)?;
        let ca_cert = sha256_display(pem_text(&r.ca_cert_pem).as_bytes());
        let data = serde_json::json!({"ca-cert.pem": ca_cert, "ca-key.pem": r.key_display});
        let metadata =
            serde_json::json!({"name": tr::CACERTS_SECRET, "namespace": m.istio_namespace});
        let manifest = Manifest::new("v1", "Secret", metadata, "data", data);
        Some((
            cacerts_key(&m.cluster, &m.istio_namespace),
            manifest.to_yaml(),
        ))
    };
    p.members.iter().filter_map(shown).collect()
}

/// A `member` block for `cluster`, with a `ca` block only when `source` or `key_algorithm` is
/// set.
fn member_block(cluster: &str, source: Option<&str>, key_algorithm: Option<&str>) -> Value {
    let ca = match (source, key_algorithm) {
        (None, None) => Value::List(vec![]),
        (s, a) => Value::List(vec![ca_block_value(s, a)]),
    };
    Value::object([
        ("cluster", Value::string(cluster)),
        ("rotation", Value::Null),
        ("ca", ca),
    ])
}

/// A `ca` block value with only `source` and `key_algorithm` set (when given).
fn ca_block_value(source: Option<&str>, key_algorithm: Option<&str>) -> Value {
    let Some(ca_ty) = ca_object_type() else {
        return Value::Null;
    };
    let mut v = Value::null_object(&ca_ty);
    if let Value::Object(m) = &mut v {
        // An absent nested block is an empty list, as Terraform sends it in configuration.
        m.insert("key_secret".into(), Value::List(vec![]));
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
    let s = Trust.schema();
    let member = s.block.blocks.iter().find(|b| b.type_name == "member")?;
    let ca = member.block.blocks.iter().find(|b| b.type_name == "ca")?;
    Some(ca.block.value_type())
}

/// A whole configuration value (every attribute present) with these members and no peers.
fn config_value(members: Value, bundle: BundleMode) -> Value {
    let mut v = Value::null_object(&Trust.schema().value_type());
    if let Value::Object(m) = &mut v {
        m.insert("member".into(), members);
        m.insert("peer".into(), Value::List(vec![]));
        m.insert("bundle".into(), Value::string(bundle.as_str()));
    }
    v
}
