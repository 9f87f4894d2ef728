//! The two-stage parse of a `meshfed_exported_service` configuration. Stage one ([`check`])
//! reads every attribute and checks it on its own — it also runs at validation, where values may
//! not be known yet, and an unknown value always passes. Stage two ([`parse`]) joins the inputs
//! with the cluster's mesh facts into an [`ExportSpec`], or says that something is known only at
//! apply. Every problem is a diagnostic on the attribute's path.

use std::collections::BTreeMap;

use crate::k8s::names::{check_dns_label, check_dns_subdomain};
use crate::mesh::MeshFacts;
use crate::mesh::exported_service::{self as es, ExportSpec, Gateway};
use crate::mesh::service_entry::{Port, is_ip};
use crate::resources::context::Ctx;
use crate::resources::export::parse_ports;
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::{AttrPath, Diagnostics};
use crate::tfplugin::value::Value;

/// A configuration, checked: where the objects go, and (when everything is known) what they are.
pub(super) struct ExportInput {
    pub cluster: String,
    pub namespace: String,
    pub service: String,
    /// The cluster's mesh facts; `None` when they are known only at apply.
    pub facts: Option<MeshFacts>,
    /// `None` when some input or mesh fact is known only at apply.
    pub spec: Option<ExportSpec>,
}

/// The `gateway` attribute, each part checked.
struct GatewayInputs {
    selector: Field<BTreeMap<String, String>>,
    namespace: Field<String>,
    port: Field<u16>,
    service: Field<String>,
    addresses: Field<Vec<String>>,
}

impl GatewayInputs {
    /// Every part absent (`Null`) or every part unknown (`Unknown`).
    fn all(how: Field<()>) -> GatewayInputs {
        fn like<T>(how: &Field<()>) -> Field<T> {
            if how.is_unknown() {
                Field::Unknown
            } else {
                Field::Null
            }
        }
        GatewayInputs {
            selector: like(&how),
            namespace: like(&how),
            port: like(&how),
            service: like(&how),
            addresses: like(&how),
        }
    }
}

/// Stage one: every attribute, checked on its own.
pub(super) struct Attributes {
    namespace: Field<String>,
    service: Field<String>,
    ports: Field<Vec<Port>>,
    service_account: Field<String>,
    gateway: GatewayInputs,
    alias: Field<String>,
    allowed_principals: Field<Vec<String>>,
    workload_selector: Field<BTreeMap<String, String>>,
}

use crate::resources::values::{Check, checked};

/// Stage one: reads and checks every attribute; problems go to `diags`.
pub(super) fn check(config: &Value, diags: &mut Diagnostics) -> Attributes {
    let top = |name: &str, what: &str, check: Check, diags: &mut Diagnostics| {
        checked(
            values::string(config, name),
            &AttrPath::attr(name),
            what,
            check,
            diags,
        )
    };
    Attributes {
        namespace: top("namespace", "namespace", check_dns_label, diags),
        service: top("service", "service name", check_dns_label, diags),
        ports: match values::whole(config, "ports") {
            Field::Known(v) => {
                parse_ports(v, &AttrPath::attr("ports"), diags).map_or(Field::Unknown, Field::Known)
            }
            Field::Null => Field::Null,
            Field::Unknown => Field::Unknown,
        },
        service_account: top(
            "service_account",
            "service account",
            check_dns_subdomain,
            diags,
        ),
        gateway: check_gateway(config.get("gateway"), diags),
        alias: top("alias", "alias", check_alias, diags),
        allowed_principals: check_principals(config, diags),
        workload_selector: check_selector(config, "workload_selector", &AttrPath::root(), diags),
    }
}

fn check_alias(a: &str) -> Result<(), String> {
    if a.contains('*') {
        return Err("is a wildcard: an export exposes exactly one service, so the alias must be one host name".into());
    }
    check_dns_subdomain(a).map_err(|e| format!("is not a valid host name: {e}"))
}

fn check_gateway(gateway: Option<&Value>, diags: &mut Diagnostics) -> GatewayInputs {
    let g = match gateway {
        None | Some(Value::Null) => return GatewayInputs::all(Field::Null),
        Some(Value::Unknown(_)) => return GatewayInputs::all(Field::Unknown),
        Some(g) => g,
    };
    let path = AttrPath::attr("gateway");
    let port = match values::whole(g, "port") {
        Field::Known(v) => values::int_in(v, 1, 65535, &path.then("port"), "gateway port", diags)
            .map_or(Field::Unknown, |p| Field::Known(p as u16)),
        Field::Null => Field::Null,
        Field::Unknown => Field::Unknown,
    };
    GatewayInputs {
        selector: check_selector(g, "selector", &path, diags),
        namespace: checked(
            values::string(g, "namespace"),
            &path.then("namespace"),
            "gateway namespace",
            check_dns_label,
            diags,
        ),
        port,
        service: checked(
            values::string(g, "service"),
            &path.then("service"),
            "gateway service",
            check_dns_label,
            diags,
        ),
        addresses: check_addresses(g, &path.then("addresses"), diags),
    }
}

