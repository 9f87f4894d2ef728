//! The gRPC services Terraform talks to, and [`router`], which puts them together:
//!
//! - `service`: [`ProviderService`], the `tfplugin6.Provider` service over a [`Provider`], and
//!   what its RPCs share (stop token, panic guard, schema look-up, value decoding/encoding).
//! - `rpcs`: the Provider RPCs meshfed serves (schemas, validation, configure, upgrade, read,
//!   plan, apply, import, move, data sources, functions, identities, actions, StopProvider);
//!   `functions`: what GetFunctions and CallFunction do; `identity`: identities on the wire;
//!   `list`: ListResource, its validation, and GenerateResourceConfig; `actions`: PlanAction and
//!   InvokeAction's stream of progress events.
//! - `unsupported`: the Provider RPCs for features meshfed lacks, answered with diagnostics.
//! - `go_plugin`: go-plugin's `GRPCController`, `GRPCStdio` and `GRPCBroker`, and health.
//!
//! Errors never become gRPC failures where the message has room for diagnostics: Terraform shows
//! diagnostics to the user, and only a status to the log. Must not import `serve`, `handshake`
//! or anything outside the protocol layer.

mod actions;
mod functions;
mod go_plugin;
mod identity;
mod list;
mod rpcs;
mod service;
mod unsupported;

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Response, Status};

use super::provider::Provider;
use super::wire::proto::{plugin as gp, tfplugin6 as pb};

pub use go_plugin::{Broker, Controller, Stdio};
pub use service::ProviderService;

/// What an RPC method returns.
type Rpc<T> = Result<Response<T>, Status>;

/// A server-streaming answer.
type BoxStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A signal the server waits on to shut down (GRPCController.Shutdown sets it).
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
    /// Resolves once shutdown was triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Every service, ready to serve: the router tests and `serve` both use.
pub async fn router<P: Provider>(
    provider: Arc<P>,
    shutdown: Shutdown,
) -> tonic::transport::server::Router {
    let health_service = go_plugin::health().await;
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(
            pb::provider_server::ProviderServer::new(ProviderService::new(provider))
                .max_decoding_message_size(256 << 20)
                .max_encoding_message_size(256 << 20),
        )
        .add_service(gp::grpc_controller_server::GrpcControllerServer::new(
            Controller {
                shutdown: shutdown.clone(),
            },
        ))
        .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(Stdio {
            shutdown,
        }))
        .add_service(gp::grpc_broker_server::GrpcBrokerServer::new(Broker))
}
