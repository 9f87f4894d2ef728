//! meshfed's provider-defined functions over the wire, as Terraform 1.8+ and OpenTofu 1.7+ call
//! them: GetMetadata names them, GetFunctions and GetProviderSchema carry their signatures
//! (types as cty JSON), CallFunction answers a msgpack result or a FunctionError pointing at the
//! argument at fault, without the provider being configured. Needs nothing external.

use std::sync::Arc;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::value::{Type, Value};
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;

use crate::diagnostics::assert_no_diagnostics;
use crate::harness::Plugin;
use crate::msgpack::{M, decode, s};

const NAMES: [&str; 5] = [
    "eastwest_sni",
    "fingerprint",
    "principal",
    "service_host",
    "spiffe_id",
];

fn sorted_keys<V>(m: &std::collections::HashMap<String, V>) -> Vec<String> {
    let mut k: Vec<String> = m.keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn metadata_functions_and_the_schema_list_every_function_with_cty_types() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let meta = call!(c, get_metadata, pb::get_metadata::Request {});
    let mut listed: Vec<String> = meta.functions.iter().map(|f| f.name.clone()).collect();
    listed.sort();
    assert_eq!(listed, NAMES);

    let f = call!(c, get_functions, pb::get_functions::Request {});
    assert_no_diagnostics(&f.diagnostics, "GetFunctions");
    assert_eq!(sorted_keys(&f.functions), NAMES);
    let schema = call!(c, get_provider_schema, pb::get_provider_schema::Request {});
    assert_eq!(schema.functions, f.functions);

    let sni = &f.functions["eastwest_sni"];
    let params: Vec<(&str, &[u8])> = sni
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.r#type.as_slice()))
        .collect();
    assert_eq!(
        params,
        [("host", &br#""string""#[..]), ("port", &br#""number""#[..])]
    );
    assert_eq!(
        sni.r#return.as_ref().expect("a return").r#type,
        br#""string""#
    );
    assert!(sni.variadic_parameter.is_none());
    assert!(!sni.summary.is_empty() && !sni.description.is_empty());
}

fn request(name: &str, args: &[M]) -> pb::call_function::Request {
    pb::call_function::Request {
        name: name.into(),
        arguments: args.iter().map(|a| a.dv().expect("a value")).collect(),
    }
}

#[tokio::test]
async fn a_call_answers_its_result_without_configuration() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let r = call!(
        c,
        call_function,
        request(
            "eastwest_sni",
            &[s("bar.xyz.svc.cluster-b.local"), M::Int(8080)]
        )
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(
        decode(r.result.as_ref(), &Type::String, "result"),
        Value::string("outbound_.8080_._.bar.xyz.svc.cluster-b.local")
    );
    let r = call!(
        c,
        call_function,
        request("spiffe_id", &[s("cluster-a.local"), s("abc"), s("foo")])
    );
    assert_eq!(
        decode(r.result.as_ref(), &Type::String, "result"),
        Value::string("spiffe://cluster-a.local/ns/abc/sa/foo")
    );
}

#[tokio::test]
async fn errors_point_at_the_argument_or_at_the_call() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let bad_ns = request("principal", &[s("td.local"), s("NS"), s("sa")]);
    let r = call!(c, call_function, bad_ns);
    let e = r.error.expect("a FunctionError");
    assert_eq!(e.function_argument, Some(1), "{e:?}");
    assert!(e.text.starts_with("\"NS\" is not a namespace"), "{e:?}");
    assert!(r.result.is_none());

    let wrong_type = request("eastwest_sni", &[s("h.local"), s("http")]);
    let e = call!(c, call_function, wrong_type).error.expect("an error");
    assert_eq!(e.function_argument, Some(1), "{e:?}");

    let too_few = request("service_host", &[s("bar")]);
    let e = call!(c, call_function, too_few).error.expect("an error");
    assert_eq!(e.function_argument, None, "{e:?}");
    assert!(e.text.contains("expected 3 argument(s)"), "{e:?}");

    let e = call!(c, call_function, request("rotate", &[]))
        .error
        .expect("an error");
    assert!(e.text.contains("no function \"rotate\""), "{e:?}");
    assert!(e.text.contains("spiffe_id"), "{e:?}");
}
