//! The module over N clusters, as a platform repo grows it: three clusters with two exports and
//! three imports in one apply, then a second plan that is empty; then a fourth cluster and one
//! more export (and the fourth cluster importing an existing export) in one apply whose plan
//! updates the trust in place and creates the new instances only, leaving every existing CA as
//! it was; then an empty plan and a destroy that leaves no meshfed object in any cluster. The
//! fourth cluster (cluster-c.local) sorts between the first three, and the new export comes
//! first in the list: neither a member's nor an export's position may decide what changes. With
//! Terraform and with OpenTofu, on the same four control planes (destroy clears them between the
//! two). Needs real control planes, Terraform and OpenTofu.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::fixture::{Fleet, init, outputs, planned_changes, provider};
use crate::support::tf::{Cli, TfDir};
use crate::{A, B, C, CONSUMER_NS, D, PLAN, SERVICE_NS, module_dir};

/// Gateway load-balancer addresses, as each cluster's Service reports them.
const A_GATEWAY: &str = "198.51.100.10";
const B_GATEWAY: &str = "198.51.100.20";
/// cluster-c.local, the fourth cluster, has no gateway Service: its address is given to the
/// module instead.
const C_GATEWAY: &str = "198.51.100.30";

const BAR: &str = "bar.xyz@cluster-b.local";
const FOO: &str = "foo.abc@cluster-a.local";
const BAZ: &str = "baz.xyz@cluster-c.local";

/// The module call: clusters a, b, d (and c with `fourth`); bar from b to a and d (and c), foo
/// from a to b, and with `fourth`, first in the list, baz from c to a.
fn module_call(fourth: bool) -> String {
    let c_cluster = format!(
        "    \"{C}\" = {{\n      ca      = {{ key_algorithm = \"ECDSA_P384\" }}\n      gateway = {{ addresses = [\"{C_GATEWAY}\"] }}\n    }}\n"
    );
    let bar_to = if fourth {
        format!("[\"{A}\", \"{D}\", \"{C}\"]")
    } else {
        format!("[\"{A}\", \"{D}\"]")
    };
    let baz_export = format!(
        "    {{\n      service          = \"baz\"\n      namespace        = \"{SERVICE_NS}\"\n      from             = \"{C}\"\n      to               = [\"{A}\"]\n      import_namespace = \"{CONSUMER_NS}\"\n      ports            = [{{ name = \"grpc\", number = 9090, protocol = \"GRPC\" }}]\n    }},\n"
    );
    format!(
        r#"module "federation" {{
  source = "{module}"

  clusters = {{
    "{A}" = {{}}
    "{B}" = {{}}
{c_cluster}    "{D}" = {{}}
  }}

  exports = [
{baz}    {{
      service            = "bar"
      namespace          = "{SERVICE_NS}"
      from               = "{B}"
      to                 = {bar_to}
      import_namespace   = "{CONSUMER_NS}"
      ports              = [{{ name = "http", number = 8080 }}]
      allowed_principals = ["{A}/ns/{CONSUMER_NS}/sa/foo"]
    }},
    {{
      service          = "foo"
      namespace        = "{CONSUMER_NS}"
      from             = "{A}"
      to               = ["{B}"]
      import_namespace = "{SERVICE_NS}"
      ports            = [{{ name = "http", number = 8080, protocol = "HTTP" }}]
    }},
  ]
}}

output "hosts" {{
  value = module.federation.hosts
}}

output "fingerprints" {{
  value = module.federation.fingerprints
}}
"#,
        module = module_dir().display(),
        c_cluster = if fourth { c_cluster.as_str() } else { "" },
        baz = if fourth { baz_export.as_str() } else { "" },
    )
}

/// The working directory's configuration: the provider's clusters and the module call.
fn configure(dir: &TfDir, kubeconfig: &str, fourth: bool) {
    let clusters: &[&str] = if fourth { &[A, B, C, D] } else { &[A, B, D] };
    dir.write(
        "main.tf",
        format!(
            "{}\n{}",
            provider(kubeconfig, clusters),
            module_call(fourth)
        ),
    );
}

