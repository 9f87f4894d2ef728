//! Action `meshfed_rollout_restart`: restarts the Deployments of one namespace of one cluster
//! that a label selector (and optionally a list of names) picks, the way `kubectl rollout
//! restart` does: each Deployment's pod template gets the annotation
//! `kubectl.kubernetes.io/restartedAt` set to the current time (RFC 3339), so its controller
//! rolls out new pods. After a CA change, new pods fetch certificates of the new CA.
//!
//! Writes nothing but that annotation: one merge patch per Deployment (no server-side apply, so
//! meshfed owns nothing of the Deployment afterwards). Needs `list` and `patch` on
//! `deployments.apps` in the namespace (`examples/rbac/rollout-restart.yaml`).
//!
//! Layout: schema, then the checked input (validate, plan), then the invocation, then helpers.
//! Must not import a resource or the provider layer.

use std::collections::BTreeMap;

use serde_json::json;

use crate::k8s::ObjectRef;
use crate::k8s::names::{check_dns_label, check_dns_subdomain, check_label_key, check_label_value};
use crate::resources::context::Ctx;
use crate::resources::objects::error_diag;
use crate::resources::resource::Action;
use crate::resources::values::{self, Field};
use crate::tfplugin::action::InvokeRequest;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_rollout_restart";

/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `meshfed_rollout_restart`.
pub struct RolloutRestart;

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .describe("Restarts the Deployments of one namespace of one cluster that `selector` (and `names`) pick, as `kubectl rollout restart` does: sets the pod template annotation `kubectl.kubernetes.io/restartedAt` to the current time, and nothing else. Use it after a CA change so that workloads get certificates of the new CA.")
            .attr(Attribute::required("cluster", Type::String).describe("Label of a `cluster` block of the provider configuration."))
            .attr(Attribute::required("namespace", Type::String).describe("Namespace of the Deployments (a DNS-1123 label)."))
            .attr(Attribute::optional("selector", Type::map(Type::String)).describe("Labels a Deployment must carry (all of them) to be restarted. Absent or empty: every Deployment of the namespace."))
            .attr(Attribute::optional("names", Type::list(Type::String)).describe("Restarts only the Deployments of these names among those `selector` matches; a name that matches none is reported as a warning. Absent: every Deployment `selector` matches.")),
    )
}

#[tonic::async_trait]
impl Action for RolloutRestart {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        check(config).1
    }

    fn plan(&self, ctx: &Ctx<'_>, config: &Value) -> Diagnostics {
        let (_, mut diags) = check(config);
        if let Field::Known(cluster) = values::string(config, "cluster")
            && let Err(d) = ctx.cluster(&cluster, AttrPath::attr("cluster"))
        {
            diags.push(d);
        }
        diags
    }

    async fn invoke(&self, ctx: &Ctx<'_>, req: InvokeRequest) -> Diagnostics {
        let mut diags = self.plan(ctx, &req.config);
        if diags.has_errors() {
            return diags;
        }
        let Some(input) = check(&req.config).0 else {
            diags.push(Diagnostic::error(
                "Action configuration not known",
                "Every attribute of meshfed_rollout_restart must be known when it is invoked.",
            ));
            return diags;
        };
        restart(ctx, &input, &req, &mut diags).await;
        diags
    }
}

// ---------------------------------------------------------------------------------------------
// The checked input

/// The configuration, checked and wholly known.
#[derive(Clone, Debug, PartialEq)]
struct Input {
    cluster: String,
    namespace: String,
    selector: BTreeMap<String, String>,
    names: Option<Vec<String>>,
}

impl Input {
    /// The label selector as the API takes it (`app=foo,tier=web`); `None` for every object.
    fn label_selector(&self) -> Option<String> {
        let pairs: Vec<String> = self
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join(","))
    }

    /// What picks the Deployments, for messages.
    fn picked_by(&self) -> String {
        let by_labels = match self.label_selector() {
            Some(s) => format!("selector {s}"),
            None => "no selector".to_string(),
        };
        match &self.names {
            Some(names) => format!("{by_labels}, names {}", names.join(", ")),
            None => by_labels,
        }
    }
}

