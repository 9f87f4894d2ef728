//! Failures the protocol layer must contain: an unknown resource or data source type answered on
//! every RPC with a diagnostic naming it (by the test provider and by meshfed), a panicking
//! provider method turned into an internal-error diagnostic while the server keeps serving, and
//! StopProvider cancelling an apply in flight (test provider) or answering with nothing in flight
//! (meshfed). Needs nothing external.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshfed::provider::Meshfed;
use meshfed::tfplugin::provider::STOP_GRACE;
use meshfed::tfplugin::value::Value;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tonic::transport::Channel;

use crate::diagnostics::{assert_no_diagnostics, assert_unknown_type, errors};
use crate::harness::{Plugin, within};
use crate::meshfed_config::{cluster_ds_config, configured_meshfed};
use crate::msgpack::{M, decode, s};
use crate::test_provider::{THING, TestProvider, thing_m, thing_type};

type Client = pb::provider_client::ProviderClient<Channel>;

/// The validate, plan, apply and read RPCs of resources answer type `name` with one error naming
/// it.
async fn assert_resource_rpcs_refuse(c: &mut Client, name: &str) {
    let d = call!(
        c,
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
            client_capabilities: None,
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ValidateResourceConfig");
    let d = call!(
        c,
        plan_resource_change,
        pb::plan_resource_change::Request {
            type_name: name.into(),
            prior_state: M::Nil.dv(),
            proposed_new_state: M::Nil.dv(),
            config: M::Nil.dv(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "PlanResourceChange");
    let d = call!(
        c,
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: name.into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ApplyResourceChange");
    let d = call!(
        c,
        read_resource,
        pb::read_resource::Request {
            type_name: name.into(),
            current_state: M::Nil.dv(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ReadResource");
}

/// The import, upgrade and move RPCs answer type `name` with one error naming it.
async fn assert_state_rpcs_refuse(c: &mut Client, name: &str) {
    let d = call!(
        c,
        import_resource_state,
        pb::import_resource_state::Request {
            type_name: name.into(),
            id: "x".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ImportResourceState");
    let d = call!(
        c,
        upgrade_resource_state,
        pb::upgrade_resource_state::Request {
            type_name: name.into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "UpgradeResourceState");
    let d = call!(
        c,
        move_resource_state,
        pb::move_resource_state::Request {
            target_type_name: name.into(),
            source_type_name: "other".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "MoveResourceState");
}

/// The data source RPCs answer type `name` with one error naming it.
async fn assert_data_source_rpcs_refuse(c: &mut Client, name: &str) {
    let d = call!(
        c,
        read_data_source,
        pb::read_data_source::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ReadDataSource");
    let d = call!(
        c,
        validate_data_resource_config,
        pb::validate_data_resource_config::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
        }
    )
    .diagnostics;
    assert_unknown_type(&d, name, "ValidateDataResourceConfig");
}

#[tokio::test]
async fn an_unknown_resource_or_data_source_type_gets_a_diagnostic_naming_it() {
    let test = Plugin::start(TestProvider::new()).await;
    let meshfed = Plugin::start(Arc::new(Meshfed::new())).await;
    for (plugin, name) in [(&test, "test_nope"), (&meshfed, "meshfed_nope")] {
        let mut c = plugin.provider();
        assert_resource_rpcs_refuse(&mut c, name).await;
        assert_state_rpcs_refuse(&mut c, name).await;
        assert_data_source_rpcs_refuse(&mut c, name).await;
    }
}

#[tokio::test]
async fn a_panicking_provider_method_is_an_internal_error_diagnostic_and_the_server_keeps_serving()
{
    let plugin = Plugin::start(TestProvider::new()).await;
    let mut client = plugin.provider();
    let plan = |s_value: &str| pb::plan_resource_change::Request {
        type_name: THING.into(),
        prior_state: M::Nil.dv(),
        proposed_new_state: thing_m(vec![("s", s(s_value))]).dv(),
        config: thing_m(vec![("s", s(s_value))]).dv(),
        ..Default::default()
    };
    let resp = call!(client, plan_resource_change, plan("panic"));
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(
        errs[0].summary.starts_with("meshfed internal error"),
        "{resp:#?}"
    );
    assert!(
        errs[0]
            .detail
            .contains("the test provider panics on purpose"),
        "the detail carries the panic message: {resp:#?}"
    );

    let applied = call!(
        client,
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            planned_state: thing_m(vec![("s", s("panic"))]).dv(),
            config: thing_m(vec![("s", s("panic"))]).dv(),
            ..Default::default()
        }
    );
    let errs = errors(&applied.diagnostics);
    assert_eq!(errs.len(), 1, "{applied:#?}");
    assert!(errs[0].summary.starts_with("meshfed internal error"));

    let next = call!(client, plan_resource_change, plan("fine"));
    assert_no_diagnostics(&next.diagnostics, "the call after a panic");
    assert!(next.planned_state.is_some());
}

/// The apply of a new thing with `s = s_value` (`hang` makes the test provider hang).
fn create_request(s_value: &str) -> pb::apply_resource_change::Request {
    pb::apply_resource_change::Request {
        type_name: THING.into(),
        prior_state: M::Nil.dv(),
        planned_state: thing_m(vec![("id", M::Unknown), ("s", s(s_value))]).dv(),
        config: thing_m(vec![("s", s(s_value))]).dv(),
        ..Default::default()
    }
}

/// Sends StopProvider while an apply of `s = s_value` runs; the apply's response and how long
/// after StopProvider it came.
async fn stop_during_apply(
    plugin: &Plugin,
    provider: &TestProvider,
    s_value: &str,
) -> (pb::apply_resource_change::Response, Duration) {
    let mut apply_client = plugin.provider();
    let req = create_request(s_value);
    let apply = tokio::spawn(async move { apply_client.apply_resource_change(req).await });
    within("the apply to start", provider.apply_started.notified()).await;
    let stopped = call!(
        plugin.provider(),
        stop_provider,
        pb::stop_provider::Request {}
    );
    assert_eq!(stopped.error, "");
    let stop_sent = Instant::now();
    let r = tokio::time::timeout(STOP_GRACE * 3, apply)
        .await
        .expect("the apply returns within the bound")
        .expect("the apply task");
    let resp = r
        .expect("a stopped apply answers with diagnostics")
        .into_inner();
    (resp, stop_sent.elapsed())
}

#[tokio::test]
async fn stop_provider_lets_an_apply_finish_its_resource_then_raises_its_stop_signal() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let (resp, took) = stop_during_apply(&plugin, &provider, "stoppable").await;
    assert!(
        took >= STOP_GRACE && took < STOP_GRACE + Duration::from_secs(3),
        "the signal is raised after the grace: {took:?}"
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert_eq!(errs[0].summary, "Apply interrupted");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state").get("id"),
        Some(&Value::string("partly")),
        "the state the apply returned is kept: it records what was done"
    );
}

#[tokio::test]
async fn stop_provider_drops_an_apply_that_ignores_its_signal_and_later_calls_still_work() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let (resp, took) = stop_during_apply(&plugin, &provider, "hang").await;
    assert!(
        took >= STOP_GRACE * 2 && took < STOP_GRACE * 2 + Duration::from_secs(3),
        "dropped one grace after the signal: {took:?}"
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(errs[0].summary.contains("cancelled"), "{resp:#?}");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        Value::Null,
        "a dropped create keeps the prior (null) state"
    );

    // A later apply is not cancelled by the earlier stop.
    let later = call!(
        plugin.provider(),
        apply_resource_change,
        create_request("after")
    );
    assert_no_diagnostics(&later.diagnostics, "the apply after StopProvider");
    assert_eq!(
        decode(later.new_state.as_ref(), &thing_type(), "new state").get("id"),
        Some(&Value::string("thing-1"))
    );
}

#[tokio::test]
async fn stop_provider_with_nothing_in_flight_answers_and_meshfed_keeps_serving() {
    let plugin = configured_meshfed().await;
    let mut client = plugin.provider();
    let stopped = call!(client, stop_provider, pb::stop_provider::Request {});
    assert_eq!(stopped.error, "");
    let read = call!(
        client,
        read_data_source,
        pb::read_data_source::Request {
            type_name: "meshfed_cluster".into(),
            config: cluster_ds_config(s("cluster-a.local")).dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&read.diagnostics, "ReadDataSource after StopProvider");
}
