//! `meshfed_service_entry` end to end: real Terraform and real OpenTofu drive this build of the
//! provider against a real kube-apiserver with Istio's CRDs. Each test starts its own control
//! plane. Needs real Terraform and OpenTofu and real control planes (`scripts/setup`).
//! `safety.rs`: a ServiceEntry made by hand is never overwritten; the token reaches no output.
//! `interrupted.rs`: Ctrl-C in the middle of a slow apply loses track of nothing written.
//! `rbac.rs`: the provider runs as meshfed's ServiceAccount with exactly `examples/rbac/`'s role;
//! each verb taken away fails with one error naming cluster, identity, verb and resource.
mod interrupted;
mod rbac;
mod safety;
#[path = "../support/mod.rs"]
mod support;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;
use support::controlplanes::{ControlPlanes, ensure_namespace};
use support::refusal::{Place, assert_points_at, first_error, mark};
use support::tf::{Cli, TfDir};

const A: &str = "cluster-a.local";
const NAME: &str = "bar-xyz-svc-cluster-b-local";
const SE_KEY: &str =
    "cluster-a.local/networking.istio.io/v1/ServiceEntry/abc/bar-xyz-svc-cluster-b-local";
const DR_KEY: &str =
    "cluster-a.local/networking.istio.io/v1/DestinationRule/abc/bar-xyz-svc-cluster-b-local";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn istio(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("networking.istio.io", "v1", kind))
}

struct Cluster {
    planes: ControlPlanes,
    rt: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Cluster {
    /// One control plane with namespace `abc`.
    fn start() -> Cluster {
        let planes = ControlPlanes::start(&[A]);
        let rt = rt();
        let client = rt.block_on(planes.client(A));
        rt.block_on(ensure_namespace(&client, "abc"));
        Cluster { planes, rt, client }
    }

    fn api(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), "abc", &istio(kind))
    }

    fn get(&self, kind: &str) -> Option<serde_json::Value> {
        self.rt
            .block_on(self.api(kind).get_opt(NAME))
            .expect("get object")
            .map(|o| serde_json::to_value(o).expect("object JSON"))
    }

    fn provider(&self) -> String {
        format!(
            r#"
terraform {{
  required_providers {{
    meshfed = {{ source = "meshfed/meshfed" }}
  }}
}}
provider "meshfed" {{
  cluster "{A}" {{
    kubeconfig = "{}"
    context    = "{}"
  }}
}}
"#,
            self.planes.provider_kubeconfig().display(),
            self.planes.context(A)
        )
    }

    /// A working directory holding the provider block and the registry example.
    fn dir(&self, cli: Cli) -> TfDir {
        let dir = TfDir::new(cli);
        dir.write("provider.tf", self.provider());
        dir.write("main.tf", example());
        dir
    }
}

fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/resources/meshfed_service_entry/resource.tf"
    ))
    .expect("read the example")
}

fn state_json(dir: &TfDir) -> serde_json::Value {
    let out = dir.run_ok(&["show", "-json"]);
    serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
        .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"))
}

fn resource_values(dir: &TfDir) -> serde_json::Value {
    let s = state_json(dir);
    s["values"]["root_module"]["resources"][0]["values"].clone()
}

#[test]
fn apply_creates_both_objects_and_a_second_plan_is_empty() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(out.stdout.contains("1 added"), "{cli}: {out}");
        let se = c
            .get("ServiceEntry")
            .unwrap_or_else(|| panic!("{cli}: ServiceEntry missing"));
        assert_eq!(se["spec"]["hosts"], json!(["bar.xyz.svc.cluster-b.local"]));
        assert_eq!(se["spec"]["location"], "MESH_INTERNAL");
        assert_eq!(se["spec"]["resolution"], "STATIC");
        assert_eq!(se["spec"]["endpoints"][0]["ports"], json!({"http": 15443}));
        assert_eq!(
            se["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "meshfed"
        );
        let dr = c
            .get("DestinationRule")
            .unwrap_or_else(|| panic!("{cli}: DestinationRule missing"));
        assert_eq!(dr["spec"]["trafficPolicy"]["tls"]["mode"], "ISTIO_MUTUAL");
        let fields: Vec<&str> = se["metadata"]["managedFields"]
            .as_array()
            .expect("managedFields")
            .iter()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert_eq!(
            fields,
            vec!["meshfed"],
            "{cli}: applied with server-side apply by meshfed"
        );
        let values = resource_values(&dir);
        assert!(
            values["manifests"][SE_KEY]
                .as_str()
                .is_some_and(|y| y.contains("kind: ServiceEntry")),
            "{cli}: {values}"
        );
        assert!(values["manifests"][DR_KEY].is_string(), "{cli}: {values}");
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
    }
}

