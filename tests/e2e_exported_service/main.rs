//! `meshfed_exported_service` end to end: real Terraform and real OpenTofu drive this build of the
//! provider against real kube-apiservers with Istio's CRDs. Each test starts its own control
//! planes. No controller runs on them: the tests write the gateway Service's load-balancer status
//! themselves. The control planes and configurations are in `fixture.rs`, the refused inputs in
//! `refused.rs`. Needs real Terraform and OpenTofu and real control planes (`scripts/setup`).
mod fixture;
mod refused;
#[path = "../support/mod.rs"]
mod support;

use fixture::*;
use kube::api::Api;
use serde_json::{Value, json};
use support::tf::{Cli, TfDir};

/// One TLS server on 15443 in `AUTO_PASSTHROUGH` mode, for exactly bar's host.
fn assert_passes_bar_through(gw: &Value, cli: Cli) {
    let servers = gw["spec"]["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{cli}: one server");
    assert_eq!(
        servers[0]["port"]["number"], 15443,
        "{cli}: the passthrough port"
    );
    assert_eq!(servers[0]["port"]["protocol"], "TLS", "{cli}");
    assert_eq!(
        servers[0]["tls"],
        json!({"mode": "AUTO_PASSTHROUGH"}),
        "{cli}"
    );
    assert_eq!(
        servers[0]["hosts"],
        json!(["bar.xyz.svc.cluster-b.local"]),
        "{cli}: exactly the service's host"
    );
}

#[test]
fn apply_creates_the_gateway_and_the_policy_and_a_second_plan_is_empty() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let dir = p.dir(cli, &example());
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(out.stdout.contains("1 added"), "{cli}: {out}");
        let gw = p
            .gateway()
            .unwrap_or_else(|| panic!("{cli}: Gateway missing"));
        assert_passes_bar_through(&gw, cli);
        assert_eq!(gw["spec"]["selector"], json!({"istio": "eastwestgateway"}));
        assert_eq!(
            gw["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "meshfed"
        );
        let ap = p
            .policy()
            .unwrap_or_else(|| panic!("{cli}: policy missing"));
        assert_eq!(ap["spec"]["action"], "DENY", "{cli}");
        assert_eq!(ap["spec"]["selector"]["matchLabels"], json!({"app": "bar"}));
        assert_eq!(
            ap["spec"]["rules"][0]["from"][0]["source"],
            json!({"principals": ["*"], "notPrincipals": ["cluster-b.local/*", "cluster-a.local/ns/abc/sa/foo"]}),
            "{cli}"
        );
        let managers: Vec<&str> = ap["metadata"]["managedFields"]
            .as_array()
            .expect("managedFields")
            .iter()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert_eq!(managers, ["meshfed"], "{cli}: server-side apply by meshfed");
        let v = values(&dir, "meshfed_exported_service.bar");
        assert_eq!(v["id"], "cluster-b.local/xyz/bar", "{cli}");
        assert_eq!(
            v["export"],
            json!({
                "host": "bar.xyz.svc.cluster-b.local",
                "ports": [{"name": "http", "number": 8080, "protocol": "HTTP"}],
                "gateway_endpoints": [{"address": "198.51.100.20", "port": 15443}],
                "subject_alt_names": ["spiffe://cluster-b.local/ns/xyz/sa/bar"],
                "trust_domain": "cluster-b.local",
                "network": null,
            }),
            "{cli}"
        );
        assert!(v["manifests"][GATEWAY_KEY].is_string(), "{cli}: {v}");
        assert!(v["manifests"][POLICY_KEY].is_string(), "{cli}: {v}");
        plan_is_empty(&dir);
    }
}

#[test]
fn planning_a_create_makes_no_api_call() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        p.planes.kill(B);
        let dir = p.dir(cli, FROM_SERVICE);
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("gateway_endpoints")
                && plan.stdout.contains("(known after apply)"),
            "{cli}: endpoints are read at apply\n{plan}"
        );
        assert!(
            plan.stdout.contains("1 to add, 0 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
    }
}

#[test]
fn without_addresses_the_load_balancer_address_is_read_at_apply_and_its_change_is_planned() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        p.create_gateway_service();
        p.set_load_balancer(json!([{"ip": "198.51.100.30"}]));
        let dir = p.dir(cli, FROM_SERVICE);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let v = values(&dir, "meshfed_exported_service.bar");
        assert_eq!(
            v["gateway_endpoints"],
            json!([{"address": "198.51.100.30", "port": 15443}]),
            "{cli}"
        );
        assert_eq!(v["export"]["gateway_endpoints"], v["gateway_endpoints"]);
        assert_eq!(v["gateway"]["addresses"], Value::Null, "{cli}");
        plan_is_empty(&dir);

        // The cloud moves the load balancer to a DNS name: the next plan says so.
        p.set_load_balancer(json!([{"hostname": "gw.b.example.com"}]));
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("198.51.100.30") && plan.stdout.contains("gw.b.example.com"),
            "{cli}: the address change is a diff\n{plan}"
        );
        assert!(
            plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let v = values(&dir, "meshfed_exported_service.bar");
        assert_eq!(
            v["gateway_endpoints"],
            json!([{"address": "gw.b.example.com", "port": 15443}]),
            "{cli}"
        );
        plan_is_empty(&dir);
    }
}

