//! Projection of a live object onto the fields meshfed owns: how drift in owned fields shows up
//! while other managers' fields (status, managedFields, resourceVersion, their labels) never do.
//! Pure; knows nothing of Istio or Terraform.

use serde_json::{Map, Value};

/// The live object restricted to the field paths present in `desired`.
///
/// JSON objects are walked key by key in `desired`'s order: a key only in `live` is dropped, a key
/// only in `desired` is absent from the result. Arrays and scalars are taken whole from `live`
/// (an array is one field to server-side apply's atomic lists, and a changed or added element is
/// drift). So `project(live, desired) == desired` exactly when every owned field holds the value
/// meshfed applied.
///
/// Caveat: fields the API server rewrites on write (a Secret's `stringData`, which becomes
/// `data`) always look drifted; desired objects should use the stored form.
pub fn project(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => Value::Object(project_map(live, desired)),
        _ => live.clone(),
    }
}

fn project_map(live: &Map<String, Value>, desired: &Map<String, Value>) -> Map<String, Value> {
    desired
        .iter()
        .filter_map(|(key, want)| live.get(key).map(|have| (key.clone(), project(have, want))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "x",
                "namespace": "abc",
                "labels": {"app.kubernetes.io/managed-by": "meshfed"}
            },
            "data": {"mesh": "a: 1"}
        })
    }

    /// The desired object as the API server holds it: with the metadata it sets, another
    /// manager's label, and status.
    fn live() -> Value {
        let mut live = desired();
        let metadata = &mut live["metadata"];
        metadata["uid"] = json!("1234");
        metadata["resourceVersion"] = json!("77");
        metadata["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        metadata["labels"]["team"] = json!("other");
        metadata["managedFields"] = json!([{"manager": "meshfed"}]);
        live["status"] = json!({"phase": "whatever"});
        live
    }

    #[test]
    fn fields_meshfed_does_not_own_are_ignored() {
        assert_eq!(project(&live(), &desired()), desired());
    }

    #[test]
    fn a_changed_owned_field_shows_as_drift() {
        let mut live = live();
        live["data"]["mesh"] = json!("a: 2");
        let p = project(&live, &desired());
        assert_ne!(p, desired());
        assert_eq!(p["data"]["mesh"], "a: 2");
    }

    #[test]
    fn an_owned_field_missing_in_live_is_absent() {
        let mut live = live();
        live["metadata"]["labels"]
            .as_object_mut()
            .expect("labels is a map")
            .remove("app.kubernetes.io/managed-by");
        live.as_object_mut().expect("object").remove("data");
        let p = project(&live, &desired());
        assert_eq!(p["metadata"]["labels"], json!({}));
        assert!(p.get("data").is_none(), "{p}");
    }

    #[test]
    fn arrays_are_taken_whole_from_live() {
        let desired = json!({"spec": {"hosts": ["a"], "ports": [{"name": "http", "number": 80}]}});
        let live = json!({"spec": {
            "hosts": ["a", "b"],
            "ports": [{"name": "http", "number": 80, "targetPort": 8080}],
            "resolution": "STATIC"
        }});
        assert_eq!(
            project(&live, &desired),
            json!({"spec": {
                "hosts": ["a", "b"],
                "ports": [{"name": "http", "number": 80, "targetPort": 8080}]
            }})
        );
    }

    #[test]
    fn a_scalar_that_became_a_map_is_taken_whole() {
        let desired = json!({"spec": {"a": 1}});
        let live = json!({"spec": {"a": {"b": 2}}});
        assert_eq!(project(&live, &desired), live);
        assert_eq!(project(&json!(null), &desired), json!(null));
    }

    #[test]
    fn the_result_follows_the_desired_key_order() {
        let desired = json!({"b": 1, "a": 2});
        let live = json!({"a": 2, "c": 3, "b": 1});
        let keys: Vec<String> = project(&live, &desired)
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["b", "a"]);
    }
}