#[test]
fn changing_a_port_shows_a_line_diff_and_updates_in_place() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        dir.write(
            "main.tf",
            example().replace("number = 8080", "number = 9080"),
        );
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(plan.stdout.contains("update in-place"), "{cli}: {plan}");
        let line_with = |sign: char, text: &str| {
            plan.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(sign) && l.contains(text))
        };
        assert!(
            line_with('-', "number: 8080") && line_with('+', "number: 9080"),
            "{cli}: a line diff inside manifests\n{plan}"
        );
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let se = c.get("ServiceEntry").expect("ServiceEntry");
        assert_eq!(se["spec"]["ports"][0]["number"], 9080, "{cli}");
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
    }
}

#[test]
fn drift_in_an_owned_field_is_planned_and_repaired_while_foreign_fields_are_ignored() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);

        // Someone else adds a label meshfed does not set: no diff.
        let label = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": NAME, "labels": {"team": "payments"}}});
        c.rt.block_on(c.api("ServiceEntry").patch(
            NAME,
            &PatchParams::apply("someone-else"),
            &Patch::Apply(label),
        ))
        .expect("foreign label");
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);

        // Someone else takes over the endpoint address: drift.
        let steal = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": NAME},
            "spec": {"hosts": ["bar.xyz.svc.cluster-b.local"], "endpoints": [{"address": "203.0.113.9", "ports": {"http": 15443}}]}});
        c.rt.block_on(c.api("ServiceEntry").patch(
            NAME,
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(steal),
        ))
        .expect("intruder apply");
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains(r#"-   - address: "203.0.113.9""#),
            "{cli}: drift shown\n{plan}"
        );
        assert!(
            plan.stdout.contains(r#"+   - address: "198.51.100.20""#),
            "{cli}: drift shown\n{plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let se = c.get("ServiceEntry").expect("ServiceEntry");
        assert_eq!(
            se["spec"]["endpoints"][0]["address"], "198.51.100.20",
            "{cli}: restored"
        );
        assert_eq!(
            se["metadata"]["labels"]["team"], "payments",
            "{cli}: others' label kept"
        );
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
    }
}

#[test]
fn a_service_entry_deleted_out_of_band_is_planned_for_creation_again() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        c.rt.block_on(c.api("ServiceEntry").delete(NAME, &DeleteParams::default()))
            .expect("delete");
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains(&format!(r#"+ "{SE_KEY}""#)),
            "{cli}: the ServiceEntry comes back\n{plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(c.get("ServiceEntry").is_some(), "{cli}: recreated");
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);

        // With every object gone, the resource leaves the state and is planned anew.
        c.rt.block_on(c.api("ServiceEntry").delete(NAME, &DeleteParams::default()))
            .expect("delete");
        c.rt.block_on(
            c.api("DestinationRule")
                .delete(NAME, &DeleteParams::default()),
        )
        .expect("delete");
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("1 to add, 0 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
    }
}

#[test]
fn import_into_an_empty_state_then_plan_is_empty() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let first = c.dir(cli);
        first.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let second = c.dir(cli);
        let id = format!("{A}/abc/{NAME}");
        let out = second.run_ok(&["import", "-no-color", "meshfed_service_entry.bar", &id]);
        assert!(out.stdout.contains("Import successful"), "{cli}: {out}");
        second.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
        let third = c.dir(cli);
        let bad = third.run_code(
            1,
            &[
                "import",
                "-no-color",
                "meshfed_service_entry.bar",
                "abc/bar",
            ],
        );
        assert!(bad.combined().contains("Invalid import ID"), "{cli}: {bad}");
    }
}

#[test]
fn destroy_removes_both_objects() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(
            c.get("ServiceEntry").is_none(),
            "{cli}: ServiceEntry left behind"
        );
        assert!(
            c.get("DestinationRule").is_none(),
            "{cli}: DestinationRule left behind"
        );
    }
}

