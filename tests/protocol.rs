//! Protocol tests: the real gRPC server (`meshfed::tfplugin::server::router`) served in-process on
//! a unix socket, as in production, and driven by a real tonic client, the way Terraform drives
//! it. Every RPC is exercised against the real provider (`meshfed::provider::Meshfed`) and against
//! a small test provider whose one resource type uses every schema feature Terraform knows.
//!
//! Request values are msgpack written by hand here (with `rmp`, in cty's canonical form), not by
//! meshfed's own codec, so a bug shared by the encoder and the decoder cannot hide.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshfed::provider::{Meshfed, provider_schema};
use meshfed::tfplugin::codec;
use meshfed::tfplugin::diag::{AttrPath, Diagnostics};
use meshfed::tfplugin::provider::{
    ApplyRequest, ApplyResponse, ConfigureRequest, ImportRequest, ImportResponse, ImportedResource,
    PlanRequest, PlanResponse, Provider, ProviderSchemas, ReadRequest, ReadResponse,
};
use meshfed::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use meshfed::tfplugin::server::{Shutdown, router};
use meshfed::tfplugin::value::{Number, Refinements, Type, Value};
use meshfed::tfplugin::wire::proto::plugin as gp;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use pb::attribute_path::step::Selector;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::{Channel, Endpoint};

// ---------------------------------------------------------------------------------------------
// Harness: the server on a unix socket, a tonic client connected to it.

/// The longest any single step may take (the machine is small and busy).
const PATIENCE: Duration = Duration::from_secs(60);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

type ServerTask = tokio::task::JoinHandle<Result<(), tonic::transport::Error>>;

/// A plugin server serving in this process, and a client channel to it.
struct Plugin {
    channel: Channel,
    server: ServerTask,
    _dir: tempfile::TempDir,
}

impl Plugin {
    async fn start<P: Provider>(provider: Arc<P>) -> Plugin {
        let dir = tempfile::tempdir().expect("a temporary directory for the plugin socket");
        let socket = dir.path().join("plugin.sock");
        let listener = UnixListener::bind(&socket).expect("bind the plugin socket");
        let shutdown = Shutdown::new();
        let router = router(provider, shutdown.clone()).await;
        let server = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async move {
                    shutdown.wait().await
                })
                .await
        });
        let channel = within("connecting to the plugin socket", connect(&socket))
            .await
            .expect("connect to the plugin socket");
        Plugin {
            channel,
            server,
            _dir: dir,
        }
    }

    fn provider(&self) -> pb::provider_client::ProviderClient<Channel> {
        pb::provider_client::ProviderClient::new(self.channel.clone())
    }

    fn controller(&self) -> gp::grpc_controller_client::GrpcControllerClient<Channel> {
        gp::grpc_controller_client::GrpcControllerClient::new(self.channel.clone())
    }
}

async fn connect(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket: PathBuf = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .expect("a static endpoint URI")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
}

/// Calls one RPC with a deadline and expects a gRPC success: errors must be diagnostics.
macro_rules! call {
    ($client:expr, $rpc:ident, $req:expr) => {
        within(stringify!($rpc), $client.$rpc($req))
            .await
            .unwrap_or_else(|status| {
                panic!(
                    "{} answered with a gRPC status instead of diagnostics: {status:?}",
                    stringify!($rpc)
                )
            })
            .into_inner()
    };
}

// ---------------------------------------------------------------------------------------------
// Hand-written msgpack, in cty's canonical form.

#[derive(Clone, Debug)]
enum M {
    Nil,
    /// cty's wholly unknown value: fixext1, type 0, one zero byte.
    Unknown,
    /// cty's refined unknown: extension 12 holding a map of refinement keys.
    Refined(Vec<(i64, M)>),
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Arr(Vec<M>),
    /// Entries in the order given; cty writes object attributes and map keys sorted.
    Map(Vec<(String, M)>),
}

fn s(x: &str) -> M {
    M::Str(x.to_string())
}

/// A msgpack map with sorted keys, as cty writes objects and maps.
fn map(entries: Vec<(&str, M)>) -> M {
    let sorted: BTreeMap<String, M> = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    M::Map(sorted.into_iter().collect())
}

/// A `Value::Map` from pairs.
fn value_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

impl M {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        const W: &str = "msgpack into a Vec";
        match self {
            M::Nil => rmp::encode::write_nil(out).expect(W),
            M::Unknown => out.extend_from_slice(&[0xd4, 0x00, 0x00]),
            M::Refined(refinements) => {
                let mut payload = Vec::new();
                rmp::encode::write_map_len(&mut payload, refinements.len() as u32).expect(W);
                for (key, value) in refinements {
                    rmp::encode::write_sint(&mut payload, *key).expect(W);
                    value.write(&mut payload);
                }
                rmp::encode::write_ext_meta(out, payload.len() as u32, 12).expect(W);
                out.extend_from_slice(&payload);
            }
            M::Bool(b) => rmp::encode::write_bool(out, *b).expect(W),
            M::Int(i) => {
                rmp::encode::write_sint(out, *i).expect(W);
            }
            M::Float(f) => rmp::encode::write_f64(out, *f).expect(W),
            M::Str(x) => rmp::encode::write_str(out, x).expect(W),
            M::Bin(b) => rmp::encode::write_bin(out, b).expect(W),
            M::Arr(items) => {
                rmp::encode::write_array_len(out, items.len() as u32).expect(W);
                for item in items {
                    item.write(out);
                }
            }
            M::Map(entries) => {
                rmp::encode::write_map_len(out, entries.len() as u32).expect(W);
                for (k, v) in entries {
                    rmp::encode::write_str(out, k).expect(W);
                    v.write(out);
                }
            }
        }
    }

    fn dv(&self) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: self.bytes(),
            json: Vec::new(),
        })
    }
}

/// What Terraform sends for a block with nothing set: attributes null, single blocks null, group
/// blocks an object of nulls, list and set blocks empty lists, map blocks empty maps.
fn empty_block_m(block: &Block) -> BTreeMap<String, M> {
    let mut m: BTreeMap<String, M> = block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), M::Nil))
        .collect();
    for b in &block.blocks {
        let v = match b.nesting {
            Nesting::Single => M::Nil,
            Nesting::Group => M::Map(empty_block_m(&b.block).into_iter().collect()),
            Nesting::List | Nesting::Set => M::Arr(vec![]),
            Nesting::Map => M::Map(vec![]),
        };
        m.insert(b.type_name.clone(), v);
    }
    m
}

fn empty_block_value(block: &Block) -> BTreeMap<String, Value> {
    let mut m: BTreeMap<String, Value> = block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), Value::Null))
        .collect();
    for b in &block.blocks {
        let v = match b.nesting {
            Nesting::Single => Value::Null,
            Nesting::Group => Value::Object(empty_block_value(&b.block)),
            Nesting::List => Value::List(vec![]),
            Nesting::Set => Value::Set(vec![]),
            Nesting::Map => Value::Map(BTreeMap::new()),
        };
        m.insert(b.type_name.clone(), v);
    }
    m
}

/// A block's object as msgpack: every attribute present, `over` replacing some.
fn block_m(block: &Block, over: Vec<(&str, M)>) -> M {
    let mut m = empty_block_m(block);
    for (k, v) in over {
        assert!(m.contains_key(k), "the schema has no attribute {k}");
        m.insert(k.to_string(), v);
    }
    M::Map(m.into_iter().collect())
}

