//! List resources and configuration generation (protocol 6.10; Terraform ≥ 1.14's
//! `terraform query`): a list resource type shares its name with a managed resource type and
//! has a schema of its own, for the `config` block of a `list` block in a `.tfquery.hcl` file.
//! Listing finds remote objects and names each by the managed type's identity (and, when asked,
//! its state); `terraform query -generate-config-out` then writes a `resource` block and an
//! `import` block for each, the resource's configuration coming from GenerateResourceConfig.
//!
//! Clients without `terraform query` (OpenTofu, Terraform < 1.14) never call these. Must not
//! import `wire` or `server`.

use super::diag::Diagnostics;
use super::value::Value;

/// ListResource.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub type_name: String,
    /// The `config` block, decoded against the list resource schema.
    pub config: Value,
    /// The client wants each found object's state (`include_resource = true`, or to generate
    /// configuration).
    pub include_resource_object: bool,
    /// At most this many results (0: no limit).
    pub limit: i64,
}

/// One object found.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    /// The managed type's identity of the object.
    pub identity: Value,
    /// How the CLI shows it.
    pub display_name: String,
    /// Its state as the managed type's import would give it, when asked for.
    pub resource_object: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct ListResponse {
    pub found: Vec<Listed>,
    pub diagnostics: Diagnostics,
}

/// GenerateResourceConfig's answer: a configuration for the managed type that, with the state
/// it was made from, plans no change.
#[derive(Clone, Debug, Default)]
pub struct GeneratedConfig {
    pub config: Value,
    pub diagnostics: Diagnostics,
}
