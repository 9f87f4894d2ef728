//! Resource identity (Terraform ≥ 1.12, OpenTofu ≥ 1.12) with the newest Terraform and OpenTofu
//! against real kube-apiservers: after apply, each resource's identity is in state (`show -json`)
//! and names its objects; the registry example `import-by-identity.tf` (an `import` block with
//! `identity`) imports the objects into a fresh state, the plan after it is empty, and destroy
//! from there removes every object. An identity that names nothing fails the import with the
//! reason. (The floors import by ID: `e2e_floors`.) Reuses `e2e_floors`' fixture (control
//! planes, provider blocks, object readers). Needs real Terraform and OpenTofu and real control
//! planes.

#[path = "../e2e_floors/fixture.rs"]
#[allow(dead_code)]
mod fixture;
#[path = "../support/mod.rs"]
mod support;

use serde_json::{Value, json};

use fixture::{A, B, NS, Object, Planes, apply, assert_gone, assert_plan_empty, destroy};
use support::tf::{Cli, TfDir};

/// One resource: its registry example, the identity apply must record, and its objects.
struct Case {
    resource: &'static str,
    address: &'static str,
    identity: Value,
    objects: Vec<Object>,
}

/// `examples/resources/<resource>/<file>`.
fn example(resource: &str, file: &str) -> String {
    let path = format!(
        "{}/examples/resources/{resource}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The state entry (address, values, identity, ...) of `address`, from `show -json`.
fn entry(dir: &TfDir, address: &str) -> Value {
    let out = dir.run_ok(&["show", "-json"]);
    let state: Value = serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"));
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == address))
        .cloned()
        .unwrap_or_else(|| panic!("{address} not in state\n{out}"))
}

/// Apply, identity in state, import by identity into a fresh directory, empty plan, destroy.
fn run(cli: Cli, p: &Planes, case: &Case) {
    assert_gone(cli, p, &case.objects, "the previous CLI's destroy");
    let main = example(case.resource, "resource.tf");
    let applied = p.dir(cli, &main);
    apply(&applied);
    let recorded = entry(&applied, case.address);
    assert_eq!(
        recorded["identity"], case.identity,
        "{cli}: identity after apply\n{recorded}"
    );
    assert_eq!(recorded["identity_schema_version"], 0, "{cli}: {recorded}");
    assert_plan_empty(cli, &applied, "apply");

    let imported = p.dir(cli, &main);
    imported.write("import.tf", example(case.resource, "import-by-identity.tf"));
    let out = apply(&imported);
    assert!(
        out.stdout
            .contains("1 imported, 0 added, 0 changed, 0 destroyed"),
        "{cli}: apply of the import block\n{out}"
    );
    let after_import = entry(&imported, case.address);
    assert_eq!(
        after_import["identity"], case.identity,
        "{cli}: identity after import"
    );
    assert_eq!(
        after_import["values"]["manifests"], recorded["values"]["manifests"],
        "{cli}: import reads back the objects apply wrote"
    );
    assert_plan_empty(cli, &imported, "the import by identity");

    destroy(cli, &imported, 1);
    assert_gone(cli, p, &case.objects, "destroy");
}

const ENTRY: &str = "bar-xyz-svc-cluster-b-local";

#[test]
fn a_service_entry_is_identified_and_imported_by_cluster_namespace_and_name() {
    let p = Planes::start(&[A]);
    let case = Case {
        resource: "meshfed_service_entry",
        address: "meshfed_service_entry.bar",
        identity: json!({"cluster": A, "namespace": "abc", "name": ENTRY}),
        objects: vec![
            Object::new(A, "networking.istio.io", "ServiceEntry", "abc", ENTRY),
            Object::new(A, "networking.istio.io", "DestinationRule", "abc", ENTRY),
        ],
    };
    for cli in Cli::both() {
        run(cli, &p, &case);
    }
}

#[test]
fn an_export_is_identified_by_its_service_and_gateway_namespace() {
    let p = Planes::start(&[B]);
    let case = Case {
        resource: "meshfed_exported_service",
        address: "meshfed_exported_service.bar",
        identity: json!({"cluster": B, "namespace": "xyz", "service": "bar", "gateway_namespace": NS}),
        objects: vec![
            Object::new(
                B,
                "networking.istio.io",
                "Gateway",
                NS,
                "meshfed-export-xyz-bar",
            ),
            Object::new(
                B,
                "security.istio.io",
                "AuthorizationPolicy",
                "xyz",
                "meshfed-export-bar",
            ),
        ],
    };
    for cli in Cli::both() {
        run(cli, &p, &case);
    }
}

#[test]
fn a_trust_is_identified_and_imported_by_its_members() {
    let p = Planes::start(&[A, B]);
    let case = Case {
        resource: "meshfed_trust",
        address: "meshfed_trust.fed",
        identity: json!({"members": [A, B]}),
        objects: [A, B]
            .into_iter()
            .flat_map(|c| {
                [
                    Object::new(c, "", "Secret", NS, "cacerts"),
                    Object::new(c, "", "ConfigMap", NS, "meshfed-mesh-config"),
                ]
            })
            .collect(),
    };
    for cli in Cli::both() {
        run(cli, &p, &case);
    }
}

#[test]
fn an_identity_naming_no_objects_fails_the_import_with_the_reason() {
    let p = Planes::start(&[A]);
    for cli in Cli::both() {
        let main = example("meshfed_service_entry", "resource.tf");
        let dir = p.dir(cli, &main);
        let missing = r#"
import {
  to       = meshfed_service_entry.bar
  identity = { cluster = "cluster-a.local", namespace = "abc", name = "nothing-here" }
}
"#;
        dir.write("import.tf", missing);
        let out = dir.run_code(1, &["plan", "-no-color"]);
        let text = out.combined();
        assert!(
            text.contains("nothing-here") && text.contains(A),
            "{cli}: the error names what is missing\n{out}"
        );

        let slashed = missing.replace("nothing-here", "a/b");
        dir.write("import.tf", slashed);
        let out = dir.run_code(1, &["plan", "-no-color"]);
        assert!(
            out.combined().contains("Invalid import identity"),
            "{cli}: a name with a '/' is refused\n{out}"
        );
    }
}

/// meshfed moves objects in place when their namespace or name changes: the identity follows in
/// that plan and apply (the CLIs accept an identity that changes with an update), and the next
/// refresh keeps it. (`xyz` exists in every plane, with meshfed's RoleBindings: examples/rbac.)
#[test]
fn the_identity_follows_objects_moved_in_place() {
    let p = Planes::start(&[A]);
    for cli in Cli::both() {
        let main = example("meshfed_service_entry", "resource.tf");
        let dir = p.dir(cli, &main);
        apply(&dir);
        dir.write(
            "main.tf",
            main.replace("namespace = \"abc\"", "namespace = \"xyz\""),
        );
        let out = apply(&dir);
        assert!(
            out.stdout.contains("0 added, 1 changed, 0 destroyed"),
            "{cli}\n{out}"
        );
        let moved = entry(&dir, "meshfed_service_entry.bar");
        let expected = json!({"cluster": A, "namespace": "xyz", "name": ENTRY});
        assert_eq!(moved["identity"], expected, "{cli}: {moved}");
        assert_plan_empty(cli, &dir, "the move");
        assert_gone(
            cli,
            &p,
            &[Object::new(
                A,
                "networking.istio.io",
                "ServiceEntry",
                "abc",
                ENTRY,
            )],
            "the move",
        );
        destroy(cli, &dir, 1);
    }
}
