//! meshfed's provider-defined functions as users call them from HCL
//! (`provider::meshfed::<name>(...)`): real Terraform 1.15 and OpenTofu 1.12 evaluate the
//! documented examples (`examples/functions/`) into outputs, an invalid argument fails the plan with the error on that argument's line, and the
//! oldest CLIs meshfed supports (Terraform 1.0.3, OpenTofu 1.6.3, which predate functions) still
//! load the provider, whose schema now carries them. Needs real Terraform and OpenTofu
//! (`scripts/setup`); no control plane.
#[path = "../support/mod.rs"]
mod support;

use meshfed::cert::generate::{CaRequest, generate_ca};
use support::refusal::{error_diagnostics, first_error};
use support::tf::{Cli, TfDir};

const REQUIRED: &str = r#"
terraform {
  required_providers {
    meshfed = { source = "meshfed/meshfed" }
  }
}
"#;

/// `examples/functions/<name>/function.tf`, each the example of one function's docs.
fn example(name: &str) -> String {
    let path = format!(
        "{}/examples/functions/{name}/function.tf",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The documented examples, applied together: each output is what its docs say.
#[test]
fn every_function_s_example_evaluates_as_documented_with_both_clis() {
    let ca = generate_ca(CaRequest::new("partner.example", meshfed::cert::now())).expect("a CA");
    let expected = [
        (
            "foo_spiffe_id",
            "spiffe_id",
            "spiffe://cluster-a.local/ns/abc/sa/foo".to_string(),
        ),
        (
            "foo_principal",
            "principal",
            "cluster-a.local/ns/abc/sa/foo".into(),
        ),
        (
            "bar_host",
            "service_host",
            "bar.xyz.svc.cluster-b.local".into(),
        ),
        (
            "bar_sni",
            "eastwest_sni",
            "outbound_.8080_._.bar.xyz.svc.cluster-b.local".into(),
        ),
        (
            "partner_root_fingerprint",
            "fingerprint",
            meshfed::cert::fingerprint_sha256(ca.root_cert_pem.as_bytes()),
        ),
    ];
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", REQUIRED);
        for (_, function, _) in &expected {
            dir.write(format!("{function}.tf"), example(function));
        }
        dir.write("partner-root.pem", &ca.root_cert_pem);
        dir.run_ok(&["apply", "-auto-approve", "-input=false"]);
        let out = dir.run_ok(&["output", "-json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{cli}: output -json: {e}\n{out}"));
        for (output, function, value) in &expected {
            assert_eq!(
                v[output]["value"].as_str(),
                Some(value.as_str()),
                "{cli}: {function}"
            );
            let documented = format!("# {value}");
            assert!(
                *function == "fingerprint" || example(function).contains(&documented),
                "{function}'s example does not say {documented:?}"
            );
        }
    }
}

/// A plan of a call of `call` with `args`, one per line, of which the one at index `bad` is
/// invalid: it must fail with one error on exactly that argument's line, with `detail`.
fn refused(cli: Cli, call: &str, args: [&str; 3], bad: usize, detail: &str) {
    let dir = TfDir::new(cli);
    let head = format!("{REQUIRED}output \"refused\" {{\n  value = provider::meshfed::{call}(\n");
    let body: Vec<String> = args.iter().map(|a| format!("    {a},\n")).collect();
    dir.write("main.tf", format!("{head}{}  )\n}}\n", body.concat()));
    let bad_line = head.lines().count() + bad + 1;

    let out = dir.run_code(1, &["plan", "-json", "-input=false"]);
    let d = first_error(cli, &out, "Invalid function argument");
    assert_eq!(error_diagnostics(&out).len(), 1, "{cli}: {out}");
    assert_eq!(d["range"]["start"]["line"], bad_line as u64, "{cli}: {d}");
    assert_eq!(d["range"]["end"]["line"], bad_line as u64, "{cli}: {d}");
    let text = d["detail"].as_str().unwrap_or_default();
    assert!(text.contains(detail), "{cli}: {text:?} lacks {detail:?}");
}

#[test]
fn an_invalid_argument_fails_the_plan_on_that_argument_with_both_clis() {
    for cli in Cli::both() {
        refused(
            cli,
            "spiffe_id",
            [r#""Cluster.local""#, r#""abc""#, r#""foo""#],
            0,
            r#"Invalid value for "trust_domain" parameter: "Cluster.local" is not a SPIFFE trust domain"#,
        );
        refused(
            cli,
            "service_host",
            [r#""bar""#, r#""Not_A_Namespace""#, r#""cluster-b.local""#],
            1,
            r#""Not_A_Namespace" is not a namespace"#,
        );
        refused(
            cli,
            "principal",
            [r#""td.local""#, r#""abc""#, r#""""#],
            2,
            r#""" is not a service account name: it must not be empty"#,
        );
    }
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        let call = "provider::meshfed::eastwest_sni(\"bar.xyz.svc.cluster-b.local\",\n    70000)";
        dir.write(
            "main.tf",
            format!("{REQUIRED}output \"sni\" {{\n  value = {call}\n}}\n"),
        );
        let out = dir.run_code(1, &["plan", "-json", "-input=false"]);
        let d = first_error(cli, &out, "Invalid function argument");
        let text = d["detail"].as_str().unwrap_or_default();
        assert!(
            text.contains(r#""port" parameter: 70000 is not a port number"#),
            "{cli}: {text}"
        );
        // REQUIRED's lines, `output "sni" {`, the line of the call, then the port's.
        let port_line = REQUIRED.lines().count() + 3;
        assert_eq!(d["range"]["start"]["line"], port_line as u64, "{cli}: {d}");
    }
}

#[test]
fn a_certificate_bundle_is_refused_by_fingerprint() {
    let ca = generate_ca(CaRequest::new("cluster-a.local", meshfed::cert::now())).expect("a CA");
    for cli in Cli::both() {
        let dir = TfDir::new(cli);
        dir.write(
            "main.tf",
            format!("{REQUIRED}output \"fp\" {{ value = provider::meshfed::fingerprint(file(\"chain.pem\")) }}\n"),
        );
        dir.write("chain.pem", &ca.cert_chain_pem);
        let out = dir.run_code(1, &["plan", "-no-color", "-input=false"]);
        let text = out.combined();
        assert!(
            text.contains("expected exactly one certificate, found 2"),
            "{cli}: {text}"
        );
    }
}

/// Terraform 1.0 and OpenTofu 1.6 know no functions: they ignore the functions in the schema
/// and use the provider as before; naming a function is a syntax error of theirs, not a crash.
#[test]
fn the_oldest_clis_load_the_provider_and_simply_do_not_see_functions() {
    for cli in Cli::floors() {
        let dir = TfDir::new(cli);
        dir.write("main.tf", format!("{REQUIRED}provider \"meshfed\" {{}}\n"));
        let out = dir.run_ok(&["providers", "schema", "-json"]);
        let line = out.stdout.lines().find(|l| l.starts_with('{'));
        let v: serde_json::Value = serde_json::from_str(line.unwrap_or_default())
            .unwrap_or_else(|e| panic!("{cli}: schema JSON: {e}\n{out}"));
        let schemas = v["provider_schemas"].as_object().expect("provider_schemas");
        let meshfed = schemas
            .iter()
            .find(|(k, _)| k.ends_with("/meshfed/meshfed"))
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("{cli}: meshfed missing\n{out}"));
        assert!(
            meshfed["resource_schemas"]["meshfed_trust"].is_object(),
            "{cli}"
        );
        assert!(meshfed.get("functions").is_none(), "{cli}: {meshfed}");

        dir.write(
            "main.tf",
            format!("{REQUIRED}output \"id\" {{ value = provider::meshfed::spiffe_id(\"a\", \"b\", \"c\") }}\n"),
        );
        let out = dir.run_code(1, &["plan", "-no-color", "-input=false"]);
        assert!(!out.combined().contains("panic"), "{cli}: {out}");
    }
}

/// Terraform lists the functions in `providers schema -json` with their parameters and summary,
/// which editors show.
#[test]
fn providers_schema_json_lists_the_functions_with_their_signatures() {
    let dir = TfDir::new(Cli::Terraform);
    dir.write("main.tf", format!("{REQUIRED}provider \"meshfed\" {{}}\n"));
    let out = dir.run_ok(&["providers", "schema", "-json"]);
    let line = out.stdout.lines().find(|l| l.starts_with('{'));
    let v: serde_json::Value = serde_json::from_str(line.unwrap_or_default()).expect("JSON");
    let meshfed = v["provider_schemas"]
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with("/meshfed/meshfed")))
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| panic!("meshfed missing\n{out}"));
    let functions = meshfed["functions"].as_object().expect("functions");
    let mut names: Vec<&String> = functions.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "eastwest_sni",
            "fingerprint",
            "principal",
            "service_host",
            "spiffe_id"
        ]
    );
    let sni = &functions["eastwest_sni"];
    assert_eq!(sni["parameters"][0]["name"], "host", "{sni}");
    assert_eq!(sni["parameters"][1]["type"], "number", "{sni}");
    assert_eq!(sni["return_type"], "string", "{sni}");
    assert!(
        sni["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{sni}"
    );
}
