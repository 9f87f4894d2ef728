//! `meshfed_federation_status` against the istiod testbed: two control planes, each with a real
//! istiod, the example federation applied by real Terraform or OpenTofu, and the data source's
//! example `check` block planned in a working directory of its own. A healthy federation plans
//! without a warning; each problem, injected one at a time and healed before the next, makes the
//! plan warn (never fail) with the cluster, the problem and its fix: istiod not restarted after
//! `cacerts` was written, istiod without meshfed's settings, a party's root removed from a
//! member's mesh config, a gateway address changed under an import, the gateway Service deleted,
//! a CA within the expiry window. No key material appears in state, plan output or trace logs.
//!
//! Needs real Terraform and OpenTofu, control planes and istiod (`scripts/setup`).
#[path = "../support/mod.rs"]
mod support;

mod fixture;

use fixture::{
    A, B, GATEWAY_B, Mesh, TOP_LEVEL, check_with, example_check, failed_checks, shown_status,
};
use support::tf::{Cli, TfDir};

const FEDERATION: &str = include_str!("../../examples/federation/main.tf");
const BAR_HOST: &str = "bar.xyz.svc.cluster-b.local";

/// The problems a plan's check warning lists, one per line (`<cluster>: <problem> Fix: <fix>`).
fn problems(dir: &TfDir) -> Vec<String> {
    let (_, details) = failed_checks(dir);
    details
        .iter()
        .flat_map(|d| d.lines())
        .map(str::trim)
        .filter(|l| l.starts_with(&format!("{A}: ")) || l.starts_with(&format!("{B}: ")))
        .map(str::to_string)
        .collect()
}

/// Exactly one problem, in `cluster`, saying `what`, with a fix containing `fix`.
fn assert_one(cli: Cli, found: &[String], cluster: &str, what: &str, fix: &str) {
    assert_eq!(found.len(), 1, "{cli}: one problem expected: {found:#?}");
    let p = &found[0];
    assert!(
        p.starts_with(&format!("{cluster}: ")),
        "{cli}: in {cluster}: {p}"
    );
    let (problem, fixed) = p.split_once(" Fix: ").expect("a fix");
    assert!(problem.contains(what), "{cli}: {what:?} in {p}");
    assert!(fixed.contains(fix), "{cli}: fix {fix:?} in {p}");
}

fn assert_healthy(cli: Cli, dir: &TfDir) {
    let (out, details) = failed_checks(dir);
    assert!(
        details.is_empty(),
        "{cli}: a healthy federation plans without a check warning: {details:#?}"
    );
    assert!(
        out.stdout.contains("meshfed_federation_status"),
        "{cli}: the check was planned\n{out}"
    );
    let text = dir.run(&["plan", "-no-color"]);
    assert_eq!(text.code, 0, "{cli}\n{text}");
    assert!(
        !text.combined().contains("Check block assertion failed"),
        "{cli}\n{text}"
    );
}

#[test]
fn status_warns_with_each_problem_and_its_fix_with_terraform() {
    let cli = Cli::Terraform;
    let m = Mesh::start(cli, FEDERATION);
    let check = m.status(&example_check(), &[]);
    istiods_not_restarted(cli, &check);
    m.restart_istiod(A);
    m.restart_istiod(B);
    assert_healthy(cli, &check);
    typed_and_secret_free(cli, &m);
    trust_problems(cli, &m, &check);
    service_problems(cli, &m, &check);
    expiry_window(cli, &m);
    refused_lists(cli, &m, &check);
    assert_healthy(cli, &check);
}

/// RBAC refusing the lists in one cluster: a problem per refused read, with the permissions to
/// grant; the plan goes on.
fn refused_lists(cli: Cli, m: &Mesh, check: &TfDir) {
    m.unbind_status_lists(A);
    let found = problems(check);
    assert_eq!(
        found.len(),
        2,
        "{cli}: ServiceEntries and Gateways: {found:#?}"
    );
    for (p, what) in found.iter().zip(["ServiceEntries", "Gateways"]) {
        assert_one(
            cli,
            std::slice::from_ref(p),
            A,
            &format!("{what} (every namespace) cannot be read"),
            "examples/rbac/status.yaml",
        );
        assert!(p.contains("forbidden"), "{cli}: the cause: {p}");
    }
    m.bind_status_lists(A);
}

