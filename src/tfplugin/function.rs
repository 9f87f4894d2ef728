//! Provider-defined functions (protocol 6.5; Terraform ≥ 1.8, OpenTofu ≥ 1.7) as the protocol
//! layer sees them: a [`Function`]'s signature (positional [`Param`]s, an optional variadic one,
//! the return type, its documentation) and the [`FunctionError`] a call fails with.
//!
//! Terraform calls a function as `provider::<local name>::<function>(...)`, without configuring
//! the provider: a function depends on its arguments alone. Terraform itself refuses a null or
//! unknown argument where the parameter does not allow it (and returns an unknown result for an
//! unknown argument without calling), so a function sees known, non-null values unless its
//! parameter says otherwise. Must not import `wire` or `server`.

use super::value::Type;

/// One parameter of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Shown in Terraform's errors and in documentation.
    pub name: String,
    pub ty: Type,
    pub description: String,
    /// The function accepts null for this parameter (otherwise Terraform refuses it).
    pub allow_null: bool,
    /// The function is called with unknown values for this parameter (otherwise Terraform
    /// returns an unknown result without calling).
    pub allow_unknown: bool,
}

impl Param {
    /// A parameter that must be known and not null.
    pub fn new(name: &str, ty: Type, description: &str) -> Param {
        Param {
            name: name.into(),
            ty,
            description: description.into(),
            allow_null: false,
            allow_unknown: false,
        }
    }
}

/// A function's signature and documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub params: Vec<Param>,
    /// Takes any number of further arguments of this parameter's type.
    pub variadic: Option<Param>,
    pub returns: Type,
    /// One line, shown by editors.
    pub summary: String,
    /// Markdown.
    pub description: String,
    pub deprecation: Option<String>,
}

impl Function {
    /// A function of `params` returning `returns`.
    pub fn new(params: Vec<Param>, returns: Type, summary: &str, description: &str) -> Function {
        Function {
            params,
            variadic: None,
            returns,
            summary: summary.into(),
            description: description.into(),
            deprecation: None,
        }
    }

    /// The parameter argument `index` is matched with, if the call may have that many.
    pub fn param(&self, index: usize) -> Option<&Param> {
        self.params.get(index).or(self.variadic.as_ref())
    }
}

/// Why a call failed; Terraform shows `text`, and points at the argument when `argument` is set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct FunctionError {
    pub text: String,
    /// Index of the argument at fault (0 for the first).
    pub argument: Option<usize>,
}

impl FunctionError {
    /// An error about the call as a whole.
    pub fn call(text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: None,
        }
    }

    /// An error about argument `index`.
    pub fn argument(index: usize, text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: Some(index),
        }
    }
}