fn check_addresses(g: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Field<Vec<String>> {
    let field = values::strings(g, "addresses");
    if let Field::Known(a) = &field {
        if a.is_empty() {
            diags.error_at(path.clone(), "No gateway addresses", "gateway.addresses needs at least one address; leave it out to read the addresses from the gateway Service.");
        }
        for (i, addr) in a.iter().enumerate() {
            if !is_ip(addr) && check_dns_subdomain(addr).is_err() {
                diags.error_at(
                    path.index(i),
                    "Invalid gateway address",
                    format!("{addr:?} is neither an IP address nor a DNS name."),
                );
            }
        }
    }
    field
}

fn check_principals(config: &Value, diags: &mut Diagnostics) -> Field<Vec<String>> {
    let path = AttrPath::attr("allowed_principals");
    let field = values::strings(config, "allowed_principals");
    if let Field::Known(p) = &field {
        if p.is_empty() {
            diags.error_at(path.clone(), "No allowed principals", "allowed_principals needs at least one principal, e.g. cluster-a.local/ns/abc/sa/foo; leave it out to create no policy.");
        }
        for (i, principal) in p.iter().enumerate() {
            if let Err(e) = es::check_principal(principal) {
                diags.error_at(
                    path.index(i),
                    "Invalid principal",
                    format!("principal {principal:?} {e}."),
                );
            }
        }
    }
    field
}

/// The map attribute `name` of `obj` (at `parent`): Kubernetes labels that must select
/// something, so not empty, with valid keys and values.
fn check_selector(
    obj: &Value,
    name: &str,
    parent: &AttrPath,
    diags: &mut Diagnostics,
) -> Field<BTreeMap<String, String>> {
    let path = parent.then(name);
    let what = path.to_string().replace('.', " ");
    let field = values::string_map(obj, name);
    if let Field::Known(m) = &field {
        if m.is_empty() {
            diags.error_at(path.clone(), format!("Empty {what}"), format!("{path} must hold at least one label: an empty selector would select every workload."));
        }
        for (k, v) in m {
            if let Err(e) = check_label_key(k).and_then(|()| check_label_value(v)) {
                diags.error_at(
                    path.key(k),
                    format!("Invalid {what}"),
                    format!("label {k:?} = {v:?}: {e}."),
                );
            }
        }
    }
    field
}

/// A label's name part, or its value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn check_label_part(s: &str, what: &str) -> Result<(), String> {
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the {what} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

fn check_label_key(k: &str) -> Result<(), String> {
    match k.split_once('/') {
        Some((prefix, name)) => {
            check_dns_subdomain(prefix).map_err(|e| format!("the key's prefix {e}"))?;
            check_label_part(name, "key's name")
        }
        None => check_label_part(k, "key"),
    }
}

fn check_label_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    check_label_part(v, "value")
}

/// Stage two: the checked configuration, joined with the cluster's mesh facts. `None` when
/// there are errors (in `diags`).
pub(super) fn parse(ctx: &Ctx<'_>, config: &Value, diags: &mut Diagnostics) -> Option<ExportInput> {
    let inputs = check(config, diags);
    let must_know = |f: Field<String>, name: &str, diags: &mut Diagnostics| match f {
        Field::Known(s) => Some(s),
        _ => {
            diags.error_at(
                AttrPath::attr(name),
                format!("{name} not known"),
                format!("{name} must be known at plan time: it decides where the objects go."),
            );
            None
        }
    };
    let cluster = must_know(values::string(config, "cluster"), "cluster", diags);
    let namespace = must_know(inputs.namespace.clone(), "namespace", diags);
    let service = must_know(inputs.service.clone(), "service", diags);
    let facts = match &cluster {
        Some(c) => match ctx.cluster(c, AttrPath::attr("cluster")) {
            Ok(cfg) => cfg.mesh.as_known().cloned(),
            Err(d) => {
                diags.push(d);
                None
            }
        },
        None => None,
    };
    if diags.has_errors() {
        return None;
    }
    let (cluster, namespace, service) = (cluster?, namespace?, service?);
    let spec = facts
        .as_ref()
        .and_then(|f| build(&inputs, &namespace, &service, f));
    if let Some(spec) = &spec {
        check_alias_differs(spec, diags);
    }
    if diags.has_errors() {
        return None;
    }
    Some(ExportInput {
        cluster,
        namespace,
        service,
        facts,
        spec,
    })
}

fn check_alias_differs(spec: &ExportSpec, diags: &mut Diagnostics) {
    let fqdn = es::host(&spec.service, &spec.namespace, &spec.domain_suffix);
    if spec.alias.as_deref() == Some(fqdn.as_str()) {
        diags.error_at(
            AttrPath::attr("alias"),
            "Invalid alias",
            format!("alias {fqdn:?} is the service's own host; an alias must be another name."),
        );
    }
}

/// The spec, when every input is known.
pub(super) fn build(
    i: &Attributes,
    namespace: &str,
    service: &str,
    facts: &MeshFacts,
) -> Option<ExportSpec> {
    let g = &i.gateway;
    Some(ExportSpec {
        namespace: namespace.to_string(),
        service: service.to_string(),
        service_account: i
            .service_account
            .clone()
            .or_default_with(|| service.to_string())?,
        ports: i.ports.clone().known()?,
        domain_suffix: facts.domain_suffix.clone(),
        trust_domain: facts.trust_domain.clone(),
        gateway: Gateway {
            selector: g
                .selector
                .clone()
                .or_default_with(es::default_gateway_selector)?,
            namespace: g
                .namespace
                .clone()
                .or_default_with(|| facts.istio_namespace.clone())?,
            port: g
                .port
                .clone()
                .or_default_with(|| es::DEFAULT_GATEWAY_PORT)?,
            service: g
                .service
                .clone()
                .or_default_with(|| es::DEFAULT_GATEWAY_SERVICE.to_string())?,
            addresses: g.addresses.clone().optional()?,
        },
        alias: i.alias.clone().optional()?,
        allowed_principals: i.allowed_principals.clone().optional()?,
        workload_selector: i
            .workload_selector
            .clone()
            .or_default_with(|| es::default_workload_selector(service))?,
    })
}
