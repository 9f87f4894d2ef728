//! meshfed's provider configuration and its `meshfed_cluster` data source over the protocol:
//! validation errors at the attribute or block at fault, unknown and refined unknown settings
//! accepted, configuration and data source reads that never touch the network, and the mesh facts
//! the data source returns with their defaults. Needs nothing external.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshfed::provider::{Meshfed, provider_schema};
use meshfed::tfplugin::schema::Block;
use meshfed::tfplugin::value::{Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tonic::transport::Channel;

use crate::diagnostics::{assert_no_diagnostics, attr, errors, key, steps};
use crate::harness::Plugin;
use crate::msgpack::{M, block_m, decode, map, s};

fn cluster_block() -> Block {
    provider_schema()
        .block
        .blocks
        .iter()
        .find(|b| b.type_name == "cluster")
        .expect("the cluster block")
        .block
        .clone()
}

fn cluster_m(over: Vec<(&str, M)>) -> M {
    block_m(&cluster_block(), over)
}

/// A provider configuration with the given `cluster "<label>" {}` blocks.
fn meshfed_config(clusters: Vec<(&str, M)>) -> M {
    block_m(&provider_schema().block, vec![("cluster", map(clusters))])
}

async fn validate_provider(
    client: &mut pb::provider_client::ProviderClient<Channel>,
    config: &M,
) -> Vec<pb::Diagnostic> {
    call!(
        client,
        validate_provider_config,
        pb::validate_provider_config::Request {
            config: config.dv()
        }
    )
    .diagnostics
}

#[tokio::test]
async fn kubeconfig_and_host_in_one_cluster_is_an_error_on_that_clusters_host() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![(
        "cluster-a.local",
        cluster_m(vec![
            ("kubeconfig", s("/home/me/.kube/config")),
            ("host", s("https://203.0.113.10:6443")),
        ]),
    )]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(
        steps(errs[0]),
        vec![attr("cluster"), key("cluster-a.local"), attr("host")],
        "{d:#?}"
    );
    assert!(errs[0].summary.contains("kubeconfig"), "{d:#?}");
}

#[tokio::test]
async fn unknown_host_and_token_are_accepted_at_validation() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![
        (
            "cluster-b.local",
            cluster_m(vec![("host", M::Unknown), ("token", M::Unknown)]),
        ),
        ("cluster-a.local", cluster_m(vec![("context", s("a"))])),
    ]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    assert!(errors(&d).is_empty(), "{d:#?}");
}

#[tokio::test]
async fn refined_unknown_host_and_token_are_accepted_at_validation() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![(
        "cluster-b.local",
        cluster_m(vec![
            (
                "host",
                M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
            ),
            ("token", M::Refined(vec![(1, M::Bool(false))])),
            ("cluster_ca_certificate", M::Unknown),
        ]),
    )]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    assert!(errors(&d).is_empty(), "{d:#?}");
}

/// A TCP port that accepts connections, to prove nobody connects to it.
async fn watched_port() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let port = l.local_addr().expect("local address").port();
    (l, port)
}

async fn assert_nobody_connects(l: &tokio::net::TcpListener) {
    if let Ok(conn) = tokio::time::timeout(Duration::from_millis(500), l.accept()).await {
        panic!("the provider connected to the API server: {conn:?}");
    }
}

/// Three clusters: one at `port` with a token, one whose host and token are not known yet, one
/// insecure at a port nobody listens on.
fn three_clusters(port: u16) -> M {
    meshfed_config(vec![
        (
            "cluster-a.local",
            cluster_m(vec![
                ("host", s(&format!("https://127.0.0.1:{port}"))),
                ("token", s("t0k3n")),
            ]),
        ),
        (
            "cluster-b.local",
            cluster_m(vec![
                (
                    "host",
                    M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
                ),
                ("token", M::Unknown),
            ]),
        ),
        (
            "cluster-c.local",
            cluster_m(vec![
                ("host", s("https://127.0.0.1:1")),
                ("insecure", M::Bool(true)),
            ]),
        ),
    ])
}

