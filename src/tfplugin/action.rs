//! Actions (protocol 6.10; Terraform ≥ 1.14): an `action "<type>" "<label>" { config { ... } }`
//! block names a provider operation that changes something outside Terraform's state. The
//! client validates its `config` (ValidateActionConfig), plans it (PlanAction: diagnostics only,
//! no planned value) and invokes it either on demand (`terraform apply
//! -invoke=action.<type>.<label>`) or from a resource's `lifecycle { action_trigger { ... } }`
//! (InvokeAction: a stream of progress messages, then completion with diagnostics). An action has
//! a schema for its `config` and no state.
//!
//! Clients without actions (OpenTofu, Terraform < 1.14) never call these and ignore the action
//! schemas they do not know. Must not import `wire` or `server`.

use tokio::sync::mpsc;

use super::provider::StopSignal;
use super::value::Value;

/// PlanAction and InvokeAction: the `config` block, decoded against the action's schema (values
/// may be unknown at plan, never at invoke).
#[derive(Clone, Debug)]
pub struct ActionRequest {
    pub type_name: String,
    pub config: Value,
}

/// InvokeAction.
#[derive(Debug)]
pub struct InvokeRequest {
    pub type_name: String,
    pub config: Value,
    /// Raised when Terraform asked the provider to stop (StopProvider, an interrupt) or stopped
    /// reading the invocation's events: the action stops before its next step and reports what
    /// it did. Raised at once, not after a grace: an action's steps are independent.
    pub stop: StopSignal,
    /// Where the action reports what it is doing; Terraform shows each message as it comes.
    pub progress: Progress,
}

/// The progress messages of one invocation, as Terraform shows them (one line each).
#[derive(Clone, Debug)]
pub struct Progress(mpsc::UnboundedSender<String>);

impl Progress {
    /// Progress whose messages arrive on the returned receiver.
    pub fn channel() -> (Progress, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Progress(tx), rx)
    }

    /// Reports `message`. A message the client can no longer receive is dropped.
    pub fn report(&self, message: impl Into<String>) {
        let _ = self.0.send(message.into());
    }
}
