//! A resource's objects as Terraform state holds them. Every resource is a set of Kubernetes
//! objects in one or more clusters; its `manifests` map is keyed by [`ObjectKey`] (written
//! `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`, the one encoding of an object's identity in
//! state) and holds each object as YAML with exactly the fields meshfed owns.
//!
//! Secret data never appears in a manifest: it is shown as `sha256:<hex>` of the value.
//! Pure: no API calls here (see [`super::lifecycle`]).
//! Must not import the provider layer or any resource.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value as Json;

use crate::cert::encoding::{base64_decode, sha256_display};
use crate::k8s::error::K8sError;
use crate::k8s::object::ObjectRef;
use crate::mesh::{Manifest, to_yaml};
use crate::tfplugin::diag::{Diagnostic, cause_chain};
use crate::tfplugin::value::Value;

/// Where one object of a resource lives: its cluster and its identity there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub cluster: String,
    pub object: ObjectRef,
}

impl ObjectKey {
    pub fn new(cluster: &str, object: ObjectRef) -> ObjectKey {
        ObjectKey {
            cluster: cluster.to_string(),
            object,
        }
    }

    /// The key of a rendered object in `cluster`.
    pub fn of(cluster: &str, m: &Manifest) -> ObjectKey {
        let object = ObjectRef::namespaced(&m.api_version, &m.kind, &m.namespace, &m.name);
        ObjectKey::new(cluster, object)
    }
}

impl fmt::Display for ObjectKey {
    /// `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`; the namespace is empty for a
    /// cluster-scoped object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.object;
        let ns = o.namespace.as_deref().unwrap_or("");
        write!(
            f,
            "{}/{}/{}/{ns}/{}",
            self.cluster, o.api_version, o.kind, o.name
        )
    }
}

/// A `manifests` key that is not `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not <cluster>/<apiVersion>/<kind>/<namespace>/<name>")]
pub struct InvalidKey(pub String);

impl FromStr for ObjectKey {
    type Err = InvalidKey;

    /// Reads what [`Display`](fmt::Display) writes. The API version has a group
    /// (`networking.istio.io/v1`) or not (`v1`), so a key has six parts or five.
    fn from_str(key: &str) -> Result<ObjectKey, InvalidKey> {
        let parts: Vec<&str> = key.split('/').collect();
        let (cluster, api_version, rest) = match parts.as_slice() {
            [c, group, version, rest @ ..] if rest.len() == 3 => {
                (*c, format!("{group}/{version}"), rest)
            }
            [c, version, rest @ ..] if rest.len() == 3 => (*c, version.to_string(), rest),
            _ => return Err(InvalidKey(key.to_string())),
        };
        let [kind, namespace, name] = rest else {
            return Err(InvalidKey(key.to_string()));
        };
        if [cluster, api_version.as_str(), kind, name].contains(&"") {
            return Err(InvalidKey(key.to_string()));
        }
        let object = ObjectRef {
            api_version,
            kind: kind.to_string(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            name: name.to_string(),
        };
        Ok(ObjectKey::new(cluster, object))
    }
}

/// The objects of a resource as state holds them: key → YAML of the fields meshfed owns.
pub type Manifests = BTreeMap<ObjectKey, String>;

/// One object a resource wants in one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub cluster: String,
    pub manifest: Manifest,
}

impl Desired {
    /// Each of `manifests` in `cluster`.
    pub fn all_in(cluster: &str, manifests: Vec<Manifest>) -> Vec<Desired> {
        manifests
            .into_iter()
            .map(|manifest| Desired {
                cluster: cluster.to_string(),
                manifest,
            })
            .collect()
    }
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.cluster, &self.manifest)
    }
    /// The YAML shown in plans and kept in state.
    pub fn display(&self) -> String {
        display_yaml(&self.manifest.object)
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
                let bytes = match field {
                    "data" => base64_decode(raw).unwrap_or_else(|| raw.as_bytes().to_vec()),
                    _ => raw.as_bytes().to_vec(),
                };
                *v = Json::String(sha256_display(&bytes));
            }
        }
    }
    o
}