fn block_value(block: &Block, over: Vec<(&str, Value)>) -> Value {
    let mut m = empty_block_value(block);
    for (k, v) in over {
        assert!(m.contains_key(k), "the schema has no attribute {k}");
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// Decodes a msgpack `DynamicValue` from a response against `ty`.
fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Value {
    let dv = dv.unwrap_or_else(|| panic!("the response has no {what}"));
    assert!(
        dv.json.is_empty(),
        "{what} must be msgpack (Terraform reads msgpack from providers)"
    );
    codec::from_msgpack(&dv.msgpack, ty).unwrap_or_else(|e| panic!("{what} decodes: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

fn is_error(d: &pb::Diagnostic) -> bool {
    d.severity == pb::diagnostic::Severity::Error as i32
}

fn errors(ds: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    ds.iter().filter(|d| is_error(d)).collect()
}

fn steps(d: &pb::Diagnostic) -> Vec<Selector> {
    d.attribute
        .as_ref()
        .map(|p| p.steps.iter().filter_map(|s| s.selector.clone()).collect())
        .unwrap_or_default()
}

fn attr(name: &str) -> Selector {
    Selector::AttributeName(name.to_string())
}

fn key(k: &str) -> Selector {
    Selector::ElementKeyString(k.to_string())
}

fn assert_no_diagnostics(ds: &[pb::Diagnostic], what: &str) {
    assert!(
        ds.is_empty(),
        "{what}: expected no diagnostics, got {ds:#?}"
    );
}

/// Exactly one error, whose summary or detail says "not supported by meshfed".
fn assert_not_supported(ds: &[pb::Diagnostic], what: &str) {
    let errs = errors(ds);
    assert_eq!(errs.len(), 1, "{what}: expected one error, got {ds:#?}");
    let text = format!("{} {}", errs[0].summary, errs[0].detail);
    assert!(
        text.contains("not supported by meshfed"),
        "{what}: the error must say it is not supported by meshfed: {ds:#?}"
    );
}

/// Exactly one error, about an unknown type, naming it.
fn assert_unknown_type(ds: &[pb::Diagnostic], name: &str, what: &str) {
    let errs = errors(ds);
    assert_eq!(errs.len(), 1, "{what}: expected one error, got {ds:#?}");
    assert!(
        errs[0].summary.contains(name),
        "{what}: the error must name {name:?}: {ds:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The test provider: one resource type using every schema feature.

const THING: &str = "test_thing";
const INFO: &str = "test_info";
const THING_VERSION: i64 = 3;

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

fn thing_schema() -> Schema {
    let inner = Block::new()
        .describe("A list block inside a list block.")
        .attr(Attribute::optional("w", Type::String).describe("A value two blocks deep."));
    Schema::new(
        THING_VERSION,
        Block::new()
            .describe("A thing that uses every schema feature.")
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
            )),
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

fn thing_type() -> Type {
    thing_schema().value_type()
}

/// A `test_thing` object as msgpack.
fn thing_m(over: Vec<(&str, M)>) -> M {
    block_m(&thing_block(), over)
}

/// A `test_thing` object as a value.
fn thing_value(over: Vec<(&str, Value)>) -> Value {
    block_value(&thing_block(), over)
}

/// What the test provider was asked.
#[derive(Clone, Debug)]
enum Call {
    Configure(ConfigureRequest),
    ValidateResource(String, Value),
    Plan(PlanRequest),
    Apply(ApplyRequest),
    Read(ReadRequest),
    Import(ImportRequest),
}

struct TestProvider {
    schemas: ProviderSchemas,
    calls: Mutex<Vec<Call>>,
    apply_started: tokio::sync::Notify,
}

impl TestProvider {
    fn new() -> Arc<TestProvider> {
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
            },
            calls: Mutex::new(Vec::new()),
            apply_started: tokio::sync::Notify::new(),
        })
    }

    fn record(&self, c: Call) {
        self.calls.lock().expect("the call log").push(c);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("the call log").clone()
    }

    fn last_plan(&self) -> PlanRequest {
        self.calls()
            .into_iter()
            .rev()
            .find_map(|c| match c {
                Call::Plan(p) => Some(p),
                _ => None,
            })
            .expect("the provider was asked to plan")
    }

    fn last_apply(&self) -> ApplyRequest {
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

fn str_of<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn with_attr(v: &Value, name: &str, new: Value) -> Value {
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

    async fn validate_resource_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        self.record(Call::ValidateResource(
            type_name.to_string(),
            config.clone(),
        ));
        let mut d = Diagnostics::new();
        if config.get("old").is_some_and(|v| !v.is_null()) {
            d.push(
                meshfed::tfplugin::diag::Diagnostic::warning(
                    "Deprecated attribute",
                    "old is deprecated; use s.",
                )
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
                    diagnostics: meshfed::tfplugin::diag::Diagnostic::error(
                        "not cancelled",
                        "StopProvider did not cancel this apply",
                    )
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
        }
    }

    async fn import_resource_state(&self, req: ImportRequest) -> ImportResponse {
        self.record(Call::Import(req.clone()));
        ImportResponse {
            imported: vec![ImportedResource {
                type_name: req.type_name.clone(),
                state: thing_value(vec![("id", Value::string(req.id.clone()))]),
                private: b"imported".to_vec(),
            }],
            diagnostics: Diagnostics::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema assertions

fn schema_block(s: &pb::Schema) -> &pb::schema::Block {
    s.block.as_ref().expect("a schema has a block")
}

fn pb_attr<'a>(b: &'a pb::schema::Block, name: &str) -> &'a pb::schema::Attribute {
    b.attributes
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("attribute {name} is in the schema"))
}

fn pb_block<'a>(b: &'a pb::schema::Block, name: &str) -> &'a pb::schema::NestedBlock {
    b.block_types
        .iter()
        .find(|n| n.type_name == name)
        .unwrap_or_else(|| panic!("block {name} is in the schema"))
}

fn type_json(a: &pb::schema::Attribute) -> serde_json::Value {
    serde_json::from_slice(&a.r#type)
        .unwrap_or_else(|e| panic!("attribute {} has a JSON type: {e}", a.name))
}

/// Every attribute and block, at any depth, has a description.
fn assert_all_described(b: &pb::schema::Block, path: &str) {
    assert!(!b.description.is_empty(), "block {path} has no description");
    for a in &b.attributes {
        assert!(
            !a.description.is_empty(),
            "attribute {path}.{} has no description",
            a.name
        );
        if let Some(o) = &a.nested_type {
            for na in &o.attributes {
                assert!(
                    !na.description.is_empty(),
                    "attribute {path}.{}.{} has no description",
                    a.name,
                    na.name
                );
            }
        }
    }
    for nb in &b.block_types {
        assert_all_described(
            nb.block.as_ref().expect("a nested block has a block"),
            &format!("{path}.{}", nb.type_name),
        );
    }
}

// =============================================================================================
// GetProviderSchema / GetMetadata

#[tokio::test]
async fn the_provider_schema_declares_cluster_as_a_map_block_with_sensitive_credentials() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let resp = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert_no_diagnostics(&resp.diagnostics, "GetProviderSchema");
    let provider = resp.provider.as_ref().expect("a provider schema");
    assert_eq!(provider.version, 0);
    let block = schema_block(provider);
    let field_manager = pb_attr(block, "field_manager");
    assert!(field_manager.optional && !field_manager.required);

    let cluster = pb_block(block, "cluster");
    assert_eq!(
        cluster.nesting,
        pb::schema::nested_block::NestingMode::Map as i32,
        "cluster \"<name>\" {{}} is a map block"
    );
    let cluster_block = cluster.block.as_ref().expect("cluster has a block");
    for secret in ["token", "client_key"] {
        assert!(
            pb_attr(cluster_block, secret).sensitive,
            "{secret} must be sensitive"
        );
    }
    for public in [
        "host",
        "kubeconfig",
        "context",
        "trust_domain",
        "client_certificate",
    ] {
        assert!(
            !pb_attr(cluster_block, public).sensitive,
            "{public} is not secret"
        );
    }
    for a in &cluster_block.attributes {
        assert!(!a.required, "{} must be optional", a.name);
        assert!(!a.r#type.is_empty(), "{} has a type", a.name);
    }
    assert_eq!(type_json(pb_attr(cluster_block, "insecure")), "bool");
    assert_eq!(type_json(pb_attr(cluster_block, "host")), "string");
    let exec = pb_block(cluster_block, "exec");
    assert_eq!(
        exec.nesting,
        pb::schema::nested_block::NestingMode::List as i32
    );
    assert_eq!(exec.max_items, 1);
    assert_all_described(block, "provider");

    let ds = resp
        .data_source_schemas
        .get("meshfed_cluster")
        .expect("the meshfed_cluster data source");
    assert_eq!(ds.version, 0);
    let ds_block = schema_block(ds);
    assert!(pb_attr(ds_block, "name").required);
    for computed in [
        "trust_domain",
        "domain_suffix",
        "istio_namespace",
        "network",
    ] {
        let a = pb_attr(ds_block, computed);
        assert!(
            a.computed && !a.optional && !a.required,
            "{computed} is computed"
        );
    }
    assert_all_described(ds_block, "meshfed_cluster");
    for (name, schema) in &resp.resource_schemas {
        assert_all_described(schema_block(schema), name);
    }
}

#[tokio::test]
async fn get_metadata_lists_every_resource_and_data_source_of_the_schema() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut client = plugin.provider();
    let meta = call!(client, get_metadata, pb::get_metadata::Request {});
    assert_no_diagnostics(&meta.diagnostics, "GetMetadata");
    let schema = call!(
        client,
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    let mut data: Vec<String> = meta
        .data_sources
        .iter()
        .map(|d| d.type_name.clone())
        .collect();
    data.sort();
    let mut schema_data: Vec<String> = schema.data_source_schemas.keys().cloned().collect();
    schema_data.sort();
    assert_eq!(data, schema_data);
    assert!(data.contains(&"meshfed_cluster".to_string()), "{data:?}");
    let mut resources: Vec<String> = meta.resources.iter().map(|r| r.type_name.clone()).collect();
    resources.sort();
    let mut schema_resources: Vec<String> = schema.resource_schemas.keys().cloned().collect();
    schema_resources.sort();
    assert_eq!(resources, schema_resources);

    let test = Plugin::start(TestProvider::new()).await;
    let meta = call!(test.provider(), get_metadata, pb::get_metadata::Request {});
    let resources: Vec<&str> = meta
        .resources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    let data: Vec<&str> = meta
        .data_sources
        .iter()
        .map(|d| d.type_name.as_str())
        .collect();
    assert_eq!(resources, vec![THING]);
    assert_eq!(data, vec![INFO]);
    assert!(meta.server_capabilities.is_some());
}

#[tokio::test]
async fn the_test_schema_carries_every_type_nesting_mode_and_flag_to_terraform() {
    use pb::schema::nested_block::NestingMode as B;
    use pb::schema::object::NestingMode as O;
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert_no_diagnostics(&resp.diagnostics, "GetProviderSchema");
    let thing = resp.resource_schemas.get(THING).expect("test_thing");
    assert_eq!(thing.version, THING_VERSION, "the schema version");
    let b = schema_block(thing);
    assert_eq!(
        b.version, THING_VERSION,
        "the block carries the version too"
    );
    assert_all_described(b, THING);
    assert_eq!(
        resp.data_source_schemas
            .get(INFO)
            .expect("test_info")
            .version,
        1
    );

    let types: Vec<(&str, serde_json::Value)> = vec![
        ("s", serde_json::json!("string")),
        ("n", serde_json::json!("number")),
        ("b", serde_json::json!("bool")),
        ("l", serde_json::json!(["list", "string"])),
        ("st", serde_json::json!(["set", "number"])),
        ("m", serde_json::json!(["map", "string"])),
        (
            "o",
            serde_json::json!(["object", {"a": "string", "items": ["list", "string"]}]),
        ),
        (
            "t",
            serde_json::json!(["tuple", ["string", "number", "bool"]]),
        ),
        ("d", serde_json::json!("dynamic")),
    ];
    for (name, want) in types {
        let a = pb_attr(b, name);
        assert_eq!(type_json(a), want, "type of {name}");
        assert!(a.nested_type.is_none(), "{name} is not nested");
        assert!(
            a.optional && !a.required && !a.computed,
            "{name} is optional"
        );
    }
    let id = pb_attr(b, "id");
    assert!(id.computed && !id.optional);
    assert_eq!(id.description, "Identifier of the thing.");
    assert_eq!(id.description_kind, pb::StringKind::Plain as i32);
    let s = pb_attr(b, "s");
    assert_eq!(s.description, "A **string**.");
    assert_eq!(s.description_kind, pb::StringKind::Markdown as i32);

    assert!(pb_attr(b, "secret").sensitive);
    assert!(!pb_attr(b, "s").sensitive);
    assert!(pb_attr(b, "wo").write_only);
    assert!(!pb_attr(b, "s").write_only);
    assert!(pb_attr(b, "old").deprecated);
    assert!(!pb_attr(b, "s").deprecated);

    for (name, nesting) in [
        ("single_attr", O::Single),
        ("list_attr", O::List),
        ("set_attr", O::Set),
        ("map_attr", O::Map),
    ] {
        let a = pb_attr(b, name);
        assert!(a.r#type.is_empty(), "{name} has a nested type, not a type");
        let o = a.nested_type.as_ref().expect("a nested type");
        assert_eq!(o.nesting, nesting as i32, "nesting of {name}");
        let n = o
            .attributes
            .iter()
            .find(|a| a.name == "name")
            .expect("name inside");
        assert!(n.required);
        assert_eq!(type_json(n), "string");
    }
    let port = pb_attr(b, "single_attr")
        .nested_type
        .as_ref()
        .expect("nested")
        .attributes
        .iter()
        .find(|a| a.name == "port")
        .expect("port")
        .clone();
    assert!(port.optional && port.computed);

    for (name, nesting) in [
        ("single_block", B::Single),
        ("group_block", B::Group),
        ("list_block", B::List),
        ("set_block", B::Set),
        ("map_block", B::Map),
    ] {
        let nb = pb_block(b, name);
        assert_eq!(nb.nesting, nesting as i32, "nesting of {name}");
        let inner = nb.block.as_ref().expect("a block");
        assert_eq!(type_json(pb_attr(inner, "v")), "string");
    }
    assert_eq!(pb_block(b, "list_block").max_items, 3);
    assert_eq!(pb_block(b, "set_block").min_items, 1);
    let inner = pb_block(
        pb_block(b, "list_block").block.as_ref().expect("a block"),
        "inner",
    );
    assert_eq!(inner.nesting, B::List as i32);
    assert_eq!(
        type_json(pb_attr(inner.block.as_ref().expect("a block"), "w")),
        "string"
    );
}

// =============================================================================================
// Provider configuration (meshfed)

fn cluster_block() -> Block {
    provider_schema()
        .block
        .blocks
        .iter()
        .find(|b| b.type_name == "cluster")
        .expect("the cluster block")
        .block
        .clone()
}

fn cluster_m(over: Vec<(&str, M)>) -> M {
    block_m(&cluster_block(), over)
}

/// A provider configuration with the given `cluster "<label>" {}` blocks.
fn meshfed_config(clusters: Vec<(&str, M)>) -> M {
    block_m(&provider_schema().block, vec![("cluster", map(clusters))])
}

async fn validate_provider(
    client: &mut pb::provider_client::ProviderClient<Channel>,
    config: &M,
) -> Vec<pb::Diagnostic> {
    call!(
        client,
        validate_provider_config,
        pb::validate_provider_config::Request {
            config: config.dv()
        }
    )
    .diagnostics
}

#[tokio::test]
async fn kubeconfig_and_host_in_one_cluster_is_an_error_on_that_clusters_host() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![(
        "cluster-a.local",
        cluster_m(vec![
            ("kubeconfig", s("/home/me/.kube/config")),
            ("host", s("https://203.0.113.10:6443")),
        ]),
    )]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(
        steps(errs[0]),
        vec![attr("cluster"), key("cluster-a.local"), attr("host")],
        "{d:#?}"
    );
    assert!(errs[0].summary.contains("kubeconfig"), "{d:#?}");
}

#[tokio::test]
async fn unknown_host_and_token_are_accepted_at_validation() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![
        (
            "cluster-b.local",
            cluster_m(vec![("host", M::Unknown), ("token", M::Unknown)]),
        ),
        ("cluster-a.local", cluster_m(vec![("context", s("a"))])),
    ]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    assert!(errors(&d).is_empty(), "{d:#?}");
}

#[tokio::test]
async fn refined_unknown_host_and_token_are_accepted_at_validation() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![(
        "cluster-b.local",
        cluster_m(vec![
            (
                "host",
                M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
            ),
            ("token", M::Refined(vec![(1, M::Bool(false))])),
            ("cluster_ca_certificate", M::Unknown),
        ]),
    )]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    assert!(errors(&d).is_empty(), "{d:#?}");
}

/// A TCP port that accepts connections, to prove nobody connects to it.
async fn watched_port() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let port = l.local_addr().expect("local address").port();
    (l, port)
}

async fn assert_nobody_connects(l: &tokio::net::TcpListener) {
    if let Ok(conn) = tokio::time::timeout(Duration::from_millis(500), l.accept()).await {
        panic!("the provider connected to the API server: {conn:?}");
    }
}

#[tokio::test]
async fn configure_provider_accepts_unknowns_and_makes_no_network_call() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut client = plugin.provider();
    let (listener, port) = watched_port().await;
    let config = meshfed_config(vec![
        (
            "cluster-a.local",
            cluster_m(vec![
                ("host", s(&format!("https://127.0.0.1:{port}"))),
                ("token", s("t0k3n")),
            ]),
        ),
        (
            "cluster-b.local",
            cluster_m(vec![
                (
                    "host",
                    M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
                ),
                ("token", M::Unknown),
            ]),
        ),
        (
            "cluster-c.local",
            cluster_m(vec![
                ("host", s("https://127.0.0.1:1")),
                ("insecure", M::Bool(true)),
            ]),
        ),
    ]);
    let started = Instant::now();
    let resp = call!(
        client,
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.9.0".into(),
            config: config.dv(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
        }
    );
    assert!(errors(&resp.diagnostics).is_empty(), "{resp:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "configuring took {:?}: it must not wait on the network",
        started.elapsed()
    );
    assert_nobody_connects(&listener).await;

    // Reading the data source uses configuration only, too.
    let read = call!(
        client,
        read_data_source,
        pb::read_data_source::Request {
            type_name: "meshfed_cluster".into(),
            config: map(vec![
                ("name", s("cluster-a.local")),
                ("trust_domain", M::Nil),
                ("domain_suffix", M::Nil),
                ("istio_namespace", M::Nil),
                ("network", M::Nil),
            ])
            .dv(),
            ..Default::default()
        }
    );
    assert!(errors(&read.diagnostics).is_empty(), "{read:#?}");
    assert_nobody_connects(&listener).await;
}

// =============================================================================================
// Data source meshfed_cluster

fn cluster_ds_config(name: M) -> M {
    map(vec![
        ("name", name),
        ("trust_domain", M::Nil),
        ("domain_suffix", M::Nil),
        ("istio_namespace", M::Nil),
        ("network", M::Nil),
    ])
}

fn cluster_ds_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("trust_domain", Type::String),
        ("domain_suffix", Type::String),
        ("istio_namespace", Type::String),
        ("network", Type::String),
    ])
}