#[test]
fn a_gateway_service_without_a_load_balancer_address_fails_apply_naming_cluster_and_service() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let dir = p.dir(cli, FROM_SERVICE);
        let out = dir.run_code(1, &["apply", "-auto-approve", "-no-color"]);
        let text = out.combined();
        for part in [B, "istio-system/istio-eastwestgateway", "does not exist"] {
            assert!(text.contains(part), "{cli}: names {part:?}\n{out}");
        }
        assert!(p.gateway().is_none(), "{cli}: nothing applied");

        p.create_gateway_service();
        let out = dir.run_code(1, &["apply", "-auto-approve", "-no-color"]);
        let text = out.combined();
        for part in [
            B,
            "istio-system/istio-eastwestgateway",
            "no load-balancer address",
        ] {
            assert!(text.contains(part), "{cli}: names {part:?}\n{out}");
        }
        assert!(p.gateway().is_none(), "{cli}: nothing applied");

        p.set_load_balancer(json!([{"ip": "198.51.100.30"}]));
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(
            p.gateway().is_some(),
            "{cli}: applied once it has an address"
        );
        plan_is_empty(&dir);
    }
}

#[test]
fn import_into_an_empty_state_then_plan_is_empty() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        for config in [example(), FULL.to_string()] {
            let first = p.dir(cli, &config);
            first.run_ok(&["apply", "-auto-approve", "-no-color"]);
            let second = p.dir(cli, &config);
            let out = second.run_ok(&[
                "import",
                "-no-color",
                "meshfed_exported_service.bar",
                "cluster-b.local/xyz/bar",
            ]);
            assert!(out.stdout.contains("Import successful"), "{cli}: {out}");
            plan_is_empty(&second);
            first.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        }
        let third = p.dir(cli, &example());
        let bad = third.run_code(
            1,
            &[
                "import",
                "-no-color",
                "meshfed_exported_service.bar",
                "xyz/bar",
            ],
        );
        assert!(bad.combined().contains("Invalid import ID"), "{cli}: {bad}");
    }
}

#[test]
fn destroy_removes_every_object() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let dir = p.dir(cli, FULL);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(p.gateway().is_some() && p.policy().is_some(), "{cli}");
        let alias = p
            .alias_entry()
            .unwrap_or_else(|| panic!("{cli}: alias missing"));
        assert_eq!(alias["spec"]["hosts"], json!(["bar.global"]), "{cli}");
        let hosts = &p.gateway().expect("gateway")["spec"]["servers"][0]["hosts"];
        assert_eq!(
            hosts,
            &json!(["bar.xyz.svc.cluster-b.local", "bar.global"]),
            "{cli}"
        );
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(p.gateway().is_none(), "{cli}: Gateway left behind");
        assert!(
            p.policy().is_none(),
            "{cli}: AuthorizationPolicy left behind"
        );
        assert!(p.alias_entry().is_none(), "{cli}: ServiceEntry left behind");
    }
}

