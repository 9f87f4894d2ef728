//! The protocol tests' test provider: one resource type, `test_thing`, whose schema uses every
//! type, nesting mode and flag Terraform knows, and one data source it does not implement. It
//! records every call and answers plans, applies, reads and imports in simple, predictable ways
//! (and panics or hangs on request), so the tests see what the protocol layer decoded and how it
//! encodes the answers. Needs nothing external.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshfed::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use meshfed::tfplugin::identity::{IdentityAttribute, IdentitySchema};
use meshfed::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ClientCapabilities, ConfigureRequest, ImportRequest,
    ImportResponse, ImportedResource, PlanRequest, PlanResponse, Provider, ProviderSchemas,
    ReadRequest, ReadResponse,
};
use meshfed::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use meshfed::tfplugin::value::{Type, Value};

use crate::msgpack::{M, block_m, block_value};

pub const THING: &str = "test_thing";
pub const INFO: &str = "test_info";
pub const THING_VERSION: i64 = 3;

fn object_type() -> Type {
    Type::object([("a", Type::String), ("items", Type::list(Type::String))])
}

fn tuple_type() -> Type {
    Type::Tuple(vec![Type::String, Type::Number, Type::Bool])
}

fn leaf_block(what: &str) -> Block {
    Block::new()
        .describe(&format!("A {what} block."))
        .attr(Attribute::optional("v", Type::String).describe("A value in the block."))
}

fn name_attr() -> Attribute {
    Attribute::required("name", Type::String).describe("Name of the element.")
}

/// `id`, then one optional attribute of each type, then the flagged ones.
fn with_plain_attributes(block: Block) -> Block {
    block
        .attr(
            Attribute::computed("id", Type::String)
                .describe("Identifier of the thing.")
                .plain_description(),
        )
        .attr(Attribute::optional("s", Type::String).describe("A **string**."))
        .attr(Attribute::optional("n", Type::Number).describe("A number."))
        .attr(Attribute::optional("b", Type::Bool).describe("A bool."))
        .attr(Attribute::optional("l", Type::list(Type::String)).describe("A list."))
        .attr(Attribute::optional("st", Type::set(Type::Number)).describe("A set."))
        .attr(Attribute::optional("m", Type::map(Type::String)).describe("A map."))
        .attr(Attribute::optional("o", object_type()).describe("An object."))
        .attr(Attribute::optional("t", tuple_type()).describe("A tuple."))
        .attr(Attribute::optional("d", Type::Dynamic).describe("Any value."))
        .attr(
            Attribute::optional("secret", Type::String)
                .sensitive()
                .describe("A secret."),
        )
        .attr(
            Attribute::optional("wo", Type::String)
                .write_only()
                .describe("A write-only value."),
        )
        .attr(
            Attribute::optional("old", Type::String)
                .deprecated()
                .describe("Deprecated: use `s`."),
        )
}

/// One nested attribute of each nesting mode.
fn with_nested_attributes(block: Block) -> Block {
    block
        .attr(
            Attribute::nested(
                "single_attr",
                Nesting::Single,
                vec![
                    name_attr(),
                    Attribute::optional_computed("port", Type::Number)
                        .describe("A port, computed when not set."),
                ],
            )
            .with_optional()
            .describe("A single nested attribute."),
        )
        .attr(
            Attribute::nested("list_attr", Nesting::List, vec![name_attr()])
                .with_optional()
                .describe("A list nested attribute."),
        )
        .attr(
            Attribute::nested("set_attr", Nesting::Set, vec![name_attr()])
                .with_optional()
                .describe("A set nested attribute."),
        )
        .attr(
            Attribute::nested("map_attr", Nesting::Map, vec![name_attr()])
                .with_optional()
                .describe("A map nested attribute."),
        )
}

/// One nested block of each nesting mode; the list block holds another list block.
fn with_nested_blocks(block: Block) -> Block {
    let inner = Block::new()
        .describe("A list block inside a list block.")
        .attr(Attribute::optional("w", Type::String).describe("A value two blocks deep."));
    block
        .block(NestedBlock::new(
            "single_block",
            Nesting::Single,
            leaf_block("single"),
        ))
        .block(NestedBlock::new(
            "group_block",
            Nesting::Group,
            leaf_block("group"),
        ))
        .block(
            NestedBlock::new(
                "list_block",
                Nesting::List,
                leaf_block("list").block(NestedBlock::new("inner", Nesting::List, inner)),
            )
            .max_items(3),
        )
        .block(NestedBlock::new("set_block", Nesting::Set, leaf_block("set")).min_items(1))
        .block(NestedBlock::new(
            "map_block",
            Nesting::Map,
            leaf_block("map"),
        ))
}

