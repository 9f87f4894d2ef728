//! The data source's computed attributes from a [`Report`]: their schema and their values, side
//! by side so that the two cannot drift apart.

use crate::cert::inspect::rfc3339;
use crate::mesh::status::{
    CertView, ClusterReport, ExportReport, ImportReport, Problem, Report, TrustedRoot,
};
use crate::resources::values::string_list;
use crate::tfplugin::schema::{Attribute, Nesting};
use crate::tfplugin::value::{Type, Value};

fn computed(name: &str, ty: Type, d: &str) -> Attribute {
    Attribute::computed(name, ty).describe(d)
}

fn nested(name: &str, nesting: Nesting, attrs: Vec<Attribute>, d: &str) -> Attribute {
    Attribute::nested(name, nesting, attrs)
        .with_computed()
        .describe(d)
}

fn cert_attrs() -> Vec<Attribute> {
    vec![
        computed(
            "fingerprint",
            Type::String,
            "SHA-256 fingerprint of the certificate (lower-case hex), as `meshfed_trust` shows roots.",
        ),
        computed("subject", Type::String, "Subject of the certificate."),
        computed("not_after", Type::String, "End of validity, RFC 3339."),
    ]
}

#[rustfmt::skip]
fn import_attrs() -> Vec<Attribute> {
    vec![
        computed("namespace", Type::String, "Namespace of the ServiceEntry."),
        computed("name", Type::String, "Name of the ServiceEntry."),
        computed("host", Type::String, "The imported host."),
        computed("endpoints", Type::list(Type::String), "Endpoint addresses of the ServiceEntry."),
        computed("exporter", Type::String, "The listed cluster that exports the host; null when none does."),
        computed("gateway_addresses", Type::list(Type::String), "Current addresses of the exporting gateway; null when not known."),
        computed("current", Type::Bool, "The endpoints equal the gateway's current addresses; null when those are not known."),
    ]
}

#[rustfmt::skip]
fn export_attrs() -> Vec<Attribute> {
    vec![
        computed("service", Type::String, "`<namespace>/<service>` exported."),
        computed("gateway", Type::String, "`<namespace>/<name>` of the export's Gateway."),
        computed("hosts", Type::list(Type::String), "Hosts the Gateway passes through."),
        computed("gateway_service", Type::String, "`<namespace>/<name>` of the gateway Service; null when the export has fixed `gateway.addresses`."),
        computed("addresses", Type::list(Type::String), "Where other clusters reach the export."),
    ]
}

/// The attributes of each entry of `members`.
#[rustfmt::skip]
pub fn member_attrs() -> Vec<Attribute> {
    let mut trusted = cert_attrs();
    trusted.insert(0, computed("trust_domains", Type::list(Type::String), "Trust domains the root is trusted for."));
    vec![
        computed("trust_domain", Type::String, "The cluster's trust domain (provider configuration)."),
        computed("reachable", Type::Bool, "Every read of this cluster was answered; `false` when it could not be reached or a read was refused (see `problems`)."),
        computed("istiod_found", Type::Bool, "Deployment `istiod` exists in the Istio namespace."),
        computed("multiroot", Type::Bool, "istiod runs with `ISTIO_MULTIROOT_MESH=true` and `SHARED_MESH_CONFIG=meshfed-mesh-config`."),
        computed("plugin_ca", Type::Bool, "A `cacerts` Secret (plug-in CA) exists."),
        computed("plugin_ca_in_use", Type::Bool, "istiod publishes the root(s) of `cacerts` in `istio-ca-root-cert`, i.e. it signs with the plug-in CA; null without `cacerts`."),
        nested("roots", Nesting::List, cert_attrs(), "The cluster's own root(s): from `cacerts` `root-cert.pem` (two during a rotation), else from `istio-ca-root-cert`."),
        nested("intermediate", Nesting::Single, cert_attrs(), "The intermediate CA istiod signs with (`cacerts` `ca-cert.pem`); null without `cacerts`."),
        nested("trusted_roots", Nesting::List, trusted, "The roots of other parties in `meshfed-mesh-config` (`caCertificates`)."),
        computed("missing_roots", Type::list(Type::String), "Other listed clusters whose root is not in this cluster's bundle under their trust domain."),
        nested("imports", Nesting::List, import_attrs(), "meshfed's ServiceEntries that import a remote service."),
        nested("exports", Nesting::List, export_attrs(), "meshfed's export Gateways."),
    ]
}