#[test]
fn deleted_objects_are_planned_back_and_dropped_inputs_prune_their_objects() {
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let dir = p.dir(cli, FULL);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let gateways = p.api(B, "networking.istio.io", "Gateway", "istio-system");
        p.rt.block_on(gateways.delete(GATEWAY, &Default::default()))
            .expect("delete the Gateway");
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains(&format!(r#"+ "{GATEWAY_KEY}""#)),
            "{cli}: the Gateway comes back\n{plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(p.gateway().is_some(), "{cli}: recreated");

        // Without alias and principals, their objects go; the Gateway stays.
        let plain = FULL
            .replace("  alias              = \"bar.global\"\n", "")
            .replace(
                "  allowed_principals = [\"cluster-a.local/ns/abc/sa/foo\"]\n",
                "",
            )
            .replace(
                "  workload_selector  = { \"app.kubernetes.io/name\" = \"bar\" }\n",
                "",
            );
        dir.write("main.tf", &plain);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(p.policy().is_none(), "{cli}: policy pruned");
        assert!(
            p.alias_entry().is_none(),
            "{cli}: alias ServiceEntry pruned"
        );
        let hosts = &p.gateway().expect("gateway")["spec"]["servers"][0]["hosts"];
        assert_eq!(hosts, &json!(["bar.xyz.svc.cluster-b.local"]), "{cli}");
        plan_is_empty(&dir);
    }
}

/// Each side of the federation imports back to the same state: `export` equals what the entry
/// derives from its objects.
fn each_side_imports_back_to_an_empty_plan(dir: &TfDir) {
    for (address, id) in [
        ("meshfed_service_entry.bar", format!("{A}/abc/{SE_NAME}")),
        ("meshfed_exported_service.bar", format!("{B}/xyz/bar")),
    ] {
        dir.run_ok(&["state", "rm", "-no-color", address]);
        dir.run_ok(&["import", "-no-color", address, &id]);
        plan_is_empty(dir);
    }
}

/// A's ServiceEntry for bar: bar's host, through B's gateway address, with bar's identity.
fn assert_entry_reaches_bar_through_b(cli: Cli, entry: &Value) {
    assert_eq!(
        entry["spec"]["hosts"],
        json!(["bar.xyz.svc.cluster-b.local"])
    );
    assert_eq!(
        entry["spec"]["endpoints"][0]["address"], "198.51.100.30",
        "{cli}"
    );
    assert_eq!(
        entry["spec"]["endpoints"][0]["ports"],
        json!({"http": 15443})
    );
    assert_eq!(
        entry["spec"]["subjectAltNames"],
        json!(["spiffe://cluster-b.local/ns/xyz/sa/bar"]),
        "{cli}"
    );
}

#[test]
fn the_export_feeds_a_service_entry_in_another_cluster_and_a_port_change_flows_in_one_apply() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B]);
        p.create_gateway_service();
        p.set_load_balancer(json!([{"ip": "198.51.100.30"}]));
        let dir = p.dir(cli, FEDERATION);
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert!(out.stdout.contains("2 added"), "{cli}: one apply\n{out}");
        let se = |p: &Planes| p.get(A, "networking.istio.io", "ServiceEntry", "abc", SE_NAME);
        let dr = |p: &Planes| p.get(A, "networking.istio.io", "DestinationRule", "abc", SE_NAME);
        let entry = se(&p).unwrap_or_else(|| panic!("{cli}: A's ServiceEntry missing"));
        assert_entry_reaches_bar_through_b(cli, &entry);
        plan_is_empty(&dir);

        let dr_version = resource_version(&dr(&p).expect("DestinationRule"));
        let gw_spec = p.gateway().expect("Gateway")["spec"].clone();
        dir.write(
            "main.tf",
            FEDERATION.replace("number = 8080", "number = 9080"),
        );
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout.contains("0 to add, 2 to change, 0 to destroy"),
            "{cli}: {plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let entry = se(&p).expect("ServiceEntry");
        assert_eq!(
            entry["spec"]["ports"][0]["number"], 9080,
            "{cli}: in one apply"
        );
        assert_eq!(
            resource_version(&dr(&p).expect("DestinationRule")),
            dr_version,
            "{cli}: the DestinationRule is untouched"
        );
        assert_eq!(
            p.gateway().expect("Gateway")["spec"],
            gw_spec,
            "{cli}: the Gateway's routing is untouched"
        );
        plan_is_empty(&dir);

        each_side_imports_back_to_an_empty_plan(&dir);
    }
}

#[test]
fn inputs_known_only_at_apply_are_planned_unknown_and_then_applied() {
    let config = r#"
resource "terraform_data" "alias" {
  input = "bar.global"
}

resource "meshfed_exported_service" "bar" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports     = [{ name = "http", number = 8080, protocol = "HTTP" }]
  gateway   = { addresses = ["198.51.100.20"] }
  alias     = terraform_data.alias.output
}
"#;
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let dir = p.dir(cli, config);
        let plan = dir.run_code(2, &["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            plan.stdout
                .contains("manifests         = (known after apply)"),
            "{cli}: {plan}"
        );
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let alias = p
            .alias_entry()
            .unwrap_or_else(|| panic!("{cli}: alias missing"));
        assert_eq!(alias["spec"]["hosts"], json!(["bar.global"]), "{cli}");
        plan_is_empty(&dir);
    }
}

#[test]
fn without_istio_apply_says_istio_is_not_installed_in_the_cluster() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for cli in Cli::both() {
        let p = Planes::start(&[B]);
        let crds: Api<CustomResourceDefinition> = Api::all(p.client(B));
        for crd in [
            "gateways.networking.istio.io",
            "authorizationpolicies.security.istio.io",
        ] {
            p.rt.block_on(crds.delete(crd, &Default::default()))
                .unwrap_or_else(|e| panic!("delete {crd}: {e}"));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while p.rt.block_on(crds.get_opt(crd)).expect("get CRD").is_some() {
                assert!(std::time::Instant::now() < deadline, "{crd} not gone");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        let dir = p.dir(cli, &example());
        let out = dir.run_code(1, &["apply", "-auto-approve", "-no-color"]);
        assert!(
            out.combined()
                .contains("Istio is not installed in cluster-b.local"),
            "{cli}: {out}"
        );
    }
}
