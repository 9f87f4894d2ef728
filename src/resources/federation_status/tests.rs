use super::*;
use crate::resources::testing::{facts, provider, with_ctx};
use crate::tfplugin::codec::to_msgpack;
use crate::tfplugin::provider::ClientCapabilities;

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";

fn config(clusters: &[&str]) -> Value {
    Value::object([
        (
            "clusters",
            Value::List(clusters.iter().map(|c| Value::string(*c)).collect()),
        ),
        ("expiry_warning_days", Value::Null),
        ("healthy", Value::Null),
        ("problems", Value::Null),
        ("members", Value::Null),
    ])
}

fn read_with(clusters: &[&str]) -> ReadDataResponse {
    let p = provider(&[(A, Field::Known(facts(A))), (B, Field::Known(facts(B)))]);
    let req = ReadDataRequest {
        type_name: TYPE_NAME.into(),
        config: config(clusters),
        capabilities: ClientCapabilities::default(),
    };
    with_ctx(&p, async |ctx| FederationStatus.read(Some(ctx), req).await)
}

#[test]
fn an_unknown_cluster_is_an_error_on_its_place_in_the_list() {
    let resp = read_with(&[A, "cluster-c.local"]);
    let errors: Vec<_> = resp.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{:?}", resp.diagnostics);
    assert_eq!(
        errors[0].attribute,
        Some(AttrPath::attr("clusters").index(1))
    );
    assert!(errors[0].summary.contains("cluster-c.local"));
}

#[test]
fn clusters_that_cannot_be_reached_are_problems_in_a_state_of_the_schemas_type() {
    let resp = read_with(&[A, B]);
    assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    assert_eq!(resp.state.get("healthy"), Some(&Value::Bool(false)));
    let problems = resp.state.get("problems").and_then(Value::elements);
    assert_eq!(problems.map(<[Value]>::len), Some(2));
    let members = resp
        .state
        .get("members")
        .and_then(Value::entries)
        .expect("members");
    let a = members.get(A).expect("cluster-a.local");
    assert_eq!(a.get("reachable"), Some(&Value::Bool(false)));
    to_msgpack(&resp.state, &schema().value_type()).expect("the state has the schema's type");
}
