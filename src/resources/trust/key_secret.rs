//! `ca { source = "provided"  key_secret { namespace, name, key } }`: the provided CA's key
//! kept in a Secret of the member cluster that the operator manages. The key never passes
//! through Terraform values: meshfed reads it only at apply, checks it against `cert_pem`, writes
//! it into `cacerts` and forgets it. State and plan show only its `sha256:` digest, as for every
//! Secret value; before the first apply the plan shows the `cacerts` Secret as known after apply.
//!
//! Works with every CLI, including those without write-only attributes. A block rather than a
//! nested attribute: Terraform 1.0 panics decoding a list of `member` blocks in which one sets an
//! object attribute with optional parts and another leaves it null.

use super::input::MemberInput;
use crate::cert::encoding::{base64_decode, sha256_display};
use crate::k8s::ObjectRef;
use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::resources::context::Ctx;
use crate::resources::objects::{Manifests, error_diag};
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::tfplugin::value::{Type, Value};

/// The Secret key read when `key` is not set: a `kubernetes.io/tls` Secret's key.
pub const DEFAULT_KEY: &str = "tls.key";

/// Where a provided CA's key is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySecret {
    /// `None`: the member's Istio namespace.
    pub namespace: Option<String>,
    pub name: String,
    pub key: String,
    /// The attribute, for diagnostics.
    pub path: AttrPath,
}

/// The `key_secret` block of the `ca` block (at most one).
pub fn block() -> NestedBlock {
    let inner = Block::new()
        .describe("`provided`, instead of `key_pem`: a Secret in the member cluster that holds the private key of `cert_pem`. meshfed reads it only at apply and never stores it; works with every Terraform and OpenTofu version.")
        .attr(Attribute::optional("namespace", Type::String).describe("The Secret's namespace. Default: the member's Istio namespace."))
        .attr(Attribute::required("name", Type::String).describe("The Secret's name."))
        .attr(Attribute::optional("key", Type::String).describe(&format!("The key under `data` holding the PEM private key of `cert_pem`. Default `{DEFAULT_KEY}`.")));
    NestedBlock::new("key_secret", Nesting::List, inner).max_items(1)
}

/// The `key_secret` block's value: its single element, null when absent.
fn value(ca: &Value) -> Field<&Value> {
    match values::whole(ca, "key_secret") {
        Field::Known(list) => match list.elements().and_then(<[Value]>::first) {
            Some(v) if v.is_unknown() => Field::Unknown,
            Some(v) => Field::Known(v),
            None => Field::Null,
        },
        other => other,
    }
}

/// Whether the `ca` block sets `key_secret` (known or not).
pub fn is_set(ca: &Value) -> bool {
    !matches!(value(ca), Field::Null)
}

/// The reference in the `ca` block at `path`, checked; `None` when not set or when `diags` got
/// an error (every part must be known at plan).
pub fn parse(ca: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Option<KeySecret> {
    let path = path.then("key_secret").index(0);
    let v = match value(ca) {
        Field::Null => return None,
        Field::Unknown => {
            diags.error_at(
                path,
                "key_secret not known",
                "key_secret must be known at plan time.",
            );
            return None;
        }
        Field::Known(v) => v,
    };
    let mut part = |name: &str, check: fn(&str) -> Result<(), String>| match values::string(v, name)
    {
        Field::Known(s) => match check(&s) {
            Ok(()) => Some(Some(s)),
            Err(why) => {
                diags.error_at(path.then(name), format!("Invalid key_secret.{name}"), why);
                None
            }
        },
        Field::Null => Some(None),
        Field::Unknown => {
            diags.error_at(
                path.then(name),
                format!("key_secret.{name} not known"),
                "key_secret must be known at plan time.",
            );
            None
        }
    };
    let namespace = part("namespace", |s| {
        check_dns_label(s).map_err(|e| e.to_string())
    });
    let name = part("name", |s| {
        check_dns_subdomain(s).map_err(|e| e.to_string())
    });
    let key = part("key", check_secret_key);
    Some(KeySecret {
        namespace: namespace?,
        name: name??,
        key: key?.unwrap_or_else(|| DEFAULT_KEY.to_string()),
        path,
    })
}

/// A Secret data key: letters, digits, `-`, `_` and `.`, at most 253 characters.
fn check_secret_key(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid Secret key (letters, digits, '-', '_', '.')."
        ))
    }
}

/// The Secret `r` names in member `m`'s cluster.
fn secret(m: &MemberInput, r: &KeySecret) -> ObjectRef {
    let ns = r.namespace.as_deref().unwrap_or(&m.istio_namespace);
    ObjectRef::namespaced("v1", "Secret", ns, &r.name)
}

/// At apply: the key PEM in the Secret; an error on the attribute naming the cluster and the
/// Secret when it cannot be read, does not exist or lacks the key.
pub async fn read(ctx: &Ctx<'_>, m: &MemberInput, r: &KeySecret) -> Result<String, Diagnostic> {
    let obj = secret(m, r);
    let live = ctx
        .clusters
        .get(&m.cluster, &obj)
        .await
        .map_err(|e| error_diag("Cannot read the CA key Secret", &e).at(r.path.clone()))?;
    let at = format!(
        "Secret {}/{} in {}",
        obj.namespace.as_deref().unwrap_or_default(),
        obj.name,
        m.cluster
    );
    let Some(live) = live else {
        return Err(Diagnostic::error(
            "CA key Secret not found",
            format!("key_secret names {at}, which does not exist. Create it with the private key of cert_pem under data.{}.", r.key),
        )
        .at(r.path.clone()));
    };
    let data = live["data"][&r.key].as_str().and_then(base64_decode);
    match data.and_then(|b| String::from_utf8(b).ok()) {
        Some(pem) if !pem.trim().is_empty() => Ok(pem),
        _ => Err(Diagnostic::error(
            "CA key not in the Secret",
            format!("{at} has no PEM text under data.{}; put the private key of cert_pem there, or set key_secret.key to the key that holds it.", r.key),
        )
        .at(r.path.clone())),
    }
}

/// At plan: how the `cacerts` Secret shows the key. Its digest as the prior state shows it while
/// that Secret holds the same `cert_pem` (a key changes only with its certificate); `None` (known
/// after apply) otherwise.
pub fn planned_display(
    prior: &Manifests,
    cacerts: &crate::resources::objects::ObjectKey,
    cert_pem: &str,
) -> Option<String> {
    let yaml = prior.get(cacerts)?;
    let j: serde_json::Value = serde_saphyr::from_str(yaml).ok()?;
    let cert_shown = j["data"]["ca-cert.pem"].as_str()?;
    if cert_shown != sha256_display(crate::cert::encoding::pem_text(cert_pem).as_bytes()) {
        return None;
    }
    j["data"]["ca-key.pem"].as_str().map(str::to_string)
}
