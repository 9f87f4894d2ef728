//! Reading one member cluster for the status: a handful of GETs in its Istio namespace (istiod's
//! Deployment, `cacerts`, `istio-ca-root-cert`, `meshfed-mesh-config`), two LISTs of meshfed's
//! ServiceEntries and Gateways in every namespace (by meshfed's label), then a GET of each gateway
//! Service the export Gateways name. Every read is made at once; a cluster whose first read
//! cannot reach it at all is not asked again.
//!
//! The `cacerts` Secret is read whole (RBAC cannot grant less), and only its two certificates
//! leave this module: the answer, key included, is dropped before anything else looks at it.

use std::collections::BTreeMap;

use futures::future::join_all;
use serde_json::Value as Json;

use crate::cert::encoding::base64_decode;
use crate::k8s::{K8sError, ObjectRef};
use crate::mesh::status::{
    CacertsPublic, Live, Observed, Read, ReadError, ReadErrorKind, gateway_services,
};
use crate::mesh::trust::{
    CACERTS_SECRET, ISTIO_ROOT_CONFIGMAP, MESH_CONFIG_CONFIGMAP, ROOT_CERT_KEY,
};
use crate::mesh::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::resources::context::Ctx;

/// What `cluster` answered, its Istio namespace being `ns`.
pub async fn observe(ctx: &Ctx<'_>, cluster: &str, ns: &str) -> Observed {
    if !ctx.clusters.contains(cluster) {
        return Observed::Unreachable(ReadError {
            kind: ReadErrorKind::Unreachable,
            cause: format!(
                "the connection settings of {cluster} are not known yet (they depend on a value known only after apply)"
            ),
        });
    }
    let get = |kind: &str, api: &str, name: &str| {
        let object = ObjectRef::namespaced(api, kind, ns, name);
        async move { ctx.clusters.get(cluster, &object).await }
    };
    let istiod = get("Deployment", "apps/v1", "istiod").await;
    if let Err(e) = &istiod
        && unreachable(e)
    {
        return Observed::Unreachable(read_error(e));
    }
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let list = |kind: &str| {
        let all = ObjectRef {
            api_version: "networking.istio.io/v1".into(),
            kind: kind.into(),
            namespace: None,
            name: "*".into(),
        };
        let selector = selector.clone();
        async move { ctx.clusters.list(cluster, &all, Some(&selector)).await }
    };
    let (cacerts, istio_root, mesh_config, service_entries, gateways) = tokio::join!(
        get("Secret", "v1", CACERTS_SECRET),
        get("ConfigMap", "v1", ISTIO_ROOT_CONFIGMAP),
        get("ConfigMap", "v1", MESH_CONFIG_CONFIGMAP),
        list("ServiceEntry"),
        list("Gateway"),
    );
    let cacerts = cacerts.map(|s| s.as_ref().map(public_part));
    let gateways = gateways.map_err(|e| read_error(&e));
    let wanted = gateways
        .as_deref()
        .map(gateway_services)
        .unwrap_or_default();
    let services = join_all(wanted.into_iter().map(|(namespace, name)| async move {
        let svc = ObjectRef::namespaced("v1", "Service", &namespace, &name);
        let read = ctx.clusters.get(cluster, &svc).await;
        ((namespace, name), answered(read))
    }))
    .await;
    Observed::Read(Box::new(Live {
        istiod: answered(istiod),
        cacerts: cacerts.map_err(|e| read_error(&e)),
        istio_root: answered(istio_root),
        mesh_config: answered(mesh_config),
        service_entries: service_entries.map_err(|e| read_error(&e)),
        gateways,
        gateway_services: services.into_iter().collect::<BTreeMap<_, _>>(),
    }))
}

fn answered(read: Result<Option<Json>, K8sError>) -> Read<Json> {
    read.map_err(|e| read_error(&e))
}

/// The certificates of a `cacerts` Secret; its key is not copied.
fn public_part(secret: &Json) -> CacertsPublic {
    let text = |key: &str| {
        let bytes = base64_decode(secret["data"][key].as_str()?)?;
        String::from_utf8(bytes).ok()
    };
    CacertsPublic {
        root_cert_pem: text(ROOT_CERT_KEY),
        ca_cert_pem: text("ca-cert.pem"),
    }
}

/// Whether no other read of the cluster can succeed either.
fn unreachable(e: &K8sError) -> bool {
    e.is_connect()
        || matches!(
            e,
            K8sError::Config { .. }
                | K8sError::Unauthorized { .. }
                | K8sError::UnknownCluster { .. }
        )
}

fn read_error(e: &K8sError) -> ReadError {
    let kind = match e {
        K8sError::Unauthorized { .. } => ReadErrorKind::Unauthenticated,
        K8sError::Forbidden { .. } => ReadErrorKind::Denied,
        e if unreachable(e) => ReadErrorKind::Unreachable,
        _ => ReadErrorKind::Other,
    };
    ReadError {
        kind,
        cause: e.to_string(),
    }
}
