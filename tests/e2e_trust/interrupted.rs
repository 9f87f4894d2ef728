//! Ctrl-C while a third member joins a federation over slow links (a latency proxy in front of
//! every API server: 1.5 s each way, 3 s to the joining member): Terraform asks meshfed to stop
//! (StopProvider); meshfed lets
//! the resource go on for its grace of 10 s, then writes nothing more and returns a state that
//! records exactly the objects in place. The next apply finishes the rest without generating a
//! CA again for a member whose `cacerts` Secret was written, every member trusts every other and
//! the plan after it is empty.

use std::time::{Duration, Instant};

use meshfed::cert;

use crate::fixture::{Planes, trust};
use crate::members::assert_trusts_exactly;
use crate::support::tf::{Cli, TfDir};
use crate::{A, APPLY, B, C, MESH_CONFIG, NS, assert_plan_empty, root_cm, values};

/// One way of the proxies of the members already in: a write takes 3 s.
const ONE_WAY: Duration = Duration::from_millis(1500);
/// One way of the joining member's proxy: a write takes 6 s, so its five writes outlast the
/// grace even though meshfed writes the clusters at the same time.
const ONE_WAY_JOINING: Duration = Duration::from_millis(3000);
/// meshfed's grace for a resource in flight (`tfplugin::provider::STOP_GRACE`).
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The request in flight when the grace runs out (a TLS handshake and one request at 6 s per
/// round trip), and Terraform saving state and exiting.
const MARGIN: Duration = Duration::from_secs(25);

/// `Kind/name` of every object in `cluster` that the state's `manifests` records.
pub(crate) fn recorded(dir: &TfDir, cluster: &str) -> Vec<String> {
    let v = values(dir, "meshfed_trust.fed");
    let prefix = format!("{cluster}/");
    let mut out: Vec<String> = v["manifests"]
        .as_object()
        .expect("manifests")
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|k| {
            // <apiVersion>/<kind>/<namespace>/<name>, apiVersion "v1"
            let parts: Vec<&str> = k.split('/').collect();
            assert_eq!(parts[parts.len() - 2], NS, "{k}");
            format!("{}/{}", parts[parts.len() - 3], parts[parts.len() - 1])
        })
        .collect();
    out.sort();
    out
}

#[test]
fn ctrl_c_while_a_member_joins_over_slow_links_keeps_what_was_written_and_makes_no_ca_twice() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B, C]);
        let dir = p.dir(cli, &trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (a_root, b_root) = (p.root(A), p.root(B));

        // C joins; every cluster is slow, C twice as slow. meshfed writes the clusters at the
        // same time, each cluster's objects in order, cacerts first and the mesh config last:
        // 3 s a write in A and B, 6 s in C. The interrupt goes once B records C's root (B's
        // first write), so that within the grace C's cacerts is written, and its mesh config
        // (four writes after the cacerts, 24 s) is not.
        let (slow, proxies) =
            p.provider_with_latency(|n| Some(if n == C { ONE_WAY_JOINING } else { ONE_WAY }));
        dir.write("provider.tf", slow);
        dir.write("main.tf", trust("fed", &[A, B, C], ""));
        let mut apply = dir.spawn(&APPLY);
        let deadline = Instant::now() + Duration::from_secs(300);
        let b_records_c = format!("ConfigMap/{}", root_cm(C));
        while !p.meshfed_objects(B).contains(&b_records_c) {
            assert!(
                apply.is_running(),
                "{cli}: the apply ended before B recorded C's root"
            );
            assert!(
                Instant::now() < deadline,
                "{cli}: B did not record C's root in 300 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        apply.interrupt();
        let interrupted = Instant::now();
        let out = apply.wait();
        let took = interrupted.elapsed();
        eprintln!("{cli}: stopped {took:.1?} after the interrupt");
        assert!(
            took < STOP_GRACE + MARGIN,
            "{cli}: took {took:?} to stop\n{out}"
        );
        assert!(
            out.combined().contains("Apply interrupted") && out.combined().contains("grace"),
            "{cli}: meshfed says it stopped before finishing\n{out}"
        );
        drop(proxies);

        // Exactly what is in place is recorded: the same objects, and refreshing changes nothing.
        dir.write("provider.tf", p.provider());
        for c in [A, B, C] {
            assert_eq!(
                recorded(&dir, c),
                p.meshfed_objects(c),
                "{cli}: the state records {c}'s objects\n{out}"
            );
        }
        assert!(
            !p.meshfed_objects(C)
                .contains(&format!("ConfigMap/{MESH_CONFIG}")),
            "{cli}: C's mesh config was written before the stop: the apply was not interrupted in the middle\n{out}"
        );
        dir.run_code(
            0,
            &["plan", "-refresh-only", "-detailed-exitcode", "-no-color"],
        );
        let c_root = p.secret(C).map(|s| s["root-cert.pem"].clone());
        assert!(
            c_root.is_some(),
            "{cli}: C's CA was written within the grace\n{out}"
        );

        // The next apply finishes; C keeps the CA written before the stop.
        dir.run_ok(&APPLY);
        assert_eq!(
            (p.root(A), p.root(B)),
            (a_root, b_root),
            "{cli}: A's and B's CAs kept"
        );
        assert_eq!(
            Some(p.root(C)),
            c_root,
            "{cli}: C's CA, written before the stop, is not generated again"
        );
        assert_trusts_exactly(cli, &p, A, &[B, C]);
        assert_trusts_exactly(cli, &p, B, &[A, C]);
        assert_trusts_exactly(cli, &p, C, &[A, B]);
        let (foo, baz) = (
            p.workload(A, "spiffe://cluster-a.local/ns/abc/sa/foo"),
            p.workload(C, "spiffe://cluster-c.local/ns/abc/sa/baz"),
        );
        cert::mtls_handshake(&foo, &p.trusted_roots(A), &baz, &p.trusted_roots(C))
            .unwrap_or_else(|e| panic!("{cli}: A's workload calls C's: {e}"));
        assert_plan_empty(&dir);
    }
}
