//! The Kubernetes apply engine: how to reach each cluster, naming rules, and (with the resources)
//! server-side apply, prune, read-back and errors that name the cluster and object.
//! Knows nothing of Istio or Terraform: must not import `tfplugin`, `mesh` or `resources`.

pub mod config;
pub mod names;