/// Checks every known attribute; the input when all are known and valid.
fn check(config: &Value) -> (Option<Input>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let namespace = values::checked(
        values::string(config, "namespace"),
        &AttrPath::attr("namespace"),
        "namespace",
        check_dns_label,
        &mut diags,
    );
    let selector = values::string_map(config, "selector");
    if let Field::Known(labels) = &selector {
        for (key, value) in labels {
            let path = AttrPath::attr("selector").key(key);
            if let Err(e) = check_label_key(key) {
                let detail = format!("selector key {key:?} {e}.");
                diags.error_at(path.clone(), "Invalid label key", detail);
            }
            if let Err(e) = check_label_value(value) {
                let detail = format!("selector value {value:?} of {key:?} {e}.");
                diags.error_at(path, "Invalid label value", detail);
            }
        }
    }
    let names = values::strings(config, "names");
    if let Field::Known(list) = &names {
        check_names(list, &mut diags);
    }
    let input = (|| {
        Some(Input {
            cluster: values::string(config, "cluster").known()?,
            namespace: namespace.known()?,
            selector: selector.or_default_with(BTreeMap::new)?,
            names: names.optional()?,
        })
    })();
    (input.filter(|_| !diags.has_errors()), diags)
}

fn check_names(list: &[String], diags: &mut Diagnostics) {
    if list.is_empty() {
        diags.error_at(
            AttrPath::attr("names"),
            "No Deployment names",
            "names is empty, so nothing would be restarted. Leave names out to restart every Deployment the selector matches.",
        );
    }
    for (i, name) in list.iter().enumerate() {
        if let Err(e) = check_dns_subdomain(name) {
            let detail = format!("Deployment name {name:?} {e}.");
            diags.error_at(AttrPath::attr("names").index(i), "Invalid name", detail);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The invocation

/// Lists the Deployments `input` picks and patches each in turn, reporting each one restarted
/// and then a summary; stops early on a refused permission or once `req.stop` is raised.
async fn restart(ctx: &Ctx<'_>, input: &Input, req: &InvokeRequest, diags: &mut Diagnostics) {
    let (cluster, ns) = (input.cluster.as_str(), input.namespace.as_str());
    let Some(targets) = targets(ctx, input, diags).await else {
        return;
    };
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now()}}}}});
    let mut restarted = Vec::new();
    for (i, name) in targets.iter().enumerate() {
        if req.stop.is_raised() {
            diags.push(interrupted(input, &restarted, &targets[i..]));
            break;
        }
        let object = deployment(ns, name);
        match ctx.clusters.patch(cluster, &object, &patch).await {
            Ok(_) => {
                req.progress
                    .report(format!("restarted deployment {ns}/{name} in {cluster}"));
                restarted.push(name.clone());
            }
            Err(e) => {
                let summary = format!("Cannot restart deployment {ns}/{name}");
                diags.push(error_diag(&summary, &e));
                if e.is_access_denied() {
                    break;
                }
            }
        }
    }
    req.progress.report(format!(
        "restarted {} of {} deployments in namespace {ns} of {cluster} ({})",
        restarted.len(),
        targets.len(),
        input.picked_by()
    ));
}

/// The names of the Deployments to restart, in the order the API server lists them; `None`
/// when there are none (the diagnostics say why).
async fn targets(ctx: &Ctx<'_>, input: &Input, diags: &mut Diagnostics) -> Option<Vec<String>> {
    let (cluster, ns) = (input.cluster.as_str(), input.namespace.as_str());
    let selector = input.label_selector();
    let listed = ctx
        .clusters
        .list(cluster, &deployment(ns, "*"), selector.as_deref())
        .await;
    let listed = match listed {
        Ok(items) => items,
        Err(e) => {
            let summary = format!("Cannot list the deployments of namespace {ns}");
            diags.push(error_diag(&summary, &e));
            return None;
        }
    };
    let matched: Vec<String> = listed
        .iter()
        .filter_map(|d| d.pointer("/metadata/name")?.as_str().map(str::to_string))
        .collect();
    let targets = match &input.names {
        None => matched,
        Some(names) => {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !matched.contains(n))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                diags.push(Diagnostic::warning(
                    "Some named Deployments were not found",
                    format!(
                        "No Deployment named {} in namespace {ns} of {cluster} matches the selector ({}); it was not restarted.",
                        missing.join(", "),
                        input.picked_by()
                    ),
                ));
            }
            matched.into_iter().filter(|m| names.contains(m)).collect()
        }
    };
    if targets.is_empty() {
        diags.push(nothing_matched(input));
        return None;
    }
    Some(targets)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn deployment(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::namespaced("apps/v1", "Deployment", namespace, name)
}

