//! The lifecycle every resource shares, decided once: a plan whose proposed state is null is a
//! delete, anything else a create or an update (the resource's hooks plan it); an apply whose
//! planned state is null destroys the objects in state, anything else writes the resource's
//! objects and prunes the ones dropped from it; a read refreshes the objects in state from the
//! clusters; an import wraps the resource's state for Terraform.
//!
//! Guarantees:
//! - after a failed apply or destroy, the state lists exactly the objects that are in place
//!   (written, or old ones not yet pruned or deleted), so a second apply finishes the job;
//! - refresh keeps only meshfed's fields of each live object, so drift in those fields and
//!   deleted objects show as a plan diff while other managers' fields never do; a resource whose
//!   objects are all gone leaves the state;
//! - an error reading or writing names the cluster and the object.
//!
//! Knows no resource: it works through the [`Resource`] hooks. Must not import the provider layer.

use std::collections::BTreeMap;

use super::context::Ctx;
use super::objects::{
    Desired, Manifests, ObjectKey, error_diag, live_display, manifest_keys, manifests_of,
    with_manifests,
};
use super::ownership;
use super::resource::{Call, Resource, Written};
use super::writes::{converge, delete};
use crate::k8s::ClusterSet;
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ImportRequest, ImportResponse, ImportedResource, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse,
};
use crate::tfplugin::value::Value;

/// The error for an apply whose configuration is still not wholly known (`what`: "this service
/// entry"): Terraform resolves every value before apply, so this is a dependency bug.
pub fn still_unknown(what: &str) -> Diagnostic {
    Diagnostic::error(
        "Configuration still unknown at apply",
        format!(
            "Some inputs of {what} are still unknown during apply; this is a bug in the configuration's dependencies."
        ),
    )
}

/// PlanResourceChange: a delete plans a null state (keeping the private data, which a failed
/// destroy still needs); a create or update is the resource's plan.
pub async fn plan<R: Resource>(r: &R, ctx: &Ctx<'_>, req: PlanRequest) -> PlanResponse {
    if req.proposed_new_state.is_null() {
        return PlanResponse {
            planned_state: Value::Null,
            planned_private: req.prior_private,
            ..PlanResponse::default()
        };
    }
    let mut diagnostics = Diagnostics::new();
    let planned = r.plan(Call::new(ctx, &mut diagnostics), &req).await;
    if let Some(planned) = &planned {
        let prior = manifests_of(&req.prior_state);
        let new = manifest_keys(&planned.state)
            .into_iter()
            .filter(|k| !prior.contains_key(k))
            .collect();
        let hint = |k: &ObjectKey| r.adopt_hint(k);
        diagnostics.extend(ownership::look_ahead(ctx.clusters, new, &hint).await);
    }
    match planned {
        Some(planned) => PlanResponse {
            planned_state: planned.state,
            planned_private: planned.private,
            diagnostics,
            ..PlanResponse::default()
        },
        None => PlanResponse {
            planned_state: req.proposed_new_state,
            diagnostics,
            ..PlanResponse::default()
        },
    }
}

/// ApplyResourceChange: destroy, or prepare, write and prune, then the resource's new state.
pub async fn apply<R: Resource>(r: &R, ctx: &Ctx<'_>, req: ApplyRequest) -> ApplyResponse {
    if req.planned_state.is_null() {
        return destroy(ctx.clusters, req).await;
    }
    let stop = req.stop.clone();
    let mut diagnostics = Diagnostics::new();
    let Some((change, writes)) = r.prepare(Call::new(ctx, &mut diagnostics), &req).await else {
        return ApplyResponse {
            new_state: req.prior_state,
            private: req.planned_private,
            diagnostics,
            ..ApplyResponse::default()
        };
    };
    let prior = manifests_of(&req.prior_state);
    let hint = |k: &ObjectKey| r.adopt_hint(k);
    let (in_place, d) = converge(
        ctx.clusters,
        &writes.objects,
        &prior,
        writes.order,
        &hint,
        &stop,
    )
    .await;
    diagnostics.extend(d);
    if req.prior_state.is_null() && diagnostics.has_errors() && !in_place.is_empty() {
        diagnostics.push(created_in_part(in_place.len(), r.replace_cost()));
    }
    let call = Call::new(ctx, &mut diagnostics);
    let done = r.finish(call, &req, Written { change, in_place }).await;
    ApplyResponse {
        new_state: done.state,
        private: done.private,
        diagnostics,
        ..ApplyResponse::default()
    }
}

/// The warning of a create that failed after writing `written` objects: Terraform marks such a
/// resource tainted and replaces it at the next apply (destroy, then create), which costs
/// `cost`; untainting it first lets the next apply finish the create in place.
fn created_in_part(written: usize, cost: &str) -> Diagnostic {
    Diagnostic::warning(
        "Resource created in part",
        format!(
            "{written} object(s) were written before the create failed; the state records them. Terraform marks a resource whose create failed as tainted and replaces it at the next apply: {cost}. To finish this create in place instead, run `terraform untaint <address>` (or `tofu untaint <address>`) once the cause is fixed, then apply again."
        ),
    )
}

