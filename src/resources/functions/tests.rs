//! The functions as Terraform calls them: results for valid arguments (the very names meshfed's
//! objects carry), and errors that point at the argument at fault.

use super::{call, signatures};
use crate::cert::generate::{CaRequest, generate_ca};
use crate::tfplugin::value::{Type, Value};

fn strings(a: &[&str]) -> Vec<Value> {
    a.iter().map(|s| Value::string(*s)).collect()
}

fn result(name: &str, args: &[Value]) -> String {
    let v = call(name, args).unwrap_or_else(|e| panic!("{name}: {e}"));
    v.as_str().expect("a string").to_string()
}

/// The argument index and text of the error of a call that must fail.
fn failure(name: &str, args: &[Value]) -> (Option<usize>, String) {
    let e = call(name, args).expect_err("the call must fail");
    (e.argument, e.text)
}

#[test]
fn every_function_is_listed_with_its_parameters_and_a_string_result() {
    let s = signatures();
    let names: Vec<&str> = s.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "eastwest_sni",
            "fingerprint",
            "principal",
            "service_host",
            "spiffe_id"
        ]
    );
    let params = |n: &str| -> Vec<String> { s[n].params.iter().map(|p| p.name.clone()).collect() };
    assert_eq!(
        params("spiffe_id"),
        ["trust_domain", "namespace", "service_account"]
    );
    assert_eq!(
        params("principal"),
        ["trust_domain", "namespace", "service_account"]
    );
    assert_eq!(
        params("service_host"),
        ["service", "namespace", "domain_suffix"]
    );
    assert_eq!(params("eastwest_sni"), ["host", "port"]);
    assert_eq!(s["eastwest_sni"].params[1].ty, Type::Number);
    assert_eq!(params("fingerprint"), ["pem"]);
    for (name, f) in &s {
        assert_eq!(f.returns, Type::String, "{name}");
        assert!(!f.summary.is_empty() && !f.description.is_empty(), "{name}");
        assert!(
            f.params.iter().all(|p| !p.allow_null && !p.allow_unknown),
            "{name}"
        );
    }
}

#[test]
fn identities_hosts_and_the_sni_have_the_forms_istio_uses() {
    let id = strings(&["cluster-b.local", "xyz", "bar"]);
    assert_eq!(
        result("spiffe_id", &id),
        "spiffe://cluster-b.local/ns/xyz/sa/bar"
    );
    assert_eq!(result("principal", &id), "cluster-b.local/ns/xyz/sa/bar");
    assert_eq!(
        result("service_host", &strings(&["bar", "xyz", "cluster-b.local"])),
        "bar.xyz.svc.cluster-b.local"
    );
    let sni = [
        Value::string("bar.xyz.svc.cluster-b.local"),
        Value::int(8080),
    ];
    assert_eq!(
        result("eastwest_sni", &sni),
        "outbound_.8080_._.bar.xyz.svc.cluster-b.local"
    );
}

#[test]
fn the_principal_is_one_meshfed_exported_service_accepts() {
    let p = result("principal", &strings(&["cluster-a.local", "abc", "foo"]));
    crate::mesh::exported_service::check_principal(&p).expect("a valid principal");
}

#[test]
fn bad_arguments_are_refused_naming_the_argument() {
    let (i, text) = failure("spiffe_id", &strings(&["Cluster.local", "xyz", "bar"]));
    assert_eq!(i, Some(0));
    assert!(
        text.starts_with(
            "\"Cluster.local\" is not a SPIFFE trust domain: it may contain only lower-case"
        ),
        "{text}"
    );
    let (i, text) = failure("principal", &strings(&["td", "Not_A_Namespace", "bar"]));
    assert_eq!(i, Some(1));
    assert!(
        text.starts_with("\"Not_A_Namespace\" is not a namespace"),
        "{text}"
    );
    let (i, _) = failure("spiffe_id", &strings(&["td", "xyz", ""]));
    assert_eq!(i, Some(2));
    let (i, text) = failure("service_host", &strings(&["bar", "xyz", "cluster..local"]));
    assert_eq!(i, Some(2));
    assert!(
        text.starts_with("\"cluster..local\" is not a DNS suffix"),
        "{text}"
    );
    let (i, _) = failure(
        "service_host",
        &strings(&["bar.baz", "xyz", "cluster.local"]),
    );
    assert_eq!(i, Some(0));
}

#[test]
fn ports_must_be_whole_numbers_from_1_to_65535() {
    let host = Value::string("bar.xyz.svc.cluster-b.local");
    for bad in ["0", "65536", "-1", "80.5"] {
        let n = crate::tfplugin::value::Number::parse(bad).expect("a number");
        let (i, text) = failure("eastwest_sni", &[host.clone(), Value::Number(n)]);
        assert_eq!(i, Some(1), "{bad}");
        assert!(
            text.starts_with(&format!("{bad} is not a port number")),
            "{text}"
        );
    }
    let (i, _) = failure("eastwest_sni", &[Value::string("-bad-"), Value::int(80)]);
    assert_eq!(i, Some(0));
}

#[test]
fn the_fingerprint_is_the_one_meshfed_trust_shows_and_needs_one_certificate() {
    let ca = generate_ca(CaRequest::new("cluster-a.local", crate::cert::now())).expect("a CA");
    let root = ca.root_cert_pem.clone();
    let expected = crate::cert::fingerprint_sha256(root.as_bytes());
    assert_eq!(result("fingerprint", &strings(&[&root])), expected);
    assert_eq!(expected.len(), 64);

    let two = format!("{root}{}", ca.intermediate_cert_pem);
    let (i, text) = failure("fingerprint", &strings(&[&two]));
    assert_eq!(i, Some(0));
    assert!(
        text.contains("expected exactly one certificate, found 2"),
        "{text}"
    );
    let (i, text) = failure("fingerprint", &strings(&["not a certificate"]));
    assert_eq!(i, Some(0));
    assert!(text.starts_with("cannot read PEM"), "{text}");
}

#[test]
fn an_unknown_function_is_an_error_about_the_call() {
    let (i, text) = failure("nope", &[]);
    assert_eq!(i, None);
    assert!(text.contains("no function \"nope\""), "{text}");
}
