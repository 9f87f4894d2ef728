//! Object identity: which Kubernetes object a request is about (`apiVersion`, `kind`, namespace,
//! name), how it is written in messages, and where it lives in the API (its
//! resource plural, guessed from the kind without a discovery round trip). Pure; knows nothing of
//! Istio or Terraform.

use std::fmt;

use kube::core::{ApiResource, DynamicObject, GroupVersionKind, Resource};
use serde_json::Value;

/// One Kubernetes object, by identity. `namespace` is `None` for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// Why a JSON value cannot be sent as a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectProblem {
    #[error("the object is not a JSON object")]
    NotAnObject,
    #[error("the object has no string field {field}")]
    MissingField { field: &'static str },
}

impl ObjectRef {
    /// A namespaced object.
    pub fn namespaced(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            namespace: Some(namespace.to_string()),
            ..ObjectRef::cluster_scoped(api_version, kind, name)
        }
    }

    /// A cluster-scoped object.
    pub fn cluster_scoped(api_version: &str, kind: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: None,
            name: name.to_string(),
        }
    }

    /// The identity of a whole object: `apiVersion`, `kind`, `metadata.namespace` (absent or
    /// empty: cluster-scoped) and `metadata.name`.
    pub fn from_object(object: &Value) -> Result<ObjectRef, ObjectProblem> {
        let map = object.as_object().ok_or(ObjectProblem::NotAnObject)?;
        let text = |v: Option<&Value>, field: &'static str| {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or(ObjectProblem::MissingField { field })
        };
        let metadata = map.get("metadata");
        Ok(ObjectRef {
            api_version: text(map.get("apiVersion"), "apiVersion")?,
            kind: text(map.get("kind"), "kind")?,
            namespace: metadata
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            name: text(metadata.and_then(|m| m.get("name")), "metadata.name")?,
        })
    }

    /// The API group (`""` for the core group of `v1`).
    pub fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The API version without the group (`v1`).
    pub fn version(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// Where this kind lives in the API, with its plural guessed from the kind (right for every
    /// kind meshfed writes; no discovery round trip).
    pub fn api_resource(&self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(self.group(), self.version(), &self.kind);
        ApiResource::from_gvk(&gvk)
    }

    /// The resource name as RBAC and error messages write it: `configmaps`,
    /// `serviceentries.networking.istio.io`.
    pub fn resource(&self) -> String {
        let ar = self.api_resource();
        if ar.group.is_empty() {
            ar.plural
        } else {
            format!("{}.{}", ar.plural, ar.group)
        }
    }

    /// The URL path of this object's collection, e.g.
    /// `/apis/networking.istio.io/v1/namespaces/abc/serviceentries`.
    pub fn collection_path(&self) -> String {
        DynamicObject::url_path(&self.api_resource(), self.namespace.as_deref())
    }
}

impl fmt::Display for ObjectRef {
    /// `networking.istio.io/v1 ServiceEntry abc/bar`, or `v1 Namespace abc` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.api_version, self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)
    }
}

/// The field managers recorded on a live object (`metadata.managedFields`), each as
/// `manager (operation)`, in the order the API server lists them, without repeats.
pub fn field_managers(live: &Value) -> Vec<String> {
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array);
    let mut out: Vec<String> = Vec::new();
    for e in entries.into_iter().flatten() {
        let manager = e["manager"].as_str().unwrap_or("(unnamed)");
        let entry = match e["operation"].as_str() {
            Some(op) => format!("{manager} ({op})"),
            None => manager.to_string(),
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Whether `manager` is one of the live object's field managers.
pub fn managed_by(live: &Value, manager: &str) -> bool {
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .any(|e| e["manager"].as_str() == Some(manager))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plural(api_version: &str, kind: &str) -> String {
        ObjectRef::namespaced(api_version, kind, "ns", "n")
            .api_resource()
            .plural
    }

    #[test]
    fn plurals_of_the_kinds_meshfed_writes_are_the_served_ones() {
        assert_eq!(
            plural("networking.istio.io/v1", "ServiceEntry"),
            "serviceentries"
        );
        assert_eq!(
            plural("networking.istio.io/v1", "DestinationRule"),
            "destinationrules"
        );
        assert_eq!(plural("networking.istio.io/v1", "Gateway"), "gateways");
        assert_eq!(
            plural("security.istio.io/v1", "AuthorizationPolicy"),
            "authorizationpolicies"
        );
        assert_eq!(plural("v1", "Secret"), "secrets");
        assert_eq!(plural("v1", "ConfigMap"), "configmaps");
        assert_eq!(plural("v1", "Namespace"), "namespaces");
    }

    /// An object with its collection path, how messages write it, and its resource name.
    struct Example {
        object: ObjectRef,
        collection_path: &'static str,
        shown: &'static str,
        resource: &'static str,
    }

    /// An Istio object, a core namespaced one and a cluster-scoped one.
    fn examples() -> [Example; 3] {
        [
            Example {
                object: ObjectRef::namespaced(
                    "networking.istio.io/v1",
                    "ServiceEntry",
                    "abc",
                    "bar",
                ),
                collection_path: "/apis/networking.istio.io/v1/namespaces/abc/serviceentries",
                shown: "networking.istio.io/v1 ServiceEntry abc/bar",
                resource: "serviceentries.networking.istio.io",
            },
            Example {
                object: ObjectRef::namespaced("v1", "ConfigMap", "istio-system", "x"),
                collection_path: "/api/v1/namespaces/istio-system/configmaps",
                shown: "v1 ConfigMap istio-system/x",
                resource: "configmaps",
            },
            Example {
                object: ObjectRef::cluster_scoped("v1", "Namespace", "abc"),
                collection_path: "/api/v1/namespaces",
                shown: "v1 Namespace abc",
                resource: "namespaces",
            },
        ]
    }

    #[test]
    fn collection_paths_distinguish_the_core_group_and_scope() {
        for e in examples() {
            assert_eq!(
                e.object.collection_path(),
                e.collection_path,
                "{}",
                e.object
            );
        }
    }

    #[test]
    fn display_reads_api_version_kind_namespace_and_name() {
        for e in examples() {
            assert_eq!(e.object.to_string(), e.shown);
            assert_eq!(e.object.resource(), e.resource, "{}", e.object);
        }
    }

    #[test]
    fn identity_is_read_from_the_object_itself() {
        let obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "abc"}, "data": {}
        });
        assert_eq!(
            ObjectRef::from_object(&obj),
            Ok(ObjectRef::namespaced("v1", "ConfigMap", "abc", "x"))
        );
        let no_name = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(
            ObjectRef::from_object(&no_name),
            Err(ObjectProblem::MissingField {
                field: "metadata.name"
            })
        );
        assert_eq!(
            ObjectRef::from_object(&json!([])),
            Err(ObjectProblem::NotAnObject)
        );
    }
}
