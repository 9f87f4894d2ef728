//! [`ProviderService`], the `tfplugin6.Provider` service over a [`Provider`], and the machinery its
//! RPCs share: the stop token StopProvider cancels (an apply gets [`STOP_GRACE`] to finish its
//! resource first, see [`StopSignal`]), the panic guard, schema look-up by [`Kind`]
//! and type name, value decoding/encoding whose errors become diagnostics, and the two ways an
//! RPC's outcome becomes its response: [`verdict`] for the diagnostics of a configuration check,
//! [`answer`] for a response or the diagnostic that stopped it.
//!
//! The RPCs themselves are in `rpcs` (served; actions in `actions`) and `unsupported` (stubs). Must not import the
//! go-plugin services, `serve`, or anything outside the protocol layer.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tonic::Response;

use super::Rpc;
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{Provider, STOP_GRACE, StopSignal};
use crate::tfplugin::schema::{Schema, null_write_only};
use crate::tfplugin::value::{Type, Value};
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

/// The Provider service over a [`Provider`].
pub struct ProviderService<P> {
    pub(super) provider: Arc<P>,
    stop: Arc<Mutex<CancellationToken>>,
    /// The client said (at ConfigureProvider) it understands write-only attributes; only then
    /// are they nulled in planned and new state (older clients expect them echoed).
    write_only_allowed: AtomicBool,
}

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: Arc<P>) -> Self {
        ProviderService {
            provider,
            stop: Arc::new(Mutex::new(CancellationToken::new())),
            write_only_allowed: AtomicBool::new(false),
        }
    }

    /// Records whether the client supports write-only attributes (see [`Self::scrub`]).
    pub(super) fn allow_write_only(&self, allowed: bool) {
        self.write_only_allowed.store(allowed, Ordering::Relaxed);
    }

    /// Nulls write-only attributes when the client supports them.
    fn scrub(&self, v: Value, schema: &Schema) -> Value {
        if self.write_only_allowed.load(Ordering::Relaxed) {
            null_write_only(v, &schema.block)
        } else {
            v
        }
    }

    /// Encodes state the provider produced for `schema`, scrubbed (see [`Self::scrub`]); `what`
    /// names it in the diagnostic.
    pub(super) fn encode_state(
        &self,
        v: Value,
        schema: &Schema,
        what: &str,
    ) -> Result<pb::DynamicValue, Diagnostic> {
        encode(&self.scrub(v, schema), &schema.value_type(), what)
    }

    pub(super) fn token(&self) -> CancellationToken {
        self.stop
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Cancels what is in flight; later calls get a fresh token, so the server keeps serving.
    pub(super) fn cancel_in_flight(&self) {
        let old = match self.stop.lock() {
            Ok(mut t) => std::mem::replace(&mut *t, CancellationToken::new()),
            Err(e) => std::mem::replace(&mut *e.into_inner(), CancellationToken::new()),
        };
        old.cancel();
    }

    /// Runs a provider call so that StopProvider cancels it and a panic becomes a diagnostic.
    pub(super) async fn guarded<T, F>(&self, what: &str, fut: F) -> Result<T, Diagnostic>
    where
        F: Future<Output = T> + Send,
    {
        self.guard_with(what, fut, self.token()).await
    }

    async fn guard_with<T, F>(
        &self,
        what: &str,
        fut: F,
        token: CancellationToken,
    ) -> Result<T, Diagnostic>
    where
        F: Future<Output = T> + Send,
    {
        guard(what, fut, token).await
    }

    /// The stop signal of one apply: raised [`STOP_GRACE`] after StopProvider, unless the apply
    /// ended first (dropping the returned value ends the watch).
    pub(super) fn stop_signal(&self) -> ApplyStop {
        let soft = self.token();
        let signal = StopSignal::new(CancellationToken::new());
        let done = CancellationToken::new();
        let (raise, ended) = (signal.clone(), done.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = soft.cancelled() => {
                    tokio::select! {
                        _ = tokio::time::sleep(STOP_GRACE) => raise.raise(),
                        _ = ended.cancelled() => {}
                    }
                }
                _ = ended.cancelled() => {}
            }
        });
        ApplyStop {
            signal,
            _done: done.drop_guard(),
        }
    }

    /// Like [`Self::guarded`], for an operation that stops by itself once `stop` is raised (it
    /// returns what it did). It is dropped only if it has not returned [`STOP_GRACE`] after
    /// that: a request that hangs.
    pub(super) async fn guarded_gracefully<T, F>(
        &self,
        what: &str,
        fut: F,
        stop: &ApplyStop,
    ) -> Result<T, Diagnostic>
    where
        F: Future<Output = T> + Send,
    {
        let signal = stop.signal.clone();
        let overdue = async move {
            signal.raised().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        let never_cancelled = CancellationToken::new();
        tokio::select! {
            r = self.guard_with(what, fut, never_cancelled) => r,
            _ = overdue => Err(Diagnostic::error(
                format!("{what} cancelled"),
                "Terraform asked meshfed to stop (interrupt) and this operation did not finish in time, so it was dropped; objects it wrote may be missing from state. Run the command again to finish it.",
            )),
        }
    }

    /// The schema of `type_name` among those of `kind`, or the diagnostic that lists the known
    /// ones.
    pub(super) fn schema(&self, kind: Kind, type_name: &str) -> Result<&Schema, Diagnostic> {
        let schemas = self.provider.schemas();
        let of_kind = match kind {
            Kind::Resource => &schemas.resources,
            Kind::DataSource => &schemas.data_sources,
            Kind::Action => &schemas.actions,
        };
        of_kind
            .get(type_name)
            .ok_or_else(|| unknown_type(kind.noun(), type_name, of_kind.keys()))
    }
}