fn address(resource: &str, key: &str) -> String {
    format!("module.federation.{resource}[\"{key}\"]")
}

fn import_key(export: &str, to: &str) -> String {
    format!("{export}->{to}")
}

/// One import as the consuming cluster must hold it.
struct Import<'a> {
    cluster: &'a str,
    namespace: &'a str,
    name: &'a str,
    gateway: &'a str,
    identity: &'a str,
}

/// The import's ServiceEntry points at the exporting cluster's gateway on 15443 for every port
/// and expects the exported workloads' identity.
fn assert_imported(f: &Fleet, cli: Cli, i: &Import<'_>) {
    let se = f
        .service_entry(i.cluster, i.namespace, i.name)
        .unwrap_or_else(|| {
            panic!(
                "{cli}: no ServiceEntry {}/{} in {}",
                i.namespace, i.name, i.cluster
            )
        });
    let endpoint = &se["spec"]["endpoints"][0];
    assert_eq!(endpoint["address"], i.gateway, "{cli}: {se}");
    let ports = endpoint["ports"].as_object().expect("endpoint ports");
    assert!(ports.values().all(|p| p == 15443), "{cli}: {se}");
    assert_eq!(
        se["spec"]["subjectAltNames"],
        json!([i.identity]),
        "{cli}: {se}"
    );
}

const BAR_ID: &str = "spiffe://cluster-b.local/ns/xyz/sa/bar";
const BAR_ENTRY: &str = "bar-xyz-svc-cluster-b-local";

fn assert_three_clusters_applied(f: &Fleet, cli: Cli, dir: &TfDir) {
    for (cluster, others) in [(A, [B, D]), (B, [A, D]), (D, [A, B])] {
        assert_eq!(
            f.trusted_domains(cluster),
            others,
            "{cli}: {cluster} trusts the others"
        );
    }
    for cluster in [A, D] {
        let bar = Import {
            cluster,
            namespace: CONSUMER_NS,
            name: BAR_ENTRY,
            gateway: B_GATEWAY,
            identity: BAR_ID,
        };
        assert_imported(f, cli, &bar);
    }
    let foo_import = Import {
        cluster: B,
        namespace: SERVICE_NS,
        name: "foo-abc-svc-cluster-a-local",
        gateway: A_GATEWAY,
        identity: "spiffe://cluster-a.local/ns/abc/sa/foo",
    };
    assert_imported(f, cli, &foo_import);
    assert_eq!(
        f.meshfed_objects(C),
        Vec::<String>::new(),
        "{cli}: {C} is not in the federation yet"
    );
    let hosts = &outputs(dir)["hosts"];
    let want = json!({
        import_key(BAR, A): "bar.xyz.svc.cluster-b.local",
        import_key(BAR, D): "bar.xyz.svc.cluster-b.local",
        import_key(FOO, B): "foo.abc.svc.cluster-a.local",
    });
    assert_eq!(hosts, &want, "{cli}: the hosts output");
}

fn assert_fourth_cluster_applied(f: &Fleet, cli: Cli, dir: &TfDir) {
    for (cluster, others) in [
        (A, [B, C, D]),
        (B, [A, C, D]),
        (C, [A, B, D]),
        (D, [A, B, C]),
    ] {
        assert_eq!(
            f.trusted_domains(cluster),
            others,
            "{cli}: {cluster} trusts the others"
        );
    }
    let baz_import = Import {
        cluster: A,
        namespace: CONSUMER_NS,
        name: "baz-xyz-svc-cluster-c-local",
        gateway: C_GATEWAY,
        identity: "spiffe://cluster-c.local/ns/xyz/sa/baz",
    };
    assert_imported(f, cli, &baz_import);
    let bar = Import {
        cluster: C,
        namespace: CONSUMER_NS,
        name: BAR_ENTRY,
        gateway: B_GATEWAY,
        identity: BAR_ID,
    };
    assert_imported(f, cli, &bar);
    let hosts = outputs(dir)["hosts"].clone();
    assert_eq!(
        hosts.as_object().map(|h| h.len()),
        Some(5),
        "{cli}: {hosts}"
    );
    assert_eq!(
        hosts[import_key(BAZ, A)],
        "baz.xyz.svc.cluster-c.local",
        "{cli}"
    );
}

