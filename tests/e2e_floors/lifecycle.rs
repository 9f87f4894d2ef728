//! The lifecycle of each resource with the floor CLIs: apply writes the objects, a second plan is
//! empty, the `import` command fills a fresh state directory whose plan is empty too, and destroy
//! from that directory removes every object; also an export feeding a service entry, changed in
//! one apply. Each test starts its control planes once and runs both floor CLIs on them in turn
//! (each leaves the clusters empty). Needs the floor CLIs and real control planes.

use base64::Engine;
use serde_json::{Value, json};

use crate::fixture::{
    A, B, NS, Object, Planes, apply, assert_gone, assert_plan_empty, assert_written_by_meshfed,
    destroy, import, values,
};
use crate::support::tf::{Cli, TfDir};

/// One resource's lifecycle: its configuration, its import ID and the objects it writes.
struct Lifecycle {
    address: &'static str,
    id: String,
    main: String,
    objects: Vec<Object>,
    /// State attributes import must give back as apply wrote them.
    same_after_import: &'static [&'static str],
}

/// The working directories a lifecycle used: the one that applied, the one that imported (and
/// destroyed).
struct Dirs {
    applied: TfDir,
    imported: TfDir,
}

/// Runs `case` with `cli`; `check` looks at the clusters after the apply.
fn run(cli: Cli, p: &Planes, case: &Lifecycle, check: impl Fn(&Planes)) -> Dirs {
    assert_gone(cli, p, &case.objects, "the previous CLI's destroy");
    let applied = p.dir(cli, &case.main);
    let out = apply(&applied);
    assert!(
        out.stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
        "{cli}: apply\n{out}"
    );
    assert_written_by_meshfed(cli, p, &case.objects);
    check(p);
    let state = values(&applied, case.address);
    for o in &case.objects {
        assert!(
            state["manifests"][o.manifest_key()].is_string(),
            "{cli}: manifests hold {o}: {state}"
        );
    }
    assert_plan_empty(cli, &applied, "apply");

    let imported = p.dir(cli, &case.main);
    import(cli, &imported, case.address, &case.id);
    assert_plan_empty(cli, &imported, "import");
    let state_imported = values(&imported, case.address);
    for attr in case.same_after_import {
        assert_eq!(
            state_imported[*attr], state[*attr],
            "{cli}: {attr} after import"
        );
    }

    destroy(cli, &imported, 1);
    assert_gone(cli, p, &case.objects, "destroy");
    Dirs { applied, imported }
}

