//! Where the federation reaches an export: the configured `gateway.addresses`, or else the
//! load-balancer addresses of the gateway's Service (`status.loadBalancer.ingress`), read at
//! apply — and, for a resource that already exists, at plan, so that a changed address shows as
//! a diff. Planning a create never reads it.

use crate::k8s::object::ObjectRef;
use crate::mesh::exported_service::{
    ExportSpec, Gateway, GatewayEndpoint, load_balancer_addresses,
};
use crate::resources::context::Ctx;
use crate::resources::objects::error_diag;
use crate::tfplugin::diag::Diagnostic;

/// Why the gateway's addresses could not be read.
pub(super) enum Unavailable {
    /// The Service is missing or has no load-balancer address yet: (summary, detail).
    NoAddress(String, String),
    /// The API server could not be asked.
    Failed(Diagnostic),
}

impl Unavailable {
    /// The problem as an error.
    pub fn error(self) -> Diagnostic {
        match self {
            Unavailable::NoAddress(summary, detail) => Diagnostic::error(summary, detail),
            Unavailable::Failed(d) => d,
        }
    }
}

/// The endpoints from configured addresses, if any.
pub(super) fn configured(spec: &ExportSpec) -> Option<Vec<GatewayEndpoint>> {
    spec.gateway
        .addresses
        .as_ref()
        .map(|a| endpoints(a.clone(), spec.gateway.port))
}

fn endpoints(addresses: Vec<String>, port: u16) -> Vec<GatewayEndpoint> {
    addresses
        .into_iter()
        .map(|address| GatewayEndpoint { address, port })
        .collect()
}

/// Reads the gateway Service of `cluster` and returns its load-balancer addresses on the gateway
/// port.
pub(super) async fn from_service(
    ctx: &Ctx<'_>,
    cluster: &str,
    gw: &Gateway,
) -> Result<Vec<GatewayEndpoint>, Unavailable> {
    let svc = ObjectRef::namespaced("v1", "Service", &gw.namespace, &gw.service);
    let live = ctx
        .clusters
        .get(cluster, &svc)
        .await
        .map_err(|e| Unavailable::Failed(error_diag("Cannot read the gateway Service", &e)))?;
    let what = format!("Service {}/{} in {cluster}", gw.namespace, gw.service);
    let remedy =
        "Or set gateway.addresses to the addresses where other clusters reach the gateway.";
    let Some(live) = live else {
        return Err(Unavailable::NoAddress(
            format!("Gateway Service not found in {cluster}"),
            format!(
                "{what} does not exist. meshfed reads the east-west gateway's addresses from that Service's status.loadBalancer.ingress when gateway.addresses is not set: install the east-west gateway, or point gateway.namespace and gateway.service at its Service. {remedy}"
            ),
        ));
    };
    let addresses = load_balancer_addresses(&live);
    if addresses.is_empty() {
        let kind = live["spec"]["type"].as_str().unwrap_or("ClusterIP");
        return Err(Unavailable::NoAddress(
            format!("Gateway Service has no load-balancer address in {cluster}"),
            format!(
                "{what} (type {kind}) has no load-balancer address yet: its status.loadBalancer.ingress is empty. Wait until the load balancer is provisioned, then apply again. {remedy}"
            ),
        ));
    }
    Ok(endpoints(addresses, gw.port))
}
