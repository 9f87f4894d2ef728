//! meshfed's actions (Terraform ≥ 1.14): operations Terraform invokes, on demand
//! (`terraform apply -invoke=action.<type>.<label>`) or after a resource changes
//! (`lifecycle { action_trigger { ... } }`), and keeps no state of. Each implements
//! [`super::resource::Action`] and is named in the registry; one file per action.
//!
//! - [`rollout_restart`]: `meshfed_rollout_restart`, restarting Deployments the way
//!   `kubectl rollout restart` does.
//!
//! Imports the protocol layer's types, the apply engine and the shared resource modules; must not
//! import a resource or the provider layer.

pub mod rollout_restart;

pub use rollout_restart::RolloutRestart;
