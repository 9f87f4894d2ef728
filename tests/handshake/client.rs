//! The client side of the handshake tests: the handshake line's fields, tonic channels to the
//! announced unix socket (plain, or over TLS with tokio-rustls), GetProviderSchema, and
//! go-plugin's shutdown (GRPCController.Shutdown, then close). Needs nothing external.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshfed::tfplugin::wire::proto::plugin as gp;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use rustls::pki_types::ServerName;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use crate::process::PATIENCE;

pub struct HandshakeLine {
    pub socket: PathBuf,
    pub cert: String,
}

pub fn parse_handshake(line: &str) -> HandshakeLine {
    assert!(
        line.ends_with('\n'),
        "the handshake line ends with a newline: {line:?}"
    );
    let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
    assert_eq!(fields.len(), 6, "six fields: {line:?}");
    assert_eq!(fields[0], "1", "go-plugin core protocol 1: {line:?}");
    assert_eq!(fields[1], "6", "Terraform plugin protocol 6: {line:?}");
    assert_eq!(fields[2], "unix", "a unix socket: {line:?}");
    assert_eq!(fields[4], "grpc", "gRPC: {line:?}");
    HandshakeLine {
        socket: PathBuf::from(fields[3]),
        cert: fields[5].to_string(),
    }
}

pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

pub async fn plain_channel(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
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

pub async fn tls_channel(
    socket: &Path,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .expect("a static endpoint URI")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            let config = config.clone();
            async move {
                let tcp = UnixStream::connect(socket).await?;
                let name = ServerName::try_from("localhost").expect("a valid server name");
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

pub async fn get_schema(
    channel: Channel,
) -> Result<pb::get_provider_schema::Response, tonic::Status> {
    pb::provider_client::ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .map(tonic::Response::into_inner)
}

pub fn assert_is_meshfed(schema: &pb::get_provider_schema::Response) {
    let provider = schema.provider.as_ref().expect("a provider schema");
    let block = provider.block.as_ref().expect("a block");
    assert!(
        block.block_types.iter().any(|b| b.type_name == "cluster"),
        "the meshfed provider schema has the cluster block"
    );
    assert!(schema.data_source_schemas.contains_key("meshfed_cluster"));
}

/// What go-plugin's client does on Kill: GRPCController.Shutdown, then close the connection.
pub async fn shut_down(channel: Channel) {
    within(
        "GRPCController.Shutdown",
        gp::grpc_controller_client::GrpcControllerClient::new(channel.clone())
            .shutdown(gp::Empty {}),
    )
    .await
    .expect("GRPCController.Shutdown answers");
    drop(channel);
}