/// The display map of desired objects.
pub fn desired_map(desired: &[Desired]) -> Manifests {
    desired.iter().map(|d| (d.key(), d.display())).collect()
}

/// The `manifests` value for a set of objects.
pub fn manifests_value(m: &Manifests) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect(),
    )
}

/// Reads a `manifests` value from state. A key that is no object key names nothing meshfed can
/// reach, and is left out.
pub fn manifests_of(state: &Value) -> Manifests {
    let Some(entries) = state.get("manifests").and_then(Value::entries) else {
        return Manifests::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
        .collect()
}

/// The object keys of a (planned) `manifests` value, including those whose YAML is not known yet.
pub fn manifest_keys(state: &Value) -> Vec<ObjectKey> {
    let Some(entries) = state.get("manifests").and_then(Value::entries) else {
        return Vec::new();
    };
    entries.keys().filter_map(|k| k.parse().ok()).collect()
}

/// `state` with its `manifests` replaced by `m`.
pub fn with_manifests(mut state: Value, m: &Manifests) -> Value {
    if let Value::Object(attrs) = &mut state {
        attrs.insert("manifests".into(), manifests_value(m));
    }
    state
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

/// A live object as state shows it: only the fields `shape` has (those meshfed owns), in the
/// order `shape` has them, Secret values as digests.
pub fn live_display(live: &Json, shape: &Json) -> String {
    display_yaml(&order_like(&crate::k8s::project(live, shape), shape))
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
                "The API server of {cluster} does not serve {api_version} {kind}: Istio's CRDs are missing. Install Istio (1.22 or later) in that cluster, then apply again. If Istio was removed on purpose, its objects went with it: `terraform destroy -refresh=false` (or `terraform state rm`) forgets meshfed's resources there without reading them.\n\n{}",
                cause_chain(e)
            ),
        );
    }
    if let K8sError::Forbidden { .. } = e {
        return forbidden_diag(summary, e);
    }
    Diagnostic::from_error(format!("{summary} in {}", e.cluster()), e)
}