/// A port of a list of ports written one attribute per line.
fn port(name: &str, number: u32, protocol: &str) -> String {
    format!(
        "    {{\n      name     = \"{name}\"\n      number   = {number}\n      protocol = \"{protocol}\"\n    }},\n"
    )
}

/// The registry example's entry written one attribute (and one port attribute) per line, with
/// these ports and `endpoints` text, and `extra` lines after `host`.
fn entry(ports: &[String], endpoints: &str, extra: &str) -> String {
    format!(
        "resource \"meshfed_service_entry\" \"bar\" {{\n  cluster   = \"{A}\"\n  namespace = \"abc\"\n  host      = \"bar.xyz.svc.cluster-b.local\"\n{extra}  ports = [\n{}  ]\n{endpoints}}}\n",
        ports.concat()
    )
}

/// A configuration refused at plan: the summary of the error, and the configuration with the
/// refused attribute's line marked.
struct Refused {
    summary: &'static str,
    main: String,
    /// The path goes into `ports`, a list of objects: OpenTofu shows the resource block.
    in_ports: bool,
}

fn refused(summary: &'static str, config: String, needle: &str, nth: usize) -> Refused {
    Refused {
        summary,
        main: mark(&config, needle, nth),
        in_ports: false,
    }
}

fn refused_in_ports(summary: &'static str, ports: &[String], needle: &str, nth: usize) -> Refused {
    Refused {
        in_ports: true,
        ..refused(summary, entry(ports, ENDPOINTS, ""), needle, nth)
    }
}

const ENDPOINTS: &str = "  endpoints = [\n    { address = \"198.51.100.20\" },\n  ]\n";

/// Refused top-level attributes: both CLIs point at their line.
fn attribute_cases() -> Vec<Refused> {
    let http = || vec![port("http", 8080, "HTTP")];
    let valid = entry(&http(), ENDPOINTS, "");
    vec![
        refused(
            "Unknown cluster",
            valid.replace(A, "cluster-x.local"),
            "cluster   =",
            0,
        ),
        refused(
            "Invalid namespace",
            valid.replace("\"abc\"", "\"Not_Valid\""),
            "namespace =",
            0,
        ),
        refused(
            "Invalid host",
            valid.replace("bar.xyz.svc.cluster-b.local", "bar_x.cluster"),
            "host      =",
            0,
        ),
        refused(
            "No endpoints",
            entry(&http(), "  endpoints = []\n", ""),
            "endpoints",
            0,
        ),
        refused(
            "Invalid name",
            entry(&http(), ENDPOINTS, "  name      = \"Bad_Name\"\n"),
            "name      =",
            0,
        ),
    ]
}

/// Refused values inside `ports`, a list of objects.
fn port_cases() -> Vec<Refused> {
    vec![
        refused_in_ports(
            "Invalid port number",
            &[port("http", 70000, "HTTP")],
            "number",
            0,
        ),
        // The second port repeats the first's name or number: the second is at fault.
        refused_in_ports(
            "Duplicate port name",
            &[port("http", 80, "HTTP"), port("http", 81, "HTTP")],
            "name ",
            1,
        ),
        refused_in_ports(
            "Duplicate port number",
            &[port("a", 80, "HTTP"), port("b", 80, "HTTP")],
            "number",
            1,
        ),
        refused_in_ports(
            "Unknown protocol",
            &[port("http", 80, "SPDY")],
            "protocol",
            0,
        ),
        refused_in_ports("A VIP is needed", &[port("db", 5432, "TCP")], "protocol", 0),
    ]
}

#[test]
fn refused_inputs_are_reported_at_plan_on_their_attribute() {
    for cli in Cli::both() {
        let c = Cluster::start();
        for case in attribute_cases().into_iter().chain(port_cases()) {
            let summary = case.summary;
            let dir = TfDir::new(cli);
            dir.write("provider.tf", c.provider());
            dir.write("main.tf", &case.main);
            let out = dir.run_code(1, &["plan", "-json"]);
            let d = first_error(cli, &out, summary);
            let place = Place::of(cli, case.in_ports);
            assert_points_at(cli, summary, &d, "main.tf", &case.main, place);
        }
        // Nothing was created by any of them.
        assert!(c.get("ServiceEntry").is_none(), "{cli}");
    }
}

/// What Terraform holds: the addresses in its state, and the entry's values.
fn held_state(dir: &TfDir) -> (String, serde_json::Value) {
    let list = dir.run_ok(&["state", "list"]);
    (list.stdout, resource_values(dir))
}

