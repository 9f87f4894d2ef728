//! The Terraform state of a `meshfed_service_entry`. Whichever form the remote service was given
//! in, the state holds both (the other derived), so that an import — which can only see the
//! objects — plans empty either way.

use super::input::{EntryInput, KnownEntry, from_explicit};
use crate::mesh::service_entry::{Endpoint, ServiceEntrySpec};
use crate::resources::export::{Export, ports_value};
use crate::resources::objects::{Manifests, manifests_value};
use crate::resources::values::{self, Field};
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::value::Value;

/// `<cluster>/<namespace>/<name>`: the resource's ID and import ID.
pub(super) fn id(cluster: &str, namespace: &str, name: &str) -> String {
    format!("{cluster}/{namespace}/{name}")
}

/// The full state, with `manifests` as given.
pub(super) fn state_of(k: &KnownEntry, manifests: &Manifests) -> Value {
    let spec = &k.spec;
    let export = k
        .export
        .clone()
        .unwrap_or_else(|| Export::of_service_entry(spec).to_value());
    let addresses = if k.addresses_configured || !spec.addresses.is_empty() {
        values::string_list(&spec.addresses)
    } else {
        Value::Null
    };
    Value::object([
        (
            "id",
            Value::string(id(&k.cluster, &spec.namespace, &spec.name)),
        ),
        ("cluster", Value::string(&k.cluster)),
        ("namespace", Value::string(&spec.namespace)),
        ("name", Value::string(&spec.name)),
        ("export", export),
        ("host", Value::string(&spec.host)),
        ("ports", ports_value(&spec.ports)),
        ("endpoints", endpoints_value(&spec.endpoints)),
        (
            "subject_alt_names",
            values::string_list(&spec.subject_alt_names),
        ),
        ("addresses", addresses),
        ("export_to", values::string_list(&spec.export_to)),
        ("sni", values::opt_string(&spec.sni)),
        ("manifests", manifests_value(manifests)),
    ])
}

fn endpoints_value(eps: &[Endpoint]) -> Value {
    let each = eps.iter().map(|e| {
        Value::object([
            ("address", Value::string(&e.address)),
            ("port", Value::int(i64::from(e.port))),
            ("locality", values::opt_string(&e.locality)),
            ("network", values::opt_string(&e.network)),
        ])
    });
    Value::List(each.collect())
}

/// A planned state whose objects are not known yet: what is known is kept, the rest unknown.
pub(super) fn unknown_state(config: &Value, p: &EntryInput) -> Value {
    let keep = |name: &str| match config.get(name) {
        Some(Value::Null) | None => Value::unknown(),
        Some(v) => v.clone(),
    };
    let given = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
    let (name, id) = match &p.name {
        Field::Known(n) => (
            Value::string(n),
            Value::string(id(&p.cluster, &p.namespace, n)),
        ),
        _ => (Value::unknown(), Value::unknown()),
    };
    Value::object([
        ("id", id),
        ("cluster", Value::string(&p.cluster)),
        ("namespace", Value::string(&p.namespace)),
        ("name", name),
        ("export", keep("export")),
        ("host", keep("host")),
        ("ports", keep("ports")),
        ("endpoints", keep("endpoints")),
        ("subject_alt_names", keep("subject_alt_names")),
        ("addresses", given("addresses")),
        ("export_to", keep("export_to")),
        ("sni", given("sni")),
        ("manifests", Value::unknown()),
    ])
}

/// The cluster and spec a state was made from: what re-renders the shape of its objects.
pub(super) fn spec_of_state(state: &Value) -> Option<(String, ServiceEntrySpec)> {
    let cluster = values::string(state, "cluster").known()?;
    let inputs = from_explicit(state, &mut Diagnostics::new())?;
    let spec = ServiceEntrySpec {
        name: values::string(state, "name").known()?,
        namespace: values::string(state, "namespace").known()?,
        host: inputs.host,
        addresses: values::strings(state, "addresses")
            .known()
            .unwrap_or_default(),
        ports: inputs.ports,
        endpoints: inputs.endpoints,
        subject_alt_names: inputs.subject_alt_names,
        export_to: values::strings(state, "export_to")
            .known()
            .unwrap_or_else(|| vec![".".into()]),
        sni: values::string(state, "sni").known(),
    };
    Some((cluster, spec))
}
