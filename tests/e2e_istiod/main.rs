//! The seed federation (`examples/federation`) proven by Istio itself: two real control planes,
//! each with a real istiod (`pilot-discovery`, configured as Istio's Helm chart configures a
//! primary cluster of its own network, plus meshfed's documented multi-root settings), real
//! Terraform and real OpenTofu. What istiod pushes is read by connecting to it as the proxies
//! would (`meshfed-istio xds`), and workload certificates come from its CA through Istio's CSR
//! API (`meshfed-istio csr`). No Envoy runs: the data plane is proven with istiod's output and a
//! real mutual TLS handshake between certificates the two istiods issued, each side trusting
//! exactly the bundle its own istiod pushed.
//!
//! Needs real Terraform and OpenTofu, control planes and istiod (`scripts/setup`).
#[path = "../support/mod.rs"]
mod support;

mod fixture;
mod rbac;

use fixture::{A, B, Mesh, bundle, pems, until};
use meshfed::cert::mtls_handshake;
use serde_json::Value;
use support::istio::{Xds, find_all};
use support::tf::Cli;

const BAR_HOST: &str = "bar.xyz.svc.cluster-b.local";
const BAR_SNI: &str = "outbound_.8080_._.bar.xyz.svc.cluster-b.local";
const BAR_ID: &str = "spiffe://cluster-b.local/ns/xyz/sa/bar";

#[test]
fn istiod_programs_the_seed_federation_with_terraform() {
    seed_as_istiod_sees_it(Cli::Terraform);
}

#[test]
fn istiod_programs_the_seed_federation_with_opentofu() {
    seed_as_istiod_sees_it(Cli::Tofu);
}

fn seed_as_istiod_sees_it(cli: Cli) {
    let m = Mesh::start();
    let (own_a, own_b) = before_trust(cli, &m);

    let dir = m.dir(cli);
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    dir.run_code(0, &["plan", "-detailed-exitcode", "-no-color"]);

    // istiod started before `cacerts` existed, so it runs its self-signed CA and watches no
    // plug-in files: it keeps signing with that CA until it restarts (what the guide says).
    let (_, chain) = m.cert(A, &m.foo);
    assert_eq!(
        root_of(&chain),
        own_a,
        "{cli}: istiod-A switched CA without a restart"
    );
    m.planes.restart_istiod(A);
    m.planes.restart_istiod(B);

    istiod_signs_with_meshfeds_ca(cli, &m, &own_a, &own_b);
    bundles_hold_both_roots(cli, &m);
    foo_reaches_bar_through_bs_gateway(cli, &m);
    bs_gateway_passes_bar_through_and_nothing_else(cli, &m);
    bar_accepts_cluster_a_as_the_export_asks(cli, &m);
    assert_handshake(cli, &m, true);

    let root_a = m.cacerts_root(A);
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    nothing_remote_after_destroy(cli, &m, &root_a);
    assert_handshake(cli, &m, false);
}

/// Each istiod runs its own self-signed CA: each sidecar's bundle holds that root only, and
/// foo and bar cannot complete mutual TLS. Returns the two roots.
fn before_trust(cli: Cli, m: &Mesh) -> (String, String) {
    let foo_view = until(|| m.foo_sidecar(), |x| !bundle(x).is_empty());
    let bar = until(|| m.bar_sidecar(), |x| !bundle(x).is_empty());
    let (a, b) = (bundle(&foo_view), bundle(&bar));
    assert_eq!(a.len(), 1, "{cli}: foo's bundle before trust: {a:?}");
    assert_eq!(b.len(), 1, "{cli}: bar's bundle before trust: {b:?}");
    assert_ne!(a, b, "{cli}: the two istiods share a root");
    let (_, chain) = m.cert(A, &m.foo);
    assert_eq!(
        root_of(&chain),
        a[0],
        "{cli}: istiod-A signs with its own root"
    );
    assert_handshake(cli, m, false);
    (a[0].clone(), b[0].clone())
}

/// The last certificate of a chain istiod returned, normalised.
fn root_of(chain: &[String]) -> String {
    let all: Vec<String> = chain.iter().flat_map(|p| pems(p)).collect();
    all.last().cloned().expect("a chain with a root")
}

fn istiod_signs_with_meshfeds_ca(cli: Cli, m: &Mesh, own_a: &str, own_b: &str) {
    for (cluster, w, old) in [(A, &m.foo, own_a), (B, &m.bar, own_b)] {
        let want = pems(&m.cacerts_root(cluster));
        let (_, chain) = m.cert(cluster, w);
        let root = root_of(&chain);
        assert_eq!(
            vec![root.clone()],
            want,
            "{cli}: {cluster}'s chain ends at meshfed's root"
        );
        assert_ne!(
            root, old,
            "{cli}: {cluster} still signs with its self-signed CA"
        );
        assert!(
            chain.len() >= 2,
            "{cli}: leaf and meshfed's intermediate: {chain:?}"
        );
    }
}

