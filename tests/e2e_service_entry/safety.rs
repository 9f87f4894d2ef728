//! What `meshfed_service_entry` must never do: write over a ServiceEntry someone else made (plan
//! refuses it, naming the object and its field managers, and nothing is written), or let the
//! provider's bearer token reach logs (`TF_LOG=trace`), plan output, the saved plan or state.

use kube::api::{DynamicObject, PostParams};
use serde_json::{Value as Json, json};

use crate::support::tf::Cli;
use crate::{A, Cluster, NAME, example};

const APPLY: [&str; 3] = ["apply", "-auto-approve", "-no-color"];

#[test]
fn a_service_entry_made_by_hand_is_never_overwritten() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let theirs: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": NAME, "namespace": "abc"},
            "spec": {"hosts": ["theirs.example.com"], "location": "MESH_EXTERNAL",
                     "resolution": "DNS", "ports": [{"number": 443, "name": "https", "protocol": "TLS"}]}
        }))
        .expect("a ServiceEntry");
        let pp = PostParams {
            field_manager: Some("kubectl-client-side-apply".into()),
            ..PostParams::default()
        };
        c.rt.block_on(c.api("ServiceEntry").create(&pp, &theirs))
            .expect("create the ServiceEntry by hand");
        let dir = c.dir(cli);
        let out = dir.run_code(1, &["plan", "-no-color"]).combined();
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        for part in [
            format!("ServiceEntry abc/{NAME} in {A} is not managed by meshfed"),
            "its field managers are kubectl-client-side-apply (Update)".to_string(),
            "terraform import".to_string(),
        ] {
            assert!(flat.contains(&part), "{cli}: {part:?} in\n{out}");
        }
        let out = dir.run(&APPLY);
        assert_eq!(out.code, 1, "{cli}: apply refuses too\n{out}");
        let se = c.get("ServiceEntry").expect("theirs is still there");
        assert_eq!(
            se["spec"]["hosts"],
            json!(["theirs.example.com"]),
            "{cli}: untouched"
        );
        assert!(
            c.get("DestinationRule").is_none(),
            "{cli}: nothing else written either"
        );
    }
}

#[test]
fn the_bearer_token_never_reaches_logs_plan_or_state() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let direct = c.planes.direct(A);
        let (host, ca, token) = (direct.server, direct.ca_pem, direct.token);
        assert!(token.len() >= 16, "a real token: {}", token.len());
        let mut dir = c.dir(cli);
        dir.write("ca.pem", &ca);
        dir.write(
            "provider.tf",
            format!(
                "terraform {{\n  required_providers {{\n    meshfed = {{ source = \"meshfed/meshfed\" }}\n  }}\n}}\nvariable \"token\" {{\n  type      = string\n  sensitive = true\n}}\nprovider \"meshfed\" {{\n  cluster \"{A}\" {{\n    host                   = \"{host}\"\n    token                  = var.token\n    cluster_ca_certificate = file(\"ca.pem\")\n  }}\n}}\n"
            ),
        );
        dir.write("main.tf", example());
        dir.env("TF_VAR_token", &token);
        dir.env("TF_LOG", "trace");
        let plan = dir.run_ok(&["plan", "-no-color", "-out=tfplan"]);
        let shown = dir.run_ok(&["show", "-json", "tfplan"]);
        let mut saved: Json = serde_json::from_str(shown.stdout.trim_start_matches(|c| c != '{'))
            .unwrap_or_else(|e| panic!("{cli}: show -json: {e}\n{shown}"));
        // A saved plan records the run's input variables as given, sensitive ones included
        // (the CLI's own behaviour, whatever the provider): that is where the token was put.
        let given = saved["variables"]["token"]["value"].take();
        assert!(given == json!(token) || given.is_null(), "{cli}: {given}");
        let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
        assert!(
            c.get("ServiceEntry").is_some(),
            "{cli}: applied with the token"
        );
        let refresh = dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
        let destroy = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        let state = dir.read("terraform.tfstate");
        for (what, text) in [
            ("plan (TF_LOG=trace)", plan.combined()),
            ("saved plan (its variables aside)", saved.to_string()),
            ("apply (TF_LOG=trace)", apply.combined()),
            ("refresh (TF_LOG=trace)", refresh.combined()),
            ("destroy (TF_LOG=trace)", destroy.combined()),
            ("state", state),
        ] {
            assert!(
                !text.contains(&token),
                "{cli}: {what} holds the bearer token"
            );
        }
        assert!(
            apply.stderr.contains("provider.terraform-provider-meshfed"),
            "{cli}: the provider's trace logs were captured"
        );
    }
}
