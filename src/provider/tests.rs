//! The provider configuration's parse: defaults, conflicts and bad values on their attribute
//! paths, unknown values settled at apply, and the schema Terraform sees.

use std::collections::BTreeMap;

use super::*;
use crate::k8s::config::{Auth, Connection};
use crate::resources::values::Field;
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::schema::Nesting;
use crate::tfplugin::value::Type;

fn cluster(attrs: &[(&str, Value)]) -> Value {
    let Type::Object(cluster_attrs) = provider_schema().block.blocks[0].block.value_type() else {
        panic!("cluster block is an object")
    };
    let mut m: BTreeMap<String, Value> = cluster_attrs
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    m.insert("exec".into(), Value::List(vec![]));
    for (k, v) in attrs {
        m.insert(k.to_string(), v.clone());
    }
    Value::Object(m)
}

fn config(clusters: Vec<(&str, Value)>) -> Value {
    Value::object([
        ("field_manager", Value::Null),
        (
            "cluster",
            Value::Map(
                clusters
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
        ),
    ])
}

/// A real PEM certificate (what a kubeconfig's CA data holds).
fn a_certificate() -> String {
    let req = crate::cert::CaRequest::new("cluster-a.local", crate::cert::now());
    crate::cert::generate_ca(req).expect("a CA").root_cert_pem
}

fn error_paths(d: &Diagnostics) -> Vec<String> {
    d.iter()
        .filter(|d| d.is_error())
        .map(|d| {
            d.attribute
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn mesh_facts_default_to_the_cluster_label() {
    let (cfg, d) = parse_config(&config(vec![(
        "cluster-a.local",
        cluster(&[("context", Value::string("a"))]),
    )]));
    assert!(d.is_empty(), "{d:?}");
    let c = &cfg.expect("config").clusters["cluster-a.local"];
    let mesh = c.mesh.as_known().expect("known");
    assert_eq!(mesh.trust_domain, "cluster-a.local");
    assert_eq!(mesh.domain_suffix, "cluster-a.local");
    assert_eq!(mesh.istio_namespace, "istio-system");
    assert_eq!(
        c.connection,
        Field::Known(Connection::Kubeconfig {
            path: None,
            context: Some("a".into())
        })
    );
}

#[test]
fn kubeconfig_with_host_is_an_error_on_host() {
    let c = cluster(&[
        ("kubeconfig", Value::string("/k")),
        ("host", Value::string("https://h")),
    ]);
    let (cfg, d) = parse_config(&config(vec![("cluster-a.local", c)]));
    assert!(cfg.is_none());
    assert_eq!(error_paths(&d), vec![r#"cluster["cluster-a.local"].host"#]);
}

#[test]
fn unknown_settings_are_settled_at_apply() {
    let c = cluster(&[("host", Value::unknown()), ("token", Value::unknown())]);
    let (cfg, d) = parse_config(&config(vec![("cluster-b.local", c)]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(
        cfg.expect("config").clusters["cluster-b.local"].connection,
        Field::Unknown
    );
}

#[test]
fn direct_connections_carry_their_credentials() {
    let c = cluster(&[
        ("host", Value::string("https://127.0.0.1:6443")),
        ("token", Value::string("t0k")),
    ]);
    let (cfg, d) = parse_config(&config(vec![("cluster-b.local", c)]));
    assert!(d.is_empty(), "{d:?}");
    let Field::Known(Connection::Direct(direct)) =
        &cfg.expect("config").clusters["cluster-b.local"].connection
    else {
        panic!("direct")
    };
    assert_eq!(direct.auth, Auth::Token("t0k".into()));
}

#[test]
fn bad_values_are_refused_with_their_paths() {
    let cases: Vec<(Value, &str)> = vec![
        (cluster(&[("host", Value::string("10.0.0.1:6443"))]), "host"),
        (
            cluster(&[
                ("host", Value::string("https://h")),
                ("client_certificate", Value::string(a_certificate())),
            ]),
            "client_certificate",
        ),
        (
            cluster(&[
                ("host", Value::string("https://h")),
                ("insecure", Value::Bool(true)),
                ("cluster_ca_certificate", Value::string(a_certificate())),
            ]),
            "insecure",
        ),
        (cluster(&[("token", Value::string("x"))]), "token"),
        (
            cluster(&[("trust_domain", Value::string("Not Valid"))]),
            "trust_domain",
        ),
        (
            cluster(&[("istio_namespace", Value::string("Istio"))]),
            "istio_namespace",
        ),
        (
            cluster(&[
                ("host", Value::string("https://h")),
                ("proxy_url", Value::string("ftp://p")),
            ]),
            "proxy_url",
        ),
    ];
    for (c, attr) in cases {
        let (_, d) = parse_config(&config(vec![("cluster-a.local", c)]));
        assert_eq!(
            error_paths(&d),
            vec![format!(r#"cluster["cluster-a.local"].{attr}"#)],
            "{d:?}"
        );
    }
}

#[test]
fn an_invalid_cluster_label_is_refused() {
    let (_, d) = parse_config(&config(vec![("Cluster_A", cluster(&[]))]));
    assert!(
        error_paths(&d).contains(&r#"cluster["Cluster_A"]"#.to_string()),
        "{d:?}"
    );
}

#[test]
fn the_schema_declares_cluster_as_a_map_block_with_sensitive_credentials() {
    let s = provider_schema();
    let c = s
        .block
        .blocks
        .iter()
        .find(|b| b.type_name == "cluster")
        .expect("cluster block");
    assert_eq!(c.nesting, Nesting::Map);
    for secret in ["token", "client_key"] {
        assert!(
            c.block.attribute(secret).expect(secret).sensitive,
            "{secret} must be sensitive"
        );
    }
    for a in &c.block.attributes {
        assert!(!a.description.is_empty(), "{} has no description", a.name);
    }
}

#[test]
fn pem_that_holds_no_certificate_or_key_is_refused() {
    let c = cluster(&[
        ("host", Value::string("https://h")),
        (
            "cluster_ca_certificate",
            Value::string("-----BEGIN CERTIFICATE-----"),
        ),
        ("client_certificate", Value::string(a_certificate())),
        (
            "client_key",
            Value::string("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----"),
        ),
    ]);
    let (_, d) = parse_config(&config(vec![("cluster-a.local", c)]));
    assert_eq!(
        error_paths(&d),
        vec![
            r#"cluster["cluster-a.local"].cluster_ca_certificate"#,
            r#"cluster["cluster-a.local"].client_key"#,
        ],
        "{d:?}"
    );
}

#[test]
fn urls_need_a_known_scheme_and_a_host() {
    let web = ["https", "http"];
    assert_eq!(
        config::check_url("https://203.0.113.10:6443/base", &web),
        Ok(())
    );
    assert_eq!(config::check_url("HTTP://h", &web), Ok(()));
    for (url, why) in [
        ("10.0.0.1:6443", "must be a URL with a scheme (https, http)"),
        ("ftp://h", "has scheme \"ftp\"; expected one of https, http"),
        ("https://", "is not a URL (empty string)"),
        ("https://h st", "contains white space"),
    ] {
        assert_eq!(config::check_url(url, &web), Err(why.to_string()), "{url}");
    }
}
