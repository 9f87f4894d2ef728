//! meshfed: a Terraform/OpenTofu provider that federates independent Istio meshes.
//!
//! # Layout
//! - [`tfplugin`]: the plugin protocol — handshake, gRPC server, value codec, schemas,
//!   diagnostics. Knows nothing of Kubernetes or Istio.
//! - [`k8s`]: the apply engine — cluster connections and Kubernetes naming rules. Knows nothing
//!   of Istio or Terraform.
//! - [`mesh`]: mesh facts and rendering of the federation's objects; pure.
//! - [`resources`]: the Terraform resources, joining the layers above.
//! - [`provider`]: provider schema and configuration, and the `Provider` implementation.
//!
//! Arrows point one way: `provider`/`resources` → {`tfplugin`, `mesh`, `k8s`}; nothing points back.

pub mod cert;
pub mod k8s;
pub mod mesh;
pub mod provider;
pub mod resources;
pub mod tfplugin;
