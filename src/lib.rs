//! meshfed: a Terraform/OpenTofu provider that federates independent Istio meshes. Each cluster
//! keeps its own root CA; meshfed exchanges the roots, exposes services through each cluster's
//! east-west gateway and registers them in the consuming cluster.
//!
//! # Layout
//! - [`provider`]: the provider schema, the parse of its configuration, and the
//!   [`Provider`](tfplugin::provider::Provider) implementation that dispatches each call to a
//!   resource through the registry.
//! - [`resources`]: the Terraform resources and data sources — one module per type, each with
//!   the same shape (the [`Resource`](resources::resource::Resource) trait), one shared
//!   lifecycle, the typed provider configuration and cluster lookup. The only layer that joins
//!   the four below.
//! - [`mesh`]: the federation's domain — mesh facts, Istio naming, and pure rendering of each
//!   resource's Kubernetes objects.
//! - [`k8s`]: the apply engine — cluster connections, server-side apply, read-back, deletion,
//!   errors naming the cluster and object. Knows nothing of Istio or Terraform.
//! - [`cert`]: certificates — CA generation, checks of provided material, workload certificates,
//!   the mutual TLS proof, and the one home of PEM, base64 and fingerprints.
//! - [`tfplugin`]: the plugin protocol — handshake, gRPC services, value codec, schemas,
//!   diagnostics. Knows nothing of Kubernetes or Istio.
//!
//! Arrows point one way: `main` → `provider` → `resources` → {`mesh`, `k8s`, `cert`,
//! `tfplugin`}; `mesh` → `cert`. Nothing points back up, and no resource imports another.

pub mod cert;
pub mod k8s;
pub mod mesh;
pub mod provider;
pub mod resources;
pub mod tfplugin;
