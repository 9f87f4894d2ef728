//! Inputs refused at plan with the floor CLIs: the error's summary and the source line it points
//! at, in `plan -json` and in the text a terminal shows; a refusal inside a list of objects, where
//! these CLIs can show only the resource block, must name its attribute path in the text; and a
//! provided CA key, which these CLIs (without write-only attributes) would store in state, is
//! refused. The provider configuration names clusters nobody serves: refusals must not need a
//! cluster. Needs the floor CLIs; no control plane.

use meshfed::cert::{self, CaRequest};

use crate::fixture::{A, B, unreachable_provider};
use crate::support::refusal::{
    MARK, Place, assert_points_at, assert_text_points_at, first_error, mark,
};
use crate::support::tf::{Cli, TfDir, TfOutput};

/// A configuration refused at plan.
struct Refused {
    summary: &'static str,
    /// main.tf, with the refused attribute's line marked.
    main: String,
    /// Other files of the working directory.
    files: Vec<(&'static str, String)>,
    /// The attribute path, when it goes into an attribute's list of objects or object value.
    into_value: Option<&'static str>,
}

/// bar's service entry written one attribute (and one port attribute) per line, with `cluster`
/// and the port's `number`.
fn entry(cluster: &str, number: u32) -> String {
    format!(
        r#"resource "meshfed_service_entry" "bar" {{
  cluster   = "{cluster}"
  namespace = "abc"
  host      = "bar.xyz.svc.cluster-b.local"
  ports = [
    {{
      name     = "http"
      number   = {number}
      protocol = "HTTP"
    }},
  ]
  endpoints         = [{{ address = "198.51.100.20", port = 15443 }}]
  subject_alt_names = ["spiffe://cluster-b.local/ns/xyz/sa/bar"]
}}
"#
    )
}

fn unknown_cluster() -> Refused {
    Refused {
        summary: "Unknown cluster",
        main: mark(&entry("cluster-x.local", 8080), "cluster   =", 0),
        files: vec![],
        into_value: None,
    }
}

fn bad_port() -> Refused {
    Refused {
        summary: "Invalid port number",
        main: mark(&entry(A, 70000), "number", 0),
        files: vec![],
        into_value: Some("ports[0].number"),
    }
}

fn member_twice() -> Refused {
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n  member {{\n    cluster = \"{A}\"{MARK}\n  }}\n}}\n"
    );
    Refused {
        summary: "Member listed twice",
        main,
        files: vec![],
        into_value: None,
    }
}

/// Member A with a provided CA (a valid one) whose `key_pem` line is marked.
fn provided_key() -> Refused {
    let ca = cert::generate_ca(CaRequest::new(A, cert::now())).expect("generate a CA");
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      source         = \"provided\"\n      cert_pem       = file(\"cert.pem\")\n      key_pem        = file(\"key.pem\"){MARK}\n      cert_chain_pem = file(\"chain.pem\")\n      root_cert_pem  = file(\"root.pem\")\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    );
    Refused {
        summary: "Write-only attribute not supported",
        main,
        files: vec![
            ("cert.pem", ca.intermediate_cert_pem),
            ("key.pem", ca.intermediate_key_pem),
            ("chain.pem", ca.cert_chain_pem),
            ("root.pem", ca.root_cert_pem),
        ],
        into_value: None,
    }
}

/// A working directory for `case` whose provider reaches no cluster.
fn dir(cli: Cli, case: &Refused) -> TfDir {
    let dir = TfDir::new(cli);
    dir.write("provider.tf", unreachable_provider());
    dir.write("main.tf", &case.main);
    for (name, text) in &case.files {
        dir.write(name, text);
    }
    dir
}

/// Plans `case`, which must be refused: `plan -json` has the error first, pointing where this CLI
/// points, and `plan -no-color` shows it at the same line. Returns the text output.
fn assert_refused(cli: Cli, case: &Refused) -> TfOutput {
    let dir = dir(cli, case);
    let place = Place::of(cli, case.into_value.is_some());
    let json = dir.run_code(1, &["plan", "-json"]);
    let d = first_error(cli, &json, case.summary);
    assert_points_at(cli, case.summary, &d, "main.tf", &case.main, place);
    let text = dir.run_code(1, &["plan", "-no-color"]);
    assert_text_points_at(cli, &text, case.summary, "main.tf", &case.main, place);
    text
}

#[test]
fn an_unknown_cluster_a_bad_port_and_a_member_listed_twice_are_refused_on_their_line() {
    for cli in Cli::floors() {
        for case in [unknown_cluster(), bad_port(), member_twice()] {
            assert_refused(cli, &case);
        }
    }
}

/// These CLIs point a path into `ports` (a list of objects) at the resource block, not at the
/// port: the path itself must then be in what they show, or the user cannot tell which port.
#[test]
fn a_refusal_shown_on_the_resource_block_names_its_attribute_path() {
    for cli in Cli::floors() {
        let case = bad_port();
        assert_eq!(
            Place::of(cli, true),
            Place::ResourceBlock,
            "{cli} shows the resource block"
        );
        let path = case.into_value.expect("a path into ports");
        let text = assert_refused(cli, &case);
        assert!(
            text.combined().contains(path),
            "{cli}: the output shows only the resource block's line; it must name {path}\n{text}"
        );
    }
}

/// SPEC: a provided key is write-only where the CLI supports write-only attributes (Terraform and
/// OpenTofu 1.11); where it does not, it is refused, because the CLI would store it in state.
#[test]
fn a_provided_ca_key_is_refused_because_these_clis_would_store_it_in_state() {
    for cli in Cli::floors() {
        let case = provided_key();
        let text = assert_refused(cli, &case);
        assert!(
            !text.combined().contains("PRIVATE KEY"),
            "{cli}: the key in the output\n{text}"
        );
    }
}
