//! The Terraform plugin protocol 6 layer, over tonic.
//!
//! - [`value`], [`codec`]: Terraform's types and values; msgpack/JSON `DynamicValue`s (the codec's
//!   parts: `msgpack`, `unknown` for unknown values and their refinements, `json`).
//! - [`schema`]: schema builder (attributes, nested attributes, blocks in every nesting mode).
//! - [`diag`]: diagnostics carrying attribute paths.
//! - [`function`]: provider-defined functions' signatures and call errors.
//! - [`identity`]: resource identity schemas.
//! - [`list`]: list resources (`terraform query`) and configuration generation.
//! - [`action`]: actions (`action` blocks, `terraform apply -invoke`), their requests and progress.
//! - [`provider`]: the [`provider::Provider`] trait a provider implements, with typed requests.
//! - `wire`: conversion between protobuf messages and the types above, one function per message.
//! - [`server`]: the gRPC services and their [`server::router`]: the Provider service
//!   (`service`, `rpcs`), the answers to RPCs meshfed does not support (`unsupported`), and
//!   go-plugin's GRPCController, GRPCStdio, GRPCBroker and health (`go_plugin`).
//! - [`handshake`], [`automtls`], [`serve`]: go-plugin's handshake, AutoMTLS and the listener.
//! - [`logging`]: hclog-style JSON logs on stderr.
//!
//! Must not import `k8s`, `mesh`, `resources` or `provider`.

pub mod action;
pub mod automtls;
pub mod codec;
pub mod diag;
pub mod function;
pub mod handshake;
pub mod identity;
pub mod list;
pub mod logging;
pub mod provider;
pub mod schema;
pub mod serve;
pub mod server;
pub mod value;
pub mod wire;
