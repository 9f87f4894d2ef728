//! Resource identity (protocol 6.9; Terraform ≥ 1.12, OpenTofu ≥ 1.12): a small object, apart
//! from state, that names the remote objects a resource instance manages. Terraform stores it
//! next to the state, shows it in `terraform show -json` and `terraform query`, and imports by
//! it (`import { to = ... identity = { ... } }`). This module holds the [`IdentitySchema`] of a
//! resource type; identity values are ordinary [`Value`]s of its [`IdentitySchema::value_type`].
//!
//! Clients without identity support never send or read identities; a provider answers them as
//! before. Must not import `wire` or `server`.
//!
//! [`Value`]: super::value::Value

use super::value::Type;

/// One attribute of an identity.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityAttribute {
    pub name: String,
    pub ty: Type,
    /// An `import` block's `identity` must set it.
    pub required_for_import: bool,
    /// An `import` block's `identity` may set it.
    pub optional_for_import: bool,
    pub description: String,
}

impl IdentityAttribute {
    /// An attribute every import by identity must give.
    pub fn required(name: &str, ty: Type, description: &str) -> IdentityAttribute {
        IdentityAttribute {
            name: name.into(),
            ty,
            required_for_import: true,
            optional_for_import: false,
            description: description.into(),
        }
    }

    /// An attribute an import by identity may leave out.
    pub fn optional(name: &str, ty: Type, description: &str) -> IdentityAttribute {
        IdentityAttribute {
            required_for_import: false,
            optional_for_import: true,
            ..IdentityAttribute::required(name, ty, description)
        }
    }
}

/// The identity of a resource type: versioned like its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentitySchema {
    pub version: i64,
    pub attributes: Vec<IdentityAttribute>,
}

impl IdentitySchema {
    /// The object type of an identity value.
    pub fn value_type(&self) -> Type {
        Type::object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone())),
        )
    }
}
