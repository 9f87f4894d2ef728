//! The lifecycle every resource shares: a resource is a set of Kubernetes objects in one or more
//! clusters. Its `manifests` map (key `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`, value
//! the object as YAML with exactly the fields meshfed owns) is rendered at plan time from
//! configuration, written by server-side apply, pruned of objects dropped from it, and refreshed
//! by reading the live objects back and keeping only meshfed's fields — so drift in those fields,
//! and deleted objects, show as a plan diff, while others' fields never do.
//!
//! Secret data never appears in a manifest: it is shown as `sha256:<hex>` of the value.
//! Guarantee: after a failed apply, the returned map lists exactly the objects that are in place
//! (applied, or old ones not yet pruned), so Terraform keeps a state that a second apply finishes.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::k8s::ClusterSet;
use crate::k8s::error::K8sError;
use crate::k8s::object::ObjectRef;
use crate::k8s::project::project;
use crate::mesh::{Manifest, to_yaml};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{ReadRequest, ReadResponse};
use crate::tfplugin::value::Value;

/// One object a resource wants in one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub cluster: String,
    pub manifest: Manifest,
}

impl Desired {
    pub fn key(&self) -> String {
        self.manifest.key(&self.cluster)
    }
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::namespaced(
            &self.manifest.api_version,
            &self.manifest.kind,
            &self.manifest.namespace,
            &self.manifest.name,
        )
    }
    /// The YAML shown in plans and kept in state.
    pub fn display(&self) -> String {
        display_yaml(&self.manifest.object)
    }
}

/// Splits a manifests key into cluster and object.
pub fn parse_key(key: &str) -> Option<(String, ObjectRef)> {
    // <cluster>/<group>/<version>/<kind>/<ns>/<name> or <cluster>/<version>/<kind>/<ns>/<name>
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [cluster, group, version, kind, ns, name] => Some((
            cluster.to_string(),
            ObjectRef::namespaced(&format!("{group}/{version}"), kind, ns, name),
        )),
        [cluster, version, kind, ns, name] => Some((
            cluster.to_string(),
            ObjectRef::namespaced(version, kind, ns, name),
        )),
        _ => None,
    }
}

/// The object as shown to users: Secret data replaced by fingerprints.
pub fn display_yaml(object: &Json) -> String {
    to_yaml(&redact(object))
}

fn redact(object: &Json) -> Json {
    if object["kind"] != "Secret" {
        return object.clone();
    }
    let mut o = object.clone();
    for field in ["data", "stringData"] {
        if let Some(Json::Object(m)) = o.get_mut(field) {
            for v in m.values_mut() {
                let raw = v.as_str().unwrap_or_default();
                let bytes = if field == "data" {
                    decode_b64(raw)
                } else {
                    raw.as_bytes().to_vec()
                };
                *v = Json::String(fingerprint(&bytes));
            }
        }
    }
    o
}

fn decode_b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|_| s.as_bytes().to_vec())
}

