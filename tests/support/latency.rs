//! A TCP proxy that adds latency: every chunk of bytes, in each direction, is delivered `one_way`
//! after it arrived, in order, without slowing the stream down otherwise (chunks are in flight
//! together, as on a long link). TLS passes through untouched, so a client reaches an API server
//! through it with the server's own certificate (valid for 127.0.0.1). Used to widen the window
//! in which an apply can be interrupted, and to measure behaviour at real network latency.
//!
//! ```ignore
//! let proxy = LatencyProxy::start(server_addr, Duration::from_millis(100));
//! // connect to https://{proxy.addr()} instead of the server
//! ```
//!
//! Runs on its own thread and runtime; stops (closing every connection) when dropped.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub struct LatencyProxy {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LatencyProxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to `target`.
    pub fn start(target: SocketAddr, one_way: Duration) -> LatencyProxy {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the proxy");
                ready_tx
                    .send(listener.local_addr().expect("proxy address"))
                    .expect("report the address");
                tokio::select! {
                    _ = accept_loop(listener, target, one_way) => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        let addr = ready_rx.recv().expect("the proxy starts");
        LatencyProxy {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, one_way: Duration) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return; // the client sees the connection close, as with a dead server
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(pipe(cr, sw, one_way), pipe(sr, cw, one_way));
        });
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
