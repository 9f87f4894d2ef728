//! The codec's tests: fixed cases (including bytes as Terraform writes them) and property tests
//! that any value of any type round-trips and that no input bytes make decoding panic.

use super::unknown::EXT_REFINED_UNKNOWN;
use super::*;
use crate::tfplugin::value::{Number, Refinements};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn obj_ty() -> Type {
    Type::object([
        ("name", Type::String),
        ("port", Type::Number),
        ("tags", Type::map(Type::String)),
        ("extra", Type::Dynamic),
    ])
}

#[test]
fn a_wholly_unknown_value_is_extension_zero() {
    let bytes = to_msgpack(&Value::unknown(), &Type::String).expect("encode");
    assert_eq!(bytes, vec![0xd4, 0, 0]);
    assert_eq!(
        from_msgpack(&bytes, &Type::String).expect("decode"),
        Value::unknown()
    );
}

#[test]
fn refined_unknowns_keep_their_refinements() {
    let r = Refinements {
        nullable: Some(false),
        string_prefix: Some("spiffe://".into()),
        ..Default::default()
    };
    let bytes = to_msgpack(&Value::Unknown(r.clone()), &Type::String).expect("encode");
    assert_eq!(
        &bytes[..3],
        &[0xc7, 14, EXT_REFINED_UNKNOWN as u8],
        "ext 8, type 12: {bytes:x?}"
    );
    assert_eq!(
        from_msgpack(&bytes, &Type::String).expect("decode"),
        Value::Unknown(r)
    );

    let r = Refinements {
        nullable: Some(false),
        number_lower: Some((Number::Int(1), true)),
        number_upper: Some((Number::Float(65535.5), false)),
        ..Default::default()
    };
    let bytes = to_msgpack(&Value::Unknown(r.clone()), &Type::Number).expect("encode");
    assert_eq!(
        from_msgpack(&bytes, &Type::Number).expect("decode"),
        Value::Unknown(r)
    );

    let r = Refinements {
        length_lower: Some(1),
        length_upper: Some(3),
        ..Default::default()
    };
    let t = Type::list(Type::String);
    let bytes = to_msgpack(&Value::Unknown(r.clone()), &t).expect("encode");
    assert_eq!(from_msgpack(&bytes, &t).expect("decode"), Value::Unknown(r));
}

#[test]
fn refinements_from_terraform_bytes_decode() {
    // cty's encoding of a not-null string unknown with prefix "ab": ext 12, map{1:false, 2:"ab"}.
    let bytes = [0xc7, 0x07, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa2, b'a', b'b'];
    let v = from_msgpack(&bytes, &Type::String).expect("decode");
    let Value::Unknown(r) = v else {
        panic!("expected unknown, got {v:?}")
    };
    assert_eq!(r.nullable, Some(false));
    assert_eq!(r.string_prefix.as_deref(), Some("ab"));
}

#[test]
fn unknown_refinement_keys_are_skipped() {
    let bytes = [0xc7, 0x06, 0x0c, 0x82, 0x01, 0xc2, 0x63, 0x91, 0x01];
    let v = from_msgpack(&bytes, &Type::String).expect("decode");
    assert_eq!(
        v,
        Value::Unknown(Refinements {
            nullable: Some(false),
            ..Default::default()
        })
    );
}

#[test]
fn objects_fill_absent_attributes_with_null() {
    let t = obj_ty();
    let v = Value::object([("name", Value::string("bar"))]);
    let back = from_msgpack(&to_msgpack(&v, &t).expect("encode"), &t).expect("decode");
    assert_eq!(back.get("name"), Some(&Value::string("bar")));
    assert_eq!(back.get("port"), Some(&Value::Null));
    assert_eq!(back.get("extra"), Some(&Value::Null));
}

