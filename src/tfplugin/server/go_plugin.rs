//! go-plugin's own gRPC services, which every plugin serves beside its protocol service:
//! `GRPCController` (Shutdown), `GRPCStdio`, `GRPCBroker`, and the gRPC health service that
//! go-plugin polls for "plugin".
//!
//! Knows nothing of Terraform's protocol: must not import the Provider service, the provider
//! trait, values or schemas.

use futures::StreamExt;
use tonic::{Request, Response, Streaming};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};

use super::{BoxStream, Rpc, Shutdown};
use crate::tfplugin::wire::proto::plugin as gp;

/// The health service, reporting the "plugin" service as serving.
pub(super) async fn health() -> HealthServer<impl Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("plugin", ServingStatus::Serving)
        .await;
    service
}

/// go-plugin's controller: Shutdown stops the server gracefully.
pub struct Controller {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _r: Request<gp::Empty>) -> Rpc<gp::Empty> {
        tracing::debug!("GRPCController.Shutdown");
        self.shutdown.trigger();
        Ok(Response::new(gp::Empty {}))
    }
}

/// go-plugin's stdio stream. meshfed writes nothing to stdout after the handshake and logs to
/// stderr directly, so the stream stays open, silent, until shutdown.
pub struct Stdio {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<gp::StdioData>;

    async fn stream_stdio(&self, _r: Request<()>) -> Rpc<Self::StreamStdioStream> {
        let shutdown = self.shutdown.clone();
        let s = futures::stream::once(async move {
            shutdown.wait().await;
        })
        .filter_map(|_| async { None });
        Ok(Response::new(Box::pin(s)))
    }
}

/// go-plugin's broker. Terraform does not use it; the stream is accepted and stays silent.
pub struct Broker;

#[tonic::async_trait]
impl gp::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<gp::ConnInfo>;

    async fn start_stream(
        &self,
        r: Request<Streaming<gp::ConnInfo>>,
    ) -> Rpc<Self::StartStreamStream> {
        let mut incoming = r.into_inner();
        let s =
            futures::stream::once(
                async move { while let Ok(Some(_)) = incoming.message().await {} },
            )
            .filter_map(|_| async { None });
        Ok(Response::new(Box::pin(s)))
    }
}
