//! Terraform types read from fuzzer bytes, so that the codec target decodes against arbitrary
//! types and not only a fixed few, and written back to bytes for the seed corpus.
//!
//! One byte per type node, `b % 9`: 0 bool, 1 number, 2 string, 3 dynamic, 4 list, 5 set, 6 map
//! (each followed by its element type), 7 object (then a byte `n % 4 + 1` attribute count, then
//! each attribute's type; the attributes are named `a`, `b`, `c`, `d`), 8 tuple (then a byte
//! `n % 4` element count, then each element's type). Below [`MAX_DEPTH`] only the four primitive
//! types are chosen. Missing bytes read as `string`.

use std::collections::BTreeMap;

use meshfed::tfplugin::value::Type;

/// How deep collection types nest at most.
pub const MAX_DEPTH: usize = 4;

/// The attribute names of object types, in order.
pub const ATTR_NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Reads a type from the front of `data`, advancing it.
pub fn read_type(data: &mut &[u8]) -> Type {
    read(data, 0)
}

fn next(data: &mut &[u8]) -> Option<u8> {
    let (b, rest) = data.split_first()?;
    *data = rest;
    Some(*b)
}

fn read(data: &mut &[u8], depth: usize) -> Type {
    let Some(b) = next(data) else {
        return Type::String;
    };
    let kind = if depth >= MAX_DEPTH { b % 4 } else { b % 9 };
    match kind {
        0 => Type::Bool,
        1 => Type::Number,
        2 => Type::String,
        3 => Type::Dynamic,
        4 => Type::list(read(data, depth + 1)),
        5 => Type::set(read(data, depth + 1)),
        6 => Type::map(read(data, depth + 1)),
        7 => {
            let n = usize::from(next(data).unwrap_or(0) % 4) + 1;
            let attrs: BTreeMap<String, Type> = ATTR_NAMES[..n]
                .iter()
                .map(|name| (name.to_string(), read(data, depth + 1)))
                .collect();
            Type::Object(attrs)
        }
        _ => {
            let n = usize::from(next(data).unwrap_or(0) % 4);
            Type::Tuple((0..n).map(|_| read(data, depth + 1)).collect())
        }
    }
}

/// The bytes [`read_type`] reads as `ty`, or `None` when `ty` is not expressible (too deep, an
/// object with other attribute names or more than four, a tuple of more than three elements).
pub fn write_type(ty: &Type) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    write(ty, 0, &mut out).then_some(out)
}

fn write(ty: &Type, depth: usize, out: &mut Vec<u8>) -> bool {
    let primitive = |b: u8, out: &mut Vec<u8>| {
        out.push(b);
        true
    };
    match ty {
        Type::Bool => primitive(0, out),
        Type::Number => primitive(1, out),
        Type::String => primitive(2, out),
        Type::Dynamic => primitive(3, out),
        _ if depth >= MAX_DEPTH => false,
        Type::List(et) => {
            out.push(4);
            write(et, depth + 1, out)
        }
        Type::Set(et) => {
            out.push(5);
            write(et, depth + 1, out)
        }
        Type::Map(et) => {
            out.push(6);
            write(et, depth + 1, out)
        }
        Type::Object(attrs) => {
            let n = attrs.len();
            if n == 0 || n > 4 || !attrs.keys().zip(ATTR_NAMES).all(|(k, want)| k == want) {
                return false;
            }
            out.push(7);
            out.push((n - 1) as u8);
            attrs.values().all(|t| write(t, depth + 1, out))
        }
        Type::Tuple(ets) => {
            if ets.len() > 3 {
                return false;
            }
            out.push(8);
            out.push(ets.len() as u8);
            ets.iter().all(|t| write(t, depth + 1, out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_types_read_back() {
        let ty = Type::object([
            ("a", Type::list(Type::Number)),
            ("b", Type::Tuple(vec![Type::Dynamic, Type::set(Type::Bool)])),
            ("c", Type::map(Type::String)),
        ]);
        let bytes = write_type(&ty).expect("expressible");
        let mut rest = bytes.as_slice();
        assert_eq!(read_type(&mut rest), ty);
        assert!(rest.is_empty());
    }
}
