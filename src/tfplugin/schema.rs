//! Schemas: what a provider, resource or data source accepts, in the shape Terraform expects.
//!
//! A [`Block`] holds [`Attribute`]s (typed, or with nested attributes) and [`NestedBlock`]s in any
//! nesting mode (single, group, list, set, map — the provider's `cluster "<name>" {}` is a map
//! block). [`Block::value_type`] gives the object type that values of the block have, which the
//! codec decodes against. Builders keep declarations short and put a description on everything.
//! Imports only [`super::value`]; must not import protobuf (`wire`), the codec or the server.

use std::collections::BTreeMap;

use super::diag::AttrPath;
use super::value::{Type, Value};

/// How a description is formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DescriptionKind {
    #[default]
    Plain,
    Markdown,
}

/// How nested attributes or blocks repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    /// A single block that is always present (its attributes may be null).
    Group,
    List,
    Set,
    /// Keyed by the block's label.
    Map,
}

/// What an attribute holds: a plain type, or nested attributes.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrType {
    Type(Type),
    Nested {
        attributes: Vec<Attribute>,
        nesting: Nesting,
    },
}

/// One attribute of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    pub description: String,
    pub description_kind: DescriptionKind,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// Never persisted by Terraform (protocol 6.8+ clients); implies the value is only in config.
    pub write_only: bool,
}

impl Attribute {
    fn new(name: &str, ty: AttrType) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty,
            description: String::new(),
            description_kind: DescriptionKind::Markdown,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            write_only: false,
        }
    }
    /// An attribute the configuration must set.
    pub fn required(name: &str, ty: Type) -> Attribute {
        Attribute {
            required: true,
            ..Attribute::new(name, AttrType::Type(ty))
        }
    }
    /// An attribute the configuration may set.
    pub fn optional(name: &str, ty: Type) -> Attribute {
        Attribute {
            optional: true,
            ..Attribute::new(name, AttrType::Type(ty))
        }
    }
    /// An attribute only the provider sets.
    pub fn computed(name: &str, ty: Type) -> Attribute {
        Attribute {
            computed: true,
            ..Attribute::new(name, AttrType::Type(ty))
        }
    }
    /// An attribute the configuration may set and the provider fills when it does not.
    pub fn optional_computed(name: &str, ty: Type) -> Attribute {
        Attribute {
            optional: true,
            computed: true,
            ..Attribute::new(name, AttrType::Type(ty))
        }
    }
    /// An attribute made of nested attributes (`name = { ... }` / `name = [{ ... }]`).
    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Attribute {
        Attribute::new(
            name,
            AttrType::Nested {
                attributes,
                nesting,
            },
        )
    }
    pub fn describe(mut self, d: &str) -> Attribute {
        self.description = d.to_string();
        self
    }
    pub fn plain_description(mut self) -> Attribute {
        self.description_kind = DescriptionKind::Plain;
        self
    }
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }
    pub fn write_only(mut self) -> Attribute {
        self.write_only = true;
        self
    }
    pub fn with_required(mut self) -> Attribute {
        self.required = true;
        self.optional = false;
        self
    }
    pub fn with_optional(mut self) -> Attribute {
        self.optional = true;
        self.required = false;
        self
    }
    pub fn with_computed(mut self) -> Attribute {
        self.computed = true;
        self
    }

    /// The type of this attribute's values.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttrType::Type(t) => t.clone(),
            AttrType::Nested {
                attributes,
                nesting,
            } => {
                let obj = Type::Object(
                    attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type()))
                        .collect(),
                );
                match nesting {
                    Nesting::Single | Nesting::Group => obj,
                    Nesting::List => Type::list(obj),
                    Nesting::Set => Type::set(obj),
                    Nesting::Map => Type::map(obj),
                }
            }
        }
    }
}

