//! `cargo run --example federation-check -- KUBECONFIG CLUSTER...`: what the demo shows after
//! applying the federation. For each cluster (a context of KUBECONFIG) it lists the objects
//! meshfed manages (label `app.kubernetes.io/managed-by=meshfed`); then it proves the trust
//! exchange with certificates alone: a workload certificate is issued from each of the first two
//! clusters' intermediates (read back from their `cacerts` Secrets), and a real mutual TLS
//! handshake runs between them, each side trusting exactly the roots its own cluster's objects
//! list (its `cacerts` root and its `meshfed-mesh-config` caCertificates).
//!
//! `federation-check istiod FOO_CERTS FOO_XDS BAR_CERTS BAR_XDS GATEWAY_XDS`: the same proof with
//! what the real istiods produced (the demo gathers it with `meshfed-istio`): the certificates
//! each istiod's CA issued for foo and bar (`cert-chain.pem`, `key.pem` in each directory), and
//! what each istiod pushes to foo's and bar's sidecars and to cluster-b's east-west gateway (the
//! probe's JSON). It prints foo's route to bar and the gateway's passthrough chain as istiod
//! programmed them, then runs the handshake with each side trusting exactly the bundle its own
//! istiod pushed.
//!
//! Exit code 0 when the handshake succeeds, 1 otherwise.

use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use meshfed::cert::{IssuingCa, issue_workload_cert, mtls_handshake};

const KINDS: [(&str, &str, &str); 6] = [
    ("", "v1", "Secret"),
    ("", "v1", "ConfigMap"),
    ("networking.istio.io", "v1", "Gateway"),
    ("networking.istio.io", "v1", "ServiceEntry"),
    ("networking.istio.io", "v1", "DestinationRule"),
    ("security.istio.io", "v1", "AuthorizationPolicy"),
];

type Error = Box<dyn std::error::Error>;

async fn client(kubeconfig: &str, context: &str) -> Result<kube::Client, Error> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    Ok(kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &options).await?,
    )?)
}