/// `sha256:<lower-case hex>` of bytes.
pub fn fingerprint(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The `manifests` value for a set of objects.
pub fn manifests_value(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Reads a `manifests` value from state.
pub fn manifests_of(state: &Value) -> BTreeMap<String, String> {
    state
        .get("manifests")
        .and_then(Value::entries)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The display map of desired objects.
pub fn desired_map(desired: &[Desired]) -> BTreeMap<String, String> {
    desired.iter().map(|d| (d.key(), d.display())).collect()
}

/// Applies every desired object in order, then deletes the prior objects no longer desired.
/// Returns the objects now in place and the errors met; stops applying at the first error so
/// that dependants are not written before what they depend on.
pub async fn converge(
    clusters: &ClusterSet,
    desired: &[Desired],
    prior: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Diagnostics) {
    let mut in_place: BTreeMap<String, String> = prior.clone();
    let mut diags = Diagnostics::new();
    for d in desired {
        match clusters.apply(&d.cluster, &d.manifest.object).await {
            Ok(_) => {
                in_place.insert(d.key(), d.display());
            }
            Err(e) => {
                diags.push(error_diag("Cannot apply object", &e));
                return (in_place, diags);
            }
        }
    }
    let wanted: std::collections::BTreeSet<String> = desired.iter().map(Desired::key).collect();
    let stale: Vec<String> = prior
        .keys()
        .filter(|k| !wanted.contains(*k))
        .cloned()
        .collect();
    let (removed, d) = delete_keys(clusters, &stale).await;
    for k in removed {
        in_place.remove(&k);
    }
    diags.extend(d);
    (in_place, diags)
}

/// Like [`converge`], but a failure in one cluster does not stop the others: objects after a
/// failed one in the same cluster are skipped, other clusters still get theirs. Stale objects are
/// pruned only in clusters where every apply succeeded.
pub async fn converge_per_cluster(
    clusters: &ClusterSet,
    desired: &[Desired],
    prior: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Diagnostics) {
    let mut in_place: BTreeMap<String, String> = prior.clone();
    let mut diags = Diagnostics::new();
    let mut failed: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for d in desired {
        if failed.contains(&d.cluster) {
            continue;
        }
        match clusters.apply(&d.cluster, &d.manifest.object).await {
            Ok(_) => {
                in_place.insert(d.key(), d.display());
            }
            Err(e) => {
                diags.push(error_diag("Cannot apply object", &e));
                failed.insert(d.cluster.clone());
            }
        }
    }
    let wanted: std::collections::BTreeSet<String> = desired.iter().map(Desired::key).collect();
    let stale: Vec<String> = prior
        .keys()
        .filter(|k| !wanted.contains(*k))
        .filter(|k| parse_key(k).is_none_or(|(c, _)| !failed.contains(&c)))
        .cloned()
        .collect();
    let (removed, d) = delete_keys(clusters, &stale).await;
    for k in removed {
        in_place.remove(&k);
    }
    diags.extend(d);
    (in_place, diags)
}

/// Deletes the objects behind `keys`, continuing past failures. Returns the keys now gone.
pub async fn delete_keys(clusters: &ClusterSet, keys: &[String]) -> (Vec<String>, Diagnostics) {
    let mut gone = Vec::new();
    let mut diags = Diagnostics::new();
    for key in keys {
        let Some((cluster, obj)) = parse_key(key) else {
            gone.push(key.clone());
            continue;
        };
        match clusters.delete(&cluster, &obj).await {
            Ok(()) => gone.push(key.clone()),
            Err(e) => diags.push(error_diag("Cannot delete object", &e)),
        }
    }
    (gone, diags)
}

/// Reads back every object of `prior` and keeps only meshfed's fields: the refreshed map.
/// Objects gone from the cluster are left out. `desired` (rendered from the state's own inputs)
/// gives the shape of each object meshfed owns; an object not in it keeps its prior shape.
pub async fn refresh(
    clusters: &ClusterSet,
    desired: &[Desired],
    prior: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Diagnostics> {
    let by_key: BTreeMap<String, &Desired> = desired.iter().map(|d| (d.key(), d)).collect();
    let mut out = BTreeMap::new();
    for (key, prior_yaml) in prior {
        let Some((cluster, obj)) = parse_key(key) else {
            continue;
        };
        let live = clusters
            .get(&cluster, &obj)
            .await
            .map_err(|e| Diagnostics::from(error_diag("Cannot read object", &e)))?;
        let Some(live) = live else {
            tracing::info!(object = %key, "object is gone from the cluster");
            continue;
        };
        let shape = match by_key.get(key) {
            Some(d) => d.manifest.object.clone(),
            None => serde_saphyr::from_str::<Json>(prior_yaml).unwrap_or(Json::Null),
        };
        out.insert(
            key.clone(),
            display_yaml(&order_like(&project(&live, &shape), &shape)),
        );
    }
    Ok(out)
}

/// `value` with its object keys in the order `shape` has them (keys `shape` lacks follow, sorted),
/// so that a live object reads exactly like the rendered one; array elements follow the shape's
/// element at the same index (or its first).
pub fn order_like(value: &Json, shape: &Json) -> Json {
    match (value, shape) {
        (Json::Object(v), Json::Object(s)) => {
            let mut out = serde_json::Map::new();
            for (k, sv) in s {
                if let Some(vv) = v.get(k) {
                    out.insert(k.clone(), order_like(vv, sv));
                }
            }
            let mut rest: Vec<(&String, &Json)> =
                v.iter().filter(|(k, _)| !s.contains_key(*k)).collect();
            rest.sort_by(|a, b| a.0.cmp(b.0));
            for (k, vv) in rest {
                out.insert(k.clone(), vv.clone());
            }
            Json::Object(out)
        }
        (Json::Array(v), Json::Array(s)) => Json::Array(
            v.iter()
                .enumerate()
                .map(|(i, item)| match s.get(i).or(s.first()) {
                    Some(template) => order_like(item, template),
                    None => item.clone(),
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// ReadResource for a resource whose state holds a `manifests` map: the refreshed map in the
/// state, or no state at all when every object is gone; errors keep the state as it was.
pub async fn refresh_state(
    clusters: &ClusterSet,
    desired: &[Desired],
    req: ReadRequest,
) -> ReadResponse {
    let prior = manifests_of(&req.current_state);
    match refresh(clusters, desired, &prior).await {
        Ok(now) if now.is_empty() && !prior.is_empty() => ReadResponse {
            new_state: Value::Null,
            ..ReadResponse::default()
        },
        Ok(now) => {
            let mut state = req.current_state;
            if let Value::Object(m) = &mut state {
                m.insert("manifests".into(), manifests_value(&now));
            }
            ReadResponse {
                new_state: state,
                private: req.private,
                ..ReadResponse::default()
            }
        }
        Err(diagnostics) => ReadResponse {
            new_state: req.current_state,
            private: req.private,
            diagnostics,
        },
    }
}

/// One diagnostic for an engine error: the summary given, the error (which names the cluster
/// and object) as detail, and Istio's absence said plainly.
pub fn error_diag(summary: &str, e: &K8sError) -> Diagnostic {
    if let K8sError::MissingKind {
        cluster,
        api_version,
        kind,
    } = e
        && api_version.contains("istio.io")
    {
        return Diagnostic::error(
            format!("Istio is not installed in {cluster}"),
            format!(
                "The API server of {cluster} does not serve {api_version} {kind}: Istio's CRDs are missing. Install Istio (1.22 or later) in that cluster, then apply again.\n\n{}",
                crate::tfplugin::diag::cause_chain(e)
            ),
        );
    }
    Diagnostic::from_error(format!("{summary} in {}", e.cluster()), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_for_grouped_and_core_kinds() {
        let (c, o) =
            parse_key("cluster-a.local/networking.istio.io/v1/ServiceEntry/abc/bar").expect("key");
        assert_eq!(c, "cluster-a.local");
        assert_eq!(
            o,
            ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", "abc", "bar")
        );
        let (_, o) = parse_key("cluster-a.local/v1/ConfigMap/istio-system/x").expect("core key");
        assert_eq!(o.api_version, "v1");
        assert!(parse_key("nonsense").is_none());
    }

    #[test]
    fn secret_data_is_shown_only_as_fingerprints() {
        use base64::Engine;
        let key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts"}, "data": {"ca-key.pem": b64}});
        let y = display_yaml(&secret);
        assert!(!y.contains("PRIVATE KEY") && !y.contains(&b64), "{y}");
        assert!(y.contains(&fingerprint(key.as_bytes())), "{y}");
    }

    #[test]
    fn live_objects_are_shown_in_the_rendered_key_order() {
        let shape = json!({"spec": {"ports": [{"number": 1, "protocol": "HTTP", "name": "a"}], "hosts": ["h"]}});
        let live = json!({"spec": {"hosts": ["h"], "ports": [{"name": "a", "number": 1, "protocol": "HTTP"}, {"name": "b", "number": 2, "protocol": "TCP"}]}});
        let ordered = order_like(&live, &shape);
        assert_eq!(
            to_yaml(&ordered),
            to_yaml(
                &json!({"spec": {"ports": [{"number": 1, "protocol": "HTTP", "name": "a"}, {"number": 2, "protocol": "TCP", "name": "b"}], "hosts": ["h"]}})
            )
        );
    }

    #[test]
    fn a_missing_istio_kind_says_istio_is_not_installed() {
        let e = K8sError::MissingKind {
            cluster: "cluster-a.local".into(),
            api_version: "networking.istio.io/v1".into(),
            kind: "ServiceEntry".into(),
        };
        let d = error_diag("Cannot apply object", &e);
        assert_eq!(d.summary, "Istio is not installed in cluster-a.local");
        assert!(d.detail.contains("ServiceEntry"), "{}", d.detail);
        let core = K8sError::MissingKind {
            cluster: "cluster-a.local".into(),
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
        };
        assert_eq!(
            error_diag("Cannot apply object", &core).summary,
            "Cannot apply object in cluster-a.local"
        );
    }

    #[test]
    fn other_objects_are_shown_whole() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        assert!(display_yaml(&cm).contains("k: v"));
    }
}
