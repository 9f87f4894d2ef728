//! Target `state_upgrade`: UpgradeResourceState, as meshfed's provider answers it, with arbitrary
//! stored state JSON for each resource type.
//!
//! Input: a selector byte, then the raw state JSON (empty: flatmap state, which meshfed refuses).
//! The selector's low two bits choose the resource type, in the registry's order, the fourth
//! value a type meshfed does not have; bits 2–3 choose the stored schema version: 0, the
//! schema's own, one newer than it, or -1. The upgrade must never panic; an upgraded state must
//! be what the server can send back: it encodes as msgpack against the resource's schema and
//! round-trips ([`crate::roundtrip`]), and, being read from JSON, it is wholly known and
//! round-trips through JSON too.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use futures::executor::block_on;
use meshfed::provider::Meshfed;
use meshfed::tfplugin::provider::{Provider, RawState, UpgradeRequest};
use meshfed::tfplugin::schema::Schema;

use crate::roundtrip::{assert_json_round_trip, assert_msgpack_round_trip};

/// A type name meshfed does not serve.
pub const UNKNOWN_TYPE: &str = "meshfed_nonexistent";

fn provider() -> &'static Meshfed {
    static PROVIDER: OnceLock<Meshfed> = OnceLock::new();
    PROVIDER.get_or_init(Meshfed::new)
}

/// The schema of resource type `type_name`, if meshfed serves it.
pub fn schema(type_name: &str) -> Option<&'static Schema> {
    provider().schemas().resources.get(type_name)
}

/// The resource type names, in the order the selector's low two bits choose them.
pub fn type_names() -> Vec<String> {
    let mut names: Vec<String> = provider().schemas().resources.keys().cloned().collect();
    names.push(UNKNOWN_TYPE.into());
    names
}

/// The selector byte for resource `index` (of [`type_names`]) with stored version choice
/// `version` (0: version 0, 1: the schema's, 2: newer, 3: -1).
pub fn selector(index: usize, version: u8) -> u8 {
    (index as u8 & 3) | ((version & 3) << 2)
}

pub fn check(data: &[u8]) {
    let Some((sel, json)) = crate::split_selector(data) else {
        return;
    };
    let names = type_names();
    let type_name = names[usize::from(sel & 3) % names.len()].clone();
    let schema = schema(&type_name);
    let current = schema.map_or(0, |s| s.version);
    let version = match (sel >> 2) & 3 {
        0 => 0,
        1 => current,
        2 => current + 1,
        _ => -1,
    };
    let req = UpgradeRequest {
        type_name,
        version,
        raw: RawState {
            json: json.to_vec(),
            flatmap: BTreeMap::new(),
        },
    };
    let Ok(state) = block_on(provider().upgrade_resource_state(req)) else {
        return;
    };
    let schema = schema.expect("only a type meshfed serves upgrades");
    assert!(
        version <= schema.version,
        "state of a newer version was upgraded"
    );
    let ty = schema.value_type();
    assert_msgpack_round_trip(&state, &ty);
    assert!(
        state.is_wholly_known(),
        "state read from JSON holds an unknown: {state:?}"
    );
    assert_json_round_trip(&state, &ty);
}