async fn configured_meshfed() -> Plugin {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![
        ("cluster-a.local", cluster_m(vec![("context", s("a"))])),
        (
            "cluster-b.local",
            cluster_m(vec![
                ("host", s("https://198.51.100.7:6443")),
                ("token", s("secret-token")),
                ("trust_domain", s("b.example")),
                ("domain_suffix", s("cluster.local")),
                ("istio_namespace", s("istio-ew")),
                ("network", s("net-b")),
            ]),
        ),
    ]);
    let resp = call!(
        plugin.provider(),
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.9.0".into(),
            config: config.dv(),
            client_capabilities: None,
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ConfigureProvider");
    plugin
}

#[tokio::test]
async fn the_cluster_data_source_returns_the_configured_mesh_facts_with_defaults() {
    let plugin = configured_meshfed().await;
    let mut client = plugin.provider();
    let v = call!(
        client,
        validate_data_resource_config,
        pb::validate_data_resource_config::Request {
            type_name: "meshfed_cluster".into(),
            config: cluster_ds_config(s("cluster-a.local")).dv(),
        }
    );
    assert_no_diagnostics(&v.diagnostics, "ValidateDataResourceConfig");

    let read = |name: &str| pb::read_data_source::Request {
        type_name: "meshfed_cluster".into(),
        config: cluster_ds_config(s(name)).dv(),
        ..Default::default()
    };
    let a = call!(client, read_data_source, read("cluster-a.local"));
    assert_no_diagnostics(&a.diagnostics, "reading cluster-a.local");
    assert_eq!(
        decode(a.state.as_ref(), &cluster_ds_type(), "state"),
        Value::object([
            ("name", Value::string("cluster-a.local")),
            ("trust_domain", Value::string("cluster-a.local")),
            ("domain_suffix", Value::string("cluster-a.local")),
            ("istio_namespace", Value::string("istio-system")),
            ("network", Value::Null),
        ])
    );
    let b = call!(client, read_data_source, read("cluster-b.local"));
    assert_no_diagnostics(&b.diagnostics, "reading cluster-b.local");
    assert_eq!(
        decode(b.state.as_ref(), &cluster_ds_type(), "state"),
        Value::object([
            ("name", Value::string("cluster-b.local")),
            ("trust_domain", Value::string("b.example")),
            ("domain_suffix", Value::string("cluster.local")),
            ("istio_namespace", Value::string("istio-ew")),
            ("network", Value::string("net-b")),
        ])
    );
}

