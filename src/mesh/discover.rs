//! Recognising a federation in live objects, for `terraform query`: which ServiceEntries import a
//! remote service (meshfed's, and those made by hand the way Istio's multi-network guides do:
//! `MESH_INTERNAL`, endpoints at a remote east-west gateway's mTLS port), which Gateways export
//! a service (meshfed's, and hand-made `AUTO_PASSTHROUGH` ones), and whether an object is
//! meshfed's. Pure functions over the objects' JSON.
//!
//! Must not import the protocol layer, the Kubernetes client or the resources.

use serde_json::Value;

use super::exported_service::EXPORTED_SERVICE_ANNOTATION;
use super::{DEFAULT_GATEWAY_PORT, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// Whether `object` carries meshfed's managed-by label.
pub fn is_meshfed(object: &Value) -> bool {
    object["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY_VALUE
}

/// `namespace/name` of an object.
pub fn namespaced_name(object: &Value) -> (String, String) {
    let text = |f: &str| {
        object["metadata"][f]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (text("namespace"), text("name"))
}

/// A ServiceEntry that imports a remote service: `MESH_INTERNAL`, with endpoints (an export's
/// alias entry selects local workloads instead), and either meshfed's or with an endpoint port
/// at the default east-west gateway port 15443. Returns its first host.
pub fn imported_host(service_entry: &Value) -> Option<String> {
    let spec = &service_entry["spec"];
    if spec["location"] != "MESH_INTERNAL" {
        return None;
    }
    let endpoints = spec["endpoints"].as_array().filter(|e| !e.is_empty())?;
    let via_gateway = endpoints.iter().any(|e| {
        e["ports"]
            .as_object()
            .is_some_and(|ports| ports.values().any(|p| p == DEFAULT_GATEWAY_PORT))
    });
    if !(via_gateway || is_meshfed(service_entry)) {
        return None;
    }
    spec["hosts"][0].as_str().map(str::to_string)
}

/// The `(namespace, service)` of meshfed's export Gateway (from its annotation).
pub fn exported_by_meshfed(gateway: &Value) -> Option<(String, String)> {
    if !is_meshfed(gateway) {
        return None;
    }
    let owner = gateway["metadata"]["annotations"][EXPORTED_SERVICE_ANNOTATION].as_str()?;
    let (namespace, service) = owner.split_once('/')?;
    Some((namespace.to_string(), service.to_string()))
}

/// The hosts a Gateway not made by meshfed passes through with `AUTO_PASSTHROUGH` (empty when
/// it has no such server).
pub fn hand_made_passthrough_hosts(gateway: &Value) -> Vec<String> {
    if is_meshfed(gateway) {
        return Vec::new();
    }
    let servers = gateway["spec"]["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    servers
        .iter()
        .filter(|s| s["tls"]["mode"] == "AUTO_PASSTHROUGH")
        .flat_map(|s| s["hosts"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| h.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service_entry(labels: Value, spec: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "abc", "labels": labels}, "spec": spec})
    }

    #[test]
    fn entries_to_a_remote_gateway_are_imports_and_local_or_alias_entries_are_not() {
        let by_hand = service_entry(
            json!({}),
            json!({"hosts": ["bar.xyz.svc.cluster-b.local"], "location": "MESH_INTERNAL",
                   "endpoints": [{"address": "198.51.100.20", "ports": {"http": 15443}}]}),
        );
        assert_eq!(
            imported_host(&by_hand).as_deref(),
            Some("bar.xyz.svc.cluster-b.local")
        );

        let meshfed_other_port = service_entry(
            json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE}),
            json!({"hosts": ["h.local"], "location": "MESH_INTERNAL",
                   "endpoints": [{"address": "gw.example", "ports": {"tcp": 16443}}]}),
        );
        assert_eq!(
            imported_host(&meshfed_other_port).as_deref(),
            Some("h.local")
        );

        let external = service_entry(
            json!({}),
            json!({"hosts": ["api.example.com"], "location": "MESH_EXTERNAL",
                   "endpoints": [{"address": "1.2.3.4", "ports": {"https": 15443}}]}),
        );
        assert_eq!(imported_host(&external), None);
        let alias = service_entry(
            json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE}),
            json!({"hosts": ["bar.global"], "location": "MESH_INTERNAL",
                   "workloadSelector": {"labels": {"app": "bar"}}}),
        );
        assert_eq!(imported_host(&alias), None);
        let local_port = service_entry(
            json!({}),
            json!({"hosts": ["db.local"], "location": "MESH_INTERNAL",
                   "endpoints": [{"address": "10.0.0.1", "ports": {"tcp": 5432}}]}),
        );
        assert_eq!(imported_host(&local_port), None);
    }

    #[test]
    fn gateways_are_meshfed_exports_or_hand_made_passthroughs() {
        let ours = json!({"metadata": {
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            "annotations": {EXPORTED_SERVICE_ANNOTATION: "xyz/bar"}}});
        assert_eq!(
            exported_by_meshfed(&ours),
            Some(("xyz".into(), "bar".into()))
        );
        assert!(hand_made_passthrough_hosts(&ours).is_empty());

        let by_hand = json!({"metadata": {"name": "cross-network-gateway"}, "spec": {"servers": [
            {"port": {"number": 15443}, "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]},
            {"port": {"number": 443}, "tls": {"mode": "SIMPLE"}, "hosts": ["www.example.com"]}]}});
        assert_eq!(exported_by_meshfed(&by_hand), None);
        assert_eq!(hand_made_passthrough_hosts(&by_hand), ["*.local"]);
    }
}
