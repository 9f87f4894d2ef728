//! meshfed's provider-defined functions (`provider::meshfed::<name>(...)`, Terraform ≥ 1.8 and
//! OpenTofu ≥ 1.7): the names a federation is written with — a workload's SPIFFE ID and Istio
//! principal, a service's host, the SNI of the east-west gateway, a certificate's fingerprint —
//! computed by the very code that renders meshfed's objects, so configuration and objects agree.
//!
//! [`signatures`] lists them for GetProviderSchema; [`call`] runs one. Each checks its arguments
//! with the rules the resources apply at plan and names the argument at fault. Pure: no cluster,
//! no provider configuration. Imports the protocol layer's function types, `mesh`, `k8s::names`
//! and `cert`; nothing else of the resources.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::cert;
use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::exported_service::host;
use crate::mesh::names::{check_trust_domain, eastwest_sni, principal, spiffe_id};
use crate::tfplugin::function::{Function, FunctionError, Param};
use crate::tfplugin::value::{Type, Value};

/// One function: its name, signature and body.
struct Def {
    name: &'static str,
    signature: fn() -> Function,
    body: fn(&[Value]) -> Result<Value, FunctionError>,
}

const FUNCTIONS: [Def; 5] = [
    Def {
        name: "spiffe_id",
        signature: || {
            Function::new(
                identity_params(),
                Type::String,
                "A workload's SPIFFE ID",
                "The SPIFFE ID of the workloads running as `service_account` in `namespace` of the mesh with trust domain `trust_domain`: `spiffe://<trust_domain>/ns/<namespace>/sa/<service_account>`, the URI SAN of their certificates (and what `meshfed_service_entry` expects as `subject_alt_names`).",
            )
        },
        body: |a| identity(a).map(|(td, ns, sa)| Value::string(spiffe_id(td, ns, sa))),
    },
    Def {
        name: "principal",
        signature: || {
            Function::new(
                identity_params(),
                Type::String,
                "A workload's identity as Istio's policies write it",
                "The principal of the workloads running as `service_account` in `namespace` of the mesh with trust domain `trust_domain`, as Istio's AuthorizationPolicy `principals` and `meshfed_exported_service`'s `allowed_principals` write it: `<trust_domain>/ns/<namespace>/sa/<service_account>` (the SPIFFE ID without `spiffe://`).",
            )
        },
        body: |a| identity(a).map(|(td, ns, sa)| Value::string(principal(td, ns, sa))),
    },
    Def {
        name: "service_host",
        signature: || {
            Function::new(
                vec![
                    Param::new("service", Type::String, "The Service's name."),
                    Param::new("namespace", Type::String, "Its namespace."),
                    Param::new(
                        "domain_suffix",
                        Type::String,
                        "The DNS suffix of its cluster (Istio's default is `cluster.local`; meshfed's clusters use theirs, e.g. `cluster-b.local`).",
                    ),
                ],
                Type::String,
                "A Service's host name",
                "The host of Service `service` in `namespace` of the cluster with DNS suffix `domain_suffix`: `<service>.<namespace>.svc.<domain_suffix>`, the host under which `meshfed_exported_service` exports it and `meshfed_service_entry` imports it.",
            )
        },
        body: |a| {
            let service = checked(a, 0, "a Service name", check_dns_label)?;
            let namespace = checked(a, 1, "a namespace", check_dns_label)?;
            let suffix = checked(a, 2, "a DNS suffix", check_dns_subdomain)?;
            Ok(Value::string(host(service, namespace, suffix)))
        },
    },
    Def {
        name: "eastwest_sni",
        signature: || {
            Function::new(
                vec![
                    Param::new(
                        "host",
                        Type::String,
                        "The remote service's host, e.g. `bar.xyz.svc.cluster-b.local`.",
                    ),
                    Param::new(
                        "port",
                        Type::Number,
                        "One of its port numbers (the service's port, not the gateway's 15443).",
                    ),
                ],
                Type::String,
                "The SNI a sidecar sends through an east-west gateway",
                "The TLS server name a client's sidecar sends for `host`:`port` to a remote east-west gateway in `AUTO_PASSTHROUGH` mode: `outbound_.<port>_._.<host>`. The gateway routes on it to the service in its own cluster; use it to test a federation by hand (`openssl s_client -servername ...`) or to read gateway logs.",
            )
        },
        body: |a| {
            let host = checked(a, 0, "a host name", check_dns_subdomain)?;
            Ok(Value::string(eastwest_sni(host, port(a, 1)?)))
        },
    },
    Def {
        name: "fingerprint",
        signature: || {
            Function::new(
                vec![Param::new("pem", Type::String, "One PEM certificate.")],
                Type::String,
                "A certificate's SHA-256 fingerprint",
                "The SHA-256 fingerprint of the one certificate in `pem`, as 64 lower-case hex digits of the digest of its DER: the form of `meshfed_trust`'s `fingerprints`, and `openssl x509 -noout -fingerprint -sha256` without the colons. Use it to compare a root you hold with the roots a federation trusts.",
            )
        },
        body: |a| {
            cert::certificate_fingerprint(text(a, 0))
                .map(Value::string)
                .map_err(|e| FunctionError::argument(0, e.to_string()))
        },
    },
];

/// Every function's signature, by name.
pub fn signatures() -> BTreeMap<String, Function> {
    FUNCTIONS
        .iter()
        .map(|d| (d.name.to_string(), (d.signature)()))
        .collect()
}

/// Calls function `name` with `args` (as many as its signature has, each of its type, known and
/// not null: the protocol layer checked).
pub fn call(name: &str, args: &[Value]) -> Result<Value, FunctionError> {
    let def = FUNCTIONS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| FunctionError::call(format!("meshfed has no function {name:?}")))?;
    (def.body)(args)
}

/// `trust_domain`, `namespace`, `service_account`.
fn identity_params() -> Vec<Param> {
    vec![
        Param::new(
            "trust_domain",
            Type::String,
            "The mesh's SPIFFE trust domain, e.g. `cluster-a.local`.",
        ),
        Param::new("namespace", Type::String, "The workloads' namespace."),
        Param::new(
            "service_account",
            Type::String,
            "Their Kubernetes service account.",
        ),
    ]
}

/// The three arguments of an identity, checked.
fn identity(a: &[Value]) -> Result<(&str, &str, &str), FunctionError> {
    Ok((
        checked(a, 0, "a SPIFFE trust domain", check_trust_domain)?,
        checked(a, 1, "a namespace", check_dns_label)?,
        checked(a, 2, "a service account name", check_dns_subdomain)?,
    ))
}

/// Argument `i` as text (a known string: the protocol layer decoded it against `string`).
fn text(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// Argument `i`, which must pass `check`; the error points at the argument and says why
/// (Terraform and OpenTofu name the parameter: `Invalid value for "<name>" parameter: ...`).
fn checked<'a>(
    a: &'a [Value],
    i: usize,
    what: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<&'a str, FunctionError> {
    let s = text(a, i);
    check(s).map_err(|e| FunctionError::argument(i, format!("{s:?} is not {what}: it {e}")))?;
    Ok(s)
}

/// Argument `i` as a port number, 1–65535.
fn port(a: &[Value], i: usize) -> Result<u16, FunctionError> {
    let Some(Value::Number(n)) = a.get(i) else {
        return Err(FunctionError::argument(i, "must be a number"));
    };
    n.as_i64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            FunctionError::argument(
                i,
                format!(
                    "{} is not a port number: it must be a whole number from 1 to 65535",
                    n.to_decimal_string()
                ),
            )
        })
}