/// The registry example of `resource`.
pub fn example(resource: &str) -> String {
    let path = format!(
        "{}/examples/resources/{resource}/resource.tf",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

const ENTRY: &str = "bar-xyz-svc-cluster-b-local";

#[test]
fn service_entry_applies_plans_empty_imports_and_destroys() {
    let p = Planes::start(&[A]);
    let case = Lifecycle {
        address: "meshfed_service_entry.bar",
        id: format!("{A}/abc/{ENTRY}"),
        main: example("meshfed_service_entry"),
        objects: vec![
            Object::new(A, "networking.istio.io", "ServiceEntry", "abc", ENTRY),
            Object::new(A, "networking.istio.io", "DestinationRule", "abc", ENTRY),
        ],
        same_after_import: &["id", "manifests", "host", "ports", "endpoints"],
    };
    for cli in Cli::floors() {
        run(cli, &p, &case, |p| {
            let se = p.get(&case.objects[0]).expect("ServiceEntry");
            assert_eq!(se["spec"]["hosts"], json!(["bar.xyz.svc.cluster-b.local"]));
            assert_eq!(se["spec"]["location"], "MESH_INTERNAL", "{cli}");
            assert_eq!(se["spec"]["resolution"], "STATIC", "{cli}");
            assert_eq!(
                se["spec"]["endpoints"],
                json!([{"address": "198.51.100.20", "ports": {"http": 15443}, "labels": {"security.istio.io/tlsMode": "istio"}}]),
                "{cli}"
            );
            let dr = p.get(&case.objects[1]).expect("DestinationRule");
            assert_eq!(
                dr["spec"]["trafficPolicy"]["tls"]["mode"], "ISTIO_MUTUAL",
                "{cli}"
            );
        });
    }
}

/// Every optional input of an export that writes an object of its own, with `ports` (a list of
/// objects) and `gateway` (an object): the nested attribute values the floors must carry.
const EXPORT: &str = r#"
resource "meshfed_exported_service" "bar" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports = [
    { name = "http", number = 8080, protocol = "HTTP" },
    { name = "grpc", number = 9090, protocol = "GRPC" },
  ]
  gateway            = { addresses = ["198.51.100.20"], port = 15443 }
  alias              = "bar.global"
  allowed_principals = ["cluster-a.local/ns/abc/sa/foo"]
}
"#;

#[test]
fn exported_service_applies_plans_empty_imports_and_destroys() {
    let p = Planes::start(&[B]);
    let gateway = Object::new(
        B,
        "networking.istio.io",
        "Gateway",
        NS,
        "meshfed-export-xyz-bar",
    );
    let case = Lifecycle {
        address: "meshfed_exported_service.bar",
        id: format!("{B}/xyz/bar"),
        main: EXPORT.to_string(),
        objects: vec![
            gateway.clone(),
            Object::new(
                B,
                "security.istio.io",
                "AuthorizationPolicy",
                "xyz",
                "meshfed-export-bar",
            ),
            Object::new(
                B,
                "networking.istio.io",
                "ServiceEntry",
                "xyz",
                "meshfed-export-bar",
            ),
        ],
        same_after_import: &["id", "manifests", "export", "gateway_endpoints"],
    };
    for cli in Cli::floors() {
        run(cli, &p, &case, |p| {
            let gw = p.get(&gateway).expect("Gateway");
            let servers = gw["spec"]["servers"].as_array().expect("servers");
            assert_eq!(servers.len(), 1, "{cli}: one server\n{gw}");
            let server = &servers[0];
            assert_eq!(server["port"]["number"], 15443, "{cli}");
            assert_eq!(server["port"]["protocol"], "TLS", "{cli}");
            assert_eq!(server["tls"], json!({"mode": "AUTO_PASSTHROUGH"}), "{cli}");
            assert_eq!(
                server["hosts"],
                json!(["bar.xyz.svc.cluster-b.local", "bar.global"]),
                "{cli}: bar's host and its alias"
            );
        });
    }
}

/// The `cacerts` Secret's data in `cluster`, decoded.
fn cacerts(p: &Planes, cluster: &'static str) -> Value {
    let secret = Object::new(cluster, "", "Secret", NS, "cacerts");
    let s = p
        .get(&secret)
        .unwrap_or_else(|| panic!("no cacerts in {cluster}"));
    let engine = base64::engine::general_purpose::STANDARD;
    let data = s["data"].as_object().expect("the Secret has data");
    data.iter()
        .map(|(k, v)| {
            let bytes = engine
                .decode(v.as_str().expect("base64 text"))
                .expect("base64");
            let text = String::from_utf8(bytes).expect("PEM text");
            (k.clone(), Value::String(text))
        })
        .collect()
}

/// The objects a two-member trust writes in `me`, which trusts `other`.
fn trust_objects(me: &'static str, other: &str) -> Vec<Object> {
    vec![
        Object::new(me, "", "Secret", NS, "cacerts"),
        Object::new(me, "", "ConfigMap", NS, "meshfed-mesh-config"),
        Object::new(me, "", "ConfigMap", NS, &format!("{other}-ca-root-cert")),
    ]
}

#[test]
fn trust_with_two_generated_members_applies_plans_empty_imports_and_destroys() {
    let p = Planes::start(&[A, B]);
    let mut objects = trust_objects(A, B);
    objects.extend(trust_objects(B, A));
    let case = Lifecycle {
        address: "meshfed_trust.fed",
        id: format!("{A},{B}"),
        main: example("meshfed_trust"),
        objects,
        same_after_import: &["id", "manifests", "root_certificates", "fingerprints"],
    };
    for cli in Cli::floors() {
        let dirs = run(cli, &p, &case, |p| {
            for (me, other) in [(A, B), (B, A)] {
                let own = cacerts(p, me);
                for key in [
                    "ca-cert.pem",
                    "ca-key.pem",
                    "cert-chain.pem",
                    "root-cert.pem",
                ] {
                    assert!(own[key].is_string(), "{cli}: {me}'s cacerts has {key}");
                }
                let record = Object::new(me, "", "ConfigMap", NS, &format!("{other}-ca-root-cert"));
                let recorded = p.get(&record).expect("the root record");
                assert_eq!(
                    recorded["data"]["root-cert.pem"],
                    cacerts(p, other)["root-cert.pem"],
                    "{cli}: {me} records {other}'s root"
                );
            }
        });
        // Keys never enter state, with these CLIs either.
        for (what, dir) in [("applied", &dirs.applied), ("imported", &dirs.imported)] {
            assert!(
                !dir.read("terraform.tfstate").contains("PRIVATE KEY"),
                "{cli}: a private key in the {what} state"
            );
        }
    }
}

/// With these CLIs a `key_pem` is refused (they would store it in state); the way they can give a
/// provided CA's key is `key_secret`: the key stays in the operator's Secret, meshfed writes it to
/// `cacerts` at apply, and it reaches neither state nor any output; the second plan is empty.
#[test]
fn a_provided_ca_whose_key_stays_in_the_operators_secret_applies_and_the_key_is_never_stored() {
    let ca = meshfed::cert::generate_ca(meshfed::cert::CaRequest::new(A, meshfed::cert::now()))
        .expect("generate a CA");
    let main = format!(
        "resource \"meshfed_trust\" \"fed\" {{\n  member {{\n    cluster = \"{A}\"\n    ca {{\n      source         = \"provided\"\n      cert_pem       = file(\"cert.pem\")\n      cert_chain_pem = file(\"chain.pem\")\n      root_cert_pem  = file(\"root.pem\")\n      key_secret {{\n        name = \"operator-ca-key\"\n      }}\n    }}\n  }}\n  member {{\n    cluster = \"{B}\"\n  }}\n}}\n"
    );
    let body: Vec<&str> = ca
        .intermediate_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for cli in Cli::floors() {
        let p = Planes::start(&[A, B]);
        p.create_secret(
            A,
            NS,
            "operator-ca-key",
            &[("tls.key", &ca.intermediate_key_pem)],
        );
        let mut dir = p.dir(cli, &main);
        dir.write("cert.pem", &ca.intermediate_cert_pem);
        dir.write("chain.pem", &ca.cert_chain_pem);
        dir.write("root.pem", &ca.root_cert_pem);
        dir.env("TF_LOG", "trace");
        let out = apply(&dir);
        let own = cacerts(&p, A);
        assert_eq!(
            own["ca-key.pem"].as_str().map(str::trim_end),
            Some(ca.intermediate_key_pem.trim_end()),
            "{cli}: the operator's key is in cacerts"
        );
        assert_plan_empty(cli, &dir, "applying with key_secret");
        for (what, text) in [
            ("the apply's output (TF_LOG=trace)", out.combined()),
            ("the state", dir.read("terraform.tfstate")),
        ] {
            assert!(
                !text.contains("PRIVATE KEY") && !body.iter().any(|l| text.contains(l)),
                "{cli}: the key in {what}"
            );
        }
        destroy(cli, &dir, 1);
    }
}

/// bar exported from cluster-b, its export fed whole into cluster-a's service entry.
fn federation(port: u32) -> String {
    format!(
        r#"
resource "meshfed_exported_service" "bar" {{
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports     = [{{ name = "http", number = {port}, protocol = "HTTP" }}]
  gateway   = {{ addresses = ["198.51.100.20"] }}
}}

resource "meshfed_service_entry" "bar" {{
  cluster   = "cluster-a.local"
  namespace = "abc"
  export    = meshfed_exported_service.bar.export
}}
"#
    )
}

#[test]
fn an_export_feeds_a_service_entry_and_a_port_change_flows_in_one_apply() {
    let p = Planes::start(&[A, B]);
    let entry = Object::new(A, "networking.istio.io", "ServiceEntry", "abc", ENTRY);
    let objects = [
        entry.clone(),
        Object::new(A, "networking.istio.io", "DestinationRule", "abc", ENTRY),
        Object::new(
            B,
            "networking.istio.io",
            "Gateway",
            NS,
            "meshfed-export-xyz-bar",
        ),
    ];
    for cli in Cli::floors() {
        assert_gone(cli, &p, &objects, "the previous CLI's destroy");
        let dir = p.dir(cli, &federation(8080));
        let out = apply(&dir);
        assert!(out.stdout.contains("2 added"), "{cli}: one apply\n{out}");
        assert_written_by_meshfed(cli, &p, &objects);
        let se = p.get(&entry).expect("ServiceEntry");
        assert_eq!(
            se["spec"]["endpoints"][0]["address"], "198.51.100.20",
            "{cli}"
        );
        assert_eq!(
            se["spec"]["subjectAltNames"],
            json!(["spiffe://cluster-b.local/ns/xyz/sa/bar"]),
            "{cli}"
        );
        assert_plan_empty(cli, &dir, "apply");

        dir.write("main.tf", federation(9080));
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("0 to add, 2 to change, 0 to destroy"),
            "{cli}: both change in place\n{plan}"
        );
        apply(&dir);
        let se = p.get(&entry).expect("ServiceEntry");
        assert_eq!(
            se["spec"]["ports"][0]["number"], 9080,
            "{cli}: in one apply"
        );
        assert_plan_empty(cli, &dir, "the change");

        destroy(cli, &dir, 2);
        assert_gone(cli, &p, &objects, "destroy");
    }
}