/// Runs `args`, which must fail promptly, naming the cluster and the connection error.
fn assert_fails_unreachable(cli: Cli, dir: &TfDir, args: &[&str]) {
    let started = std::time::Instant::now();
    let out = dir.run_code(1, args);
    let text = out.combined();
    assert!(
        text.contains("cluster-a.local"),
        "{cli}: names the cluster\n{out}"
    );
    assert!(
        text.contains("cannot reach the API server"),
        "{cli}: a connection error\n{out}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "{cli}: took {:?}",
        started.elapsed()
    );
}

/// A refresh that cannot reach the cluster is an error, never "the objects are gone": plan, apply,
/// a refresh-only apply and destroy (with and without refresh) fail, and the state still holds
/// the entry with every object as applied.
#[test]
fn with_the_api_server_down_plan_and_apply_fail_naming_the_cluster_and_the_state_keeps_the_entry() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let (addresses, values) = held_state(&dir);
        assert_eq!(addresses, "meshfed_service_entry.bar\n", "{cli}");
        for key in [SE_KEY, DR_KEY] {
            assert!(values["manifests"][key].is_string(), "{cli}: {values}");
        }
        c.planes.kill(A);
        for args in [
            &["plan", "-no-color"][..],
            &["apply", "-auto-approve", "-no-color"],
            &["apply", "-refresh-only", "-auto-approve", "-no-color"],
            &["destroy", "-auto-approve", "-no-color"],
            // Straight to the deletes: the error is the delete's, and the state keeps the entry.
            &["destroy", "-refresh=false", "-auto-approve", "-no-color"],
        ] {
            assert_fails_unreachable(cli, &dir, args);
            assert_eq!(
                held_state(&dir),
                (addresses.clone(), values.clone()),
                "{cli}: after a failed `{}` the state holds the entry as applied",
                args.join(" ")
            );
        }
    }
}

/// Destroy when the objects are already gone (deleted by hand): it succeeds, with or without a
/// refresh first. After Istio's CRDs were removed (which deletes every ServiceEntry and
/// DestinationRule), a refresh is refused with the way out, and `destroy -refresh=false`
/// succeeds: the deletes find the kinds gone and the state is empty.
#[test]
fn destroy_succeeds_when_the_objects_or_istios_crds_are_already_gone() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for cli in Cli::both() {
        let c = Cluster::start();
        let dir = c.dir(cli);
        for refresh in ["-refresh=true", "-refresh=false"] {
            dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
            for kind in ["ServiceEntry", "DestinationRule"] {
                c.rt.block_on(c.api(kind).delete(NAME, &DeleteParams::default()))
                    .expect("delete by hand");
            }
            dir.run_ok(&["destroy", refresh, "-auto-approve", "-no-color"]);
            let list = dir.run_ok(&["state", "list"]);
            assert_eq!(list.stdout, "", "{cli} {refresh}: nothing left in state");
        }

        // Istio's CRDs removed.
        let crds: Api<CustomResourceDefinition> = Api::all(c.client.clone());
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        for crd in [
            "serviceentries.networking.istio.io",
            "destinationrules.networking.istio.io",
        ] {
            c.rt.block_on(crds.delete(crd, &DeleteParams::default()))
                .expect("delete Istio's CRD");
        }
        wait_until_gone(&c);
        // A refresh says Istio is missing rather than reading the entry as deleted (the cluster
        // may be the wrong one), and names the way out.
        let refreshed = dir.run_code(1, &["plan", "-refresh-only", "-no-color"]);
        assert!(
            refreshed
                .stderr
                .contains("Istio is not installed in cluster-a.local")
                && refreshed.stderr.contains("destroy -refresh=false"),
            "{cli}: a refresh names the missing CRDs and the way out\n{refreshed}"
        );
        let out = dir.run_ok(&["destroy", "-refresh=false", "-auto-approve", "-no-color"]);
        let list = dir.run_ok(&["state", "list"]);
        assert_eq!(list.stdout, "", "{cli}: nothing left in state\n{out}");
    }
}

/// Waits (up to 60 s) until the API server no longer serves ServiceEntries.
fn wait_until_gone(c: &Cluster) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while c.rt.block_on(c.api("ServiceEntry").get_opt(NAME)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ServiceEntry kind is still served 60 s after its CRD was deleted"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
