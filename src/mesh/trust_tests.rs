//! Rendering of `meshfed_trust`, checked without a cluster.

use super::*;
use crate::cert::{CaRequest, generate_ca};
use crate::mesh::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// PEM with a fixed, readable body, so goldens stay stable: nothing here parses it.
fn pem(label: &str, text: &str) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        base64_encode(text.as_bytes())
    )
}

fn stub(td: &str) -> CaMaterial {
    let root = pem("CERTIFICATE", &format!("{td} root"));
    let int = pem("CERTIFICATE", &format!("{td} intermediate"));
    CaMaterial {
        cert_chain_pem: format!("{int}{root}"),
        root_cert_pem: root,
        intermediate_cert_pem: int,
        intermediate_key_pem: pem("PRIVATE KEY", &format!("{td} intermediate key")),
    }
}

fn member(cluster: &str, ca: MemberCa) -> Member {
    Member {
        cluster: cluster.into(),
        trust_domain: cluster.into(),
        istio_namespace: "istio-system".into(),
        ca,
        extra_roots: vec![],
        next: None,
    }
}

fn two(bundle: BundleMode, ca: impl Fn(&str) -> CaMaterial) -> TrustSpec {
    TrustSpec {
        members: ["cluster-b.local", "cluster-a.local"]
            .map(|c| member(c, MemberCa::Generated(ca(c))))
            .into(),
        peers: vec![],
        bundle,
    }
}

fn peer(trust_domain: &str, root_cert_pem: String) -> Peer {
    let trust_domain = trust_domain.into();
    Peer {
        trust_domain,
        root_cert_pem,
    }
}

fn with_peer(mut spec: TrustSpec) -> TrustSpec {
    let root = pem("CERTIFICATE", "cluster-c.local root");
    spec.peers.push(peer("cluster-c.local", root));
    spec
}

fn golden(name: &str, spec: &TrustSpec) {
    let out = render(spec).expect("render");
    for r in &out {
        assert!(
            !r.manifest.to_yaml().contains("PRIVATE KEY"),
            "a key reached a manifest"
        );
    }
    let objects = || {
        let out = render(spec).expect("render");
        out.into_iter().map(|r| (r.cluster, r.manifest)).collect()
    };
    crate::mesh::golden::check(name, objects);
}

fn of<'a>(out: &'a [Rendered], cluster: &str, name: &str) -> &'a Rendered {
    let found = out
        .iter()
        .find(|r| r.cluster == cluster && r.manifest.name == name);
    found.unwrap_or_else(|| panic!("no {name} in {cluster}"))
}

fn has(out: &[Rendered], cluster: &str, name: &str) -> bool {
    out.iter()
        .any(|r| r.cluster == cluster && r.manifest.name == name)
}

/// A value of the applied object's `data`, base64-decoded for Secrets.
fn data(r: &Rendered, key: &str) -> String {
    let v = r.apply.object["data"][key]
        .as_str()
        .expect("a string value");
    if r.apply.kind != "Secret" {
        return v.to_string();
    }
    let bytes = crate::cert::encoding::base64_decode(v).expect("base64");
    String::from_utf8(bytes).expect("UTF-8")
}

fn mesh_config_of(out: &[Rendered], cluster: &str) -> Value {
    let text = data(of(out, cluster, MESH_CONFIG_CONFIGMAP), MESH_CONFIG_KEY);
    serde_saphyr::from_str(&text).expect("the mesh config is YAML")
}

#[test]
fn two_generated_members_in_mesh_config_mode_render_as_the_golden_file() {
    golden("trust_mesh_config.yaml", &two(BundleMode::MeshConfig, stub));
}

#[test]
fn two_generated_members_in_cacerts_mode_render_as_the_golden_file() {
    golden("trust_cacerts.yaml", &two(BundleMode::Cacerts, stub));
}

#[test]
fn two_members_and_an_external_peer_render_as_the_golden_file() {
    let spec = with_peer(two(BundleMode::MeshConfig, stub));
    golden("trust_peer.yaml", &spec);
}

#[test]
fn each_member_trusts_the_other_members_root_under_its_trust_domain_and_never_its_own() {
    let out = render(&two(BundleMode::MeshConfig, stub)).expect("render");
    let a_root = stub("cluster-a.local").root_cert_pem;
    let b_root = stub("cluster-b.local").root_cert_pem;
    let record = of(&out, "cluster-a.local", "cluster-b.local-ca-root-cert");
    assert_eq!(data(record, ROOT_CERT_KEY), b_root);
    assert!(!has(
        &out,
        "cluster-a.local",
        "cluster-a.local-ca-root-cert"
    ));
    let mesh = mesh_config_of(&out, "cluster-a.local");
    let only_b = json!([{ "pem": b_root, "trustDomains": ["cluster-b.local"] }]);
    assert_eq!(mesh["caCertificates"], only_b);
    assert_ne!(mesh["caCertificates"][0]["pem"], json!(a_root));
    let agent = &mesh["defaultConfig"]["proxyMetadata"]["PROXY_CONFIG_XDS_AGENT"];
    assert_eq!(agent, "true");
}

