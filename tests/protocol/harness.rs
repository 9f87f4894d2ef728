//! The protocol tests' harness: a plugin server (`meshfed::tfplugin::server::router`) serving a
//! provider in this process on a unix socket in a temporary directory, as in production, a tonic
//! client channel connected to it, and `call!`, which calls one RPC with a deadline. Needs nothing
//! external.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshfed::tfplugin::provider::Provider;
use meshfed::tfplugin::server::{Shutdown, router};
use meshfed::tfplugin::wire::proto::plugin as gp;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint};

/// The longest any single step may take (the machine is small and busy).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Awaits `f`, and panics naming `what` if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

pub type ServerTask = tokio::task::JoinHandle<Result<(), tonic::transport::Error>>;

/// A plugin server serving in this process, and a client channel to it.
pub struct Plugin {
    pub channel: Channel,
    pub server: ServerTask,
    pub _dir: tempfile::TempDir,
}

impl Plugin {
    pub async fn start<P: Provider>(provider: Arc<P>) -> Plugin {
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

    pub fn provider(&self) -> pb::provider_client::ProviderClient<Channel> {
        pb::provider_client::ProviderClient::new(self.channel.clone())
    }

    pub fn controller(&self) -> gp::grpc_controller_client::GrpcControllerClient<Channel> {
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
        $crate::harness::within(stringify!($rpc), $client.$rpc($req))
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
