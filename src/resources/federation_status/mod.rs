//! Data source `meshfed_federation_status`: reads the member clusters live and reports, per
//! cluster, what the federation needs (istiod with meshfed's multi-root settings, the plug-in CA
//! in use, every party's root trusted, imports pointing at the exporters' current gateway
//! addresses, export gateways with an address, certificates far from expiry), and every problem
//! with its fix. Made for a `check` block: a problem is data, not an error, so `terraform plan`
//! warns and goes on; a cluster that cannot be read is a problem too. Only a configuration
//! mistake (an unknown cluster label) is an error.
//!
//! Never reads a key into anything it keeps: see [`live`]. Must not import another resource or
//! the provider layer.

mod live;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use futures::future::join_all;

use super::context::{Ctx, not_configured};
use super::resource::DataSource;
use super::values::{self, Field};
use crate::mesh::status::{self, Member, Observation, Settings};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::provider::{ReadDataRequest, ReadDataResponse};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_federation_status";

/// Days before a certificate's end of validity from which it is a problem, unless configured.
pub const DEFAULT_EXPIRY_WARNING_DAYS: i64 = 90;

/// `meshfed_federation_status`.
pub struct FederationStatus;

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("The live state of a federation, read from its member clusters at every plan: per cluster what is in place, and every problem with its fix. Use it in a `check` block so that `terraform plan` warns. Read-only: needs the permissions of `examples/rbac/status.yaml`.")
            .attr(Attribute::required("clusters", Type::list(Type::String)).describe("Labels of `cluster` blocks of the provider configuration: the members to read and compare with each other."))
            .attr(Attribute::optional("expiry_warning_days", Type::Number).describe("A root or intermediate CA expiring within this many days is a problem. Default 90."))
            .attr(Attribute::computed("healthy", Type::Bool).describe("`true` when `problems` is empty."))
            .attr(Attribute::nested("problems", Nesting::List, state::problem_attrs()).with_computed().describe("Every problem found, each with the cluster, the object at fault and the fix."))
            .attr(Attribute::nested("members", Nesting::Map, state::member_attrs()).with_computed().describe("What was found in each listed cluster, by cluster label.")),
    )
}

#[tonic::async_trait]
impl DataSource for FederationStatus {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, ctx: Option<&Ctx<'_>>, req: ReadDataRequest) -> ReadDataResponse {
        match read(ctx, &req.config).await {
            Ok(state) => ReadDataResponse {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(diagnostics) => ReadDataResponse {
                state: Value::Null,
                diagnostics,
            },
        }
    }
}

/// The checked configuration: the members in the order given, and the expiry window.
fn input(ctx: &Ctx<'_>, config: &Value) -> Result<(Vec<Member>, i64), Diagnostics> {
    let mut diags = Diagnostics::new();
    let path = AttrPath::attr("clusters");
    let Field::Known(names) = values::strings(config, "clusters") else {
        let d = Diagnostic::error(
            "Clusters not known",
            "clusters must be known when the data source is read.",
        );
        return Err(Diagnostics::from(d.at(path)));
    };
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = path.index(i);
        if !seen.insert(name.as_str()) {
            diags.error_at(
                at,
                "Cluster listed twice",
                format!("{name:?} is listed more than once in clusters."),
            );
            continue;
        }
        match ctx.mesh_facts(name, at) {
            Ok(facts) => members.push(Member {
                cluster: name.clone(),
                facts: facts.clone(),
            }),
            Err(d) => diags.push(d),
        }
    }
    let days = match values::whole(config, "expiry_warning_days") {
        Field::Known(v) => {
            let at = AttrPath::attr("expiry_warning_days");
            values::int_in(v, 0, 36500, &at, "expiry_warning_days", &mut diags)
        }
        _ => Some(DEFAULT_EXPIRY_WARNING_DAYS),
    };
    match days {
        Some(days) if !diags.has_errors() => Ok((members, days)),
        _ => Err(diags),
    }
}

async fn read(ctx: Option<&Ctx<'_>>, config: &Value) -> Result<Value, Diagnostics> {
    let ctx = ctx.ok_or_else(|| Diagnostics::from(not_configured()))?;
    let (members, days) = input(ctx, config)?;
    let observed = join_all(
        members
            .iter()
            .map(|m| live::observe(ctx, &m.cluster, &m.facts.istio_namespace)),
    )
    .await;
    let observations: Vec<Observation<'_>> = members
        .iter()
        .zip(&observed)
        .map(|(member, observed)| Observation { member, observed })
        .collect();
    let settings = Settings {
        now: crate::cert::now(),
        expiry_window: time::Duration::days(days),
    };
    let report = status::assess(&observations, settings);
    tracing::debug!(
        clusters = members.len(),
        problems = report.problems.len(),
        "federation status read"
    );
    let mut state = vec![
        (
            "clusters",
            config.get("clusters").cloned().unwrap_or(Value::Null),
        ),
        (
            "expiry_warning_days",
            config
                .get("expiry_warning_days")
                .cloned()
                .unwrap_or(Value::Null),
        ),
    ];
    state.extend(state::computed_values(&report));
    Ok(Value::object(state))
}