#[tokio::test]
async fn reading_an_unconfigured_cluster_is_an_error_on_name() {
    let plugin = configured_meshfed().await;
    let resp = call!(
        plugin.provider(),
        read_data_source,
        pb::read_data_source::Request {
            type_name: "meshfed_cluster".into(),
            config: cluster_ds_config(s("cluster-z.local")).dv(),
            ..Default::default()
        }
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert_eq!(steps(errs[0]), vec![attr("name")]);
    assert!(errs[0].summary.contains("cluster-z.local"), "{resp:#?}");
    assert!(
        errs[0].detail.contains("cluster-a.local") && errs[0].detail.contains("cluster-b.local"),
        "the detail lists the configured clusters: {resp:#?}"
    );
}

// =============================================================================================
// Resource lifecycle (test provider)

/// A create plan as Terraform sends it: nulls and unknowns at every depth, refinements.
fn proposed_create_m(id: M) -> M {
    thing_m(vec![
        ("id", id),
        (
            "s",
            M::Refined(vec![(1, M::Bool(false)), (2, s("https://"))]),
        ),
        (
            "n",
            M::Refined(vec![
                (1, M::Bool(false)),
                (3, M::Arr(vec![M::Int(1), M::Bool(true)])),
                (4, M::Arr(vec![M::Int(100), M::Bool(false)])),
            ]),
        ),
        ("b", M::Bool(true)),
        (
            "l",
            M::Refined(vec![(1, M::Bool(false)), (5, M::Int(1)), (6, M::Int(3))]),
        ),
        ("st", M::Arr(vec![M::Int(1), M::Float(2.5)])),
        ("m", map(vec![("a", s("1")), ("b", M::Nil)])),
        (
            "o",
            map(vec![
                ("a", s("x")),
                ("items", M::Arr(vec![s("p"), M::Unknown])),
            ]),
        ),
        ("t", M::Arr(vec![s("one"), M::Float(1.5), M::Bool(false)])),
        (
            "d",
            M::Arr(vec![
                M::Bin(br#"["object",{"k":"number"}]"#.to_vec()),
                map(vec![("k", M::Int(7))]),
            ]),
        ),
        ("secret", s("hunter2")),
        ("wo", M::Nil),
        ("old", M::Nil),
        (
            "single_attr",
            map(vec![("name", s("sa")), ("port", M::Unknown)]),
        ),
        ("list_attr", M::Arr(vec![map(vec![("name", s("la"))])])),
        ("set_attr", M::Unknown),
        (
            "map_attr",
            map(vec![("x", map(vec![("name", M::Unknown)]))]),
        ),
        ("single_block", M::Nil),
        (
            "list_block",
            M::Arr(vec![map(vec![
                ("v", s("first")),
                ("inner", M::Arr(vec![map(vec![("w", M::Unknown)])])),
            ])]),
        ),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
        ("map_block", map(vec![("k1", map(vec![("v", M::Nil)]))])),
    ])
}

/// The value `proposed_create_m(M::Nil)` must decode to.
fn proposed_create_value() -> Value {
    thing_value(vec![
        (
            "s",
            Value::Unknown(Refinements {
                nullable: Some(false),
                string_prefix: Some("https://".into()),
                ..Refinements::default()
            }),
        ),
        (
            "n",
            Value::Unknown(Refinements {
                nullable: Some(false),
                number_lower: Some((Number::Int(1), true)),
                number_upper: Some((Number::Int(100), false)),
                ..Refinements::default()
            }),
        ),
        ("b", Value::Bool(true)),
        (
            "l",
            Value::Unknown(Refinements {
                nullable: Some(false),
                length_lower: Some(1),
                length_upper: Some(3),
                ..Refinements::default()
            }),
        ),
        (
            "st",
            Value::Set(vec![Value::int(1), Value::Number(Number::Float(2.5))]),
        ),
        (
            "m",
            value_map(vec![("a", Value::string("1")), ("b", Value::Null)]),
        ),
        (
            "o",
            Value::object([
                ("a", Value::string("x")),
                (
                    "items",
                    Value::List(vec![Value::string("p"), Value::unknown()]),
                ),
            ]),
        ),
        (
            "t",
            Value::Tuple(vec![
                Value::string("one"),
                Value::Number(Number::Float(1.5)),
                Value::Bool(false),
            ]),
        ),
        (
            "d",
            Value::Dynamic(
                Type::object([("k", Type::Number)]),
                Box::new(Value::object([("k", Value::int(7))])),
            ),
        ),
        ("secret", Value::string("hunter2")),
        (
            "single_attr",
            Value::object([("name", Value::string("sa")), ("port", Value::unknown())]),
        ),
        (
            "list_attr",
            Value::List(vec![Value::object([("name", Value::string("la"))])]),
        ),
        ("set_attr", Value::unknown()),
        (
            "map_attr",
            value_map(vec![("x", Value::object([("name", Value::unknown())]))]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string("first")),
                (
                    "inner",
                    Value::List(vec![Value::object([("w", Value::unknown())])]),
                ),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
        (
            "map_block",
            value_map(vec![("k1", Value::object([("v", Value::Null)]))]),
        ),
    ])
}

#[tokio::test]
async fn plan_decodes_nulls_and_unknowns_at_depth_and_the_planned_state_round_trips() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let proposed = proposed_create_m(M::Nil);
    let config = proposed_create_m(M::Nil);
    let resp = call!(
        plugin.provider(),
        plan_resource_change,
        pb::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            proposed_new_state: proposed.dv(),
            config: config.dv(),
            prior_private: b"prior".to_vec(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "PlanResourceChange");

    let got = provider.last_plan();
    assert_eq!(got.type_name, THING);
    assert_eq!(
        got.prior_state,
        Value::Null,
        "a create has a null prior state"
    );
    assert_eq!(got.proposed_new_state, proposed_create_value());
    assert_eq!(got.config, proposed_create_value());
    assert_eq!(got.prior_private, b"prior".to_vec());
    assert!(got.capabilities.write_only_attributes_allowed);
    assert!(!got.capabilities.deferral_allowed);

    // The planned state is the proposed one with `id` unknown, in exactly cty's bytes.
    let planned = resp.planned_state.as_ref().expect("a planned state");
    assert_eq!(
        planned.msgpack,
        proposed_create_m(M::Unknown).bytes(),
        "the planned state must be the proposed state, byte for byte, with id unknown"
    );
    assert_eq!(
        decode(resp.planned_state.as_ref(), &thing_type(), "planned state"),
        with_attr(&proposed_create_value(), "id", Value::unknown())
    );
    assert!(resp.requires_replace.is_empty());
    assert_eq!(resp.planned_private, b"planned-private".to_vec());
}

fn known_thing_m(id: &str, s_value: &str, v: &str) -> M {
    thing_m(vec![
        ("id", s(id)),
        ("s", s(s_value)),
        ("n", M::Int(42)),
        ("l", M::Arr(vec![s("a"), s("b")])),
        (
            "list_block",
            M::Arr(vec![map(vec![("v", s(v)), ("inner", M::Arr(vec![]))])]),
        ),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
    ])
}

fn known_thing_value(id: &str, s_value: &str, v: &str) -> Value {
    thing_value(vec![
        ("id", Value::string(id)),
        ("s", Value::string(s_value)),
        ("n", Value::int(42)),
        (
            "l",
            Value::List(vec![Value::string("a"), Value::string("b")]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string(v)),
                ("inner", Value::List(vec![])),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
    ])
}

#[tokio::test]
async fn an_update_plan_returns_the_attribute_paths_that_require_replacement() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        plan_resource_change,
        pb::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: known_thing_m("thing-1", "old", "v1").dv(),
            proposed_new_state: known_thing_m("thing-1", "new", "v2").dv(),
            config: known_thing_m("thing-1", "new", "v2").dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "PlanResourceChange");
    let got = provider.last_plan();
    assert_eq!(got.prior_state, known_thing_value("thing-1", "old", "v1"));
    let paths: Vec<Vec<Selector>> = resp
        .requires_replace
        .iter()
        .map(|p| p.steps.iter().filter_map(|s| s.selector.clone()).collect())
        .collect();
    assert_eq!(
        paths,
        vec![
            vec![attr("s")],
            vec![attr("list_block"), Selector::ElementKeyInt(0), attr("v")],
        ]
    );
    assert_eq!(
        decode(resp.planned_state.as_ref(), &thing_type(), "planned state"),
        known_thing_value("thing-1", "new", "v2")
    );
}

#[tokio::test]
async fn apply_passes_plan_and_config_through_and_returns_the_new_state() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let planned = thing_m(vec![
        ("id", M::Unknown),
        ("s", s("hello")),
        ("wo", M::Nil),
        ("d", M::Arr(vec![M::Bin(br#""string""#.to_vec()), s("dyn")])),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
    ]);
    let config = thing_m(vec![
        ("s", s("hello")),
        ("wo", s("only-in-config")),
        ("d", M::Arr(vec![M::Bin(br#""string""#.to_vec()), s("dyn")])),
        ("set_block", M::Arr(vec![map(vec![("v", s("y"))])])),
    ]);
    let resp = call!(
        plugin.provider(),
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            planned_state: planned.dv(),
            config: config.dv(),
            planned_private: b"planned-private".to_vec(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ApplyResourceChange");
    let got = provider.last_apply();
    assert_eq!(got.prior_state, Value::Null);
    let dynamic = Value::Dynamic(Type::String, Box::new(Value::string("dyn")));
    let set_block = Value::Set(vec![Value::object([("v", Value::string("y"))])]);
    assert_eq!(
        got.planned_state,
        thing_value(vec![
            ("id", Value::unknown()),
            ("s", Value::string("hello")),
            ("d", dynamic.clone()),
            ("set_block", set_block.clone()),
        ])
    );
    assert_eq!(
        got.config.get("wo"),
        Some(&Value::string("only-in-config")),
        "write-only values reach the provider in the configuration"
    );
    assert_eq!(got.planned_private, b"planned-private".to_vec());

    let new_state = decode(resp.new_state.as_ref(), &thing_type(), "new state");
    assert_eq!(
        new_state,
        thing_value(vec![
            ("id", Value::string("thing-1")),
            ("s", Value::string("hello")),
            ("d", dynamic),
            ("set_block", set_block),
        ])
    );
    assert!(new_state.is_wholly_known());
    assert_eq!(resp.private, b"planned-private".to_vec());
}

#[tokio::test]
async fn a_destroy_apply_returns_a_null_new_state() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: known_thing_m("thing-1", "x", "v").dv(),
            planned_state: M::Nil.dv(),
            config: M::Nil.dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ApplyResourceChange (destroy)");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        Value::Null
    );
    assert_eq!(
        provider.last_apply().prior_state,
        known_thing_value("thing-1", "x", "v")
    );
}

#[tokio::test]
async fn read_resource_returns_the_refreshed_state_and_private_data() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        read_resource,
        pb::read_resource::Request {
            type_name: THING.into(),
            current_state: known_thing_m("thing-1", "before", "v").dv(),
            private: b"private-bytes".to_vec(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ReadResource");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        known_thing_value("thing-1", "refreshed", "v")
    );
    assert_eq!(resp.private, b"private-bytes".to_vec());
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::Read(r) if r.current_state == known_thing_value("thing-1", "before", "v")
    )));
}

#[tokio::test]
async fn read_resource_of_a_deleted_object_returns_a_null_state_so_terraform_drops_it() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        read_resource,
        pb::read_resource::Request {
            type_name: THING.into(),
            current_state: known_thing_m("gone", "x", "v").dv(),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ReadResource");
    let state = resp
        .new_state
        .as_ref()
        .expect("new_state is set (to null), not absent");
    assert_eq!(state.msgpack, vec![0xc0], "a msgpack nil");
}

#[tokio::test]
async fn import_returns_the_imported_state_for_the_id() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        import_resource_state,
        pb::import_resource_state::Request {
            type_name: THING.into(),
            id: "thing-42".into(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: false,
            }),
            ..Default::default()
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ImportResourceState");
    assert_eq!(resp.imported_resources.len(), 1);
    let imported = &resp.imported_resources[0];
    assert_eq!(imported.type_name, THING);
    assert_eq!(imported.private, b"imported".to_vec());
    assert_eq!(
        decode(imported.state.as_ref(), &thing_type(), "imported state"),
        thing_value(vec![("id", Value::string("thing-42"))])
    );
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::Import(r) if r.id == "thing-42" && r.capabilities.deferral_allowed
    )));
}

#[tokio::test]
async fn configure_passes_the_terraform_version_and_client_capabilities() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let resp = call!(
        plugin.provider(),
        configure_provider,
        pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: map(vec![("endpoint", M::Unknown)]).dv(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
        }
    );
    assert_no_diagnostics(&resp.diagnostics, "ConfigureProvider");
    let configure = provider
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::Configure(c) => Some(c),
            _ => None,
        })
        .expect("the provider was configured");
    assert_eq!(configure.terraform_version, "1.11.4");
    assert_eq!(
        configure.config,
        Value::object([("endpoint", Value::unknown())])
    );
    assert!(configure.capabilities.deferral_allowed);
    assert!(configure.capabilities.write_only_attributes_allowed);
}

