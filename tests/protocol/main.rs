//! Protocol tests: the real gRPC server (`meshfed::tfplugin::server::router`) served in-process on
//! a unix socket, as in production, and driven by a real tonic client, the way Terraform drives
//! it. Two providers sit behind the server. The real one (`meshfed::provider::Meshfed`) answers
//! the schema, provider configuration, `meshfed_cluster` data source, functions, identity
//! schemas, actions, unknown-type, StopProvider, unsupported-RPC and go-plugin service tests; none of them
//! reaches a cluster. The resource lifecycle (plan, apply, read, import, identities, state
//! upgrades and moves, resource validation), panics and cancellation run against a small test
//! provider (`test_provider.rs`) whose one resource type uses every schema feature Terraform
//! knows, so they check the protocol layer, not meshfed's resources. Needs nothing external: no
//! Terraform, no control plane.
//!
//! Request values are msgpack written by hand here (`msgpack.rs`, with `rmp`, in cty's canonical
//! form), not by meshfed's own codec, so a bug shared by the encoder and the decoder cannot hide.
//!
//! Harness: `harness.rs` (server, client, `call!`), `msgpack.rs`, `diagnostics.rs`,
//! `test_provider.rs`. Tests, by topic: `schema.rs`, `meshfed_config.rs`, `lifecycle.rs`,
//! `state.rs`, `failures.rs`, `functions.rs`, `identity.rs`, `list.rs`, `actions.rs`, `unsupported.rs`,
//! `go_plugin.rs`.

#[macro_use]
mod harness;
mod diagnostics;
mod msgpack;
mod test_provider;

mod actions;
mod failures;
mod functions;
mod go_plugin;
mod identity;
mod lifecycle;
mod list;
mod meshfed_config;
mod schema;
mod state;
mod unsupported;