#[test]
fn an_external_peer_is_trusted_by_every_member() {
    let out = render(&with_peer(two(BundleMode::MeshConfig, stub))).expect("render");
    let c_root = pem("CERTIFICATE", "cluster-c.local root");
    for cluster in ["cluster-a.local", "cluster-b.local"] {
        let record = of(&out, cluster, "cluster-c.local-ca-root-cert");
        assert_eq!(data(record, ROOT_CERT_KEY), c_root);
        let c = json!({ "pem": c_root, "trustDomains": ["cluster-c.local"] });
        let cas = mesh_config_of(&out, cluster)["caCertificates"].clone();
        assert!(
            cas.as_array().expect("list").contains(&c),
            "{cluster}: {cas}"
        );
    }
}

#[test]
fn root_cert_pem_holds_the_own_root_first_then_the_others_only_in_cacerts_mode() {
    let (a, b) = (stub("cluster-a.local"), stub("cluster-b.local"));
    let out = render(&two(BundleMode::Cacerts, stub)).expect("render");
    let root = data(of(&out, "cluster-b.local", CACERTS_SECRET), ROOT_CERT_KEY);
    assert_eq!(root, format!("{}{}", b.root_cert_pem, a.root_cert_pem));
    let out = render(&two(BundleMode::MeshConfig, stub)).expect("render");
    let root = data(of(&out, "cluster-b.local", CACERTS_SECRET), ROOT_CERT_KEY);
    assert_eq!(root, b.root_cert_pem);
}

#[test]
fn no_manifest_holds_a_private_key_while_the_applied_secret_does() {
    let now = time::OffsetDateTime::now_utc();
    let spec = two(BundleMode::Cacerts, |td| {
        generate_ca(CaRequest::new(td, now)).expect("ca")
    });
    for r in render(&spec).expect("render") {
        assert!(
            !r.manifest.to_yaml().contains("PRIVATE KEY"),
            "{} in {}",
            r.manifest.name,
            r.cluster
        );
        assert!(!format!("{r:?}").contains("PRIVATE KEY"));
        if r.manifest.kind != "Secret" {
            continue;
        }
        assert!(data(&r, "ca-key.pem").contains("PRIVATE KEY"));
        for k in r.apply.object["data"].as_object().expect("data").keys() {
            let shown = sha256_display(data(&r, k).as_bytes());
            assert_eq!(r.manifest.object["data"][k], json!(shown), "{k}");
        }
    }
}

#[test]
fn a_member_adopting_its_clusters_ca_gets_no_secret_but_is_trusted_by_the_others() {
    let mut spec = two(BundleMode::Cacerts, stub);
    let root_cert_pem = pem("CERTIFICATE", "cluster-b.local own istiod root");
    spec.members[0].ca = MemberCa::Cluster {
        root_cert_pem: root_cert_pem.clone(),
    };
    let out = render(&spec).expect("render");
    assert!(!has(&out, "cluster-b.local", CACERTS_SECRET));
    let record = of(&out, "cluster-a.local", "cluster-b.local-ca-root-cert");
    assert_eq!(data(record, ROOT_CERT_KEY), root_cert_pem);
    assert!(has(&out, "cluster-b.local", "cluster-a.local-ca-root-cert"));
}

#[test]
fn every_object_is_labelled_and_istiods_own_root_configmap_is_never_written() {
    for r in render(&with_peer(two(BundleMode::Cacerts, stub))).expect("render") {
        for m in [&r.manifest, &r.apply] {
            let label = &m.object["metadata"]["labels"][MANAGED_BY_LABEL];
            assert_eq!(label, MANAGED_BY_VALUE);
            assert_ne!(m.name, ISTIO_ROOT_CONFIGMAP);
            assert_eq!(m.namespace, "istio-system");
        }
    }
}

#[test]
fn the_order_of_members_and_peers_in_configuration_does_not_change_the_output() {
    let spec = with_peer(two(BundleMode::MeshConfig, stub));
    let mut reversed = spec.clone();
    reversed.members.reverse();
    assert_eq!(render(&spec), render(&reversed));
}

#[test]
fn a_cluster_or_trust_domain_listed_twice_or_unfit_for_a_name_is_refused() {
    let mut spec = two(BundleMode::MeshConfig, stub);
    spec.members[1].cluster = "cluster-b.local".into();
    let err = render(&spec);
    assert!(matches!(err, Err(TrustError::DuplicateCluster { .. })));
    let mut spec = two(BundleMode::MeshConfig, stub);
    spec.peers.push(peer("cluster-a.local", String::new()));
    let err = render(&spec);
    assert!(matches!(err, Err(TrustError::DuplicateTrustDomain { .. })));
    let mut spec = two(BundleMode::MeshConfig, stub);
    spec.peers.push(peer("td_c", String::new()));
    assert!(matches!(
        render(&spec),
        Err(TrustError::NameConfigMap { .. })
    ));
}

