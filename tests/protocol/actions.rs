//! Actions over the wire (protocol 6.10, Terraform ≥ 1.14), with meshfed: GetMetadata and
//! GetProviderSchema announce `meshfed_rollout_restart` and its `config` schema; its
//! configuration is checked at ValidateActionConfig (no provider configuration) and PlanAction
//! (the cluster label too), each error on the attribute at fault; InvokeAction streams a
//! `completed` event carrying the diagnostics, also for an unknown action type; StopProvider
//! raises an invocation's stop signal, after which it reports and completes (a small provider
//! of its own). Restarting
//! Deployments in a cluster is `e2e_action`'s. Needs nothing external.

use std::sync::Arc;

use std::collections::BTreeMap;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::action::InvokeRequest;
use meshfed::tfplugin::diag::{Diagnostic, Diagnostics};
use meshfed::tfplugin::provider::{Provider, ProviderSchemas};
use meshfed::tfplugin::schema::{Block, Schema};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tonic::transport::Channel;

use crate::diagnostics::{assert_no_diagnostics, assert_unknown_type, attr, errors, steps};
use crate::harness::{Plugin, within};
use crate::meshfed_config::configured_meshfed;
use crate::msgpack::{M, block_m, map, s};

const RESTART: &str = "meshfed_rollout_restart";

type Client = pb::provider_client::ProviderClient<Channel>;

/// A `config` block of the action: every attribute present, `over` replacing some.
fn restart_config(over: Vec<(&str, M)>) -> M {
    let schema = Meshfed::new().schemas().actions[RESTART].clone();
    let mut all = vec![("cluster", s("cluster-a.local")), ("namespace", s("abc"))];
    all.extend(over);
    block_m(&schema.block, all)
}

async fn invoke_events(
    c: &mut Client,
    action_type: &str,
    config: &M,
) -> Vec<pb::invoke_action::Event> {
    let mut stream = call!(
        c,
        invoke_action,
        pb::invoke_action::Request {
            action_type: action_type.into(),
            config: config.dv(),
            client_capabilities: None,
        }
    );
    let mut events = Vec::new();
    while let Some(e) = within("the InvokeAction stream", stream.message())
        .await
        .expect("the InvokeAction stream ends cleanly")
    {
        events.push(e);
    }
    events
}

/// The diagnostics of the one `completed` event, which must be the last.
fn completion(events: &[pb::invoke_action::Event]) -> Vec<pb::Diagnostic> {
    let done: Vec<usize> = (0..events.len())
        .filter(|i| {
            matches!(
                events[*i].r#type,
                Some(pb::invoke_action::event::Type::Completed(_))
            )
        })
        .collect();
    assert_eq!(
        done,
        vec![events.len() - 1],
        "one completed event, last: {events:#?}"
    );
    match &events[events.len() - 1].r#type {
        Some(pb::invoke_action::event::Type::Completed(c)) => c.diagnostics.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn the_restart_action_and_its_schema_are_announced() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let meta = call!(c, get_metadata, pb::get_metadata::Request {});
    let names: Vec<&str> = meta.actions.iter().map(|a| a.type_name.as_str()).collect();
    assert_eq!(names, [RESTART]);

    let schema = call!(c, get_provider_schema, pb::get_provider_schema::Request {});
    let block = schema.action_schemas[RESTART]
        .schema
        .as_ref()
        .and_then(|s| s.block.clone())
        .expect("the action's schema has a block");
    let attrs: Vec<(&str, bool)> = block
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.required))
        .collect();
    assert_eq!(
        attrs,
        [
            ("cluster", true),
            ("namespace", true),
            ("selector", false),
            ("names", false)
        ]
    );
    assert!(block.attributes.iter().all(|a| !a.description.is_empty()));
}

#[tokio::test]
async fn a_bad_namespace_is_refused_at_validation_on_its_attribute() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let validate = |config: M| pb::validate_action_config::Request {
        type_name: RESTART.into(),
        config: config.dv(),
    };
    let good = restart_config(vec![("selector", map(vec![("app", s("foo"))]))]);
    let d = call!(c, validate_action_config, validate(good)).diagnostics;
    assert_no_diagnostics(&d, "ValidateActionConfig of a good config");
    let unknown = restart_config(vec![("namespace", M::Unknown)]);
    let d = call!(c, validate_action_config, validate(unknown)).diagnostics;
    assert_no_diagnostics(&d, "ValidateActionConfig of an unknown namespace");

    let bad = restart_config(vec![("namespace", s("Not_A_Namespace"))]);
    let d = call!(c, validate_action_config, validate(bad)).diagnostics;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(steps(errs[0]), vec![attr("namespace")], "{d:#?}");
    assert!(errs[0].detail.contains("Not_A_Namespace"), "{d:#?}");
}