async fn list(client: &kube::Client) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for (group, version, kind) in KINDS {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let Ok(objects) = api
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=meshfed"))
            .await
        else {
            continue;
        };
        for o in objects {
            out.push(format!(
                "{:<20} {}/{}",
                kind,
                o.metadata.namespace.unwrap_or_default(),
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    Ok(out)
}

struct Trust {
    trust_domain: String,
    cert: String,
    key: String,
    chain: String,
    roots: Vec<String>,
}

fn decode(o: &serde_json::Value, key: &str) -> String {
    use base64::Engine;
    let raw = o["data"][key].as_str().unwrap_or_default();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

async fn trust_of(client: &kube::Client, trust_domain: &str) -> Result<Trust, Error> {
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "istio-system",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret")),
    );
    let cms: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "istio-system",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
    );
    let s = serde_json::to_value(secrets.get("cacerts").await?)?;
    let mut roots = vec![decode(&s, "root-cert.pem")];
    if let Some(cm) = cms.get_opt("meshfed-mesh-config").await? {
        let cm = serde_json::to_value(cm)?;
        let mesh: serde_json::Value =
            serde_saphyr::from_str(cm["data"]["mesh"].as_str().unwrap_or_default())
                .unwrap_or_default();
        for c in mesh["caCertificates"].as_array().into_iter().flatten() {
            roots.extend(c["pem"].as_str().map(str::to_string));
        }
    }
    Ok(Trust {
        trust_domain: trust_domain.to_string(),
        cert: decode(&s, "ca-cert.pem"),
        key: decode(&s, "ca-key.pem"),
        chain: decode(&s, "cert-chain.pem"),
        roots,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("istiod") {
        return istiod_proof(&args[1..]);
    }
    let [kubeconfig, clusters @ ..] = args.as_slice() else {
        eprintln!("usage: federation-check KUBECONFIG CLUSTER...");
        std::process::exit(2);
    };
    let mut trusts = Vec::new();
    for c in clusters {
        let client = client(kubeconfig, c).await?;
        println!("{c}: objects managed by meshfed");
        for line in list(&client).await? {
            println!("  {line}");
        }
        trusts.push(trust_of(&client, c).await);
    }
    let (Some(Ok(a)), Some(Ok(b))) = (trusts.first(), trusts.get(1)) else {
        println!("mTLS proof: needs the cacerts Secrets of two clusters");
        std::process::exit(1);
    };
    let now = meshfed::cert::now();
    let client_cert = issue_workload_cert(
        IssuingCa {
            cert_pem: &a.cert,
            key_pem: &a.key,
            cert_chain_pem: &a.chain,
        },
        &format!("spiffe://{}/ns/abc/sa/foo", a.trust_domain),
        now,
    )?;
    let server_cert = issue_workload_cert(
        IssuingCa {
            cert_pem: &b.cert,
            key_pem: &b.key,
            cert_chain_pem: &b.chain,
        },
        &format!("spiffe://{}/ns/xyz/sa/bar", b.trust_domain),
        now,
    )?;
    match mtls_handshake(&client_cert, &a.roots, &server_cert, &b.roots) {
        Ok(auth) => {
            println!(
                "mTLS proof: {} -> {}: mutual TLS handshake OK (each side trusts only the roots its own cluster lists)",
                auth.client_id, auth.server_id
            );
            Ok(())
        }
        Err(e) => {
            println!(
                "mTLS proof: foo ({}) -> bar ({}): handshake FAILED: {e}",
                a.trust_domain, b.trust_domain
            );
            std::process::exit(1);
        }
    }
}

const BAR_CLUSTER: &str = "outbound|8080||bar.xyz.svc.cluster-b.local";
const BAR_SNI: &str = "outbound_.8080_._.bar.xyz.svc.cluster-b.local";

fn read_json(path: &str) -> Result<serde_json::Value, Error> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn istiod_cert(dir: &str) -> Result<meshfed::cert::WorkloadCert, Error> {
    Ok(meshfed::cert::WorkloadCert {
        cert_chain_pem: std::fs::read_to_string(format!("{dir}/cert-chain.pem"))?,
        key_pem: std::fs::read_to_string(format!("{dir}/key.pem"))?,
    })
}

fn bundle(xds: &serde_json::Value) -> Vec<String> {
    let pems = xds["trust_bundle"].as_array().into_iter().flatten();
    pems.filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// The values of `key` anywhere under `v`, as compact JSON.
fn find(v: &serde_json::Value, key: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
            if k == key {
                out.push(x.to_string());
            }
            find(x, key, out)
        }),
        serde_json::Value::Array(a) => a.iter().for_each(|x| find(x, key, out)),
        _ => {}
    }
}

fn istiod_proof(args: &[String]) -> Result<(), Error> {
    let [foo_certs, foo_xds, bar_certs, bar_xds, gw_xds] = args else {
        eprintln!("usage: federation-check istiod FOO_CERTS FOO_XDS BAR_CERTS BAR_XDS GATEWAY_XDS");
        std::process::exit(2);
    };
    let (at_foo, at_bar, gw) = (read_json(foo_xds)?, read_json(bar_xds)?, read_json(gw_xds)?);
    let cluster = &at_foo["clusters"][BAR_CLUSTER];
    let (mut sni, mut sans, mut eps) = (vec![], vec![], vec![]);
    find(cluster, "sni", &mut sni);
    find(cluster, "exact", &mut sans);
    find(&at_foo["endpoints"][BAR_CLUSTER], "socketAddress", &mut eps);
    println!("istiod-A -> foo's sidecar: cluster {BAR_CLUSTER}");
    println!(
        "  sni {}, SAN {}, endpoints {}",
        sni.join(","),
        sans.join(","),
        eps.join(",")
    );
    let mut names = vec![];
    find(&gw["listeners"], "serverNames", &mut names);
    let mut gw_eps = vec![];
    find(&gw["endpoints"][BAR_SNI], "socketAddress", &mut gw_eps);
    println!(
        "istiod-B -> east-west gateway: passthrough server names {}",
        names.join(" ")
    );
    println!("  {BAR_SNI} -> {}", gw_eps.join(","));
    let (foo_trusts, bar_trusts) = (bundle(&at_foo), bundle(&at_bar));
    println!(
        "trust bundles pushed: foo's sidecar {} roots, bar's sidecar {} roots",
        foo_trusts.len(),
        bar_trusts.len()
    );
    let (foo_cert, bar_cert) = (istiod_cert(foo_certs)?, istiod_cert(bar_certs)?);
    match mtls_handshake(&foo_cert, &foo_trusts, &bar_cert, &bar_trusts) {
        Ok(auth) => {
            println!(
                "istiod mTLS proof: {} -> {}: handshake OK between certificates the two istiods issued, each side trusting the bundle its own istiod pushed",
                auth.client_id, auth.server_id
            );
            Ok(())
        }
        Err(e) => {
            println!("istiod mTLS proof: handshake FAILED: {e}");
            std::process::exit(1);
        }
    }
}