/// Runs `fut` so that cancelling `token` drops it and a panic becomes a diagnostic; `what` names
/// the operation in both.
pub(super) async fn guard<T, F>(
    what: &str,
    fut: F,
    token: CancellationToken,
) -> Result<T, Diagnostic>
where
    F: Future<Output = T> + Send,
{
    tokio::select! {
        r = AssertUnwindSafe(fut).catch_unwind() => r.map_err(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(operation = what, panic = %msg, "provider panicked");
            Diagnostic::error(
                format!("meshfed internal error during {what}"),
                format!("The provider hit a bug and stopped this operation: {msg}. Please report it. Nothing else was changed by this operation after the error."),
            )
        }),
        _ = token.cancelled() => Err(Diagnostic::error(
            format!("{what} cancelled"),
            "Terraform asked meshfed to stop (interrupt), so this operation was cancelled before it finished. Run the command again to finish it.",
        )),
    }
}

/// The stop signal of one apply in flight; dropping it ends the watch on StopProvider.
pub(super) struct ApplyStop {
    pub(super) signal: StopSignal,
    _done: tokio_util::sync::DropGuard,
}

/// The two kinds of type a request names by type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Resource,
    DataSource,
    Action,
}

impl Kind {
    /// How messages name the kind: "resource", "data source", "action".
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::Resource => "resource",
            Kind::DataSource => "data source",
            Kind::Action => "action",
        }
    }
}

fn unknown_type<'a>(kind: &str, name: &str, known: impl Iterator<Item = &'a String>) -> Diagnostic {
    let known: Vec<&str> = known.map(String::as_str).collect();
    Diagnostic::error(
        format!("Unknown {kind} type {name:?}"),
        if known.is_empty() {
            format!("meshfed has no {kind} types.")
        } else {
            format!("meshfed's {kind} types are: {}.", known.join(", "))
        },
    )
}

/// Decodes a value Terraform sent; `what` names it in the diagnostic.
pub(super) fn decode(
    dv: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostic> {
    wire::dynamic_value(dv, ty)
        .map_err(|e| Diagnostic::from_error(format!("Cannot decode {what}"), &e))
}

/// Encodes a value the provider produced; `what` names it in the diagnostic.
pub(super) fn encode(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
    wire::to_dynamic_value(v, ty)
        .map_err(|e| Diagnostic::from_error(format!("meshfed produced an invalid {what}"), &e))
}

/// One diagnostic as the repeated field of a response.
pub(super) fn diags_of(d: Diagnostic) -> Vec<pb::Diagnostic> {
    vec![wire::diagnostic(&d)]
}

/// The diagnostics of a provider call that judges a configuration: the provider's, or the one
/// of the step (decoding, the guard) that stopped it.
pub(super) fn verdict(judged: Result<Diagnostics, Diagnostic>) -> Vec<pb::Diagnostic> {
    match judged {
        Ok(d) => wire::diagnostics(&d),
        Err(d) => diags_of(d),
    }
}

/// An RPC's answer: the response `result` holds, or on a diagnostic, the response `failed` builds
/// around it.
pub(super) fn answer<T>(
    result: Result<T, Diagnostic>,
    failed: impl FnOnce(Vec<pb::Diagnostic>) -> T,
) -> Rpc<T> {
    Ok(Response::new(
        result.unwrap_or_else(|d| failed(diags_of(d))),
    ))
}
