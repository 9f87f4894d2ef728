//! Two control planes, each with a real istiod, and the seed's workloads as a kubelet and the
//! EndpointSlice controller would show them (none runs here): foo in cluster-a (namespace abc),
//! bar and baz in cluster-b (namespace xyz; baz is never exported), and each cluster's east-west
//! gateway pod behind its LoadBalancer Service.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

use crate::support::controlplanes::ControlPlanes;
use crate::support::istio::{Istiod, Proxy, Workload, Xds, workload_cert, xds};
use crate::support::tf::{Cli, TfDir};
use meshfed::cert::WorkloadCert;

pub const A: &str = "cluster-a.local";
pub const B: &str = "cluster-b.local";

pub struct Mesh {
    pub planes: ControlPlanes,
    pub rt: tokio::runtime::Runtime,
    pub foo: Workload,
    pub bar: Workload,
    pub baz: Workload,
    pub gateway_a: Workload,
    pub gateway_b: Workload,
}

impl Mesh {
    pub fn start() -> Mesh {
        let planes = ControlPlanes::start_with_istiod(&[A, B]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let m = Mesh {
            planes,
            rt,
            foo: Workload::app("abc", "foo", "10.10.0.5", 8080),
            bar: Workload::app("xyz", "bar", "10.20.0.5", 8080),
            baz: Workload::app("xyz", "baz", "10.20.0.6", 8080),
            gateway_a: Workload::eastwest_gateway("10.10.0.100", "198.51.100.10"),
            gateway_b: Workload::eastwest_gateway("10.20.0.100", "198.51.100.20"),
        };
        for (cluster, w) in [
            (A, &m.foo),
            (A, &m.gateway_a),
            (B, &m.bar),
            (B, &m.baz),
            (B, &m.gateway_b),
        ] {
            let client = m.rt.block_on(m.planes.client(cluster));
            m.rt.block_on(w.create(&client));
        }
        m
    }

    pub fn istiod(&self, cluster: &str) -> Istiod {
        self.planes.istiod(cluster)
    }

    /// The example federation (`examples/federation/main.tf`) in a fresh working directory.
    pub fn dir(&self, cli: Cli) -> TfDir {
        let mut dir = TfDir::new(cli);
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/federation/main.tf"
        ))
        .expect("read the example");
        dir.write("main.tf", example);
        dir.env(
            "TF_VAR_kubeconfig",
            self.planes.provider_kubeconfig().display().to_string(),
        );
        dir
    }

    pub fn foo_sidecar(&self) -> Xds {
        xds(&self.istiod(A), &Proxy::sidecar(&self.foo))
    }

    pub fn bar_sidecar(&self) -> Xds {
        xds(&self.istiod(B), &Proxy::sidecar(&self.bar))
    }

    pub fn gateway_of_b(&self) -> Xds {
        xds(&self.istiod(B), &Proxy::gateway(&self.gateway_b))
    }

    /// A certificate for `w` from `cluster`'s istiod, with the chain istiod returned.
    pub fn cert(&self, cluster: &str, w: &Workload) -> (WorkloadCert, Vec<String>) {
        workload_cert(
            self.planes.kubeconfig(),
            &self.istiod(cluster),
            &w.namespace,
            &w.service_account,
        )
    }

    /// The root meshfed wrote into `cluster`'s `cacerts` Secret.
    pub fn cacerts_root(&self, cluster: &str) -> String {
        self.cacerts(cluster, "root-cert.pem")
    }

    /// A value of `cluster`'s `cacerts` Secret, decoded (certificates only are asked for).
    pub fn cacerts(&self, cluster: &str, key: &str) -> String {
        use base64::Engine;
        let client = self.rt.block_on(self.planes.client(cluster));
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret"));
        let secrets: Api<DynamicObject> = Api::namespaced_with(client, "istio-system", &ar);
        let s = self
            .rt
            .block_on(secrets.get("cacerts"))
            .unwrap_or_else(|e| panic!("cacerts in {cluster}: {e}"));
        let b64 = s.data["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in cacerts of {cluster}"));
        let pem = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        String::from_utf8(pem).expect("PEM text")
    }
}

/// Probes until `probe`'s result satisfies `done` (istiod pushes a change within a second or
/// so of the API server's event; 60 s is the bound), and returns the last result either way:
/// the caller asserts on it, so a timeout fails with what istiod actually pushed.
pub fn until<T>(probe: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = probe();
        if done(&v) || Instant::now() >= deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The PEM blocks of a text, normalised (trimmed, `\n` line ends) so that the same certificate
/// compares equal wherever it came from.
pub fn pems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.starts_with("-----END") {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Every certificate of a trust bundle, normalised.
pub fn bundle(x: &Xds) -> Vec<String> {
    x.trust_bundle().iter().flat_map(|p| pems(p)).collect()
}