// =============================================================================================
// State upgrades and moves

fn thing_json(extra: Option<(&str, serde_json::Value)>) -> Vec<u8> {
    let mut j = serde_json::json!({
        "id": "thing-1",
        "s": "hello",
        "n": 1.5,
        "b": true,
        "l": ["a"],
        "st": [3],
        "m": {"k": "v"},
        "o": {"a": "x", "items": []},
        "t": ["one", 2, false],
        "d": {"value": {"k": 7}, "type": ["object", {"k": "number"}]},
        "secret": "hunter2",
        "wo": null,
        "old": null,
        "single_attr": {"name": "sa", "port": 8080},
        "list_attr": [{"name": "la"}],
        "set_attr": null,
        "map_attr": {"x": {"name": "mx"}},
        "single_block": null,
        "group_block": {"v": null},
        "list_block": [{"v": "first", "inner": [{"w": "deep"}]}],
        "set_block": [{"v": "y"}],
        "map_block": {}
    });
    if let Some((k, v)) = extra {
        j[k] = v;
    }
    serde_json::to_vec(&j).expect("JSON")
}

fn thing_json_value() -> Value {
    thing_value(vec![
        ("id", Value::string("thing-1")),
        ("s", Value::string("hello")),
        ("n", Value::Number(Number::Float(1.5))),
        ("b", Value::Bool(true)),
        ("l", Value::List(vec![Value::string("a")])),
        ("st", Value::Set(vec![Value::int(3)])),
        ("m", value_map(vec![("k", Value::string("v"))])),
        (
            "o",
            Value::object([("a", Value::string("x")), ("items", Value::List(vec![]))]),
        ),
        (
            "t",
            Value::Tuple(vec![
                Value::string("one"),
                Value::int(2),
                Value::Bool(false),
            ]),
        ),
        (
            "d",
            Value::Dynamic(
                Type::object([("k", Type::Number)]),
                Box::new(Value::object([("k", Value::int(7))])),
            ),
        ),
        ("secret", Value::string("hunter2")),
        (
            "single_attr",
            Value::object([("name", Value::string("sa")), ("port", Value::int(8080))]),
        ),
        (
            "list_attr",
            Value::List(vec![Value::object([("name", Value::string("la"))])]),
        ),
        (
            "map_attr",
            value_map(vec![("x", Value::object([("name", Value::string("mx"))]))]),
        ),
        (
            "list_block",
            Value::List(vec![Value::object([
                ("v", Value::string("first")),
                (
                    "inner",
                    Value::List(vec![Value::object([("w", Value::string("deep"))])]),
                ),
            ])]),
        ),
        (
            "set_block",
            Value::Set(vec![Value::object([("v", Value::string("y"))])]),
        ),
    ])
}