pub fn thing_schema() -> Schema {
    let block = Block::new().describe("A thing that uses every schema feature.");
    Schema::new(
        THING_VERSION,
        with_nested_blocks(with_nested_attributes(with_plain_attributes(block))),
    )
}

fn info_schema() -> Schema {
    Schema::new(
        1,
        Block::new()
            .describe("Information; the test provider does not implement reading it.")
            .attr(Attribute::computed("id", Type::String).describe("Identifier.")),
    )
}

fn thing_block() -> Block {
    thing_schema().block
}

pub fn thing_type() -> Type {
    thing_schema().value_type()
}

/// A `test_thing` object as msgpack.
pub fn thing_m(over: Vec<(&str, M)>) -> M {
    block_m(&thing_block(), over)
}

/// A `test_thing` object as a value.
pub fn thing_value(over: Vec<(&str, Value)>) -> Value {
    block_value(&thing_block(), over)
}

/// What the test provider was asked.
#[derive(Clone, Debug)]
pub enum Call {
    Configure(ConfigureRequest),
    ValidateResource(String, Value),
    Plan(PlanRequest),
    Apply(ApplyRequest),
    Read(ReadRequest),
    Import(ImportRequest),
}

pub struct TestProvider {
    schemas: ProviderSchemas,
    calls: Mutex<Vec<Call>>,
    /// Notified when an apply of a thing with `s = "hang"` has started.
    pub apply_started: tokio::sync::Notify,
}

impl TestProvider {
    pub fn new() -> Arc<TestProvider> {
        Arc::new(TestProvider {
            schemas: ProviderSchemas {
                provider: Schema::new(
                    0,
                    Block::new().describe("The test provider.").attr(
                        Attribute::optional("endpoint", Type::String).describe("An endpoint."),
                    ),
                ),
                provider_meta: None,
                resources: BTreeMap::from([(THING.to_string(), thing_schema())]),
                data_sources: BTreeMap::from([(INFO.to_string(), info_schema())]),
                functions: BTreeMap::new(),
                identities: BTreeMap::from([(THING.to_string(), thing_identity())]),
                list_resources: BTreeMap::new(),
                actions: BTreeMap::new(),
            },
            calls: Mutex::new(Vec::new()),
            apply_started: tokio::sync::Notify::new(),
        })
    }

    fn record(&self, c: Call) {
        self.calls.lock().expect("the call log").push(c);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("the call log").clone()
    }

    pub fn last_plan(&self) -> PlanRequest {
        self.calls()
            .into_iter()
            .rev()
            .find_map(|c| match c {
                Call::Plan(p) => Some(p),
                _ => None,
            })
            .expect("the provider was asked to plan")
    }

    pub fn last_apply(&self) -> ApplyRequest {
        self.calls()
            .into_iter()
            .rev()
            .find_map(|c| match c {
                Call::Apply(a) => Some(a),
                _ => None,
            })
            .expect("the provider was asked to apply")
    }
}

/// A thing's identity: its `id`, version 1.
pub fn thing_identity() -> IdentitySchema {
    IdentitySchema {
        version: 1,
        attributes: vec![IdentityAttribute::required(
            "id",
            Type::String,
            "The thing's ID.",
        )],
    }
}

/// `{id}` of a state whose `id` is known; null otherwise.
fn identity_of(state: &Value) -> Value {
    match state.get("id") {
        Some(id @ Value::String(_)) => Value::object([("id", id.clone())]),
        _ => Value::Null,
    }
}

fn str_of<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub fn with_attr(v: &Value, name: &str, new: Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.insert(name.to_string(), new);
    }
    v
}

#[tonic::async_trait]
impl Provider for TestProvider {
    fn schemas(&self) -> &ProviderSchemas {
        &self.schemas
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        self.record(Call::Configure(req));
        Diagnostics::new()
    }

