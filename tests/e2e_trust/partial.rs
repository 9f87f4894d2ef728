//! A member's API server lost in the middle of an apply (a proxy in front of it, dropped once its
//! first object is written): the other members converge, the state records exactly the objects in
//! place, and once the server is back the next apply finishes; the CA written before the loss is
//! kept, every member trusts every other and the plan after it is empty. For an update (a member
//! joining) that is all; for a create, Terraform marks the resource tainted, meshfed warns with
//! the way out (`untaint`), and after it the next apply finishes in place too.

use std::time::{Duration, Instant};

use meshfed::cert;

use crate::fixture::{Planes, trust};
use crate::interrupted::recorded;
use crate::members::assert_trusts_exactly;
use crate::support::tf::{Cli, TfDir, TfOutput};
use crate::{A, APPLY, B, C, assert_plan_empty};

/// One way of the proxy in front of C: room to drop it between two of C's writes.
const ONE_WAY: Duration = Duration::from_millis(300);

/// Applies the working directory's configuration with C behind a proxy that is dropped as soon as
/// C holds an object of meshfed's; the apply must fail, naming C.
fn apply_losing_c_midway(cli: Cli, p: &Planes, dir: &TfDir) -> TfOutput {
    let (provider, mut proxies) = p.provider_via_proxies(ONE_WAY, Some(C));
    dir.write("provider.tf", provider);
    let mut apply = dir.spawn(&APPLY);
    let deadline = Instant::now() + Duration::from_secs(300);
    while p.meshfed_objects(C).is_empty() {
        assert!(
            apply.is_running(),
            "{cli}: the apply ended before writing to C"
        );
        assert!(
            Instant::now() < deadline,
            "{cli}: nothing written to C in 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    proxies.clear();
    let out = apply.wait();
    assert_eq!(out.code, 1, "{cli}: the apply fails\n{out}");
    assert!(
        out.stderr.contains(C),
        "{cli}: the error names the cluster lost\n{out}"
    );
    out
}

/// After the loss: A and B trust each other and C's root, C holds part of its objects, the state
/// records exactly what each cluster holds and a refresh changes nothing. Returns C's root.
fn assert_partial_state_exact(cli: Cli, p: &Planes, dir: &TfDir, out: &TfOutput) -> String {
    dir.write("provider.tf", p.provider());
    assert_trusts_exactly(cli, p, A, &[B, C]);
    assert_trusts_exactly(cli, p, B, &[A, C]);
    for c in [A, B, C] {
        assert_eq!(
            recorded(dir, c),
            p.meshfed_objects(c),
            "{cli}: the state records {c}'s objects\n{out}"
        );
    }
    let c_objects = p.meshfed_objects(C);
    assert!(
        c_objects.len() < 4,
        "{cli}: C got every object before the loss: {c_objects:?}\n{out}"
    );
    dir.run_code(
        0,
        &["plan", "-refresh-only", "-detailed-exitcode", "-no-color"],
    );
    p.secret(C)
        .map(|s| s["root-cert.pem"].clone())
        .unwrap_or_else(|| panic!("{cli}: C's cacerts is its first object\n{out}"))
}

/// The apply after recovery: every CA kept, full mutual trust, an empty plan.
fn assert_recovery_finishes(cli: Cli, p: &Planes, dir: &TfDir, roots: [&str; 3]) {
    dir.run_ok(&APPLY);
    assert_eq!(
        [p.root(A), p.root(B), p.root(C)],
        roots.map(str::to_string),
        "{cli}: no CA generated again"
    );
    assert_trusts_exactly(cli, p, A, &[B, C]);
    assert_trusts_exactly(cli, p, B, &[A, C]);
    assert_trusts_exactly(cli, p, C, &[A, B]);
    let in_a = p.workload(A, "spiffe://cluster-a.local/ns/abc/sa/foo");
    let in_c = p.workload(C, "spiffe://cluster-c.local/ns/abc/sa/baz");
    cert::mtls_handshake(&in_a, &p.trusted_roots(A), &in_c, &p.trusted_roots(C))
        .unwrap_or_else(|e| panic!("{cli}: A's workload calls C's: {e}"));
    assert_plan_empty(dir);
}

#[test]
fn a_member_lost_while_it_joins_leaves_an_exact_state_and_the_next_apply_finishes() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B, C]);
        let dir = p.dir(cli, &trust("fed", &[A, B], ""));
        dir.run_ok(&APPLY);
        let (a_root, b_root) = (p.root(A), p.root(B));

        dir.write("main.tf", trust("fed", &[A, B, C], ""));
        let out = apply_losing_c_midway(cli, &p, &dir);
        let c_root = assert_partial_state_exact(cli, &p, &dir, &out);
        assert!(
            !out.combined().contains("Resource created in part"),
            "{cli}: an update is not tainted\n{out}"
        );
        assert_recovery_finishes(cli, &p, &dir, [&a_root, &b_root, &c_root]);
    }
}

#[test]
fn a_member_lost_during_the_create_is_finished_in_place_after_untaint() {
    for cli in Cli::both() {
        let p = Planes::start(&[A, B, C]);
        let dir = p.dir(cli, &trust("fed", &[A, B, C], ""));
        let out = apply_losing_c_midway(cli, &p, &dir);
        assert!(
            out.combined().contains("Resource created in part")
                && out.combined().contains("untaint"),
            "{cli}: the taint Terraform puts on a failed create is explained, with the way out\n{out}"
        );
        let c_root = assert_partial_state_exact(cli, &p, &dir, &out);
        let (a_root, b_root) = (p.root(A), p.root(B));
        // Untainting succeeds only for a tainted resource.
        dir.run_ok(&["untaint", "meshfed_trust.fed"]);
        assert_recovery_finishes(cli, &p, &dir, [&a_root, &b_root, &c_root]);
    }
}