/// Deletes every object in the prior state; when some deletion fails, the state keeps exactly
/// the objects still there.
async fn destroy(clusters: &ClusterSet, req: ApplyRequest) -> ApplyResponse {
    let prior = manifests_of(&req.prior_state);
    let keys: Vec<ObjectKey> = prior.keys().cloned().collect();
    let (gone, diagnostics) = delete(clusters, &keys, &req.stop).await;
    if !diagnostics.has_errors() {
        return ApplyResponse {
            new_state: Value::Null,
            ..ApplyResponse::default()
        };
    }
    let left: Manifests = prior
        .into_iter()
        .filter(|(k, _)| !gone.contains(k))
        .collect();
    ApplyResponse {
        new_state: with_manifests(req.prior_state, &left),
        private: req.planned_private,
        diagnostics,
        ..ApplyResponse::default()
    }
}

/// ReadResource: the objects in state, refreshed; no state at all when every object is gone;
/// errors keep the state as it was.
pub async fn read<R: Resource>(r: &R, ctx: &Ctx<'_>, req: ReadRequest) -> ReadResponse {
    let shapes = r.shapes(ctx, &req.current_state);
    let prior = manifests_of(&req.current_state);
    match refresh(ctx.clusters, &shapes, &prior).await {
        Ok(now) if now.is_empty() && !prior.is_empty() => ReadResponse {
            new_state: Value::Null,
            ..ReadResponse::default()
        },
        Ok(now) => ReadResponse {
            new_state: with_manifests(req.current_state, &now),
            private: req.private,
            ..ReadResponse::default()
        },
        Err(diagnostics) => ReadResponse {
            new_state: req.current_state,
            private: req.private,
            diagnostics,
            ..ReadResponse::default()
        },
    }
}

/// ImportResourceState: the resource's state for the ID.
pub async fn import<R: Resource>(r: &R, ctx: &Ctx<'_>, req: ImportRequest) -> ImportResponse {
    match r.import(ctx, &req.id).await {
        Ok(found) => ImportResponse {
            imported: vec![ImportedResource {
                type_name: R::TYPE_NAME.to_string(),
                state: found.state,
                private: found.private,
                identity: Value::Null,
            }],
            diagnostics: Diagnostics::new(),
        },
        Err(diagnostics) => ImportResponse {
            diagnostics,
            ..ImportResponse::default()
        },
    }
}

/// Reads back every object of `prior` and keeps only meshfed's fields: the refreshed map.
/// Objects gone from the cluster are left out. `shapes` (rendered from the state's own inputs)
/// give the shape of each object meshfed owns; an object not among them keeps its prior shape.
pub async fn refresh(
    clusters: &ClusterSet,
    shapes: &[Desired],
    prior: &Manifests,
) -> Result<Manifests, Diagnostics> {
    let by_key: BTreeMap<ObjectKey, &Desired> = shapes.iter().map(|d| (d.key(), d)).collect();
    let reads = prior
        .keys()
        .map(|key| clusters.read(&key.cluster, &key.object));
    let lives = futures::future::join_all(reads).await;
    let mut out = Manifests::new();
    for ((key, prior_yaml), live) in prior.iter().zip(lives) {
        let live = live.map_err(|e| Diagnostics::from(error_diag("Cannot read object", &e)))?;
        let Some(live) = live else {
            tracing::info!(object = %key, "object is gone from the cluster");
            continue;
        };
        let shape = match by_key.get(key) {
            Some(d) => d.manifest.object.clone(),
            None => serde_saphyr::from_str(prior_yaml).unwrap_or(serde_json::Value::Null),
        };
        out.insert(key.clone(), live_display(&live, &shape));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::k8s::ObjectRef;
    use crate::tfplugin::provider::StopSignal;

    fn key(cluster: &str, name: &str) -> ObjectKey {
        ObjectKey::new(
            cluster,
            ObjectRef::namespaced("v1", "ConfigMap", "ns", name),
        )
    }

    #[test]
    fn a_failed_destroy_keeps_the_objects_and_the_private_data() {
        let prior = Manifests::from([(key("a", "x"), "x\n".to_string())]);
        let state = with_manifests(Value::object([("id", Value::string("x"))]), &prior);
        let req = ApplyRequest {
            type_name: "meshfed_test".into(),
            prior_state: state.clone(),
            planned_state: Value::Null,
            config: Value::Null,
            planned_private: b"remembered".to_vec(),
            stop: StopSignal::default(),
            planned_identity: Value::Null,
        };
        let clusters = ClusterSet::new("meshfed", BTreeMap::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let r = rt.block_on(destroy(&clusters, req));
        assert!(r.diagnostics.has_errors());
        assert_eq!(r.new_state, state);
        assert_eq!(r.private, b"remembered");
    }
}