    async fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
        _capabilities: ClientCapabilities,
    ) -> Diagnostics {
        self.record(Call::ValidateResource(
            type_name.to_string(),
            config.clone(),
        ));
        let mut d = Diagnostics::new();
        if config.get("old").is_some_and(|v| !v.is_null()) {
            d.push(
                Diagnostic::warning("Deprecated attribute", "old is deprecated; use s.")
                    .at(AttrPath::attr("old")),
            );
        }
        for (i, el) in config
            .get("list_block")
            .and_then(Value::elements)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if str_of(el, "v") == Some("bad") {
                d.error_at(
                    AttrPath::attr("list_block").index(i).then("v"),
                    "Bad value",
                    "v must not be \"bad\".",
                );
            }
        }
        for (k, el) in config
            .get("map_attr")
            .and_then(Value::entries)
            .into_iter()
            .flatten()
        {
            if str_of(el, "name") == Some("bad") {
                d.error_at(
                    AttrPath::attr("map_attr").key(k).then("name"),
                    "Bad name",
                    "name must not be \"bad\".",
                );
            }
        }
        d
    }

    async fn plan_resource_change(&self, req: PlanRequest) -> PlanResponse {
        self.record(Call::Plan(req.clone()));
        if str_of(&req.proposed_new_state, "s") == Some("panic") {
            panic!("the test provider panics on purpose");
        }
        let mut planned = req.proposed_new_state.clone();
        if req.prior_state.is_null() && planned.get("id").is_some_and(Value::is_null) {
            planned = with_attr(&planned, "id", Value::unknown());
        }
        let mut requires_replace = Vec::new();
        if !req.prior_state.is_null() && !req.proposed_new_state.is_null() {
            if req.prior_state.get("s") != req.proposed_new_state.get("s") {
                requires_replace.push(AttrPath::attr("s"));
            }
            let prior = req.prior_state.get("list_block").and_then(Value::elements);
            let proposed = req
                .proposed_new_state
                .get("list_block")
                .and_then(Value::elements);
            for (i, (p, n)) in prior
                .unwrap_or_default()
                .iter()
                .zip(proposed.unwrap_or_default())
                .enumerate()
            {
                if p.get("v") != n.get("v") {
                    requires_replace.push(AttrPath::attr("list_block").index(i).then("v"));
                }
            }
        }
        PlanResponse {
            planned_identity: identity_of(&planned),
            planned_state: planned,
            requires_replace,
            planned_private: b"planned-private".to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn apply_resource_change(&self, req: ApplyRequest) -> ApplyResponse {
        self.record(Call::Apply(req.clone()));
        match str_of(&req.planned_state, "s") {
            Some("hang") => {
                self.apply_started.notify_one();
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return ApplyResponse {
                    diagnostics: Diagnostic::error(
                        "not cancelled",
                        "StopProvider did not cancel this apply",
                    )
                    .into(),
                    ..ApplyResponse::default()
                };
            }
            Some("stoppable") => {
                // Works until told to stop, then returns what it did with an error, as
                // meshfed's resources do.
                self.apply_started.notify_one();
                req.stop.raised().await;
                let done = with_attr(&req.planned_state, "id", Value::string("partly"));
                return ApplyResponse {
                    new_state: done,
                    diagnostics: Diagnostic::error("Apply interrupted", "stopped between writes")
                        .into(),
                    ..ApplyResponse::default()
                };
            }
            Some("panic") => panic!("the test provider panics on purpose during apply"),
            _ => {}
        }
        let mut new_state = req.planned_state.clone();
        if new_state.get("id").is_some_and(Value::is_unknown) {
            new_state = with_attr(&new_state, "id", Value::string("thing-1"));
        }
        ApplyResponse {
            new_identity: identity_of(&new_state),
            new_state,
            private: req.planned_private.clone(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn read_resource(&self, req: ReadRequest) -> ReadResponse {
        self.record(Call::Read(req.clone()));
        if str_of(&req.current_state, "id") == Some("gone") {
            return ReadResponse::default();
        }
        ReadResponse {
            new_state: with_attr(&req.current_state, "s", Value::string("refreshed")),
            private: req.private.clone(),
            diagnostics: Diagnostics::new(),
            new_identity: identity_of(&req.current_state),
        }
    }

    async fn import_resource_state(&self, req: ImportRequest) -> ImportResponse {
        self.record(Call::Import(req.clone()));
        // By ID, or by the identity's `id`.
        let id = match req.identity.get("id").and_then(Value::as_str) {
            Some(id) if req.id.is_empty() => id.to_string(),
            _ => req.id.clone(),
        };
        let state = thing_value(vec![("id", Value::string(id))]);
        ImportResponse {
            imported: vec![ImportedResource {
                type_name: req.type_name.clone(),
                identity: identity_of(&state),
                state,
                private: b"imported".to_vec(),
            }],
            diagnostics: Diagnostics::new(),
        }
    }
}
