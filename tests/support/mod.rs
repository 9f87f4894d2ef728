//! Fixtures shared by the integration test suites: real Terraform/OpenTofu runs (`tf`), real
//! local Kubernetes control planes (`controlplanes`), and refusals at plan read from `plan -json`
//! (`refusal`). A suite includes this folder with `#[path = "../support/mod.rs"] mod support;` and
//! uses what it needs; the folder has no `main.rs`, so it is no test target itself. Needs nothing
//! by itself: `tf` runs the CLIs `scripts/setup` installs, `controlplanes` the control planes it
//! builds.
#![allow(dead_code)]

pub mod controlplanes;
pub mod refusal;
pub mod tf;
