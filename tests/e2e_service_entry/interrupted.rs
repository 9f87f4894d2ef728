//! Ctrl-C in the middle of an apply that writes many service entries, with the API server made
//! slow by a latency proxy so that the interrupt lands while objects are being written: the CLI
//! stops within the bound meshfed states (a resource in flight finishes within its grace of 10 s,
//! then Terraform writes no more), the state it saves records exactly the objects in the cluster,
//! the next apply writes the rest and the plan after it is empty.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams};

use crate::support::latency::LatencyProxy;
use crate::support::tf::{Cli, TfDir};
use crate::{A, Cluster};

/// Service entries in the configuration: enough that at 2 resources at a time and 150 ms each
/// way, the apply lasts well beyond the moment of the interrupt.
const N: usize = 30;
/// One way of the proxy's latency.
const ONE_WAY: Duration = Duration::from_millis(150);
/// Objects written before the interrupt is sent.
const INTERRUPT_AFTER: usize = 4;
/// meshfed's grace for a resource in flight (`tfplugin::provider::STOP_GRACE`).
const STOP_GRACE: Duration = Duration::from_secs(10);
/// What Terraform itself may take after its providers stopped (saving state, exiting).
const CLI_MARGIN: Duration = Duration::from_secs(10);

/// `N` service entries `s0` … of namespace abc, one resource each (`count`).
fn many() -> String {
    format!(
        r#"resource "meshfed_service_entry" "s" {{
  count     = {N}
  cluster   = "{A}"
  namespace = "abc"

  host              = "s${{count.index}}.xyz.svc.cluster-b.local"
  ports             = [{{ name = "http", number = 8080, protocol = "HTTP" }}]
  endpoints         = [{{ address = "198.51.100.20", port = 15443 }}]
  subject_alt_names = ["spiffe://cluster-b.local/ns/xyz/sa/s"]
}}
"#
    )
}

impl Cluster {
    /// Keys (as in `manifests`) of the ServiceEntries and DestinationRules meshfed manages.
    fn live_keys(&self) -> BTreeSet<String> {
        let lp = ListParams::default().labels("app.kubernetes.io/managed-by=meshfed");
        let mut keys = BTreeSet::new();
        for kind in ["ServiceEntry", "DestinationRule"] {
            let api: Api<DynamicObject> = self.api(kind);
            let list = self.rt.block_on(api.list(&lp)).expect("list objects");
            for o in list.items {
                let name = o.metadata.name.expect("a name");
                keys.insert(format!("{A}/networking.istio.io/v1/{kind}/abc/{name}"));
            }
        }
        keys
    }

    /// Live ServiceEntries of meshfed's.
    fn live_entries(&self) -> usize {
        self.live_keys()
            .iter()
            .filter(|k| k.contains("/ServiceEntry/"))
            .count()
    }
}

/// Every `manifests` key of every resource in the working directory's state.
fn state_keys(dir: &TfDir) -> BTreeSet<String> {
    let out = dir.run_ok(&["show", "-json"]);
    let state: serde_json::Value =
        serde_json::from_str(out.stdout.trim_start_matches(|c| c != '{'))
            .unwrap_or_else(|e| panic!("show -json: {e}\n{out}"));
    let mut keys = BTreeSet::new();
    let resources = state["values"]["root_module"]["resources"].as_array();
    for r in resources.into_iter().flatten() {
        let manifests = r["values"]["manifests"].as_object();
        keys.extend(manifests.into_iter().flat_map(|m| m.keys().cloned()));
    }
    keys
}

#[test]
fn ctrl_c_while_many_service_entries_are_written_keeps_every_written_object_in_state() {
    for cli in Cli::both() {
        let c = Cluster::start();
        let direct = c.planes.direct(A);
        let proxy = LatencyProxy::start(direct.addr(), ONE_WAY);
        let dir = TfDir::new(cli);
        dir.write(
            "provider.tf",
            format!(
                "terraform {{\n  required_providers {{\n    meshfed = {{ source = \"meshfed/meshfed\" }}\n  }}\n}}\nprovider \"meshfed\" {{\n{}}}\n",
                direct.cluster_block(A, Some(proxy.addr()))
            ),
        );
        dir.write("main.tf", many());

        let mut apply = dir.spawn(&["apply", "-auto-approve", "-no-color", "-parallelism=2"]);
        let deadline = Instant::now() + Duration::from_secs(300);
        while c.live_entries() < INTERRUPT_AFTER {
            assert!(
                apply.is_running(),
                "{cli}: the apply ended before the interrupt"
            );
            assert!(
                Instant::now() < deadline,
                "{cli}: no object written in 300 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        apply.interrupt();
        let interrupted = Instant::now();
        let out = apply.wait();
        let took = interrupted.elapsed();
        eprintln!("{cli}: stopped {took:.1?} after the interrupt");
        assert!(
            took < STOP_GRACE + CLI_MARGIN,
            "{cli}: took {took:?} to stop after the interrupt\n{out}"
        );
        assert_ne!(out.code, 0, "{cli}: an interrupted apply fails\n{out}");

        let live = c.live_keys();
        assert!(
            live.len() < 2 * N,
            "{cli}: every object was written before the interrupt took effect: the test proves nothing; widen the window\n{out}"
        );
        assert_eq!(
            state_keys(&dir),
            live,
            "{cli}: the state records exactly the objects in the cluster\n{out}"
        );

        // The next apply writes the rest; the plan after it is empty.
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(c.live_keys().len(), 2 * N, "{cli}: every object in place");
        assert_eq!(state_keys(&dir), c.live_keys(), "{cli}");
        dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);
    }
}