/// `cacerts` written, istiod not restarted: it still signs with its self-signed CA.
fn istiods_not_restarted(cli: Cli, check: &TfDir) {
    let found = problems(check);
    assert_eq!(found.len(), 2, "{cli}: both istiods to restart: {found:#?}");
    for (p, cluster) in found.iter().zip([A, B]) {
        assert_one(
            cli,
            std::slice::from_ref(p),
            cluster,
            "istiod does not sign with the plug-in CA",
            "kubectl -n istio-system rollout restart deployment/istiod",
        );
    }
    // What a terminal shows: the check's warning, and a plan that goes on.
    let text = check.run(&["plan", "-no-color"]);
    assert_eq!(text.code, 0, "{cli}\n{text}");
    for part in [
        "Warning: Check block assertion failed",
        A,
        "rollout restart deployment/istiod",
    ] {
        assert!(text.stdout.contains(part), "{cli}: {part:?} in\n{text}");
    }
}

/// istiod without meshfed's settings; a party's root removed from a member's bundle by hand.
fn trust_problems(cli: Cli, m: &Mesh, check: &TfDir) {
    m.set_istiod_env(A, false);
    let found = problems(check);
    assert_one(
        cli,
        &found,
        A,
        "istiod lacks ISTIO_MULTIROOT_MESH=true and SHARED_MESH_CONFIG=meshfed-mesh-config",
        "--set values.pilot.env.ISTIO_MULTIROOT_MESH=true --set values.pilot.env.SHARED_MESH_CONFIG=meshfed-mesh-config",
    );
    m.set_istiod_env(A, true);

    let before = m.set_mesh_config(A, "caCertificates: []\n");
    let found = problems(check);
    assert_one(
        cli,
        &found,
        A,
        &format!("The root of {B}"),
        "Apply the meshfed_trust",
    );
    m.set_mesh_config(A, &before);
}

/// The exporting gateway's address changed under an import; the gateway Service deleted.
fn service_problems(cli: Cli, m: &Mesh, check: &TfDir) {
    m.set_gateway_b_address("198.51.100.21");
    let found = problems(check);
    let stale = format!(
        "The endpoints of {BAR_HOST} ({GATEWAY_B}) are not the current addresses of its exporting gateway in {B} (198.51.100.21)"
    );
    assert_one(cli, &found, A, &stale, "Run terraform apply");
    m.set_gateway_b_address(GATEWAY_B);

    m.delete_gateway_b();
    let found = problems(check);
    let gone = "The gateway Service of the export of xyz/bar does not exist";
    assert_one(cli, &found, B, gone, "Reinstall the east-west gateway");
    m.recreate_gateway_b();
}

fn expiry_window(cli: Cli, m: &Mesh) {
    // A window wider than the CAs' validity (roots 3650 days, intermediates 1825): every one is due.
    let wide = m.status(&check_with("expiry_warning_days = 4000"), &[]);
    let found = problems(&wide);
    assert_eq!(
        found.len(),
        4,
        "{cli}: two roots, two intermediates: {found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|p| p.contains("expires on") && p.contains("Fix: Rotate the CA of")),
        "{cli}: {found:#?}"
    );
}

