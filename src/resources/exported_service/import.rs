//! Import of `meshfed_exported_service` by `<cluster>/<namespace>/<service>` (plus
//! `/<gateway namespace>` when the gateway is not in the cluster's `istio_namespace`), or by
//! the identity of the same: reads the
//! Gateway (required), the AuthorizationPolicy and the alias ServiceEntry, and recovers the spec
//! that renders them from the Gateway's annotations.

use serde_json::Value as Json;

use super::address::{self, Unavailable};
use super::desired;
use super::state::{self, StateInputs};
use crate::k8s::object::ObjectRef;
use crate::mesh::exported_service::{self as es, LiveObjects};
use crate::mesh::service_entry::SERVICE_ENTRY_API;
use crate::resources::context::Ctx;
use crate::resources::export::ports_value;
use crate::resources::objects::{Desired, Manifests, error_diag, live_display};
use crate::tfplugin::diag::{AttrPath, Diagnostic};
use crate::tfplugin::identity::{IdentityAttribute, IdentitySchema};
use crate::tfplugin::value::{Type, Value};

/// The identity's attributes and the state attributes they are, in import ID order.
pub(super) const IDENTITY: [(&str, &[&str]); 4] = [
    ("cluster", &["cluster"]),
    ("namespace", &["namespace"]),
    ("service", &["service"]),
    ("gateway_namespace", &["gateway", "namespace"]),
];

/// `cluster`, `namespace`, `service`, and `gateway_namespace` (optional at import: the cluster's
/// `istio_namespace` by default).
pub(super) fn identity_schema() -> IdentitySchema {
    let attr = IdentityAttribute::required;
    IdentitySchema {
        version: 0,
        attributes: vec![
            attr(
                "cluster",
                Type::String,
                "The cluster (a `cluster` label of the provider) the service runs in.",
            ),
            attr("namespace", Type::String, "The service's namespace."),
            attr("service", Type::String, "The exported Service's name."),
            IdentityAttribute::optional(
                "gateway_namespace",
                Type::String,
                "Namespace of the east-west gateway, which holds the Gateway object. At import, default: the cluster's `istio_namespace`.",
            ),
        ],
    }
}

/// What an import ID names.
struct ImportId<'a> {
    cluster: &'a str,
    namespace: &'a str,
    service: &'a str,
    gateway_namespace: Option<&'a str>,
}

/// `<cluster>/<namespace>/<service>[/<gateway namespace>]`.
fn parse_id(id: &str) -> Result<ImportId<'_>, Diagnostic> {
    let parts: Vec<&str> = id.split('/').collect();
    let (cluster, namespace, service, gateway_namespace) = match parts.as_slice() {
        [c, n, s] => (*c, *n, *s, None),
        [c, n, s, g] => (*c, *n, *s, Some(*g)),
        _ => {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!(
                    "Expected <cluster>/<namespace>/<service> (or <cluster>/<namespace>/<service>/<gateway namespace>), e.g. cluster-b.local/xyz/bar; got {id:?}."
                ),
            ));
        }
    };
    Ok(ImportId {
        cluster,
        namespace,
        service,
        gateway_namespace,
    })
}

/// The state of the export that `id` names.
pub(super) async fn import(ctx: &Ctx<'_>, id: &str) -> Result<Value, Diagnostic> {
    let id = parse_id(id)?;
    let facts = ctx.mesh_facts(id.cluster, AttrPath::root())?;
    let found = Found::read(ctx, &id, &facts.istio_namespace).await?;
    let live = LiveObjects {
        gateway: &found.gateway,
        policy: found.policy.as_ref(),
        alias_service_entry: found.alias.as_ref(),
    };
    let (cluster, namespace, service) = (id.cluster, id.namespace, id.service);
    let spec = es::spec_from_objects(namespace, service, facts, &live)
        .map_err(|why| {
            let gw = &found.gateway["metadata"];
            Diagnostic::error(
                "Cannot import: not an export meshfed made",
                format!("Gateway {}/{} in {cluster} cannot be read back as the export of {namespace}/{service}: {why}.", gw["namespace"].as_str().unwrap_or_default(), gw["name"].as_str().unwrap_or_default()),
            )
        })?;
    let endpoints = match address::configured(&spec) {
        Some(eps) => eps,
        None => address::from_service(ctx, cluster, &spec.gateway)
            .await
            .map_err(Unavailable::error)?,
    };
    let objects = [
        Some(&found.gateway),
        found.policy.as_ref(),
        found.alias.as_ref(),
    ];
    let manifests = live_manifests(&desired(cluster, &spec), &objects);
    Ok(state::state_of(&StateInputs {
        cluster,
        spec: &spec,
        facts,
        ports: ports_value(&spec.ports),
        endpoints: Some(&endpoints),
        manifests: &manifests,
    }))
}

/// The live objects of one export.
struct Found {
    gateway: Json,
    policy: Option<Json>,
    alias: Option<Json>,
}

impl Found {
    /// Reads the Gateway (in `gateway_namespace` unless the ID names another), which must
    /// exist, and the policy and alias ServiceEntry, which may.
    async fn read(
        ctx: &Ctx<'_>,
        id: &ImportId<'_>,
        istio_namespace: &str,
    ) -> Result<Found, Diagnostic> {
        let ImportId {
            cluster,
            namespace,
            service,
            ..
        } = *id;
        let get = |api: &'static str, kind: &'static str, ns: &str, name: &str| {
            let object = ObjectRef::namespaced(api, kind, ns, name);
            async move {
                let live = ctx.clusters.get(cluster, &object).await;
                live.map_err(|e| error_diag(&format!("Cannot read {kind}"), &e))
            }
        };
        let gw_ns = id.gateway_namespace.unwrap_or(istio_namespace);
        let gw_name = es::gateway_name(namespace, service);
        let Some(gateway) = get(es::GATEWAY_API, "Gateway", gw_ns, &gw_name).await? else {
            return Err(Diagnostic::error(
                "Cannot import: Gateway not found",
                format!(
                    "{cluster} has no Gateway {gw_ns}/{gw_name}. If the export's gateway is in another namespace, import with {cluster}/{namespace}/{service}/<gateway namespace>."
                ),
            ));
        };
        let local = es::local_name(service);
        let policy_api = es::AUTHORIZATION_POLICY_API;
        let policy = get(policy_api, "AuthorizationPolicy", namespace, &local).await?;
        let alias = get(SERVICE_ENTRY_API, "ServiceEntry", namespace, &local).await?;
        Ok(Found {
            gateway,
            policy,
            alias,
        })
    }
}

/// The manifests of the desired objects found live, each showing only meshfed's fields.
fn live_manifests(want: &[Desired], found: &[Option<&Json>]) -> Manifests {
    let mut manifests = Manifests::new();
    for d in want {
        let live = found.iter().flatten().find(|o| {
            o["kind"] == d.manifest.kind.as_str()
                && o["metadata"]["namespace"] == d.manifest.namespace.as_str()
        });
        if let Some(live) = live {
            manifests.insert(d.key(), live_display(live, &d.manifest.object));
        }
    }
    manifests
}
