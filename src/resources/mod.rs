//! Terraform bindings of meshfed's resources, one file per resource: the only place that joins
//! the protocol layer, certificates, rendering and the apply engine, and turns errors into
//! diagnostics.

pub mod cluster;