/// A nested block (`name { ... }`, or `name "label" { ... }` in map mode).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn new(type_name: &str, nesting: Nesting, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
        }
    }
    pub fn min_items(mut self, n: i64) -> NestedBlock {
        self.min_items = n;
        self
    }
    pub fn max_items(mut self, n: i64) -> NestedBlock {
        self.max_items = n;
        self
    }

    pub fn value_type(&self) -> Type {
        let obj = self.block.value_type();
        match self.nesting {
            Nesting::Single | Nesting::Group => obj,
            Nesting::List => Type::list(obj),
            Nesting::Set => Type::set(obj),
            Nesting::Map => Type::map(obj),
        }
    }
}

/// A block: attributes plus nested blocks.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub description_kind: DescriptionKind,
    pub deprecated: bool,
}

impl Block {
    pub fn new() -> Block {
        Block {
            description_kind: DescriptionKind::Markdown,
            ..Block::default()
        }
    }
    pub fn describe(mut self, d: &str) -> Block {
        self.description = d.to_string();
        self
    }
    pub fn attr(mut self, a: Attribute) -> Block {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Block {
        self.blocks.push(b);
        self
    }
    pub fn deprecated(mut self) -> Block {
        self.deprecated = true;
        self
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.type_name.clone(), b.value_type());
        }
        Type::Object(attrs)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A versioned schema, as for a provider, resource or data source.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Schema {
        Schema { version, block }
    }
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

/// `value` with every write-only attribute set to null, at any depth: Terraform never keeps
/// write-only values in plan or state, and rejects a provider that returns them.
pub fn null_write_only(value: Value, block: &Block) -> Value {
    null_where(value, block, &|a| a.write_only)
}

/// A configuration value made from state `value`: every attribute a configuration cannot set
/// (computed-only, and write-only ones, which state never holds) null, at any depth. What
/// configuration generation starts from.
pub fn config_of_state(value: Value, block: &Block) -> Value {
    null_where(value, block, &|a| {
        a.write_only || (a.computed && !a.optional && !a.required)
    })
}

/// `value` with every attribute for which `nulled` holds set to null, at any depth.
fn null_where(value: Value, block: &Block, nulled: &dyn Fn(&Attribute) -> bool) -> Value {
    let Value::Object(mut m) = value else {
        return value;
    };
    for a in &block.attributes {
        if let Some(v) = m.get_mut(&a.name) {
            *v = if nulled(a) {
                Value::Null
            } else {
                null_in_attr(std::mem::take(v), &a.ty, nulled)
            };
        }
    }
    for b in &block.blocks {
        if let Some(v) = m.get_mut(&b.type_name) {
            *v = map_nested(std::mem::take(v), b.nesting, &|e| {
                null_where(e, &b.block, nulled)
            });
        }
    }
    Value::Object(m)
}

/// The paths of every write-only attribute `value` sets (a known or unknown value, not null), at
/// any depth: what a client without write-only support would store in state.
pub fn write_only_set(value: &Value, block: &Block) -> Vec<AttrPath> {
    let mut out = Vec::new();
    collect_write_only(value, block, &AttrPath::root(), &mut out);
    out
}

fn collect_write_only(value: &Value, block: &Block, at: &AttrPath, out: &mut Vec<AttrPath>) {
    let Value::Object(m) = value else {
        return;
    };
    for a in &block.attributes {
        let Some(v) = m.get(&a.name).filter(|v| !v.is_null()) else {
            continue;
        };
        let path = at.then(&a.name);
        match &a.ty {
            _ if a.write_only => out.push(path),
            AttrType::Type(_) => {}
            AttrType::Nested {
                attributes,
                nesting,
            } => {
                let inner = Block {
                    attributes: attributes.clone(),
                    ..Block::default()
                };
                each_nested(v, *nesting, &path, &mut |e, p| {
                    collect_write_only(e, &inner, p, out)
                });
            }
        }
    }
    for b in &block.blocks {
        if let Some(v) = m.get(&b.type_name) {
            let path = at.then(&b.type_name);
            each_nested(v, b.nesting, &path, &mut |e, p| {
                collect_write_only(e, &b.block, p, out)
            });
        }
    }
}

/// Calls `f` on each element of a nested value with its path (list and set elements by index,
/// map elements by key; a single or group value is its own element).
fn each_nested(v: &Value, nesting: Nesting, at: &AttrPath, f: &mut dyn FnMut(&Value, &AttrPath)) {
    match (nesting, v) {
        (Nesting::Single | Nesting::Group, v) => f(v, at),
        (_, Value::List(items) | Value::Set(items)) => {
            for (i, e) in items.iter().enumerate() {
                f(e, &at.index(i));
            }
        }
        (_, Value::Map(m)) => {
            for (k, e) in m {
                f(e, &at.key(k));
            }
        }
        _ => {}
    }
}

fn null_in_attr(v: Value, ty: &AttrType, nulled: &dyn Fn(&Attribute) -> bool) -> Value {
    match ty {
        AttrType::Type(_) => v,
        AttrType::Nested {
            attributes,
            nesting,
        } => {
            let inner = Block {
                attributes: attributes.clone(),
                ..Block::default()
            };
            map_nested(v, *nesting, &|e| null_where(e, &inner, nulled))
        }
    }
}

fn map_nested(v: Value, nesting: Nesting, f: &dyn Fn(Value) -> Value) -> Value {
    match (nesting, v) {
        (Nesting::Single | Nesting::Group, v) => f(v),
        (_, Value::List(items)) => Value::List(items.into_iter().map(f).collect()),
        (_, Value::Set(items)) => Value::Set(items.into_iter().map(f).collect()),
        (_, Value::Map(m)) => Value::Map(m.into_iter().map(|(k, e)| (k, f(e))).collect()),
        (_, other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_block_has_a_map_of_objects_as_its_type() {
        let b = Block::new().block(NestedBlock::new(
            "cluster",
            Nesting::Map,
            Block::new().attr(Attribute::optional("host", Type::String)),
        ));
        assert_eq!(
            b.value_type(),
            Type::object([("cluster", Type::map(Type::object([("host", Type::String)])))])
        );
    }

    #[test]
    fn write_only_values_are_nulled_at_any_depth() {
        let b = Block::new()
            .attr(Attribute::optional("key_pem", Type::String).write_only())
            .attr(Attribute::optional("cert_pem", Type::String))
            .block(NestedBlock::new(
                "member",
                Nesting::List,
                Block::new().attr(Attribute::optional("secret", Type::String).write_only()),
            ));
        let v = Value::object([
            ("key_pem", Value::string("k")),
            ("cert_pem", Value::string("c")),
            (
                "member",
                Value::List(vec![Value::object([("secret", Value::string("s"))])]),
            ),
        ]);
        let out = null_write_only(v, &b);
        assert_eq!(out.get("key_pem"), Some(&Value::Null));
        assert_eq!(out.get("cert_pem"), Some(&Value::string("c")));
        assert_eq!(
            out.get("member")
                .and_then(|m| m.elements())
                .map(|e| e[0].get("secret").cloned()),
            Some(Some(Value::Null))
        );
    }

    #[test]
    fn set_write_only_values_are_found_with_their_paths() {
        let ca = Block::new().attr(Attribute::optional("key_pem", Type::String).write_only());
        let b = Block::new()
            .attr(Attribute::optional("token", Type::String).write_only())
            .block(NestedBlock::new(
                "member",
                Nesting::List,
                Block::new().block(NestedBlock::new("ca", Nesting::List, ca)),
            ));
        let member = |key: Value| {
            Value::object([("ca", Value::List(vec![Value::object([("key_pem", key)])]))])
        };
        let v = Value::object([
            ("token", Value::Null),
            (
                "member",
                Value::List(vec![
                    member(Value::Null),
                    member(Value::unknown()),
                    member(Value::string("k")),
                ]),
            ),
        ]);
        let paths: Vec<String> = write_only_set(&v, &b)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            paths,
            ["member[1].ca[0].key_pem", "member[2].ca[0].key_pem"]
        );
    }

    #[test]
    fn nested_attributes_take_their_nesting_mode() {
        let a = Attribute::nested(
            "ports",
            Nesting::List,
            vec![
                Attribute::required("name", Type::String),
                Attribute::required("number", Type::Number),
            ],
        );
        assert_eq!(
            a.value_type(),
            Type::list(Type::object([
                ("name", Type::String),
                ("number", Type::Number)
            ]))
        );
    }
}
