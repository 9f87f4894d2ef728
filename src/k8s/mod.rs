//! The Kubernetes apply engine: how to reach each cluster, naming rules, server-side apply,
//! read-back, deletion, and errors that name the cluster and object.
//! Knows nothing of Istio or Terraform: must not import `tfplugin`, `mesh` or `resources`.
//!
//! - [`config`]: connection settings per cluster (plain data);
//! - [`names`]: Kubernetes naming rules;
//! - [`cluster`]: [`ClusterSet`], the clusters by name with lazily made clients, and
//!   `apply` / `get` / `delete` on their objects (`list` and `patch` for actions);
//! - [`object`]: [`ObjectRef`], an object's identity, key and API path;
//! - [`project`](mod@project): the live object restricted to the fields meshfed owns (drift
//!   detection);
//! - [`error`]: [`K8sError`], one variant per way a request fails;
//! - [`retry`]: which failures are retried, and how long to wait;
//! - `connect`, `request` and `status` (private): building clients, sending one request with
//!   retries, reading the API server's answers into errors;
//! - `snapshot` (private): refresh reads answered from one list per (cluster, kind, namespace).

pub mod cluster;
pub mod config;
mod connect;
pub mod error;
pub mod names;
pub mod object;
pub mod project;
mod request;
pub mod retry;
mod snapshot;
mod status;

pub use cluster::ClusterSet;
pub use error::{FailedRequest, K8sError, Op};
pub use object::ObjectRef;
pub use project::project;
pub use snapshot::STALENESS;
