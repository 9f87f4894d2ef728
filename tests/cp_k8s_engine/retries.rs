//! The apply engine's retry loop against a scripted HTTP server standing in for the API server:
//! server errors and throttling retried (honouring `Retry-After`) until success or the attempt
//! limit, client errors not retried. Needs nothing external.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshfed::k8s::K8sError;
use meshfed::k8s::config::Auth;
use meshfed::k8s::retry::RetryPolicy;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{A, config_map, direct_engine};

/// A scripted HTTP server: answers the n-th request with the n-th `(status line, extra headers,
/// body)` (the last one repeats), and counts requests.
async fn scripted_server(
    replies: Vec<(&'static str, &'static str, String)>,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let replies = Arc::new(Mutex::new(replies));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, headers, body) = {
                let replies = replies.lock().expect("replies");
                replies[n.min(replies.len() - 1)].clone()
            };
            read_request(&mut conn).await;
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    });
    (url, count)
}

/// Reads one request (headers, then `content-length` bytes of body).
async fn read_request(conn: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return;
            }
        }
    }
}

fn status_body(code: u16, reason: &str, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
           "code": code, "reason": reason, "message": message})
    .to_string()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried_honouring_retry_after() {
    let cm = config_map("abc", "cm", "a: 1");
    let (url, count) = scripted_server(vec![
        (
            "503 Service Unavailable",
            "",
            status_body(503, "ServiceUnavailable", "busy"),
        ),
        (
            "429 Too Many Requests",
            "retry-after: 1\r\n",
            status_body(429, "TooManyRequests", "slow down"),
        ),
        ("200 OK", "", cm.to_string()),
    ])
    .await;
    let set = direct_engine(A, &url, None, Auth::None).with_retry_policy(fast_retries());
    let started = Instant::now();
    let live = set
        .apply(A, &cm)
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(live, cm);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as the server asked"
    );
}

#[tokio::test]
async fn server_errors_that_persist_end_in_an_error_after_the_attempt_limit() {
    let (url, count) = scripted_server(vec![(
        "500 Internal Server Error",
        "",
        status_body(500, "InternalError", "failed calling webhook"),
    )])
    .await;
    let set = direct_engine(A, &url, None, Auth::None).with_retry_policy(fast_retries());
    let e = set
        .apply(A, &config_map("abc", "cm", "a: 1"))
        .await
        .expect_err("always 500");
    assert_eq!(count.load(Ordering::SeqCst), 5);
    assert_eq!(
        e.to_string(),
        "cluster-a.local: apply v1 ConfigMap abc/cm: the API server answered 500 InternalError: \
         failed calling webhook"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, count) = scripted_server(vec![(
        "409 Conflict",
        "",
        status_body(409, "Conflict", "the object has been modified"),
    )])
    .await;
    let set = direct_engine(A, &url, None, Auth::None).with_retry_policy(fast_retries());
    let e = set
        .apply(A, &config_map("abc", "cm", "a: 1"))
        .await
        .expect_err("409");
    assert!(matches!(e, K8sError::Conflict { .. }), "{e:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}