async fn upgrade(
    client: &mut pb::provider_client::ProviderClient<Channel>,
    version: i64,
    json: Vec<u8>,
) -> pb::upgrade_resource_state::Response {
    call!(
        client,
        upgrade_resource_state,
        pb::upgrade_resource_state::Request {
            type_name: THING.into(),
            version,
            raw_state: Some(pb::RawState {
                json,
                flatmap: Default::default(),
            }),
        }
    )
}

#[tokio::test]
async fn upgrade_resource_state_reads_json_state_of_the_current_version() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(&mut plugin.provider(), THING_VERSION, thing_json(None)).await;
    assert_no_diagnostics(&resp.diagnostics, "UpgradeResourceState");
    assert_eq!(
        decode(
            resp.upgraded_state.as_ref(),
            &thing_type(),
            "upgraded state"
        ),
        thing_json_value()
    );
}

#[tokio::test]
async fn upgrade_resource_state_drops_attributes_the_schema_no_longer_has() {
    // The default upgrade is documented to drop removed attributes (as Terraform's SDKs do), so
    // a provider release that removes an attribute does not strand existing state.
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(
        &mut plugin.provider(),
        THING_VERSION,
        thing_json(Some(("removed_attribute", serde_json::json!("stale")))),
    )
    .await;
    assert_no_diagnostics(&resp.diagnostics, "UpgradeResourceState");
    assert_eq!(
        decode(
            resp.upgraded_state.as_ref(),
            &thing_type(),
            "upgraded state"
        ),
        thing_json_value()
    );
}

#[tokio::test]
async fn upgrade_resource_state_from_a_newer_version_is_an_error() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = upgrade(&mut plugin.provider(), THING_VERSION + 1, thing_json(None)).await;
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(
        errs[0].summary.contains("newer") || errs[0].detail.contains("newer"),
        "{resp:#?}"
    );
    assert!(resp.upgraded_state.is_none());
}