/// The attributes of each entry of `problems`.
pub fn problem_attrs() -> Vec<Attribute> {
    vec![
        computed("cluster", Type::String, "The cluster where the problem is."),
        computed(
            "object",
            Type::String,
            "The object at fault, `<Kind> <namespace>/<name>`; empty for the cluster as a whole.",
        ),
        computed("problem", Type::String, "What is wrong."),
        computed("fix", Type::String, "What to do."),
    ]
}

/// The computed part of the state.
pub fn computed_values(r: &Report) -> [(&'static str, Value); 3] {
    let members = r
        .clusters
        .iter()
        .map(|c| (c.cluster.clone(), member(c)))
        .collect();
    [
        ("healthy", Value::Bool(r.problems.is_empty())),
        (
            "problems",
            Value::List(r.problems.iter().map(problem).collect()),
        ),
        ("members", Value::Map(members)),
    ]
}

fn problem(p: &Problem) -> Value {
    Value::object([
        ("cluster", Value::string(&p.cluster)),
        ("object", Value::string(&p.object)),
        ("problem", Value::string(&p.problem)),
        ("fix", Value::string(&p.fix)),
    ])
}

fn cert(c: &CertView) -> Value {
    Value::object([
        ("fingerprint", Value::string(&c.fingerprint)),
        ("subject", Value::string(&c.subject)),
        ("not_after", Value::string(rfc3339(c.not_after))),
    ])
}

fn trusted(t: &TrustedRoot) -> Value {
    let Value::Object(mut m) = cert(&t.cert) else {
        unreachable!("cert() builds an object")
    };
    m.insert("trust_domains".into(), string_list(&t.trust_domains));
    Value::Object(m)
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
}

fn member(c: &ClusterReport) -> Value {
    Value::object([
        ("trust_domain", Value::string(&c.trust_domain)),
        ("reachable", Value::Bool(c.reachable)),
        ("istiod_found", Value::Bool(c.istiod_found)),
        ("multiroot", Value::Bool(c.multiroot)),
        ("plugin_ca", Value::Bool(c.plugin_ca)),
        ("plugin_ca_in_use", opt_bool(c.plugin_ca_in_use)),
        ("roots", Value::List(c.roots.iter().map(cert).collect())),
        (
            "intermediate",
            c.intermediate.as_ref().map_or(Value::Null, cert),
        ),
        (
            "trusted_roots",
            Value::List(c.trusted.iter().map(trusted).collect()),
        ),
        ("missing_roots", string_list(&c.missing_roots)),
        (
            "imports",
            Value::List(c.imports.iter().map(import).collect()),
        ),
        (
            "exports",
            Value::List(c.exports.iter().map(export).collect()),
        ),
    ])
}

fn import(i: &ImportReport) -> Value {
    Value::object([
        ("namespace", Value::string(&i.namespace)),
        ("name", Value::string(&i.name)),
        ("host", Value::string(&i.host)),
        ("endpoints", string_list(&i.endpoints)),
        (
            "exporter",
            i.exporter.clone().map_or(Value::Null, Value::String),
        ),
        (
            "gateway_addresses",
            i.gateway_addresses
                .as_deref()
                .map_or(Value::Null, string_list),
        ),
        ("current", opt_bool(i.current)),
    ])
}

fn export(e: &ExportReport) -> Value {
    Value::object([
        ("service", Value::string(&e.service)),
        ("gateway", Value::string(&e.gateway)),
        ("hosts", string_list(&e.hosts)),
        (
            "gateway_service",
            e.gateway_service.clone().map_or(Value::Null, Value::String),
        ),
        ("addresses", string_list(&e.addresses)),
    ])
}