#[test]
fn numbers_use_the_narrowest_exact_encoding() {
    let t = Type::Number;
    assert_eq!(
        to_msgpack(&Value::int(8080), &t).expect("int"),
        vec![0xcd, 0x1f, 0x90]
    );
    let big = Value::Number(Number::Big("123456789012345678901234567890".into()));
    let bytes = to_msgpack(&big, &t).expect("big");
    assert_eq!(from_msgpack(&bytes, &t).expect("decode"), big);
    // uint64 above i64::MAX decodes as a big number, exactly.
    let bytes = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        from_msgpack(&bytes, &t).expect("decode"),
        Value::Number(Number::Big(u64::MAX.to_string()))
    );
}

#[test]
fn a_nan_float_is_refused_and_a_uint64_reads_as_its_text_does() {
    let t = Type::Number;
    let mut nan = vec![0xcb];
    nan.extend_from_slice(&f64::NAN.to_be_bytes());
    let e = from_msgpack(&nan, &t).expect_err("NaN is no Terraform number");
    assert!(e.to_string().contains("NaN"), "{e}");
    // 2^63 + 2^62 is a float exactly; sent as text it reads as one, so as uint64 it must too
    // (found by fuzzing: the two compared unequal).
    let n: u64 = (1 << 63) + (1 << 62);
    let mut bytes = vec![0xcf];
    bytes.extend_from_slice(&n.to_be_bytes());
    let text = to_msgpack(
        &Value::Number(Number::parse(&n.to_string()).expect("a number")),
        &t,
    )
    .expect("encode");
    assert_eq!(
        from_msgpack(&bytes, &t).expect("decode"),
        from_msgpack(&text, &t).expect("decode")
    );
}

#[test]
fn dynamic_values_carry_their_type() {
    let inner = Value::List(vec![Value::string("a")]);
    let v = Value::Dynamic(Type::list(Type::String), Box::new(inner));
    let bytes = to_msgpack(&v, &Type::Dynamic).expect("encode");
    assert_eq!(from_msgpack(&bytes, &Type::Dynamic).expect("decode"), v);
    let json = to_json(&v, &Type::Dynamic).expect("json");
    assert_eq!(
        String::from_utf8_lossy(&json),
        r#"{"value":["a"],"type":["list","string"]}"#
    );
    assert_eq!(from_json(&json, &Type::Dynamic).expect("from json"), v);
}

#[test]
fn type_mismatches_name_the_path() {
    let t = obj_ty();
    let v = Value::object([("port", Value::string("http"))]);
    let e = to_msgpack(&v, &t).expect_err("must fail");
    assert_eq!(e.path, "port");
    let j = br#"{"name": 3, "port": "x"}"#;
    let e = from_json(j, &t).expect_err("must fail");
    assert_eq!(e.path, "port");
}

#[test]
fn json_rejects_unknowns_and_unsupported_attributes() {
    assert!(to_json(&Value::unknown(), &Type::String).is_err());
    let e = from_json(br#"{"nope": 1}"#, &obj_ty()).expect_err("extra attribute");
    assert!(e.message.contains("nope"), "{e}");
}

#[test]
fn truncated_msgpack_is_an_error_not_a_panic() {
    let t = obj_ty();
    let v = Value::object([("name", Value::string("bar")), ("port", Value::int(1))]);
    let bytes = to_msgpack(&v, &t).expect("encode");
    for cut in 0..bytes.len() {
        assert!(from_msgpack(&bytes[..cut], &t).is_err(), "cut at {cut}");
    }
}

// --- property tests -----------------------------------------------------------------------

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic)
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        (-1e12f64..1e12f64)
            .prop_filter("fractional", |f| f.fract() != 0.0)
            .prop_map(Number::Float),
        "[1-9][0-9]{20,30}".prop_map(Number::Big),
    ]
}

