//! Fixtures shared by the integration tests: real Terraform/OpenTofu runs (`tf`) and real local
//! Kubernetes control planes (`controlplanes`). Each test file uses what it needs.
#![allow(dead_code)]

pub mod controlplanes;
pub mod tf;