fn bundles_hold_both_roots(cli: Cli, m: &Mesh) {
    let (root_a, root_b) = (m.cacerts_root(A), m.cacerts_root(B));
    let mut want: Vec<String> = pems(&root_a).into_iter().chain(pems(&root_b)).collect();
    want.sort();
    let foo_view = until(|| m.foo_sidecar(), |x| sorted(bundle(x)) == want);
    assert_eq!(
        sorted(bundle(&foo_view)),
        want,
        "{cli}: foo's trust bundle is both roots"
    );
    let bar = until(|| m.bar_sidecar(), |x| sorted(bundle(x)) == want);
    assert_eq!(
        sorted(bundle(&bar)),
        want,
        "{cli}: bar's trust bundle is both roots"
    );
    let mesh = m.istiod(A).debug_get("/debug/mesh");
    let mesh: Value = serde_json::from_str(&mesh).expect("/debug/mesh is JSON");
    let peers = mesh["caCertificates"]
        .as_array()
        .expect("caCertificates merged");
    assert_eq!(peers.len(), 1, "{cli}: {mesh}");
    assert_eq!(peers[0]["trustDomains"], serde_json::json!([B]), "{cli}");
    // What makes the istio-agent take the bundle above from istiod (PCDS) instead of its own root.
    let agent = &mesh["defaultConfig"]["proxyMetadata"]["PROXY_CONFIG_XDS_AGENT"];
    assert_eq!(agent, "true", "{cli}: proxyMetadata not merged: {mesh}");
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// foo's sidecar: bar's host on 8080 is a cluster with ISTIO_MUTUAL (SNI of the east-west
/// gateway, bar's identity required) whose one endpoint is cluster-b's gateway on 15443.
fn foo_reaches_bar_through_bs_gateway(cli: Cli, m: &Mesh) {
    let name = format!("outbound|8080||{BAR_HOST}");
    let x = until(|| m.foo_sidecar(), |x| !x.endpoints(&name).is_empty());
    let cluster = x
        .cluster(&name)
        .unwrap_or_else(|| panic!("{cli}: foo has no cluster {name}: {:?}", x.cluster_names()));
    let tls = typed(cluster, "UpstreamTlsContext");
    assert_eq!(tls.len(), 1, "{cli}: one TLS context on {name}: {cluster}");
    assert_eq!(tls[0]["sni"], BAR_SNI, "{cli}: {cluster}");
    let sans = strings_under(tls[0], "exact");
    assert_eq!(
        sans,
        vec![BAR_ID.to_string()],
        "{cli}: SAN match on bar: {cluster}"
    );
    assert_eq!(x.endpoints(&name), vec!["198.51.100.20:15443"], "{cli}");
}

/// Objects under `v` whose `@type` ends with `.<kind>`.
fn typed<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    let suffix = format!(".{kind}");
    let mut out = Vec::new();
    find_all(
        v,
        &|o| o["@type"].as_str().is_some_and(|t| t.ends_with(&suffix)),
        &mut out,
    );
    out
}