#[tokio::test]
async fn move_resource_state_and_unimplemented_data_sources_are_not_supported() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let mut client = plugin.provider();
    let moved = call!(
        client,
        move_resource_state,
        pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/kubernetes".into(),
            source_type_name: "kubernetes_manifest".into(),
            source_schema_version: 1,
            source_state: Some(pb::RawState {
                json: br#"{"id":"x"}"#.to_vec(),
                flatmap: Default::default(),
            }),
            target_type_name: THING.into(),
            ..Default::default()
        }
    );
    assert_not_supported(&moved.diagnostics, "MoveResourceState");
    assert!(moved.target_state.is_none());

    let read = call!(
        client,
        read_data_source,
        pb::read_data_source::Request {
            type_name: INFO.into(),
            config: map(vec![("id", M::Nil)]).dv(),
            ..Default::default()
        }
    );
    assert_not_supported(&read.diagnostics, "ReadDataSource");

    let validated = call!(
        client,
        validate_data_resource_config,
        pb::validate_data_resource_config::Request {
            type_name: INFO.into(),
            config: map(vec![("id", M::Nil)]).dv(),
        }
    );
    assert_no_diagnostics(&validated.diagnostics, "ValidateDataResourceConfig");
}

#[tokio::test]
async fn validate_resource_config_reports_bad_values_at_their_paths() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let mut client = plugin.provider();
    let config = thing_m(vec![
        (
            "list_block",
            M::Arr(vec![
                map(vec![("v", s("ok")), ("inner", M::Arr(vec![]))]),
                map(vec![("v", s("bad")), ("inner", M::Arr(vec![]))]),
            ]),
        ),
        (
            "map_attr",
            map(vec![
                ("good", map(vec![("name", s("fine"))])),
                ("k", map(vec![("name", s("bad"))])),
            ]),
        ),
        ("old", s("still used")),
    ]);
    let resp = call!(
        client,
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: config.dv(),
            client_capabilities: None,
        }
    );
    let paths: Vec<Vec<Selector>> = errors(&resp.diagnostics).into_iter().map(steps).collect();
    assert_eq!(
        paths,
        vec![
            vec![attr("list_block"), Selector::ElementKeyInt(1), attr("v")],
            vec![attr("map_attr"), key("k"), attr("name")],
        ],
        "{resp:#?}"
    );
    let warnings: Vec<&pb::Diagnostic> = resp
        .diagnostics
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Warning as i32)
        .collect();
    assert_eq!(warnings.len(), 1, "a warning stays a warning: {resp:#?}");
    assert_eq!(steps(warnings[0]), vec![attr("old")]);

    let fine = call!(
        client,
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: proposed_create_m(M::Nil).dv(),
            client_capabilities: None,
        }
    );
    assert_no_diagnostics(&fine.diagnostics, "a valid configuration");
    assert!(provider.calls().iter().any(|c| matches!(
        c,
        Call::ValidateResource(t, v) if t == THING && *v == proposed_create_value()
    )));
}

#[tokio::test]
async fn a_value_that_does_not_fit_the_schema_is_a_diagnostic_not_a_crash() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        validate_resource_config,
        pb::validate_resource_config::Request {
            type_name: THING.into(),
            // `n` is a number; a bool does not decode.
            config: thing_m(vec![("n", M::Bool(true))]).dv(),
            client_capabilities: None,
        }
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(
        errs[0].detail.starts_with("n:") && errs[0].detail.contains("number"),
        "the detail names the attribute and its type: {resp:#?}"
    );
}

// =============================================================================================
// Unknown types, panics, StopProvider

#[tokio::test]
async fn an_unknown_resource_or_data_source_type_gets_a_diagnostic_naming_it() {
    let test = Plugin::start(TestProvider::new()).await;
    let meshfed = Plugin::start(Arc::new(Meshfed::new())).await;
    for (plugin, name) in [(&test, "test_nope"), (&meshfed, "meshfed_nope")] {
        let mut c = plugin.provider();
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

#[tokio::test]
async fn stop_provider_cancels_an_apply_in_flight_and_later_calls_still_work() {
    let provider = TestProvider::new();
    let plugin = Plugin::start(provider.clone()).await;
    let mut apply_client = plugin.provider();
    let apply = tokio::spawn(async move {
        let started = Instant::now();
        let r = apply_client
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: THING.into(),
                prior_state: M::Nil.dv(),
                planned_state: thing_m(vec![("id", M::Unknown), ("s", s("hang"))]).dv(),
                config: thing_m(vec![("s", s("hang"))]).dv(),
                ..Default::default()
            })
            .await;
        (r, started)
    });
    within("the apply to start", provider.apply_started.notified()).await;

    let stopped = call!(
        plugin.provider(),
        stop_provider,
        pb::stop_provider::Request {}
    );
    assert_eq!(stopped.error, "");
    let stop_sent = Instant::now();

    let (r, _) = within("the cancelled apply to return", apply)
        .await
        .expect("the apply task");
    let resp = r
        .expect("a cancelled apply answers with diagnostics")
        .into_inner();
    assert!(
        stop_sent.elapsed() < Duration::from_secs(10),
        "the apply returned {:?} after StopProvider",
        stop_sent.elapsed()
    );
    let errs = errors(&resp.diagnostics);
    assert_eq!(errs.len(), 1, "{resp:#?}");
    assert!(errs[0].summary.contains("cancelled"), "{resp:#?}");
    assert_eq!(
        decode(resp.new_state.as_ref(), &thing_type(), "new state"),
        Value::Null,
        "a cancelled create keeps the prior (null) state"
    );

    // A later apply is not cancelled by the earlier stop.
    let later = call!(
        plugin.provider(),
        apply_resource_change,
        pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: M::Nil.dv(),
            planned_state: thing_m(vec![("id", M::Unknown), ("s", s("after"))]).dv(),
            config: thing_m(vec![("s", s("after"))]).dv(),
            ..Default::default()
        }
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

// =============================================================================================
// Unsupported RPCs

#[tokio::test]
async fn generate_resource_config_is_not_supported() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        generate_resource_config,
        pb::generate_resource_config::Request {
            type_name: THING.into(),
            state: known_thing_m("thing-1", "x", "v").dv(),
        }
    );
    assert_not_supported(&resp.diagnostics, "GenerateResourceConfig");
    assert!(resp.config.is_none());
}

