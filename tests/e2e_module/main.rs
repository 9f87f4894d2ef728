//! `modules/federation` end to end: the module a platform repo calls instead of writing each
//! trust, export and import by hand, applied by real Terraform and real OpenTofu with this build
//! of the provider against real kube-apiservers (meshfed's least-privilege ServiceAccount, as
//! `examples/rbac/` binds it). Needs real Terraform and OpenTofu and real control planes
//! (`scripts/setup`).
//!
//! `fixture.rs` holds the control planes and the readers of what meshfed wrote; the tests are by
//! topic: `lifecycle.rs` (three clusters in one apply, an empty second plan, a fourth cluster and
//! one more export in one apply that touches only what changes, destroy), `refused.rs` (inputs
//! the module refuses at plan, with its own messages; no control plane) and `terragrunt.rs`
//! (`examples/terragrunt/`, rendered as Terragrunt would render it, validated, and its units
//! applied in their dependency order; Terragrunt itself cannot be installed here).

mod fixture;
mod lifecycle;
mod refused;
#[path = "../support/mod.rs"]
mod support;
mod terragrunt;

use std::path::PathBuf;

const A: &str = "cluster-a.local";
const B: &str = "cluster-b.local";
const C: &str = "cluster-c.local";
const D: &str = "cluster-d.local";

/// Namespace of the exported services (bound for meshfed by `examples/rbac/`).
const SERVICE_NS: &str = "xyz";
/// Namespace the consumers import into (bound for meshfed by `examples/rbac/`).
const CONSUMER_NS: &str = "abc";

const APPLY: [&str; 3] = ["apply", "-auto-approve", "-no-color"];
const PLAN: [&str; 3] = ["plan", "-detailed-exitcode", "-no-color"];

/// `modules/federation` of this checkout, as a module `source`.
fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("modules/federation")
}
