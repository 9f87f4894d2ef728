//! Serving: bind the unix socket, announce it with the handshake line, serve until Terraform
//! calls GRPCController.Shutdown (or SIGTERM), then remove the socket.
//!
//! SIGINT is ignored on purpose: Terraform forwards the user's Ctrl-C to the process group and
//! then asks the provider to stop through StopProvider, which cancels in-flight operations
//! cleanly; dying on SIGINT would lose the answer to an apply in progress.
//! Must not import `wire` or the codec: it serves, the `server` converts.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;

use super::automtls::{AutoMtls, AutoMtlsError};
use super::handshake::{Handshake, HandshakeError, reattach_value};
use super::provider::Provider;
use super::server::{Shutdown, router};

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error("bind the plugin socket {path}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("set up AutoMTLS")]
    AutoMtls(#[from] AutoMtlsError),
    #[error("write the handshake line to stdout")]
    Announce(#[source] std::io::Error),
    #[error("serve gRPC")]
    Serve(#[source] tonic::transport::Error),
}

/// How the process was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Started by Terraform: requires the magic cookie.
    Plugin,
    /// Started by a person with `--debug`: no cookie, prints `TF_REATTACH_PROVIDERS`.
    Debug,
}

/// Serves `provider` as the process's plugin server until shutdown.
pub async fn serve<P: Provider>(
    provider: P,
    mode: Mode,
    source_address: &str,
) -> Result<(), ServeError> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let handshake = match mode {
        Mode::Plugin => Handshake::from_env(&env)?,
        Mode::Debug => Handshake {
            client_cert_pem: None,
            socket_dir: std::env::temp_dir(),
        },
    };
    let socket = socket_path(&handshake.socket_dir);
    let listener = UnixListener::bind(&socket).map_err(|source| ServeError::Bind {
        path: socket.clone(),
        source,
    })?;
    let _cleanup = RemoveOnDrop(socket.clone());

    let tls = handshake
        .client_cert_pem
        .as_deref()
        .map(AutoMtls::new)
        .transpose()?;
    let shutdown = Shutdown::new();
    spawn_signal_handlers(shutdown.clone(), mode);
    if mode == Mode::Plugin {
        spawn_orphan_watch(shutdown.clone());
    }

    announce(mode, &socket, tls.as_ref(), source_address)?;
    tracing::info!(socket = %socket.display(), automtls = tls.is_some(), "serving");

    let router = router(Arc::new(provider), shutdown.clone()).await;
    let stop = {
        let s = shutdown.clone();
        async move { s.wait().await }
    };
    let incoming = UnixListenerStream::new(listener);
    match tls {
        None => router.serve_with_incoming_shutdown(incoming, stop).await,
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            router
                .serve_with_incoming_shutdown(tls_connections(incoming, acceptor), stop)
                .await
        }
    }
    .map_err(ServeError::Serve)?;
    tracing::debug!("plugin server stopped");
    Ok(())
}

/// Tells the client where to connect: the handshake line for Terraform, or the
/// `TF_REATTACH_PROVIDERS` value for a person in debug mode.
fn announce(
    mode: Mode,
    socket: &Path,
    tls: Option<&AutoMtls>,
    source_address: &str,
) -> Result<(), ServeError> {
    let text = match mode {
        Mode::Plugin => Handshake::line(socket, tls.map(|t| t.server_cert_der.as_slice())),
        Mode::Debug => {
            let value = reattach_value(source_address, socket, std::process::id());
            format!(
                "meshfed is serving in debug mode. In another shell, run Terraform with:\n\n\texport TF_REATTACH_PROVIDERS='{value}'\n\nPress Ctrl-C or send SIGTERM to stop.\n"
            )
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(ServeError::Announce)
}

/// The TLS connections completed on `incoming`. Handshakes run concurrently and time out, so a
/// client that connects and stalls cannot hold up the next one; failed ones are logged, dropped.
fn tls_connections(
    incoming: UnixListenerStream,
    acceptor: tokio_rustls::TlsAcceptor,
) -> impl Stream<Item = Result<tokio_rustls::server::TlsStream<UnixStream>, std::io::Error>> {
    incoming
        .filter_map(|conn| async move { conn.ok() })
        .map(move |conn| {
            let acceptor = acceptor.clone();
            async move { tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(conn)).await }
        })
        .buffer_unordered(16)
        .filter_map(|r| async move {
            match r {
                Ok(Ok(s)) => Some(Ok::<_, std::io::Error>(s)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "TLS handshake with the plugin client failed");
                    None
                }
                Err(_) => {
                    tracing::warn!("TLS handshake with the plugin client timed out");
                    None
                }
            }
        })
}

fn socket_path(dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(
        "meshfed-plugin-{}-{nanos:x}.sock",
        std::process::id()
    ))
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How often a plugin checks that the CLI that started it is still there.
const ORPHAN_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Shuts the plugin down once its parent (the Terraform or OpenTofu process that started it) is
/// gone, e.g. after the CLI crashed or was killed: nobody would ever ask it to stop, and it would
/// linger with the CLI's output streams open.
fn spawn_orphan_watch(shutdown: Shutdown) {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(ORPHAN_CHECK).await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!(
                    parent,
                    "the CLI that started the provider is gone: shutting down"
                );
                shutdown.trigger();
                return;
            }
        }
    });
}

fn spawn_signal_handlers(shutdown: Shutdown, mode: Mode) {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered here, before the handshake is announced, not when the task first runs: a
    // Ctrl-C arriving in between would otherwise kill the provider with the default action.
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: shutting down");
                    shutdown.trigger();
                    return;
                }
                _ = int.recv() => {
                    if mode == Mode::Debug {
                        shutdown.trigger();
                        return;
                    }
                    tracing::debug!("SIGINT ignored: Terraform stops providers through StopProvider");
                }
            }
        }
    });
}