#[tokio::test]
async fn planning_checks_the_cluster_label_and_touches_no_cluster() {
    let plugin = configured_meshfed().await;
    let mut c = plugin.provider();
    let plan = |config: M| pb::plan_action::Request {
        action_type: RESTART.into(),
        config: config.dv(),
        client_capabilities: None,
    };
    // cluster-b.local's host is unreachable: planning must not try it.
    let good = restart_config(vec![("cluster", s("cluster-b.local"))]);
    let resp = call!(c, plan_action, plan(good));
    assert_no_diagnostics(&resp.diagnostics, "PlanAction of a good config");
    assert!(resp.deferred.is_none());

    let bad = restart_config(vec![("cluster", s("cluster-z.local"))]);
    let d = call!(c, plan_action, plan(bad)).diagnostics;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(steps(errs[0]), vec![attr("cluster")], "{d:#?}");
    assert!(errs[0].summary.contains("cluster-z.local"), "{d:#?}");
    assert!(errs[0].detail.contains("cluster-a.local"), "{d:#?}");
}

#[tokio::test]
async fn an_invocation_refused_before_any_request_completes_with_the_error() {
    let plugin = configured_meshfed().await;
    let mut c = plugin.provider();
    let bad = restart_config(vec![("cluster", s("cluster-z.local"))]);
    let events = invoke_events(&mut c, RESTART, &bad).await;
    let d = completion(&events);
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(steps(errs[0]), vec![attr("cluster")], "{d:#?}");

    let events = invoke_events(&mut c, "meshfed_rotate", &M::Nil).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_unknown_type(&completion(&events), "meshfed_rotate", "InvokeAction");
    let d = call!(
        c,
        plan_action,
        pb::plan_action::Request {
            action_type: "meshfed_rotate".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, "meshfed_rotate", "PlanAction");
}

#[tokio::test]
async fn planning_before_the_provider_is_configured_says_so() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let d = call!(
        c,
        plan_action,
        pb::plan_action::Request {
            action_type: RESTART.into(),
            config: restart_config(vec![]).dv(),
            client_capabilities: None,
        }
    )
    .diagnostics;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert!(errs[0].summary.contains("not configured"), "{d:#?}");
}

/// A provider whose one action reports, waits for its stop signal, reports again and fails.
struct Waiting {
    schemas: ProviderSchemas,
}

const WAIT: &str = "test_wait";

#[tonic::async_trait]
impl Provider for Waiting {
    fn schemas(&self) -> &ProviderSchemas {
        &self.schemas
    }

    async fn invoke_action(&self, req: InvokeRequest) -> Diagnostics {
        req.progress.report("started");
        req.stop.raised().await;
        req.progress.report("stopping");
        Diagnostic::error("Interrupted", "stopped before the next step").into()
    }
}

#[tokio::test]
async fn stop_provider_raises_the_stop_signal_of_an_invocation_which_then_completes() {
    let empty = || Schema::new(0, Block::new());
    let schemas = ProviderSchemas {
        provider: empty(),
        provider_meta: None,
        resources: BTreeMap::new(),
        data_sources: BTreeMap::new(),
        functions: BTreeMap::new(),
        identities: BTreeMap::new(),
        list_resources: BTreeMap::new(),
        actions: BTreeMap::from([(WAIT.to_string(), empty())]),
    };
    let plugin = Plugin::start(Arc::new(Waiting { schemas })).await;
    let mut c = plugin.provider();
    let mut stream = call!(
        c,
        invoke_action,
        pb::invoke_action::Request {
            action_type: WAIT.into(),
            config: M::Map(vec![]).dv(),
            client_capabilities: None,
        }
    );
    let mut next = async || {
        within("the next InvokeAction event", stream.message())
            .await
            .expect("the stream goes on")
            .expect("an event")
            .r#type
    };
    let progress = |m: &str| {
        Some(pb::invoke_action::event::Type::Progress(
            pb::invoke_action::event::Progress { message: m.into() },
        ))
    };
    assert_eq!(next().await, progress("started"));
    call!(
        plugin.provider(),
        stop_provider,
        pb::stop_provider::Request {}
    );
    assert_eq!(next().await, progress("stopping"));
    match next().await {
        Some(pb::invoke_action::event::Type::Completed(done)) => {
            assert_eq!(errors(&done.diagnostics)[0].summary, "Interrupted")
        }
        other => panic!("completed after stopping, got {other:?}"),
    }
}
