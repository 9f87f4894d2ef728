//! Fixtures shared by the integration test suites: real Terraform/OpenTofu runs (`tf`), real
//! local Kubernetes control planes (`controlplanes`), istiod's view of them (`istio`: what it
//! pushes to a proxy, the certificates its CA signs, the workloads it needs), meshfed's
//! least-privilege identity in them as `examples/rbac/` grants it (`rbac`), and refusals at plan
//! read from `plan -json` (`refusal`). A suite includes this folder with
//! `#[path = "../support/mod.rs"] mod support;` and uses what it needs; the folder has no
//! `main.rs`, so it is no test target itself. Needs nothing by itself: `tf` runs the CLIs
//! `scripts/setup` installs, `controlplanes` the control planes it builds.
#![allow(dead_code)]

pub mod controlplanes;
pub mod istio;
pub mod latency;
pub mod rbac;
pub mod refusal;
pub mod tf;