#[tokio::test]
async fn configure_provider_accepts_unknowns_and_makes_no_network_call() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut client = plugin.provider();
    let (listener, port) = watched_port().await;
    let config = three_clusters(port);
    let started = Instant::now();
    let resp = call!(
        client,
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.9.0".into(),
            config: config.dv(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
        }
    );
    assert!(errors(&resp.diagnostics).is_empty(), "{resp:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "configuring took {:?}: it must not wait on the network",
        started.elapsed()
    );
    assert_nobody_connects(&listener).await;

    // Reading the data source uses configuration only, too.
    let read = call!(
        client,
        read_data_source,
        pb::read_data_source::Request {
            type_name: "meshfed_cluster".into(),
            config: map(vec![
                ("name", s("cluster-a.local")),
                ("trust_domain", M::Nil),
                ("domain_suffix", M::Nil),
                ("istio_namespace", M::Nil),
                ("network", M::Nil),
            ])
            .dv(),
            ..Default::default()
        }
    );
    assert!(errors(&read.diagnostics).is_empty(), "{read:#?}");
    assert_nobody_connects(&listener).await;
}

#[tokio::test]
async fn a_cluster_label_that_is_no_dns_name_is_refused_at_its_block() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![("Cluster_A", cluster_m(vec![("context", s("a"))]))]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(steps(errs[0]), vec![attr("cluster"), key("Cluster_A")]);
}

// The data source `meshfed_cluster`.

pub fn cluster_ds_config(name: M) -> M {
    map(vec![
        ("name", name),
        ("trust_domain", M::Nil),
        ("domain_suffix", M::Nil),
        ("istio_namespace", M::Nil),
        ("network", M::Nil),
    ])
}

fn cluster_ds_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("trust_domain", Type::String),
        ("domain_suffix", Type::String),
        ("istio_namespace", Type::String),
        ("network", Type::String),
    ])
}

pub async fn configured_meshfed() -> Plugin {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![
        ("cluster-a.local", cluster_m(vec![("context", s("a"))])),
        (
            "cluster-b.local",
            cluster_m(vec![
                ("host", s("https://198.51.100.7:6443")),
                ("token", s("secret-token")),
                ("trust_domain", s("b.example")),
                ("domain_suffix", s("cluster.local")),
                ("istio_namespace", s("istio-ew")),
                ("network", s("net-b")),
            ]),
        ),
    ]);
    let resp = call!(
        plugin.provider(),
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.9.0".into(),
            config: config.dv(),
            client_capabilities: None,
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ConfigureProvider");
    plugin
}

#[tokio::test]
async fn the_cluster_data_source_returns_the_configured_mesh_facts_with_defaults() {
    let plugin = configured_meshfed().await;
    let mut client = plugin.provider();
    let v = call!(
        client,
        validate_data_resource_config,
        pb::validate_data_resource_config::Request {
            type_name: "meshfed_cluster".into(),
            config: cluster_ds_config(s("cluster-a.local")).dv(),
        }
    );
    assert_no_diagnostics(&v.diagnostics, "ValidateDataResourceConfig");

    let read = |name: &str| pb::read_data_source::Request {
        type_name: "meshfed_cluster".into(),
        config: cluster_ds_config(s(name)).dv(),
        ..Default::default()
    };
    let a = call!(client, read_data_source, read("cluster-a.local"));
    assert_no_diagnostics(&a.diagnostics, "reading cluster-a.local");
    assert_eq!(
        decode(a.state.as_ref(), &cluster_ds_type(), "state"),
        Value::object([
            ("name", Value::string("cluster-a.local")),
            ("trust_domain", Value::string("cluster-a.local")),
            ("domain_suffix", Value::string("cluster-a.local")),
            ("istio_namespace", Value::string("istio-system")),
            ("network", Value::Null),
        ])
    );
    let b = call!(client, read_data_source, read("cluster-b.local"));
    assert_no_diagnostics(&b.diagnostics, "reading cluster-b.local");
    assert_eq!(
        decode(b.state.as_ref(), &cluster_ds_type(), "state"),
        Value::object([
            ("name", Value::string("cluster-b.local")),
            ("trust_domain", Value::string("b.example")),
            ("domain_suffix", Value::string("cluster.local")),
            ("istio_namespace", Value::string("istio-ew")),
            ("network", Value::string("net-b")),
        ])
    );
}

#[tokio::test]
async fn reading_an_unconfigured_cluster_is_an_error_on_name() {
    let plugin = configured_meshfed().await;
    let resp = call!(
        plugin.provider(),
        read_data_source,
        pb::read_data_source::Request {
            type_name: "meshfed_cluster".into(),
            config: cluster_ds_config(s("cluster-z.local")).dv(),
            ..Default::default()
        }
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert_eq!(steps(errs[0]), vec![attr("name")]);
    assert!(errs[0].summary.contains("cluster-z.local"), "{resp:#?}");
    assert!(
        errs[0].detail.contains("cluster-a.local") && errs[0].detail.contains("cluster-b.local"),
        "the detail lists the configured clusters: {resp:#?}"
    );
}