/// A permission RBAC refused: who may not do what where, the request it stopped, and where the
/// permissions meshfed needs are listed. Every request refused the same permission (same cluster,
/// identity, verb, resource and namespace) shares one error.
fn forbidden_diag(summary: &str, e: &K8sError) -> Diagnostic {
    let K8sError::Forbidden { request, denial } = e else {
        return Diagnostic::from_error(format!("{summary} in {}", e.cluster()), e);
    };
    let cluster = &request.cluster;
    let who = denial.identity();
    let (verb, resource) = (&denial.verb, &denial.resource);
    let (place, binding) = match &denial.namespace {
        Some(ns) => (
            format!(" in namespace {ns:?}"),
            format!(
                " A RoleBinding in namespace {ns:?} grants it there; if that namespace does not exist yet, create it first, then the binding."
            ),
        ),
        None => (String::new(), String::new()),
    };
    Diagnostic::error(
        format!("{summary} in {cluster}: permission denied"),
        format!(
            "{who} may not {verb} {resource}{place} of {cluster}, so meshfed could not {op} {object} (RBAC answered 403 Forbidden; any other request needing that permission fails the same way). Grant that identity the permission: meshfed's RBAC guide (docs/guides/rbac.md) lists what each resource needs, and examples/rbac/ applies it.{binding}\n\nThe API server said: {message}",
            op = request.op,
            object = request.object,
            message = denial.message,
        ),
    )
    .once(format!("forbidden {cluster} {who} {verb} {resource}{place}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_for_grouped_core_and_cluster_scoped_objects() {
        for object in [
            ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", "abc", "bar"),
            ObjectRef::namespaced("v1", "ConfigMap", "istio-system", "meshfed-mesh-config"),
            ObjectRef::cluster_scoped("v1", "Namespace", "abc"),
        ] {
            let key = ObjectKey::new("cluster-a.local", object);
            assert_eq!(key.to_string().parse(), Ok(key.clone()), "{key}");
        }
        let se = ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", "abc", "bar");
        assert_eq!(
            ObjectKey::new("cluster-a.local", se).to_string(),
            "cluster-a.local/networking.istio.io/v1/ServiceEntry/abc/bar"
        );
        let cm: ObjectKey = "cluster-a.local/v1/ConfigMap/istio-system/x"
            .parse()
            .expect("core key");
        assert_eq!(cm.object.api_version, "v1");
        assert_eq!(cm.object.namespace.as_deref(), Some("istio-system"));
    }

    #[test]
    fn keys_of_another_shape_are_refused() {
        for bad in [
            "nonsense",
            "cluster-a.local/ConfigMap/abc/x",
            "cluster-a.local/v1/ConfigMap/abc/",
            "/v1/ConfigMap/abc/x",
            "c/a/b/c/d/e/f",
        ] {
            assert!(bad.parse::<ObjectKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_of_a_rendered_object_names_its_cluster_and_identity() {
        let m = Manifest::new(
            "v1",
            "ConfigMap",
            json!({"name": "x", "namespace": "istio-system"}),
            "data",
            json!({}),
        );
        assert_eq!(
            ObjectKey::of("cluster-b.local", &m).to_string(),
            "cluster-b.local/v1/ConfigMap/istio-system/x"
        );
    }

    #[test]
    fn state_keys_that_name_no_object_are_left_out() {
        let state = Value::object([(
            "manifests",
            Value::Map(BTreeMap::from([
                ("c/v1/ConfigMap/ns/x".to_string(), Value::string("a: 1\n")),
                ("nonsense".to_string(), Value::string("b: 2\n")),
            ])),
        )]);
        let m = manifests_of(&state);
        assert_eq!(m.len(), 1);
        assert_eq!(
            Some(&manifests_value(&m)),
            with_manifests(state, &m).get("manifests")
        );
    }

    #[test]
    fn secret_data_is_shown_only_as_fingerprints() {
        let key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
        let b64 = crate::cert::encoding::base64_encode(key.as_bytes());
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts"}, "data": {"ca-key.pem": b64}});
        let y = display_yaml(&secret);
        assert!(!y.contains("PRIVATE KEY") && !y.contains(&b64), "{y}");
        assert!(y.contains(&sha256_display(key.as_bytes())), "{y}");
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

    fn denied(name: &str, verb: &str) -> K8sError {
        let user = "system:serviceaccount:meshfed-system:meshfed";
        K8sError::Forbidden {
            request: Box::new(crate::k8s::FailedRequest {
                cluster: "cluster-a.local".into(),
                op: crate::k8s::Op::Delete,
                object: ObjectRef::namespaced("v1", "ConfigMap", "istio-system", name),
            }),
            denial: Box::new(crate::k8s::error::Denial {
                verb: verb.into(),
                resource: "configmaps".into(),
                namespace: Some("istio-system".into()),
                user: Some(user.into()),
                origin: "kubeconfig /k, context a".into(),
                message: format!("configmaps {name:?} is forbidden: User {user:?} cannot {verb}"),
            }),
        }
    }

    #[test]
    fn a_permission_refused_is_one_error_naming_cluster_identity_verb_and_resource() {
        let d = error_diag("Cannot delete object", &denied("one", "delete"));
        assert_eq!(
            d.summary,
            "Cannot delete object in cluster-a.local: permission denied"
        );
        assert!(
            d.detail.starts_with(
                "system:serviceaccount:meshfed-system:meshfed may not delete configmaps in \
                 namespace \"istio-system\" of cluster-a.local, so meshfed could not delete v1 \
                 ConfigMap istio-system/one"
            ),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("docs/guides/rbac.md"), "{}", d.detail);
        let mut diags = crate::tfplugin::diag::Diagnostics::new();
        diags.push(d);
        diags.push(error_diag("Cannot delete object", &denied("two", "delete")));
        diags.push(error_diag("Cannot delete object", &denied("two", "get")));
        assert_eq!(
            diags.iter().count(),
            2,
            "one error per permission: {diags:?}"
        );
    }

    #[test]
    fn other_objects_are_shown_whole() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        assert!(display_yaml(&cm).contains("k: v"));
    }
}
