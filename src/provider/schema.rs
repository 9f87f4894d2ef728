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

/// What a cluster attribute holds.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// A credential: sensitive, never shown.
    Secret,
    Flag,
}

use Kind::{Flag, Secret, Text};

/// Every attribute of a cluster block (all optional): the one table the schema and its docs
/// come from.
const CLUSTER_ATTRIBUTES: [(&str, Kind, &str); 14] = [
    (
        "kubeconfig",
        Text,
        "Path to a kubeconfig file (`~` is expanded). Defaults to `KUBECONFIG`, then `~/.kube/config`, when neither `kubeconfig` nor `host` is set. Conflicts with `host`.",
    ),
    (
        "context",
        Text,
        "Context of the kubeconfig to use. Defaults to the kubeconfig's current context. Conflicts with `host`.",
    ),
    (
        "host",
        Text,
        "URL of the API server, e.g. `https://203.0.113.10:6443`. Use with `token`, `client_certificate` + `client_key`, or `exec`.",
    ),
    ("token", Secret, "Bearer token for the API server."),
    (
        "client_certificate",
        Text,
        "PEM client certificate for TLS client authentication; requires `client_key`.",
    ),
    (
        "client_key",
        Secret,
        "PEM private key of `client_certificate`.",
    ),
    (
        "cluster_ca_certificate",
        Text,
        "PEM CA certificate(s) that sign the API server's certificate.",
    ),
    (
        "insecure",
        Flag,
        "Skip verification of the API server's certificate. Default `false`; not for production.",
    ),
    (
        "tls_server_name",
        Text,
        "Server name to verify the API server's certificate against, when it differs from the host.",
    ),
    (
        "proxy_url",
        Text,
        "URL of an HTTP(S) or SOCKS5 proxy to reach the API server through.",
    ),
    (
        "trust_domain",
        Text,
        "SPIFFE trust domain of the cluster's workloads. Defaults to the cluster's label.",
    ),
    (
        "domain_suffix",
        Text,
        "DNS suffix of the cluster's services (`<service>.<namespace>.svc.<domain_suffix>`). Defaults to the cluster's label.",
    ),
    (
        "istio_namespace",
        Text,
        "Namespace where istiod runs and reads its CA. Default `istio-system`.",
    ),
    (
        "network",
        Text,
        "Istio network name of the cluster (`topology.istio.io/network`), when it has one.",
    ),
];

/// One cluster: how to reach its API server, and the facts of its mesh.
fn cluster_block() -> Block {
    let block = Block::new().describe(
        "One cluster of the federation. The label is the name resources use to refer to it.",
    );
    let block = CLUSTER_ATTRIBUTES
        .iter()
        .fold(block, |block, (name, kind, description)| {
            let attr = match kind {
                Text => Attribute::optional(name, Type::String),
                Secret => Attribute::optional(name, Type::String).sensitive(),
                Flag => Attribute::optional(name, Type::Bool),
            };
            block.attr(attr.describe(description))
        });
    block.block(NestedBlock::new("exec", Nesting::List, exec_block()).max_items(1))
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
