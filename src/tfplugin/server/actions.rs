//! PlanAction and InvokeAction on the wire (ValidateActionConfig goes through `rpcs`' shared
//! configuration check): the `config` decoded against the action's schema; a plan answered with
//! the provider's diagnostics (never deferred); an invocation run in a task of its own whose
//! progress messages are streamed as they come, then one `completed` event with the diagnostics.
//!
//! Stopping: StopProvider, or the client no longer reading the stream (Terraform cancelled the
//! call), raises the invocation's [`StopSignal`] at once; the action then stops before its next
//! step and completes with what it did. One that has not returned [`STOP_GRACE`] later is dropped.
//! A panic completes the invocation with an error diagnostic.
//!
//! Must not import the go-plugin services or anything outside the protocol layer.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::BoxStream;
use super::service::{Kind, ProviderService, decode, diags_of, guard};
use crate::tfplugin::action::{ActionRequest, InvokeRequest, Progress};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::provider::{Provider, STOP_GRACE, StopSignal};
use crate::tfplugin::value::Value;
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

type Event = pb::invoke_action::Event;

/// The action schemas, as GetProviderSchema carries them.
pub(super) fn schemas<P: Provider>(
    provider: &P,
) -> std::collections::HashMap<String, pb::ActionSchema> {
    let each = provider.schemas().actions.iter();
    each.map(|(name, s)| {
        let schema = Some(wire::schema(s));
        (name.clone(), pb::ActionSchema { schema })
    })
    .collect()
}

impl<P: Provider> ProviderService<P> {
    /// The `config` of an action request, decoded against the schema of `type_name`.
    fn action_config(
        &self,
        type_name: &str,
        config: Option<&pb::DynamicValue>,
    ) -> Result<Value, Diagnostic> {
        let schema = self.schema(Kind::Action, type_name)?;
        decode(config, &schema.value_type(), "action configuration")
    }

    /// PlanAction.
    pub(super) async fn action_plan(
        &self,
        r: pb::plan_action::Request,
    ) -> pb::plan_action::Response {
        let planned = async {
            let req = ActionRequest {
                config: self.action_config(&r.action_type, r.config.as_ref())?,
                type_name: r.action_type,
            };
            self.guarded("action planning", self.provider.plan_action(req))
                .await
        };
        pb::plan_action::Response {
            diagnostics: super::service::verdict(planned.await),
            deferred: None,
        }
    }

    /// InvokeAction: the stream of events, which the invocation's task feeds.
    pub(super) fn invoke(&self, r: pb::invoke_action::Request) -> BoxStream<Event> {
        let (events, rx) = mpsc::channel(16);
        let stream: BoxStream<Event> =
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok));
        let config = match self.action_config(&r.action_type, r.config.as_ref()) {
            Ok(config) => config,
            Err(d) => {
                let _ = events.try_send(completed(diags_of(d)));
                return stream;
            }
        };
        let provider = Arc::clone(&self.provider);
        let stopped = self.token();
        tokio::spawn(async move {
            let (progress, messages) = Progress::channel();
            let stop = StopSignal::new(CancellationToken::new());
            let req = InvokeRequest {
                type_name: r.action_type,
                config,
                stop: stop.clone(),
                progress,
            };
            let run = async move { provider.invoke_action(req).await };
            let done = stream_run(run, messages, &events, &stop, &stopped).await;
            let _ = events.send(completed(done)).await;
        });
        stream
    }
}

/// Runs the invocation `run`, forwarding its progress `messages` as events, and returns the
/// diagnostics it completes with (its own, or why it was dropped).
async fn stream_run<F>(
    run: F,
    mut messages: mpsc::UnboundedReceiver<String>,
    events: &mpsc::Sender<Event>,
    stop: &StopSignal,
    stopped: &CancellationToken,
) -> Vec<pb::Diagnostic>
where
    F: Future<Output = Diagnostics> + Send,
{
    let overdue = CancellationToken::new();
    let run = guard("action invocation", run, overdue.clone());
    tokio::pin!(run);
    let mut deadline = None;
    loop {
        let raised = deadline.is_some();
        tokio::select! {
            biased;
            outcome = &mut run => {
                // Messages reported before the end go out before the completion.
                while let Ok(message) = messages.try_recv() {
                    let _ = events.send(progress(message)).await;
                }
                return match outcome {
                    Ok(diags) => wire::diagnostics(&diags),
                    Err(d) => diags_of(d),
                };
            }
            Some(message) = messages.recv() => {
                if events.send(progress(message)).await.is_err() {
                    stop.raise();
                }
            }
            _ = stopped.cancelled(), if !raised => {
                stop.raise();
                deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
            }
            _ = events.closed(), if !raised => {
                stop.raise();
                deadline = Some(tokio::time::Instant::now() + STOP_GRACE);
            }
            _ = sleep_until(deadline), if raised => overdue.cancel(),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn progress(message: String) -> Event {
    Event {
        r#type: Some(pb::invoke_action::event::Type::Progress(
            pb::invoke_action::event::Progress { message },
        )),
    }
}

fn completed(diagnostics: Vec<pb::Diagnostic>) -> Event {
    Event {
        r#type: Some(pb::invoke_action::event::Type::Completed(
            pb::invoke_action::event::Completed { diagnostics },
        )),
    }
}