/// The current time as `kubectl rollout restart` writes it: RFC 3339, whole seconds, UTC.
fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

fn nothing_matched(input: &Input) -> Diagnostic {
    Diagnostic::warning(
        "No Deployment to restart",
        format!(
            "Namespace {} of {} has no Deployment that matches ({}), so nothing was restarted. Check the namespace and the labels (kubectl get deployments -n {} --show-labels).",
            input.namespace,
            input.cluster,
            input.picked_by(),
            input.namespace
        ),
    )
}

fn interrupted(input: &Input, done: &[String], left: &[String]) -> Diagnostic {
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    Diagnostic::error(
        "Restart interrupted",
        format!(
            "Terraform asked meshfed to stop, so it stopped restarting the Deployments of namespace {} in {}. Restarted: {}. Not restarted: {}. Invoke the action again to restart them (a Deployment restarted twice just rolls out once more).",
            input.namespace,
            input.cluster,
            list(done),
            list(left)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut all = vec![
            ("cluster", Value::string("cluster-a.local")),
            ("namespace", Value::string("abc")),
            ("selector", Value::Null),
            ("names", Value::Null),
        ];
        for (k, v) in pairs {
            all.retain(|(name, _)| name != k);
            all.push((*k, v.clone()));
        }
        Value::object(all)
    }

    fn labels(pairs: &[(&str, &str)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        )
    }

    #[test]
    fn a_selector_becomes_the_label_selector_the_api_takes() {
        let (input, diags) = check(&config(&[(
            "selector",
            labels(&[("tier", "web"), ("app", "foo")]),
        )]));
        assert!(diags.is_empty(), "{diags:?}");
        let input = input.expect("known input");
        assert_eq!(input.label_selector().as_deref(), Some("app=foo,tier=web"));
        let every = check(&config(&[])).0.expect("known input");
        assert_eq!(every.label_selector(), None);
        assert_eq!(every.picked_by(), "no selector");
    }

    #[test]
    fn a_bad_namespace_label_or_name_is_an_error_on_its_attribute() {
        let (input, diags) = check(&config(&[
            ("namespace", Value::string("Not_A_Label")),
            ("selector", labels(&[("app", "a,b")])),
            (
                "names",
                Value::List(vec![Value::string("ok"), Value::string("no way")]),
            ),
        ]));
        assert!(input.is_none());
        let paths: Vec<String> = diags
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths.len(), 3, "{diags:?}");
        assert!(paths[0].contains("namespace"), "{paths:?}");
        assert!(paths[1].contains("selector"), "{paths:?}");
        assert!(paths[2].contains("names"), "{paths:?}");
    }

    #[test]
    fn unknown_values_pass_validation_but_give_no_input() {
        let (input, diags) = check(&config(&[("namespace", Value::unknown())]));
        assert!(diags.is_empty(), "{diags:?}");
        assert!(input.is_none());
    }

    #[test]
    fn an_empty_names_list_is_refused() {
        let (_, diags) = check(&config(&[("names", Value::List(vec![]))]));
        assert!(diags.has_errors(), "{diags:?}");
    }

    #[test]
    fn the_time_is_rfc_3339_in_whole_seconds() {
        let t = now();
        assert_eq!(t.len(), "2026-01-02T03:04:05Z".len(), "{t}");
        assert!(t.ends_with('Z'), "{t}");
        let digits = t.bytes().filter(u8::is_ascii_digit).count();
        assert_eq!(digits, 14, "{t}");
        assert_eq!((&t[4..5], &t[10..11], &t[13..14]), ("-", "T", ":"), "{t}");
    }
}