#[tokio::test]
async fn ephemeral_resources_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let name = "meshfed_token";
    let d = call!(
        c,
        validate_ephemeral_resource_config,
        pb::validate_ephemeral_resource_config::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateEphemeralResourceConfig");
    let open = call!(
        c,
        open_ephemeral_resource,
        pb::open_ephemeral_resource::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
            client_capabilities: None,
        }
    );
    assert_not_supported(&open.diagnostics, "OpenEphemeralResource");
    assert!(open.result.is_none());
    let d = call!(
        c,
        renew_ephemeral_resource,
        pb::renew_ephemeral_resource::Request {
            type_name: name.into(),
            private: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "RenewEphemeralResource");
    let d = call!(
        c,
        close_ephemeral_resource,
        pb::close_ephemeral_resource::Request {
            type_name: name.into(),
            private: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "CloseEphemeralResource");
}

#[tokio::test]
async fn list_resources_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let mut stream = call!(
        c,
        list_resource,
        pb::list_resource::Request {
            type_name: "meshfed_trust".into(),
            config: M::Nil.dv(),
            include_resource_object: false,
            limit: 10,
        }
    );
    let mut events = Vec::new();
    while let Some(e) = within("the ListResource stream", stream.message())
        .await
        .expect("the ListResource stream ends cleanly")
    {
        events.push(e);
    }
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_not_supported(&events[0].diagnostic, "ListResource");

    let d = call!(
        c,
        validate_list_resource_config,
        pb::validate_list_resource_config::Request {
            type_name: "meshfed_trust".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateListResourceConfig");
}

#[tokio::test]
async fn state_stores_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let store = "meshfed_store";
    let d = call!(
        c,
        validate_state_store_config,
        pb::validate_state_store::Request {
            type_name: store.into(),
            config: M::Nil.dv(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateStateStoreConfig");
    let d = call!(
        c,
        configure_state_store,
        pb::configure_state_store::Request {
            type_name: store.into(),
            config: M::Nil.dv(),
            capabilities: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ConfigureStateStore");

    let mut read = call!(
        c,
        read_state_bytes,
        pb::read_state_bytes::Request {
            type_name: store.into(),
            state_id: "default".into(),
        }
    );
    let mut chunks = Vec::new();
    while let Some(chunk) = within("the ReadStateBytes stream", read.message())
        .await
        .expect("the ReadStateBytes stream ends cleanly")
    {
        chunks.push(chunk);
    }
    assert_eq!(chunks.len(), 1, "{chunks:#?}");
    assert_not_supported(&chunks[0].diagnostics, "ReadStateBytes");
    assert!(chunks[0].bytes.is_empty());

    let upload = tokio_stream::iter(vec![
        pb::write_state_bytes::RequestChunk {
            meta: Some(pb::RequestChunkMeta {
                type_name: store.into(),
                state_id: "default".into(),
            }),
            bytes: b"{\"version\":4".to_vec(),
            total_length: 14,
            range: Some(pb::StateRange { start: 0, end: 12 }),
        },
        pb::write_state_bytes::RequestChunk {
            meta: None,
            bytes: b"}\n".to_vec(),
            total_length: 14,
            range: Some(pb::StateRange { start: 12, end: 14 }),
        },
    ]);
    let d = call!(c, write_state_bytes, upload).diagnostics;
    assert_not_supported(&d, "WriteStateBytes");

    let lock = call!(
        c,
        lock_state,
        pb::lock_state::Request {
            type_name: store.into(),
            state_id: "default".into(),
            operation: "apply".into(),
        }
    );
    assert_not_supported(&lock.diagnostics, "LockState");
    assert!(lock.lock_id.is_empty());
    let d = call!(
        c,
        unlock_state,
        pb::unlock_state::Request {
            type_name: store.into(),
            state_id: "default".into(),
            lock_id: "l".into(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "UnlockState");
    let states = call!(
        c,
        get_states,
        pb::get_states::Request {
            type_name: store.into(),
        }
    );
    assert_not_supported(&states.diagnostics, "GetStates");
    assert!(states.state_id.is_empty());
    let d = call!(
        c,
        delete_state,
        pb::delete_state::Request {
            type_name: store.into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_not_supported(&d, "DeleteState");
}

#[tokio::test]
async fn actions_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let d = call!(
        c,
        plan_action,
        pb::plan_action::Request {
            action_type: "meshfed_rotate".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_not_supported(&d, "PlanAction");
    let d = call!(
        c,
        validate_action_config,
        pb::validate_action_config::Request {
            type_name: "meshfed_rotate".into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateActionConfig");

    let mut stream = call!(
        c,
        invoke_action,
        pb::invoke_action::Request {
            action_type: "meshfed_rotate".into(),
            ..Default::default()
        }
    );
    let mut events = Vec::new();
    while let Some(e) = within("the InvokeAction stream", stream.message())
        .await
        .expect("the InvokeAction stream ends cleanly")
    {
        events.push(e);
    }
    assert_eq!(events.len(), 1, "{events:#?}");
    match &events[0].r#type {
        Some(pb::invoke_action::event::Type::Completed(done)) => {
            assert_not_supported(&done.diagnostics, "InvokeAction")
        }
        other => panic!("InvokeAction must complete with diagnostics, got {other:#?}"),
    }
}

#[tokio::test]
async fn functions_and_resource_identities_are_absent_and_calling_them_is_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let f = call!(c, get_functions, pb::get_functions::Request {});
    assert!(f.functions.is_empty());
    assert_no_diagnostics(&f.diagnostics, "GetFunctions");
    let schema = call!(c, get_provider_schema, pb::get_provider_schema::Request {});
    assert!(schema.functions.is_empty());

    let called = call!(
        c,
        call_function,
        pb::call_function::Request {
            name: "fingerprint".into(),
            arguments: vec![],
        }
    );
    let err = called.error.expect("a FunctionError");
    assert!(
        err.text.contains("not supported by meshfed") && err.text.contains("fingerprint"),
        "{err:?}"
    );
    assert!(called.result.is_none());

    let ids = call!(
        c,
        get_resource_identity_schemas,
        pb::get_resource_identity_schemas::Request {}
    );
    assert!(ids.identity_schemas.is_empty());
    assert_no_diagnostics(&ids.diagnostics, "GetResourceIdentitySchemas");

    let upgraded = call!(
        c,
        upgrade_resource_identity,
        pb::upgrade_resource_identity::Request {
            type_name: "meshfed_trust".into(),
            version: 0,
            raw_identity: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
        }
    );
    assert_not_supported(&upgraded.diagnostics, "UpgradeResourceIdentity");
    assert!(upgraded.upgraded_identity.is_none());
}

// =============================================================================================
// go-plugin services: health, controller, stdio, broker

#[tokio::test]
async fn the_health_service_reports_plugin_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(plugin.channel.clone());
    let resp = within(
        "Health.Check",
        health.check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        }),
    )
    .await
    .expect("Health.Check answers")
    .into_inner();
    assert_eq!(resp.status, ServingStatus::Serving as i32);
}

#[tokio::test]
async fn stream_stdio_opens_and_yields_nothing_until_shutdown() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut stdio = gp::grpc_stdio_client::GrpcStdioClient::new(plugin.channel.clone());
    let mut stream = within("StreamStdio", stdio.stream_stdio(()))
        .await
        .expect("StreamStdio opens")
        .into_inner();
    // Provider calls in the meantime write nothing to it.
    let schema = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert!(schema.provider.is_some());
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
        panic!("StreamStdio yielded before shutdown: {got:?}");
    }
    call!(plugin.controller(), shutdown, gp::Empty {});
    let end = within("StreamStdio to end at shutdown", stream.message()).await;
    assert!(
        matches!(end, Ok(None)),
        "StreamStdio ends cleanly at shutdown: {end:?}"
    );
}

#[tokio::test]
async fn grpc_controller_shutdown_stops_the_server_with_go_plugins_streams_open() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    // go-plugin's client keeps the stdio and broker streams open for the plugin's lifetime.
    let mut stdio = within(
        "StreamStdio",
        gp::grpc_stdio_client::GrpcStdioClient::new(plugin.channel.clone()).stream_stdio(()),
    )
    .await
    .expect("StreamStdio opens")
    .into_inner();
    let (broker_tx, broker_rx) = tokio::sync::mpsc::channel::<gp::ConnInfo>(1);
    let mut broker = within(
        "GRPCBroker.StartStream",
        gp::grpc_broker_client::GrpcBrokerClient::new(plugin.channel.clone())
            .start_stream(ReceiverStream::new(broker_rx)),
    )
    .await
    .expect("StartStream opens")
    .into_inner();
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(300), broker.message()).await {
        panic!("the broker stream yielded: {got:?}");
    }

    // go-plugin's GRPCClient.Close: close the broker, call Shutdown, close the connection.
    drop(broker_tx);
    let broker_end = within("the broker stream to end", broker.message()).await;
    assert!(matches!(broker_end, Ok(None)), "{broker_end:?}");
    call!(plugin.controller(), shutdown, gp::Empty {});
    let stdio_end = within("StreamStdio to end", stdio.message()).await;
    assert!(matches!(stdio_end, Ok(None)), "{stdio_end:?}");
    let Plugin {
        channel, server, ..
    } = plugin;
    drop(channel);
    within("the server to stop after Shutdown", server)
        .await
        .expect("the server task")
        .expect("the server stops without error");
}

#[tokio::test]
async fn a_cluster_label_that_is_no_dns_name_is_refused_at_its_block() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let config = meshfed_config(vec![("Cluster_A", cluster_m(vec![("context", s("a"))]))]);
    let d = validate_provider(&mut plugin.provider(), &config).await;
    let errs = errors(&d);
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(steps(errs[0]), vec![attr("cluster"), key("Cluster_A")]);
}