#[test]
fn bundle_modes_round_trip_through_their_names() {
    for (mode, name) in BundleMode::ALL {
        assert_eq!(mode.as_str(), name);
        assert_eq!(BundleMode::parse(name), Some(mode));
    }
    assert_eq!(BundleMode::default(), BundleMode::MeshConfig);
}

fn roots_in(out: &[Rendered], cluster: &str, party: &str) -> Vec<String> {
    let record = of(out, cluster, &root_configmap_name(party));
    pem_texts(&data(record, ROOT_CERT_KEY))
}

#[test]
fn during_a_rotation_both_roots_are_trusted_everywhere_and_the_signing_root_comes_first() {
    let (old, new) = (stub("cluster-a.local"), stub("cluster-a.local next"));
    let mut spec = with_peer(two(BundleMode::Cacerts, stub));
    let a = spec
        .members
        .iter_mut()
        .find(|m| m.cluster == "cluster-a.local");
    let a = a.expect("member a");
    a.extra_roots = vec![new.root_cert_pem.clone()];
    let out = render(&spec).expect("render");
    let own = data(of(&out, "cluster-a.local", CACERTS_SECRET), ROOT_CERT_KEY);
    let c_root = pem("CERTIFICATE", "cluster-c.local root");
    let b_root = stub("cluster-b.local").root_cert_pem;
    let want = [&old.root_cert_pem, &new.root_cert_pem, &b_root, &c_root];
    assert_eq!(own, want.map(String::as_str).concat());
    let mut both = vec![old.root_cert_pem.clone(), new.root_cert_pem.clone()];
    both.sort();
    assert_eq!(roots_in(&out, "cluster-b.local", "cluster-a.local"), both);
    let b_own = data(of(&out, "cluster-b.local", CACERTS_SECRET), ROOT_CERT_KEY);
    assert_eq!(pem_texts(&b_own)[1..3], both[..]);
    // Which root signs does not change what the others hold.
    let a = spec
        .members
        .iter_mut()
        .find(|m| m.cluster == "cluster-a.local");
    let a = a.expect("member a");
    a.ca = MemberCa::Generated(new.clone());
    a.extra_roots = vec![old.root_cert_pem.clone()];
    let switched = render(&spec).expect("render");
    for r in switched.iter().filter(|r| r.cluster == "cluster-b.local") {
        assert_eq!(
            Some(r),
            out.iter()
                .find(|o| o.cluster == r.cluster && o.manifest.name == r.manifest.name),
            "{}",
            r.manifest.name
        );
    }
    let entries = mesh_config_of(&out, "cluster-b.local")["caCertificates"].clone();
    let for_a: Vec<&Value> = entries
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["trustDomains"] == json!(["cluster-a.local"]))
        .collect();
    assert_eq!(for_a.len(), 2, "one entry per root: {entries}");
    assert_eq!(for_a[0]["pem"], json!(both[0]));
    assert_eq!(for_a[1]["pem"], json!(both[1]));
}

#[test]
fn a_ca_not_signing_yet_is_kept_in_its_own_secret_never_shown_with_its_key() {
    let now = time::OffsetDateTime::now_utc();
    let mut spec = two(BundleMode::MeshConfig, stub);
    let next = generate_ca(CaRequest::new("cluster-a.local", now)).expect("ca");
    spec.members[1].extra_roots = vec![next.root_cert_pem.clone()];
    spec.members[1].next = Some(next.clone());
    let out = render(&spec).expect("render");
    let staged = of(&out, "cluster-a.local", NEXT_CA_SECRET);
    assert_eq!(
        data(staged, "ca-key.pem"),
        pem_text(&next.intermediate_key_pem)
    );
    assert_eq!(data(staged, ROOT_CERT_KEY), pem_text(&next.root_cert_pem));
    assert!(!staged.manifest.to_yaml().contains("PRIVATE KEY"));
    assert!(!has(&out, "cluster-b.local", NEXT_CA_SECRET));
    let signing = data(of(&out, "cluster-a.local", CACERTS_SECRET), "ca-cert.pem");
    assert_eq!(signing, stub("cluster-a.local").intermediate_cert_pem);
}

#[test]
fn a_peer_listing_two_roots_is_trusted_under_both() {
    let mut spec = two(BundleMode::MeshConfig, stub);
    let (c1, c2) = (pem("CERTIFICATE", "c old"), pem("CERTIFICATE", "c new"));
    spec.peers
        .push(peer("cluster-c.local", format!("{c1}\n{c2}")));
    let out = render(&spec).expect("render");
    let mut both = vec![c1, c2];
    both.sort();
    assert_eq!(roots_in(&out, "cluster-a.local", "cluster-c.local"), both);
}
