//! One request to one cluster about one object, with retries: builds the HTTP request (server-side
//! apply, a merge patch, get or delete, or a list of the object's collection), sends it, repeats it while the failure is transient (see `retry.rs`), and
//! turns the final answer into the object's JSON or a [`K8sError`] naming everything. Logs the
//! cluster, verb, object, status and latency at debug level, never a body.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams};
use kube::client::Body;
use kube::core::Status;
use serde_json::Value;

use super::error::{K8sError, root_cause};
use super::retry::{RetryPolicy, parse_retry_after, transient_status, transient_transport};
use super::status::Target;

/// What to ask of the API server.
pub(crate) enum Call<'a> {
    /// Server-side apply of `object` under `field_manager`, taking over conflicting fields.
    Apply {
        object: &'a Value,
        field_manager: &'a str,
    },
    Get,
    /// Delete, letting the garbage collector remove dependents in the background.
    Delete,
    /// List the object's collection (its name is ignored), with a label selector.
    List {
        label_selector: Option<&'a str>,
    },
    /// A JSON merge patch (RFC 7396) of the object under `field_manager`: the fields `patch`
    /// names change, nothing else.
    MergePatch {
        patch: &'a Value,
        field_manager: &'a str,
    },
}

impl Call<'_> {
    /// The HTTP method, for logs.
    fn method(&self) -> &'static str {
        match self {
            Call::Apply { .. } | Call::MergePatch { .. } => "PATCH",
            Call::Get | Call::List { .. } => "GET",
            Call::Delete => "DELETE",
        }
    }
}

/// An HTTP answer, read whole.
struct Reply {
    code: u16,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// Sends `call` about `target.object`, retrying transient failures within `policy`. Returns the
/// answer's JSON (the object, or a `Status` for some deletes). `target.op` is what the caller is
/// doing, for messages (a delete's wait sends gets).
pub(crate) async fn send(
    client: &kube::Client,
    policy: &RetryPolicy,
    target: Target<'_>,
    call: &Call<'_>,
) -> Result<Value, K8sError> {
    let first = Instant::now();
    let mut attempt = 1;
    loop {
        let started = Instant::now();
        let outcome = send_once(client, target, call).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let why = match &outcome {
            Ok(reply) => {
                log_answer(target, call, reply.code, attempt, latency_ms);
                if (200..300).contains(&reply.code) {
                    return decode(target, &reply.body);
                }
                transient_status(reply.code, retry_after(reply))
            }
            Err(e) => {
                tracing::debug!(
                    cluster = target.cluster, op = %target.op, method = call.method(),
                    object = %target.object, attempt, latency_ms, error = %root_cause(e),
                    "request failed"
                );
                transient_transport(e)
            }
        };
        let delay = why.and_then(|why| policy.delay(attempt, why, first.elapsed()));
        match delay {
            Some(delay) => {
                tracing::debug!(
                    cluster = target.cluster, op = %target.op, object = %target.object,
                    attempt, delay_ms = delay.as_millis() as u64, "retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            None => return Err(failure(target, outcome, attempt)),
        }
    }
}

fn log_answer(target: Target<'_>, call: &Call<'_>, code: u16, attempt: u32, latency_ms: u64) {
    tracing::debug!(
        cluster = target.cluster, op = %target.op, method = call.method(),
        object = %target.object, status = code, attempt, latency_ms, "answer"
    );
}

async fn send_once(
    client: &kube::Client,
    target: Target<'_>,
    call: &Call<'_>,
) -> Result<Reply, kube::Error> {
    let request = kube::core::Request::new(target.object.collection_path());
    let name = &target.object.name;
    let built = match call {
        Call::Apply {
            object,
            field_manager,
        } => request.patch(
            name,
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(object),
        ),
        Call::MergePatch {
            patch,
            field_manager,
        } => request.patch(
            name,
            &PatchParams {
                field_manager: Some(field_manager.to_string()),
                ..PatchParams::default()
            },
            &Patch::Merge(patch),
        ),
        Call::Get => request.get(name, &GetParams::default()),
        Call::Delete => request.delete(name, &DeleteParams::background()),
        Call::List { label_selector } => {
            let mut params = ListParams::default();
            if let Some(selector) = label_selector {
                params = params.labels(selector);
            }
            request.list(&params)
        }
    }
    .map_err(kube::Error::BuildRequest)?;
    let response = client.send(built.map(Body::from)).await?;
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.into_body().collect_bytes().await?;
    Ok(Reply {
        code,
        retry_after,
        body,
    })
}

fn decode(target: Target<'_>, body: &[u8]) -> Result<Value, K8sError> {
    serde_json::from_slice(body).map_err(|source| K8sError::Decode {
        request: target.request(),
        source,
    })
}

/// The error for the last attempt's outcome.
fn failure(target: Target<'_>, outcome: Result<Reply, kube::Error>, attempts: u32) -> K8sError {
    match outcome {
        Ok(reply) => target.rejection(reply.code, &status_of(&reply)),
        Err(kube::Error::Auth(e)) => K8sError::Config {
            cluster: target.cluster.to_string(),
            origin: target.origin.to_string(),
            message: format!("cannot obtain credentials: {}", root_cause(&e)),
            source: Some(Box::new(e)),
        },
        Err(e) => K8sError::Connect {
            request: target.request(),
            url: target.url.to_string(),
            cause: root_cause(&e),
            attempts,
            source: Box::new(e),
        },
    }
}

/// How long the server asks to wait: the `Retry-After` header, else the `Status` details.
fn retry_after(reply: &Reply) -> Option<Duration> {
    if reply.code != 429 {
        return None;
    }
    reply.retry_after.or_else(|| {
        let seconds = status_of(reply).details?.retry_after_seconds;
        (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
    })
}

/// The `Status` of a failed answer; one made up from the text when the body is not a `Status`
/// (a proxy's page, or `404 page not found` for a URL the API server does not serve).
fn status_of(reply: &Reply) -> Status {
    match serde_json::from_slice::<Status>(&reply.body) {
        Ok(status) if status.code != 0 || !status.message.is_empty() => status,
        _ => {
            let text = String::from_utf8_lossy(&reply.body);
            let text = text.trim();
            let mut status = Status::failure(text, "").with_code(reply.code);
            if text.is_empty() {
                status.message = format!("HTTP {}", reply.code);
            }
            status
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, body: &str) -> Reply {
        Reply {
            code,
            retry_after: None,
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn a_status_body_is_read_as_the_api_servers_status() {
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure",
            "message":"namespaces \"nope\" not found","reason":"NotFound",
            "details":{"name":"nope","kind":"namespaces"},"code":404}"#;
        let s = status_of(&reply(404, body));
        assert_eq!(s.reason, "NotFound");
        assert_eq!(s.details.expect("details").kind, "namespaces");
    }

    #[test]
    fn a_plain_text_body_becomes_the_message() {
        let s = status_of(&reply(404, "404 page not found\n"));
        assert_eq!(s.message, "404 page not found");
        assert_eq!(s.code, 404);
        assert!(s.details.is_none());
        let empty = status_of(&reply(502, ""));
        assert_eq!(empty.message, "HTTP 502");
    }
}