/// The typed attributes of a healthy federation, read from state, and no key anywhere: state,
/// `show -json`, apply output, trace logs.
fn typed_and_secret_free(cli: Cli, m: &Mesh) {
    let mut dir = m.status(&example_check(), &[("status.tf", TOP_LEVEL)]);
    dir.env("TF_LOG", "trace");
    let applied = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let s = shown_status(&dir);
    assert_typed(cli, &s);
    let show = dir.run_ok(&["show", "-json", "-no-color"]);
    let texts = [
        applied.combined(),
        show.combined(),
        dir.read("terraform.tfstate"),
    ];
    for cluster in [A, B] {
        let key = m
            .istio_data(cluster, "Secret", "cacerts", "ca-key.pem")
            .expect("a CA key in cacerts");
        let body: Vec<&str> = key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .collect();
        for text in &texts {
            assert!(
                !text.contains("PRIVATE KEY"),
                "{cli}: key material in the output"
            );
            assert!(
                !body.iter().any(|l| text.contains(l)),
                "{cli}: {cluster}'s CA key in the output"
            );
        }
    }
}

/// What a healthy federation's status says, attribute by attribute.
fn assert_typed(cli: Cli, s: &serde_json::Value) {
    assert_eq!(s["healthy"], true, "{cli}: {s}");
    assert_eq!(s["problems"], serde_json::json!([]), "{cli}");
    let a = &s["members"][A];
    for flag in [
        "reachable",
        "istiod_found",
        "multiroot",
        "plugin_ca",
        "plugin_ca_in_use",
    ] {
        assert_eq!(a[flag], true, "{cli}: {flag} of {A}: {a}");
    }
    assert_eq!(a["roots"].as_array().map(Vec::len), Some(1), "{cli}: {a}");
    assert!(
        a["intermediate"]["not_after"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{cli}: {a}"
    );
    assert_eq!(
        a["trusted_roots"][0]["trust_domains"],
        serde_json::json!([B]),
        "{cli}: {a}"
    );
    assert_eq!(
        a["trusted_roots"][0]["fingerprint"], s["members"][B]["roots"][0]["fingerprint"],
        "{cli}"
    );
    assert_eq!(a["missing_roots"], serde_json::json!([]), "{cli}");
    let import = &a["imports"][0];
    assert_eq!(import["host"], BAR_HOST, "{cli}: {a}");
    assert_eq!(import["exporter"], B, "{cli}");
    assert_eq!(import["current"], true, "{cli}");
    assert_eq!(
        import["gateway_addresses"],
        serde_json::json!([GATEWAY_B]),
        "{cli}"
    );
    let export = &s["members"][B]["exports"][0];
    assert_eq!(export["service"], "xyz/bar", "{cli}: {export}");
    assert_eq!(
        export["gateway_service"], "istio-system/istio-eastwestgateway",
        "{cli}"
    );
    assert_eq!(export["addresses"], serde_json::json!([GATEWAY_B]), "{cli}");
}

#[test]
fn status_is_healthy_then_warns_of_a_near_expiry_ca_with_opentofu() {
    let cli = Cli::Tofu;
    let short_lived = FEDERATION.replacen(
        "member { cluster = \"cluster-b.local\" }",
        "member {\n    cluster = \"cluster-b.local\"\n    ca { intermediate_validity_days = 30 }\n  }",
        1,
    );
    assert_ne!(
        short_lived, FEDERATION,
        "the example has member cluster-b.local"
    );
    let m = Mesh::start(cli, &short_lived);
    m.restart_istiod(A);
    m.restart_istiod(B);

    let narrow = m.status(&check_with("expiry_warning_days = 20"), &[]);
    assert_healthy(cli, &narrow);

    let check = m.status(&example_check(), &[]);
    let found = problems(&check);
    assert_one(
        cli,
        &found,
        B,
        "The intermediate CA istiod signs with in cluster-b.local",
        "Rotate the CA of cluster-b.local",
    );
    assert!(
        found[0].contains("(in 29 days)") || found[0].contains("(in 30 days)"),
        "{cli}: {found:#?}"
    );

    // A cluster that cannot be reached is a problem too, and the plan goes on.
    m.planes.kill(B);
    let found = problems(&narrow);
    assert_one(
        cli,
        &found,
        B,
        "cluster-b.local cannot be read",
        "is up and reachable",
    );
}
