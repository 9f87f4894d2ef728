//! Hand-written msgpack for the protocol tests, in cty's canonical form: `M` writes request values
//! with `rmp` directly (not with meshfed's codec), and builders fill a schema block's object with
//! what Terraform sends for unset attributes and blocks. `decode` reads response values back with
//! meshfed's codec. Needs nothing external.

use std::collections::BTreeMap;

use meshfed::tfplugin::codec;
use meshfed::tfplugin::schema::{Block, Nesting};
use meshfed::tfplugin::value::{Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;

/// A msgpack value, written byte for byte as cty writes it.
#[derive(Clone, Debug)]
pub enum M {
    Nil,
    /// cty's wholly unknown value: fixext1, type 0, one zero byte.
    Unknown,
    /// cty's refined unknown: extension 12 holding a map of refinement keys.
    Refined(Vec<(i64, M)>),
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Arr(Vec<M>),
    /// Entries in the order given; cty writes object attributes and map keys sorted.
    Map(Vec<(String, M)>),
}

/// A msgpack string.
pub fn s(x: &str) -> M {
    M::Str(x.to_string())
}

/// A msgpack map with sorted keys, as cty writes objects and maps.
pub fn map(entries: Vec<(&str, M)>) -> M {
    let sorted: BTreeMap<String, M> = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    M::Map(sorted.into_iter().collect())
}

/// A `Value::Map` from pairs.
pub fn value_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

impl M {
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        const W: &str = "msgpack into a Vec";
        match self {
            M::Nil => rmp::encode::write_nil(out).expect(W),
            M::Unknown => out.extend_from_slice(&[0xd4, 0x00, 0x00]),
            M::Refined(refinements) => {
                let mut payload = Vec::new();
                rmp::encode::write_map_len(&mut payload, refinements.len() as u32).expect(W);
                for (key, value) in refinements {
                    rmp::encode::write_sint(&mut payload, *key).expect(W);
                    value.write(&mut payload);
                }
                rmp::encode::write_ext_meta(out, payload.len() as u32, 12).expect(W);
                out.extend_from_slice(&payload);
            }
            M::Bool(b) => rmp::encode::write_bool(out, *b).expect(W),
            M::Int(i) => {
                rmp::encode::write_sint(out, *i).expect(W);
            }
            M::Float(f) => rmp::encode::write_f64(out, *f).expect(W),
            M::Str(x) => rmp::encode::write_str(out, x).expect(W),
            M::Bin(b) => rmp::encode::write_bin(out, b).expect(W),
            M::Arr(items) => {
                rmp::encode::write_array_len(out, items.len() as u32).expect(W);
                for item in items {
                    item.write(out);
                }
            }
            M::Map(entries) => {
                rmp::encode::write_map_len(out, entries.len() as u32).expect(W);
                for (k, v) in entries {
                    rmp::encode::write_str(out, k).expect(W);
                    v.write(out);
                }
            }
        }
    }

    pub fn dv(&self) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: self.bytes(),
            json: Vec::new(),
        })
    }
}

/// What Terraform sends for a block with nothing set: attributes null, single blocks null, group
/// blocks an object of nulls, list and set blocks empty lists, map blocks empty maps.
fn empty_block_m(block: &Block) -> BTreeMap<String, M> {
    let mut m: BTreeMap<String, M> = block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), M::Nil))
        .collect();
    for b in &block.blocks {
        let v = match b.nesting {
            Nesting::Single => M::Nil,
            Nesting::Group => M::Map(empty_block_m(&b.block).into_iter().collect()),
            Nesting::List | Nesting::Set => M::Arr(vec![]),
            Nesting::Map => M::Map(vec![]),
        };
        m.insert(b.type_name.clone(), v);
    }
    m
}

fn empty_block_value(block: &Block) -> BTreeMap<String, Value> {
    let mut m: BTreeMap<String, Value> = block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), Value::Null))
        .collect();
    for b in &block.blocks {
        let v = match b.nesting {
            Nesting::Single => Value::Null,
            Nesting::Group => Value::Object(empty_block_value(&b.block)),
            Nesting::List => Value::List(vec![]),
            Nesting::Set => Value::Set(vec![]),
            Nesting::Map => Value::Map(BTreeMap::new()),
        };
        m.insert(b.type_name.clone(), v);
    }
    m
}

/// A block's object as msgpack: every attribute present, `over` replacing some.
pub fn block_m(block: &Block, over: Vec<(&str, M)>) -> M {
    let mut m = empty_block_m(block);
    for (k, v) in over {
        assert!(m.contains_key(k), "the schema has no attribute {k}");
        m.insert(k.to_string(), v);
    }
    M::Map(m.into_iter().collect())
}

pub fn block_value(block: &Block, over: Vec<(&str, Value)>) -> Value {
    let mut m = empty_block_value(block);
    for (k, v) in over {
        assert!(m.contains_key(k), "the schema has no attribute {k}");
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// Decodes a msgpack `DynamicValue` from a response against `ty`.
pub fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Value {
    let dv = dv.unwrap_or_else(|| panic!("the response has no {what}"));
    assert!(
        dv.json.is_empty(),
        "{what} must be msgpack (Terraform reads msgpack from providers)"
    );
    codec::from_msgpack(&dv.msgpack, ty).unwrap_or_else(|e| panic!("{what} decodes: {e}"))
}
