//! Conversion between protobuf messages and the protocol layer's own types, one function per
//! message. The generated types (`proto`) stay behind this module and `server`. Must not import
//! the `server` or call a provider: it converts, nothing more.

use super::codec::{self, CodecError};
use super::diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
use super::function::{Function, FunctionError, Param};
use super::provider::{ClientCapabilities, RawState};
use super::schema::{AttrType, Attribute, Block, DescriptionKind, NestedBlock, Nesting, Schema};
use super::value::{Type, Value};

/// The generated protobuf types and services. Exposed only so that protocol tests can drive the
/// server with a real client; nothing outside the protocol layer uses them.
#[doc(hidden)]
pub mod proto {
    pub mod tfplugin6 {
        #![allow(clippy::all, clippy::pedantic, deprecated, missing_docs)]
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("plugin");
    }
}

use proto::tfplugin6 as pb;

/// Decodes a `DynamicValue` (msgpack preferred, else JSON; absent means null).
pub fn dynamic_value(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, CodecError> {
    match dv {
        Some(d) if !d.msgpack.is_empty() => codec::from_msgpack(&d.msgpack, ty),
        Some(d) if !d.json.is_empty() => codec::from_json(&d.json, ty),
        _ => Ok(Value::Null),
    }
}

/// Encodes a value as a msgpack `DynamicValue`.
pub fn to_dynamic_value(v: &Value, ty: &Type) -> Result<pb::DynamicValue, CodecError> {
    Ok(pb::DynamicValue {
        msgpack: codec::to_msgpack(v, ty)?,
        json: Vec::new(),
    })
}

pub fn client_capabilities(c: Option<&pb::ClientCapabilities>) -> ClientCapabilities {
    c.map(|c| ClientCapabilities {
        deferral_allowed: c.deferral_allowed,
        write_only_attributes_allowed: c.write_only_attributes_allowed,
    })
    .unwrap_or_default()
}

pub fn raw_state(r: Option<&pb::RawState>) -> RawState {
    r.map(|r| RawState {
        json: r.json.clone(),
        flatmap: r.flatmap.clone().into_iter().collect(),
    })
    .unwrap_or_default()
}

pub fn attribute_path(p: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// Reads an attribute path sent by Terraform.
pub fn from_attribute_path(p: &pb::AttributePath) -> AttrPath {
    use pb::attribute_path::step::Selector;
    AttrPath(
        p.steps
            .iter()
            .filter_map(|s| {
                s.selector.as_ref().map(|sel| match sel {
                    Selector::AttributeName(a) => PathStep::Attr(a.clone()),
                    Selector::ElementKeyString(k) => PathStep::Key(k.clone()),
                    Selector::ElementKeyInt(i) => PathStep::Index(*i),
                })
            })
            .collect(),
    )
}

pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error as i32,
            Severity::Warning => pb::diagnostic::Severity::Warning as i32,
        },
        summary: d.summary.clone(),
        detail: d.detail_for_cli(),
        attribute: d.attribute.as_ref().map(attribute_path),
    }
}

pub fn diagnostics(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.iter().map(diagnostic).collect()
}

fn string_kind(k: DescriptionKind) -> i32 {
    match k {
        DescriptionKind::Plain => pb::StringKind::Plain as i32,
        DescriptionKind::Markdown => pb::StringKind::Markdown as i32,
    }
}

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block, s.version)),
    }
}

fn block(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute).collect(),
        block_types: b.blocks.iter().map(nested_block).collect(),
        description: b.description.clone(),
        description_kind: string_kind(b.description_kind),
        deprecated: b.deprecated,
    }
}

fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttrType::Type(t) => (t.to_json().to_string().into_bytes(), None),
        AttrType::Nested {
            attributes,
            nesting,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute).collect(),
                nesting: object_nesting(*nesting),
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: string_kind(a.description_kind),
        deprecated: a.deprecated,
        write_only: a.write_only,
    }
}

fn object_nesting(n: Nesting) -> i32 {
    use pb::schema::object::NestingMode as M;
    (match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }) as i32
}

fn nested_block(b: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    pb::schema::NestedBlock {
        type_name: b.type_name.clone(),
        block: Some(block(&b.block, 0)),
        nesting: (match b.nesting {
            Nesting::Single => M::Single,
            Nesting::Group => M::Group,
            Nesting::List => M::List,
            Nesting::Set => M::Set,
            Nesting::Map => M::Map,
        }) as i32,
        min_items: b.min_items,
        max_items: b.max_items,
    }
}

pub fn function(f: &Function) -> pb::Function {
    pb::Function {
        parameters: f.params.iter().map(function_param).collect(),
        variadic_parameter: f.variadic.as_ref().map(function_param),
        r#return: Some(pb::function::Return {
            r#type: f.returns.to_json().to_string().into_bytes(),
        }),
        summary: f.summary.clone(),
        description: f.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: f.deprecation.clone().unwrap_or_default(),
    }
}

fn function_param(p: &Param) -> pb::function::Parameter {
    pb::function::Parameter {
        name: p.name.clone(),
        r#type: p.ty.to_json().to_string().into_bytes(),
        allow_null_value: p.allow_null,
        allow_unknown_values: p.allow_unknown,
        description: p.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
    }
}

pub fn function_error(e: &FunctionError) -> pb::FunctionError {
    pb::FunctionError {
        text: e.text.clone(),
        function_argument: e.argument.map(|i| i as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_the_wire() {
        let p = AttrPath::attr("cluster")
            .key("cluster-a.local")
            .then("ports")
            .index(3);
        assert_eq!(from_attribute_path(&attribute_path(&p)), p);
    }

    #[test]
    fn an_absent_dynamic_value_is_null_and_json_is_accepted() {
        assert_eq!(
            dynamic_value(None, &Type::String).expect("null"),
            Value::Null
        );
        let dv = pb::DynamicValue {
            msgpack: vec![],
            json: br#""x""#.to_vec(),
        };
        assert_eq!(
            dynamic_value(Some(&dv), &Type::String).expect("json"),
            Value::string("x")
        );
    }

    #[test]
    fn typed_attributes_carry_json_type_bytes_and_nested_ones_an_object() {
        let a = attribute(&Attribute::required("ports", Type::list(Type::Number)));
        assert_eq!(a.r#type, br#"["list","number"]"#.to_vec());
        let n = attribute(&Attribute::nested(
            "gateway",
            Nesting::Single,
            vec![Attribute::optional("port", Type::Number)],
        ));
        assert!(n.r#type.is_empty());
        assert_eq!(n.nested_type.expect("object").attributes[0].name, "port");
    }
}