/// What adding cluster-c.local and baz must plan: the trust updated in place, the new export
/// and the two new imports created, nothing else.
fn expected_fourth_cluster_changes() -> BTreeMap<String, Vec<String>> {
    let update = vec!["update".to_string()];
    let create = vec!["create".to_string()];
    BTreeMap::from([
        (
            "module.federation.meshfed_trust.this[0]".to_string(),
            update,
        ),
        (
            address("meshfed_exported_service.this", BAZ),
            create.clone(),
        ),
        (
            address("meshfed_service_entry.this", &import_key(BAZ, A)),
            create.clone(),
        ),
        (
            address("meshfed_service_entry.this", &import_key(BAR, C)),
            create,
        ),
    ])
}

/// Plans into `tfplan` (changes expected) and returns what the plan changes.
fn plan_to_file(dir: &TfDir) -> BTreeMap<String, Vec<String>> {
    dir.run_code(
        2,
        &["plan", "-detailed-exitcode", "-no-color", "-out=tfplan"],
    );
    planned_changes(dir, "tfplan")
}

fn fingerprints(dir: &TfDir) -> BTreeMap<String, Json> {
    let all = outputs(dir)["fingerprints"].clone();
    serde_json::from_value(all).expect("fingerprints is a map")
}

fn grow_from_three_to_four_clusters(f: &Fleet, cli: Cli) {
    let dir = TfDir::new(cli);
    let kubeconfig = f.provider_kubeconfig();
    configure(&dir, &kubeconfig, false);
    init(&dir);
    let first = plan_to_file(&dir);
    assert_eq!(
        first.len(),
        6,
        "{cli}: one trust, two exports, three imports: {first:?}"
    );
    assert!(first.values().all(|a| a == &["create"]), "{cli}: {first:?}");
    let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
    assert!(
        apply.stdout.contains("6 added, 0 changed, 0 destroyed"),
        "{cli}: {apply}"
    );
    assert_three_clusters_applied(f, cli, &dir);
    dir.run_code(0, &PLAN);
    let before = fingerprints(&dir);

    configure(&dir, &kubeconfig, true);
    assert_eq!(
        plan_to_file(&dir),
        expected_fourth_cluster_changes(),
        "{cli}: what adding {C} and baz changes"
    );
    let apply = dir.run_ok(&["apply", "-no-color", "tfplan"]);
    assert!(
        apply.stdout.contains("3 added, 1 changed, 0 destroyed"),
        "{cli}: {apply}"
    );
    assert_fourth_cluster_applied(f, cli, &dir);
    let after = fingerprints(&dir);
    for cluster in [A, B, D] {
        assert_eq!(
            before[cluster], after[cluster],
            "{cli}: {cluster} keeps its CA"
        );
    }
    assert!(
        after[C].as_str().is_some_and(|p| p.len() == 64),
        "{cli}: {after:?}"
    );
    dir.run_code(0, &PLAN);

    let destroy = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(destroy.stdout.contains("9 destroyed"), "{cli}: {destroy}");
    for cluster in [A, B, C, D] {
        assert_eq!(
            f.meshfed_objects(cluster),
            Vec::<String>::new(),
            "{cli}: {cluster} keeps meshfed objects"
        );
    }
}

#[test]
fn three_clusters_apply_at_once_and_a_fourth_with_one_more_export_changes_only_what_is_new() {
    let f = Fleet::start(&[A, B, C, D]);
    f.gateway_service(A, A_GATEWAY);
    f.gateway_service(B, B_GATEWAY);
    for cli in Cli::both() {
        grow_from_three_to_four_clusters(&f, cli);
    }
}
