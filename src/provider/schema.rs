//! The provider configuration block's schema: one `cluster "<name>" {}` block per cluster
//! (connection settings and mesh facts) plus `field_manager`. Its descriptions are what the
//! registry docs and `terraform providers schema` show.
//! Imports the protocol layer's schema builder only.

use crate::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::tfplugin::value::Type;

/// The provider configuration block's schema.
pub fn provider_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("meshfed federates independent Istio meshes: each cluster keeps its own root CA; meshfed exchanges the roots, exposes services through east-west gateways and registers them in the consuming cluster.")
            .attr(Attribute::optional("field_manager", Type::String).describe(
                "Field manager name for Kubernetes server-side apply. Default `meshfed`.",
            ))
            .block(NestedBlock::new("cluster", Nesting::Map, cluster_block())),
    )
}

/// One cluster: how to reach its API server, and the facts of its mesh.
fn cluster_block() -> Block {
    Block::new()
        .describe("One cluster of the federation. The label is the name resources use to refer to it.")
        .attr(Attribute::optional("kubeconfig", Type::String).describe(
            "Path to a kubeconfig file (`~` is expanded). Defaults to `KUBECONFIG`, then `~/.kube/config`, when neither `kubeconfig` nor `host` is set. Conflicts with `host`.",
        ))
        .attr(Attribute::optional("context", Type::String).describe(
            "Context of the kubeconfig to use. Defaults to the kubeconfig's current context. Conflicts with `host`.",
        ))
        .attr(Attribute::optional("host", Type::String).describe(
            "URL of the API server, e.g. `https://203.0.113.10:6443`. Use with `token`, `client_certificate` + `client_key`, or `exec`.",
        ))
        .attr(Attribute::optional("token", Type::String).sensitive().describe("Bearer token for the API server."))
        .attr(Attribute::optional("client_certificate", Type::String).describe(
            "PEM client certificate for TLS client authentication; requires `client_key`.",
        ))
        .attr(Attribute::optional("client_key", Type::String).sensitive().describe(
            "PEM private key of `client_certificate`.",
        ))
        .attr(Attribute::optional("cluster_ca_certificate", Type::String).describe(
            "PEM CA certificate(s) that sign the API server's certificate.",
        ))
        .attr(Attribute::optional("insecure", Type::Bool).describe(
            "Skip verification of the API server's certificate. Default `false`; not for production.",
        ))
        .attr(Attribute::optional("tls_server_name", Type::String).describe(
            "Server name to verify the API server's certificate against, when it differs from the host.",
        ))
        .attr(Attribute::optional("proxy_url", Type::String).describe(
            "URL of an HTTP(S) or SOCKS5 proxy to reach the API server through.",
        ))
        .attr(Attribute::optional("trust_domain", Type::String).describe(
            "SPIFFE trust domain of the cluster's workloads. Defaults to the cluster's label.",
        ))
        .attr(Attribute::optional("domain_suffix", Type::String).describe(
            "DNS suffix of the cluster's services (`<service>.<namespace>.svc.<domain_suffix>`). Defaults to the cluster's label.",
        ))
        .attr(Attribute::optional("istio_namespace", Type::String).describe(
            "Namespace where istiod runs and reads its CA. Default `istio-system`.",
        ))
        .attr(Attribute::optional("network", Type::String).describe(
            "Istio network name of the cluster (`topology.istio.io/network`), when it has one.",
        ))
        .block(NestedBlock::new("exec", Nesting::List, exec_block()).max_items(1))
}

/// A credential plugin, as in kubeconfig's `exec`.
fn exec_block() -> Block {
    Block::new()
        .describe("A credential plugin that prints an ExecCredential, as in kubeconfig's `exec`.")
        .attr(Attribute::required("api_version", Type::String).describe(
            "API version of the ExecCredential the command prints: `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`.",
        ))
        .attr(Attribute::required("command", Type::String).describe("Command to run."))
        .attr(Attribute::optional("args", Type::list(Type::String)).describe("Arguments to the command."))
        .attr(Attribute::optional("env", Type::map(Type::String)).describe("Environment variables to set for the command."))
}
