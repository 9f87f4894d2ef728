//! CA material and where keys never go: no private key in plan output, state, private data or
//! trace logs; a provided CA written to the `cacerts` Secret with its key write-only; and a short
//! root validity capping the intermediate's. Needs real Terraform and OpenTofu and real control
//! planes.

use base64::Engine;
use meshfed::cert;
use serde_json::Value as Json;

use crate::fixture::{Planes, ca_files, example, generated, provided_config};
use crate::support::tf::Cli;
use crate::{A, APPLY, B, BAR, FOO, PLAN, assert_plan_empty, pem_text, show_json, values};

/// Every form in which a member's key could leak: the PEM, its base64 (as the Secret's data
/// holds it), and each line of the PEM's body.
fn key_needles(p: &Planes, cluster: &str) -> Vec<String> {
    let pem = p.secret(cluster).expect("Secret")["ca-key.pem"].clone();
    let mut needles = vec![
        "PRIVATE KEY".to_string(),
        p.secret_base64(cluster)["ca-key.pem"].clone(),
    ];
    needles.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    needles
}

fn assert_no_key(cli: Cli, what: &str, text: &str, needles: &[String]) {
    for n in needles {
        assert!(
            !text.contains(n.as_str()),
            "{cli}: {what} holds key material ({} chars: {:.24}…)",
            n.len(),
            n
        );
    }
}

#[test]
fn no_private_key_reaches_plan_output_state_or_trace_logs() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let mut dir = p.dir(cli, &example());
        dir.env("TF_LOG", "trace");
        let plan = dir.run_ok(&["plan", "-no-color", "-out=tfplan"]);
        let planned = show_json(&dir, &["tfplan"]).to_string();
        let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
        assert!(
            apply.stderr.contains("generating a CA"),
            "{cli}: the provider's logs are captured\n{}",
            apply.stderr.len()
        );
        let refresh = dir.run_code(0, &PLAN);
        let shown = show_json(&dir, &[]).to_string();
        let state = dir.read("terraform.tfstate");
        let state_json: Json = serde_json::from_str(&state).expect("state is JSON");
        let private: String = state_json["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["private"].as_str().map(str::to_string))
            .map(|b| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("private data is base64");
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect();
        assert!(
            private.contains("BEGIN CERTIFICATE"),
            "{cli}: private data keeps the certificates: {private}"
        );
        for cluster in [A, B] {
            let needles = key_needles(&p, cluster);
            for (what, text) in [
                ("plan stdout", plan.stdout.as_str()),
                ("plan stderr (TF_LOG=trace)", plan.stderr.as_str()),
                ("show -json tfplan", planned.as_str()),
                ("apply stdout", apply.stdout.as_str()),
                ("apply stderr (TF_LOG=trace)", apply.stderr.as_str()),
                ("refreshing plan stdout", refresh.stdout.as_str()),
                (
                    "refreshing plan stderr (TF_LOG=trace)",
                    refresh.stderr.as_str(),
                ),
                ("show -json", shown.as_str()),
                ("terraform.tfstate", state.as_str()),
                ("private data", private.as_str()),
            ] {
                assert_no_key(cli, &format!("{cluster}: {what}"), text, &needles);
            }
        }
    }
}

#[test]
fn a_provided_ca_is_written_to_the_secret_and_its_key_never_to_state() {
    let ca = generated(A);
    let main = provided_config("");
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let mut dir = p.dir(cli, &main);
        for (name, text) in ca_files(
            &ca.intermediate_cert_pem,
            &ca.intermediate_key_pem,
            &ca.cert_chain_pem,
            &ca.root_cert_pem,
        ) {
            dir.write(name, text);
        }
        dir.env("TF_LOG", "trace");
        let out = dir.run_ok(&APPLY);
        assert!(!out.combined().contains("PRIVATE KEY"), "{cli}: {out}");
        let s = p.secret(A).expect("A's cacerts Secret");
        assert_eq!(
            s["ca-cert.pem"],
            pem_text(&ca.intermediate_cert_pem),
            "{cli}"
        );
        assert_eq!(s["ca-key.pem"], pem_text(&ca.intermediate_key_pem), "{cli}");
        assert_eq!(s["cert-chain.pem"], pem_text(&ca.cert_chain_pem), "{cli}");
        assert_eq!(s["root-cert.pem"], pem_text(&ca.root_cert_pem), "{cli}");
        assert_eq!(
            p.recorded_root(B, A),
            Some(pem_text(&ca.root_cert_pem)),
            "{cli}: B trusts the provided root"
        );
        let v = values(&dir, "meshfed_trust.fed");
        let key = &v["member"][0]["ca"][0]["key_pem"];
        assert!(key.is_null(), "{cli}: key_pem is write-only: {key}");
        assert_eq!(v["member"][0]["ca"][0]["source"], "provided", "{cli}: {v}");
        let needles: Vec<String> = std::iter::once("PRIVATE KEY".to_string())
            .chain(
                ca.intermediate_key_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .map(str::to_string),
            )
            .collect();
        assert_no_key(
            cli,
            "terraform.tfstate",
            &dir.read("terraform.tfstate"),
            &needles,
        );
        // The key went through the CLI to the provider: neither logs it at trace level.
        assert_no_key(
            cli,
            "apply output (TF_LOG=trace)",
            &out.combined(),
            &needles,
        );
        assert!(
            out.stderr.contains("[TRACE]"),
            "{cli}: trace logging was on\n{}",
            &out.stderr[..out.stderr.len().min(2000)]
        );
        let (foo, bar) = (p.workload(A, FOO), p.workload(B, BAR));
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &bar, &p.trusted_roots(B))
            .unwrap_or_else(|e| panic!("{cli}: foo (provided CA) calls bar: {e}"));
        assert_plan_empty(&dir);
    }
}

/// Not-after of the first certificate in `pem`.
fn not_after(pem: &str) -> time::OffsetDateTime {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    let cert = block.parse_x509().expect("an X.509 certificate");
    cert.validity().not_after.to_datetime()
}

/// The attribute says: intermediate validity "Default 1825; never beyond the root".
#[test]
fn a_root_validity_shorter_than_the_default_intermediate_validity_caps_the_intermediate() {
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      root_validity_days = 365\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    );
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        let dir = p.dir(cli, &main);
        let out = dir.run(&APPLY);
        assert_eq!(
            out.code, 0,
            "{cli}: a one-year root is a valid choice\n{out}"
        );
        let s = p.secret(A).expect("A's cacerts Secret");
        let (root, intermediate) = (not_after(&s["root-cert.pem"]), not_after(&s["ca-cert.pem"]));
        let year = cert::now() + time::Duration::days(365);
        assert!(
            (root - year).abs() < time::Duration::hours(1),
            "{cli}: root ends {root}"
        );
        assert!(intermediate <= root, "{cli}: {intermediate} after {root}");
        assert_plan_empty(&dir);
    }
}
