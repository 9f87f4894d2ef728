//! Inputs of `meshfed_trust` refused at plan, each reported with its summary and detail on the
//! line of the refused attribute (marked in the configuration), also inside nested blocks. The
//! provider configuration names clusters nobody serves: refusals must not need a cluster. Needs
//! real Terraform and OpenTofu; no control plane.

use std::fmt::Write as _;

use meshfed::cert::{self, CaMaterial, CaRequest};

use crate::fixture::{ca_files, generated, provided_config, trust};
use crate::support::refusal::{MARK, Place, error_diagnostics, points_at};
use crate::support::tf::{Cli, TfDir};
use crate::{A, B, FOO};

/// A configuration refused at plan, and what the diagnostic must say and point at.
struct Refused {
    what: &'static str,
    main: String,
    files: Vec<(&'static str, String)>,
    summary: &'static str,
    detail: &'static str,
}

/// The leaf of a workload certificate issued by `ca`: a certificate that is no CA.
fn workload_leaf_pem(ca: &CaMaterial) -> String {
    let leaf = cert::issue_workload_cert(ca.issuing(), FOO, cert::now()).expect("a workload cert");
    leaf.cert_chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .expect("the leaf")
        .to_string()
}

/// Bad material for member A's provided CA, refused on the attribute that holds it.
fn provided_ca_cases() -> Vec<Refused> {
    let now = cert::now();
    let good = generated(A);
    let other = generated(A);
    let mut old = CaRequest::new(A, now - time::Duration::days(1000));
    old.root_validity = time::Duration::days(400);
    old.intermediate_validity = time::Duration::days(200);
    let expired = cert::generate_ca(old).expect("an expired CA");
    let files = |cert: &str, key: &str, root: &str| ca_files(cert, key, &good.cert_chain_pem, root);
    let (cert, key, root) = (
        good.intermediate_cert_pem.as_str(),
        good.intermediate_key_pem.as_str(),
        good.root_cert_pem.as_str(),
    );
    vec![
        Refused {
            what: "bad PEM in cert_pem",
            main: provided_config("cert_pem"),
            files: files(
                "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
                key,
                root,
            ),
            summary: "Invalid CA material",
            detail: "cert_pem",
        },
        Refused {
            what: "a workload certificate as the provided root",
            main: provided_config("root_cert_pem"),
            files: files(cert, key, &workload_leaf_pem(&good)),
            summary: "Invalid CA material",
            detail: "not a CA certificate",
        },
        Refused {
            what: "a key that does not match cert_pem",
            main: provided_config("key_pem"),
            files: files(cert, &other.intermediate_key_pem, root),
            summary: "Invalid CA material",
            detail: "does not belong",
        },
        Refused {
            what: "an expired certificate",
            main: provided_config("cert_pem"),
            files: ca_files(
                &expired.intermediate_cert_pem,
                &expired.intermediate_key_pem,
                &expired.cert_chain_pem,
                &expired.root_cert_pem,
            ),
            summary: "Invalid CA material",
            detail: "expired",
        },
    ]
}

/// A `peer` block for `td` reading root.pem; `td_mark` and `root_mark` end its two lines.
fn peer(td: &str, td_mark: &str, root_mark: &str) -> String {
    format!(
        "  peer {{\n    trust_domain  = \"{td}\"{td_mark}\n    root_cert_pem = file(\"root.pem\"){root_mark}\n  }}\n"
    )
}

/// A `member` block for `cluster`; `mark` ends its `cluster` line.
fn member(cluster: &str, mark: &str) -> String {
    format!("  member {{\n    cluster = \"{cluster}\"{mark}\n  }}\n")
}

/// Bad peers and members, refused on their block's attribute.
fn peer_and_member_cases() -> Vec<Refused> {
    let resource = |blocks: &[String]| {
        format!(
            "resource \"meshfed_trust\" \"fed\" {{\n{}}}\n",
            blocks.concat()
        )
    };
    vec![
        Refused {
            what: "a workload certificate as a peer's root",
            main: trust("fed", &[A, B], &peer("partner.example", "", MARK)),
            files: vec![("root.pem", workload_leaf_pem(&generated(A)))],
            summary: "Invalid peer root certificate",
            detail: "not a CA certificate",
        },
        Refused {
            what: "a member listed twice",
            main: resource(&[member(A, ""), member(B, ""), member(A, MARK)]),
            files: vec![],
            summary: "Member listed twice",
            detail: A,
        },
        Refused {
            what: "an invalid peer trust domain",
            main: trust("fed", &[A, B], &peer("Bad_Domain", MARK, "")),
            files: vec![("root.pem", generated("partner.example").root_cert_pem)],
            summary: "Invalid trust domain",
            detail: "Bad_Domain",
        },
        Refused {
            what: "an unknown cluster",
            main: resource(&[member(A, ""), member("cluster-x.local", MARK)]),
            files: vec![],
            summary: "Unknown cluster",
            detail: "cluster-x.local",
        },
    ]
}

/// Provider configuration for plans that must not reach any cluster: nothing listens there.
fn unreachable_provider() -> String {
    let mut s = String::from(
        "terraform {\n  required_providers {\n    meshfed = { source = \"meshfed/meshfed\" }\n  }\n}\n\nprovider \"meshfed\" {\n",
    );
    for n in [A, B] {
        let _ = write!(
            s,
            "  cluster \"{n}\" {{\n    host     = \"https://127.0.0.1:9\"\n    token    = \"unused\"\n    insecure = true\n  }}\n"
        );
    }
    s.push_str("}\n");
    s
}

/// Plans `case` with `cli` and checks that it is refused with an error diagnostic whose summary
/// and detail match, pointing at the marked line of main.tf (snippet included): both CLIs place
/// these paths, nested blocks included, on the attribute itself.
fn assert_refused(cli: Cli, case: &Refused) {
    let dir = TfDir::new(cli);
    dir.write("provider.tf", unreachable_provider());
    dir.write("main.tf", &case.main);
    for (name, text) in &case.files {
        dir.write(name, text);
    }
    let out = dir.run_code(1, &["plan", "-json"]);
    let diags = error_diagnostics(&out);
    let found = diags.iter().find(|d| {
        let summary = d["summary"].as_str().unwrap_or_default();
        let detail = d["detail"].as_str().unwrap_or_default();
        summary.starts_with(case.summary)
            && detail.contains(case.detail)
            && points_at(d, "main.tf", &case.main, Place::Marked)
    });
    let (line, text) = Place::Marked.line(&case.main);
    assert!(
        found.is_some(),
        "{cli}: {}: expected {:?} (detail with {:?}) on main.tf line {line} ({text:?}), got:\n{}\n{out}",
        case.what,
        case.summary,
        case.detail,
        serde_json::to_string_pretty(&diags).unwrap_or_default()
    );
    assert!(
        !out.combined().contains("PRIVATE KEY"),
        "{cli}: {}: a key in the output",
        case.what
    );
}

#[test]
fn refused_inputs_are_reported_at_plan_on_their_attribute() {
    let mut cases = provided_ca_cases();
    cases.extend(peer_and_member_cases());
    for cli in Cli::both() {
        for case in &cases {
            assert_refused(cli, case);
        }
    }
}

/// `partner_x.example` is a valid SPIFFE trust domain, but `partner_x.example-ca-root-cert` is no
/// valid ConfigMap name: the refusal must say so on the peer's `trust_domain`.
#[test]
fn a_peer_trust_domain_that_cannot_name_a_configmap_is_refused_on_its_attribute() {
    let root = generated("partner.example").root_cert_pem;
    let case = Refused {
        what: "a trust domain unfit for a ConfigMap name",
        main: trust("fed", &[A, B], &peer("partner_x.example", MARK, "")),
        files: vec![("root.pem", root)],
        summary: "Trust domain cannot name a ConfigMap",
        detail: "partner_x.example",
    };
    for cli in Cli::both() {
        assert_refused(cli, &case);
    }
}