fn arb_refinements(ty: &Type) -> BoxedStrategy<Refinements> {
    let nullable = prop::option::of(Just(false));
    match ty {
        Type::String => (nullable, prop::option::of("[a-z:/]{1,8}"))
            .prop_map(|(nullable, string_prefix)| Refinements {
                nullable,
                string_prefix,
                ..Default::default()
            })
            .boxed(),
        Type::Number => (
            nullable,
            prop::option::of((arb_number(), any::<bool>())),
            prop::option::of((arb_number(), any::<bool>())),
        )
            .prop_map(|(nullable, number_lower, number_upper)| Refinements {
                nullable,
                number_lower,
                number_upper,
                ..Default::default()
            })
            .boxed(),
        Type::List(_) | Type::Set(_) | Type::Map(_) => (
            nullable,
            prop::option::of(0u64..5),
            prop::option::of(5u64..100),
        )
            .prop_map(|(nullable, length_lower, length_upper)| Refinements {
                nullable,
                length_lower,
                length_upper,
                ..Default::default()
            })
            .boxed(),
        Type::Dynamic => Just(Refinements::default()).boxed(),
        _ => nullable
            .prop_map(|nullable| Refinements {
                nullable,
                ..Default::default()
            })
            .boxed(),
    }
}

fn arb_value(ty: Type) -> BoxedStrategy<Value> {
    let special = prop_oneof![
        Just(Value::Null),
        arb_refinements(&ty).prop_map(Value::Unknown)
    ];
    let known: BoxedStrategy<Value> = match ty.clone() {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::String => ".{0,12}".prop_map(Value::String).boxed(),
        Type::Dynamic => prop_oneof![
            any::<bool>().prop_map(|b| Value::Dynamic(Type::Bool, Box::new(Value::Bool(b)))),
            "[a-z]{0,5}".prop_map(|s| Value::Dynamic(Type::String, Box::new(Value::String(s)))),
            prop::collection::vec(any::<i64>(), 0..3).prop_map(|v| Value::Dynamic(
                Type::list(Type::Number),
                Box::new(Value::List(v.into_iter().map(Value::int).collect()))
            )),
        ]
        .boxed(),
        Type::List(et) => prop::collection::vec(arb_value(*et), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(et) => prop::collection::vec(arb_value(*et), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(et) => prop::collection::btree_map("[a-z.-]{0,6}", arb_value(*et), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(ets) => ets
            .into_iter()
            .map(arb_value)
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object(attrs) => attrs
            .into_iter()
            .map(|(k, t)| arb_value(t).prop_map(move |v| (k.clone(), v)))
            .collect::<Vec<_>>()
            .prop_map(|kv| Value::Object(kv.into_iter().collect()))
            .boxed(),
    };
    prop_oneof![1 => special, 4 => known].boxed()
}

fn arb_typed_value() -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(|t| arb_value(t.clone()).prop_map(move |v| (t.clone(), v)))
}

fn strip_unknowns(v: &Value) -> Value {
    match v {
        Value::Unknown(_) => Value::Null,
        Value::List(i) => Value::List(i.iter().map(strip_unknowns).collect()),
        Value::Set(i) => Value::Set(i.iter().map(strip_unknowns).collect()),
        Value::Tuple(i) => Value::Tuple(i.iter().map(strip_unknowns).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_unknowns(v)))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_unknowns(v)))
                .collect(),
        ),
        Value::Dynamic(t, v) => Value::Dynamic(t.clone(), Box::new(strip_unknowns(v))),
        other => other.clone(),
    }
}

/// Seeds of past failures live in `proptest-regressions/tfplugin/codec.txt`, named after the file
/// these tests were first in; proptest would otherwise look for a file named after this one.
fn regressions() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/tfplugin/codec.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(regressions())]

    #[test]
    fn msgpack_round_trips_any_value_of_any_type((ty, v) in arb_typed_value()) {
        let bytes = to_msgpack(&v, &ty).expect("encode");
        prop_assert_eq!(from_msgpack(&bytes, &ty).expect("decode"), v);
    }

    #[test]
    fn json_round_trips_any_known_value((ty, v) in arb_typed_value()) {
        let v = strip_unknowns(&v);
        let bytes = to_json(&v, &ty).expect("encode");
        prop_assert_eq!(from_json(&bytes, &ty).expect("decode"), v);
    }

    #[test]
    fn type_json_round_trips(ty in arb_type()) {
        prop_assert_eq!(Type::from_json(&ty.to_json()).expect("parse"), ty);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), ty in arb_type()) {
        let _ = from_msgpack(&bytes, &ty);
    }
}
