//! The round-trip properties of the value codec, shared by every target that decodes values.
//!
//! What meshfed decodes it must be able to send back: a value decoded against a type encodes
//! against that type, and decodes again to the same value. The one thing encoding drops on
//! purpose is a refinement that does not apply to the unknown's type (a string prefix on a
//! number, a length bound on a string, any refinement of a `dynamic` unknown, an empty prefix);
//! [`canonical`] drops those first, so the comparison is exact for everything else.

use meshfed::tfplugin::codec;
use meshfed::tfplugin::value::{Refinements, Type, Value};

/// `v` (a value of `ty`) with every unknown's refinements reduced to those that apply to its
/// type: what encoding writes.
pub fn canonical(v: &Value, ty: &Type) -> Value {
    match (v, ty) {
        (Value::Unknown(r), _) => Value::Unknown(applicable(r, ty)),
        (Value::List(items), Type::List(et)) => Value::List(canonical_items(items, et)),
        (Value::Set(items), Type::Set(et)) => Value::Set(canonical_items(items, et)),
        (Value::Tuple(items), Type::Tuple(ets)) => Value::Tuple(
            items
                .iter()
                .zip(ets)
                .map(|(v, t)| canonical(v, t))
                .collect(),
        ),
        (Value::Map(m), Type::Map(et)) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), canonical(v, et)))
                .collect(),
        ),
        (Value::Object(m), Type::Object(attrs)) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match attrs.get(k) {
                        Some(t) => canonical(v, t),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Value::Dynamic(it, inner), _) => {
            Value::Dynamic(it.clone(), Box::new(canonical(inner, it)))
        }
        _ => v.clone(),
    }
}

fn canonical_items(items: &[Value], et: &Type) -> Vec<Value> {
    items.iter().map(|v| canonical(v, et)).collect()
}

/// The refinements of `r` that encoding writes for an unknown of type `ty`.
fn applicable(r: &Refinements, ty: &Type) -> Refinements {
    if *ty == Type::Dynamic {
        return Refinements::default();
    }
    let mut out = Refinements {
        nullable: r.nullable,
        ..Refinements::default()
    };
    match ty {
        Type::String => out.string_prefix = r.string_prefix.clone().filter(|p| !p.is_empty()),
        Type::Number => {
            out.number_lower = r.number_lower.clone();
            out.number_upper = r.number_upper.clone();
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            out.length_lower = r.length_lower;
            out.length_upper = r.length_upper;
        }
        _ => {}
    }
    out
}

/// Whether `a` and `b` are the same value: equal, or (for values holding a NaN, which equals
/// nothing, not even itself) of identical structure, NaNs included.
///
/// msgpack can carry a NaN float, and meshfed decodes it as one (Terraform never sends one: cty
/// has no NaN); what the round trip must keep is that NaN, in the same place.
pub fn same(a: &Value, b: &Value) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// `v`, decoded against `ty`, encodes as msgpack; the bytes decode to `v` (canonical), and
/// encoding is stable: the second encoding is the same bytes. Returns the msgpack bytes.
pub fn assert_msgpack_round_trip(v: &Value, ty: &Type) -> Vec<u8> {
    let bytes = match codec::to_msgpack(v, ty) {
        Ok(b) => b,
        Err(e) => panic!("a decoded value does not encode as msgpack for {ty}: {e}\nvalue: {v:?}"),
    };
    let back = match codec::from_msgpack(&bytes, ty) {
        Ok(back) => back,
        Err(e) => panic!(
            "msgpack that meshfed wrote does not decode for {ty}: {e}\nvalue: {v:?}\nbytes: {bytes:02x?}"
        ),
    };
    let want = canonical(v, ty);
    assert!(
        same(&back, &want),
        "msgpack round trip changed the value for {ty}\nbefore: {want:?}\nafter:  {back:?}"
    );
    let again = codec::to_msgpack(&back, ty).expect("the round-tripped value encodes");
    assert_eq!(again, bytes, "msgpack encoding is not stable for {ty}");
    bytes
}

/// `v` (wholly known), decoded against `ty`, encodes as JSON, and the JSON decodes to `v`, both
/// strictly and leniently (as stored state is read).
pub fn assert_json_round_trip(v: &Value, ty: &Type) {
    let bytes = match codec::to_json(v, ty) {
        Ok(b) => b,
        Err(e) => {
            panic!("a decoded known value does not encode as JSON for {ty}: {e}\nvalue: {v:?}")
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let back = match codec::from_json(&bytes, ty) {
        Ok(back) => back,
        Err(e) => panic!("JSON that meshfed wrote does not decode for {ty}: {e}\nJSON: {text}"),
    };
    assert!(
        back == *v,
        "JSON round trip changed the value for {ty}\nbefore: {v:?}\nafter:  {back:?}\nJSON: {text}"
    );
    let lenient = codec::from_json_lenient(&bytes, ty).expect("strict JSON decodes leniently");
    assert!(
        lenient == *v,
        "lenient JSON decoding differs from strict for {ty}\nstrict:  {v:?}\nlenient: {lenient:?}"
    );
}