/// Every string value of a key named `key` under `v`.
fn strings_under(v: &Value, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    find_all(v, &|o| o.get(key).is_some_and(Value::is_string), &mut out);
    out.iter()
        .map(|o| o[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The filter chains of the listener on `port`.
fn chains_on(x: &Xds, port: u64) -> Vec<Value> {
    let names = x.listener_names();
    let listener = names
        .iter()
        .filter_map(|n| x.listener(n))
        .find(|l| l["address"]["socketAddress"]["portValue"] == port)
        .unwrap_or_else(|| panic!("no listener on {port}: {names:?}"));
    listener["filterChains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// cluster-b's east-west gateway: on 15443 a passthrough chain for exactly bar's SNI, to bar's
/// pod; no chain for baz, a service of the same namespace that was not exported.
fn bs_gateway_passes_bar_through_and_nothing_else(cli: Cli, m: &Mesh) {
    let x = until(|| m.gateway_of_b(), |x| !x.endpoints(BAR_SNI).is_empty());
    let chains = chains_on(&x, 15443);
    let bar: Vec<&Value> = chains
        .iter()
        .filter(|c| c["filterChainMatch"]["serverNames"] == serde_json::json!([BAR_SNI]))
        .collect();
    assert_eq!(bar.len(), 1, "{cli}: one chain for {BAR_SNI}: {chains:?}");
    let proxies = typed(bar[0], "TcpProxy");
    assert_eq!(proxies.len(), 1, "{cli}: {:?}", bar[0]);
    assert_eq!(
        proxies[0]["cluster"], BAR_SNI,
        "{cli}: passthrough to bar's cluster"
    );
    assert!(
        typed(bar[0], "DownstreamTlsContext").is_empty(),
        "{cli}: TLS is not terminated"
    );
    let names = strings_under(&Value::Array(chains.clone()), "cluster");
    assert!(
        !names.iter().any(|n| n.contains("baz")),
        "{cli}: baz exposed: {names:?}"
    );
    assert_eq!(
        x.endpoints(BAR_SNI),
        vec!["10.20.0.5:8080"],
        "{cli}: bar's pod; cluster {:?}, endpoints {:?}",
        x.cluster(BAR_SNI),
        x.0["endpoints"].get(BAR_SNI)
    );
}

/// bar's sidecar: its inbound mTLS chains on 8080 accept client certificates of
/// cluster-a.local, and the export's policy lets foo (listed) and local callers in while it
/// refuses an unlisted caller of cluster-a.
fn bar_accepts_cluster_a_as_the_export_asks(cli: Cli, m: &Mesh) {
    let x = until(
        || m.bar_sidecar(),
        |x| rbac_chains(x).iter().any(|c| !typed(c, "RBAC").is_empty()),
    );
    let chains = rbac_chains(&x);
    assert!(
        !chains.is_empty(),
        "{cli}: no inbound TLS chain for 8080: {}",
        x.describe()
    );
    for chain in &chains {
        let prefixes = strings_under(&typed(chain, "DownstreamTlsContext")[0].clone(), "prefix");
        for td in [A, B] {
            let want = format!("spiffe://{td}/");
            assert!(
                prefixes.contains(&want),
                "{cli}: {td} not accepted: {prefixes:?}"
            );
        }
        let filters = typed(chain, "RBAC");
        let enforced: Vec<&Value> = filters
            .into_iter()
            .filter(|f| f.get("rules").is_some())
            .collect();
        assert!(
            !enforced.is_empty(),
            "{cli}: no RBAC rules on bar's chain: {chain}"
        );
        let may = |p: &str| rbac::allows(&enforced, p);
        assert!(
            may("spiffe://cluster-a.local/ns/abc/sa/foo"),
            "{cli}: listed foo refused"
        );
        assert!(
            !may("spiffe://cluster-a.local/ns/abc/sa/intruder"),
            "{cli}: unlisted let in"
        );
        assert!(
            may("spiffe://cluster-b.local/ns/xyz/sa/qux"),
            "{cli}: local caller refused"
        );
    }
}

/// bar's inbound chains for port 8080 that terminate mutual TLS.
fn rbac_chains(x: &Xds) -> Vec<Value> {
    let Some(inbound) = x.listener("virtualInbound") else {
        return vec![];
    };
    inbound["filterChains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["filterChainMatch"]["destinationPort"] == 8080)
        .filter(|c| !typed(c, "DownstreamTlsContext").is_empty())
        .cloned()
        .collect()
}

/// foo's certificate from istiod-A and bar's from istiod-B, each side verifying with exactly
/// the bundle its own istiod pushes to it.
fn assert_handshake(cli: Cli, m: &Mesh, ok: bool) {
    let (foo_cert, _) = m.cert(A, &m.foo);
    let (bar_cert, _) = m.cert(B, &m.bar);
    let (foo_trusts, bar_trusts) = (bundle(&m.foo_sidecar()), bundle(&m.bar_sidecar()));
    let result = mtls_handshake(&foo_cert, &foo_trusts, &bar_cert, &bar_trusts);
    match (ok, result) {
        (true, Ok(auth)) => {
            assert_eq!(auth.server_id, BAR_ID, "{cli}");
            assert_eq!(
                auth.client_id, "spiffe://cluster-a.local/ns/abc/sa/foo",
                "{cli}"
            );
        }
        (false, Err(_)) => {}
        (true, Err(e)) => panic!("{cli}: mTLS with istiod's certificates failed: {e}"),
        (false, Ok(_)) => panic!("{cli}: mTLS succeeded without trust between the meshes"),
    }
}

/// After destroy istiod pushes neither the peer root, nor bar's cluster, nor the gateway chain.
/// istiod-A keeps signing with the CA it loaded (`root_a`, meshfed's) after `cacerts` is gone.
fn nothing_remote_after_destroy(cli: Cli, m: &Mesh, root_a: &str) {
    let name = format!("outbound|8080||{BAR_HOST}");
    let own_a = pems(root_a);
    let foo_view = until(
        || m.foo_sidecar(),
        |x| bundle(x) == own_a && x.cluster(&name).is_none(),
    );
    assert_eq!(
        bundle(&foo_view),
        own_a,
        "{cli}: foo's bundle keeps a removed root"
    );
    assert!(foo_view.cluster(&name).is_none(), "{cli}: foo keeps {name}");
    let gw = until(|| m.gateway_of_b(), |x| !has_sni(x, BAR_SNI));
    assert!(
        !has_sni(&gw, BAR_SNI),
        "{cli}: B's gateway keeps bar's chain"
    );
}

/// Whether a filter chain of any listener matches `sni`.
fn has_sni(x: &Xds, sni: &str) -> bool {
    let mut found = Vec::new();
    let matches = |o: &Value| {
        o["serverNames"]
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == sni))
    };
    find_all(&x.0["listeners"], &matches, &mut found);
    !found.is_empty()
}
