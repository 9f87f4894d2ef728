//! istiod's own view of a federation, for tests against the control planes of
//! [`ControlPlanes::start_with_istiod`](super::controlplanes::ControlPlanes::start_with_istiod):
//!
//! - [`xds`]: connects to a running istiod as a proxy (a sidecar of a pod, or the east-west
//!   gateway) with `meshfed-istio xds` and returns what istiod pushes — clusters, listeners,
//!   endpoints, routes and the trust bundle (PCDS) — as JSON ([`Xds`]);
//! - [`workload_cert`]: a workload certificate signed by that istiod's CA, obtained through
//!   Istio's CSR API with a ServiceAccount token from the API server (`meshfed-istio csr`);
//! - [`Workload`]: what a kubelet and the EndpointSlice controller would make for a pod of a
//!   Service (no controller runs in the test control planes): the ServiceAccount, the Service,
//!   the Pod with its status, the EndpointSlice.
//!
//! `meshfed-istio` is built by `scripts/setup-istiod` into `$MESHFED_CACHE/bin`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use meshfed::cert::WorkloadCert;

/// One running istiod, as `DIR/NAME/istiod.json` describes it.
#[derive(Clone, Debug)]
pub struct Istiod {
    /// Plaintext xDS (a real istiod's port 15010).
    pub xds: String,
    /// xDS and the CA's CSR API over TLS (15012).
    pub xds_tls: String,
    /// The HTTP debug API (8080).
    pub debug: String,
    pub cluster: String,
    pub network: String,
    pub pid: u32,
    /// 1 after the first start, one more per restart.
    pub starts: u64,
}

impl Istiod {
    pub fn read(path: &Path) -> Istiod {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {} (is istiod running?): {e}", path.display()));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is no JSON: {e}\n{text}", path.display()));
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("{} lacks {k}: {text}", path.display()))
                .to_string()
        };
        Istiod {
            xds: s("xds"),
            xds_tls: s("xds_tls"),
            debug: s("debug"),
            cluster: s("cluster"),
            network: s("network"),
            pid: v["pid"].as_u64().expect("pid") as u32,
            starts: v["starts"].as_u64().expect("starts"),
        }
    }

    /// GET `path` of istiod's debug API (e.g. `/debug/mesh`), as text.
    pub fn debug_get(&self, path: &str) -> String {
        let mut stream = std::net::TcpStream::connect(&self.debug)
            .unwrap_or_else(|e| panic!("connecting to istiod's debug API {}: {e}", self.debug));
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.debug
        )
        .expect("sending the request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("reading the response");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response from {}{path}: {response}", self.debug));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "GET {path} from istiod of {}: {head}",
            self.cluster
        );
        body.to_string()
    }
}

fn tool() -> PathBuf {
    super::tf::cache_dir().join("bin").join("meshfed-istio")
}

fn run_tool(args: &[String]) -> Value {
    let out = Command::new(tool())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {} (scripts/setup-istiod): {e}", tool().display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "meshfed-istio {} failed: {}\n--- stderr ---\n{stderr}",
        args.join(" "),
        out.status
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "meshfed-istio {} printed no JSON: {e}\n{stdout}\n--- stderr ---\n{stderr}",
            args[0]
        )
    })
}

/// Which proxy the probe connects as.
#[derive(Clone, Debug)]
pub struct Proxy {
    /// `sidecar` or `router` (a gateway).
    pub kind: &'static str,
    pub ip: String,
    pub pod: String,
    pub namespace: String,
    pub service_account: String,
    pub labels: Vec<(String, String)>,
}

impl Proxy {
    /// The sidecar of `workload`'s pod.
    pub fn sidecar(w: &Workload) -> Proxy {
        Proxy {
            kind: "sidecar",
            ip: w.ip.clone(),
            pod: w.pod(),
            namespace: w.namespace.clone(),
            service_account: w.service_account.clone(),
            labels: w.labels(),
        }
    }

    /// The east-west gateway's pod (in router mode `sni-dnat`, as Istio's east-west gateway).
    pub fn gateway(w: &Workload) -> Proxy {
        Proxy {
            kind: "router",
            ..Proxy::sidecar(w)
        }
    }
}

/// Connects to `istiod` as `proxy` and returns what istiod pushes to it.
pub fn xds(istiod: &Istiod, proxy: &Proxy) -> Xds {
    let labels: Vec<String> = proxy
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut args: Vec<String> = [
        "xds",
        "--addr",
        &istiod.xds,
        "--type",
        proxy.kind,
        "--ip",
        &proxy.ip,
        "--pod",
        &proxy.pod,
        "--namespace",
        &proxy.namespace,
        "--service-account",
        &proxy.service_account,
        "--cluster-id",
        &istiod.cluster,
        "--network",
        &istiod.network,
        "--labels",
        &labels.join(","),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if proxy.kind == "router" {
        args.extend(["--router-mode".to_string(), "sni-dnat".to_string()]);
    }
    Xds(run_tool(&args))
}

/// What istiod pushed to one proxy: `clusters`, `listeners`, `routes` and `endpoints` by name
/// (Envoy's protos as JSON), and `trust_bundle` (the roots of PCDS's ProxyConfig).
#[derive(Clone, Debug)]
pub struct Xds(pub Value);

impl Xds {
    pub fn cluster(&self, name: &str) -> Option<&Value> {
        self.0["clusters"].get(name)
    }

    pub fn cluster_names(&self) -> Vec<String> {
        names(&self.0["clusters"])
    }

    pub fn listener(&self, name: &str) -> Option<&Value> {
        self.0["listeners"].get(name)
    }

    pub fn listener_names(&self) -> Vec<String> {
        names(&self.0["listeners"])
    }

    /// The endpoints of cluster `name` as `address:port`.
    pub fn endpoints(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let Some(cla) = self.0["endpoints"].get(name) else {
            return out;
        };
        for group in cla["endpoints"].as_array().into_iter().flatten() {
            for lb in group["lbEndpoints"].as_array().into_iter().flatten() {
                let sa = &lb["endpoint"]["address"]["socketAddress"];
                out.push(format!(
                    "{}:{}",
                    sa["address"].as_str().unwrap_or("?"),
                    sa["portValue"].as_u64().unwrap_or(0)
                ));
            }
        }
        out.sort();
        out
    }

    /// The roots istiod pushes to this proxy for workload mTLS, as PEM texts.
    pub fn trust_bundle(&self) -> Vec<String> {
        self.0["trust_bundle"]
            .as_array()
            .unwrap_or_else(|| panic!("the probe's output has no trust_bundle array"))
            .iter()
            .map(|v| v.as_str().expect("a PEM string").to_string())
            .collect()
    }

    /// The whole dump, for failure messages (trimmed).
    pub fn describe(&self) -> String {
        let text = serde_json::to_string_pretty(&self.0).unwrap_or_default();
        if text.len() > 6000 {
            format!("{}…", &text[..6000])
        } else {
            text
        }
    }
}

fn names(map: &Value) -> Vec<String> {
    let mut v: Vec<String> = map
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every JSON object under `v` (itself included) for which `pred` holds, depth first.
pub fn find_all<'a>(v: &'a Value, pred: &dyn Fn(&Value) -> bool, out: &mut Vec<&'a Value>) {
    if pred(v) {
        out.push(v);
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| find_all(i, pred, out)),
        Value::Object(m) => m.values().for_each(|i| find_all(i, pred, out)),
        _ => {}
    }
}

/// A workload certificate for `namespace/service_account` signed by `istiod`'s CA, through
/// Istio's CSR API, authenticated with a token from cluster's API server (TokenRequest).
/// Returns the certificate (its chain as istiod returned it, leaf first, root last) and key.
pub fn workload_cert(
    kubeconfig: &Path,
    istiod: &Istiod,
    namespace: &str,
    service_account: &str,
) -> (WorkloadCert, Vec<String>) {
    let out_dir = tempfile::tempdir().expect("a temporary directory");
    let args: Vec<String> = [
        "csr",
        "--addr",
        &istiod.xds_tls,
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--context",
        &istiod.cluster,
        "--namespace",
        namespace,
        "--service-account",
        service_account,
        "--trust-domain",
        &istiod.cluster,
        "--cluster-id",
        &istiod.cluster,
        "--out",
        &out_dir.path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = run_tool(&args);
    let chain: Vec<String> = v["cert_chain"]
        .as_array()
        .expect("cert_chain")
        .iter()
        .map(|p| p.as_str().expect("PEM").to_string())
        .collect();
    let read = |f: &str| {
        std::fs::read_to_string(out_dir.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let cert = WorkloadCert {
        cert_chain_pem: read("cert-chain.pem"),
        key_pem: read("key.pem"),
    };
    (cert, chain)
}

/// One pod of a Service, as the kubelet and the EndpointSlice controller would show it.
#[derive(Clone, Debug)]
pub struct Workload {
    pub namespace: String,
    /// The Service's name; the pod is `<service>-0`.
    pub service: String,
    pub service_account: String,
    pub ip: String,
    /// The Service's port (name `http`); `None` for a pod without a Service port (a gateway
    /// gets its ports from `gateway_ports`).
    pub port: u16,
    /// Labels of the pod; the Service selects on them.
    pub extra_labels: Vec<(String, String)>,
    /// For a LoadBalancer Service (the east-west gateway): its external address.
    pub load_balancer_ip: Option<String>,
}

impl Workload {
    /// An application workload with a sidecar: Service `service` (port `port` named http,
    /// selector `app=<service>`), ServiceAccount `service`, pod `<service>-0` at `ip`, labelled
    /// as Istio's injector labels a pod it gave a sidecar (`security.istio.io/tlsMode: istio`;
    /// istiod sends only such endpoints through an `AUTO_PASSTHROUGH` gateway).
    pub fn app(namespace: &str, service: &str, ip: &str, port: u16) -> Workload {
        Workload {
            namespace: namespace.into(),
            service: service.into(),
            service_account: service.into(),
            ip: ip.into(),
            port,
            extra_labels: vec![
                ("security.istio.io/tlsMode".into(), "istio".into()),
                ("service.istio.io/canonical-name".into(), service.into()),
            ],
            load_balancer_ip: None,
        }
    }

    /// The east-west gateway as Istio's samples install it: Service `istio-eastwestgateway`
    /// (LoadBalancer at `external_ip`, port 15443 named tls) selecting `istio=eastwestgateway`.
    pub fn eastwest_gateway(ip: &str, external_ip: &str) -> Workload {
        Workload {
            namespace: "istio-system".into(),
            service: "istio-eastwestgateway".into(),
            service_account: "istio-eastwestgateway".into(),
            ip: ip.into(),
            port: 15443,
            extra_labels: vec![("istio".into(), "eastwestgateway".into())],
            load_balancer_ip: Some(external_ip.into()),
        }
    }

    pub fn pod(&self) -> String {
        format!("{}-0", self.service)
    }

    pub fn labels(&self) -> Vec<(String, String)> {
        let mut l = vec![("app".to_string(), self.service.clone())];
        l.extend(self.extra_labels.iter().cloned());
        l
    }

    fn port_name(&self) -> &'static str {
        if self.load_balancer_ip.is_some() {
            "tls"
        } else {
            "http"
        }
    }

    /// Creates the namespace (if missing), ServiceAccount, Service, Pod (Running, Ready, at
    /// `ip`) and EndpointSlice in the cluster `client` talks to.
    pub async fn create(&self, client: &kube::Client) {
        let ns = &self.namespace;
        let labels: serde_json::Map<String, Value> = self
            .labels()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let selector = if self.load_balancer_ip.is_some() {
            json!({"istio": "eastwestgateway"})
        } else {
            json!({"app": self.service})
        };
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        create_if_missing(client, None, ("", "v1", "Namespace"), namespace).await;
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": self.service_account}});
        create_if_missing(client, Some(ns), ("", "v1", "ServiceAccount"), sa).await;
        let mut svc_spec = json!({"selector": selector,
            "ports": [{"name": self.port_name(), "port": self.port, "targetPort": self.port}]});
        if self.load_balancer_ip.is_some() {
            svc_spec["type"] = json!("LoadBalancer");
        }
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": self.service, "labels": selector}, "spec": svc_spec});
        create_if_missing(client, Some(ns), ("", "v1", "Service"), svc).await;
        if let Some(ip) = &self.load_balancer_ip {
            let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
            patch_status(client, ns, ("", "v1", "Service"), &self.service, status).await;
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.pod(), "labels": labels},
            "spec": {"serviceAccountName": self.service_account, "nodeName": "node-0",
                     "containers": [{"name": "app", "image": "registry.invalid/app:1",
                                     "ports": [{"containerPort": self.port, "name": self.port_name()}]}]}});
        create_if_missing(client, Some(ns), ("", "v1", "Pod"), pod).await;
        let now = "2026-01-01T00:00:00Z";
        let status = json!({"status": {"phase": "Running", "podIP": self.ip, "podIPs": [{"ip": self.ip}],
            "hostIP": "10.0.0.1", "startTime": now,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                           {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}});
        patch_status(client, ns, ("", "v1", "Pod"), &self.pod(), status).await;
        let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{}-0", self.service),
                         "labels": {"kubernetes.io/service-name": self.service,
                                    "endpointslice.kubernetes.io/managed-by": "meshfed-tests"}},
            "addressType": "IPv4",
            "ports": [{"name": self.port_name(), "port": self.port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [self.ip], "conditions": {"ready": true, "serving": true},
                           "nodeName": "node-0",
                           "targetRef": {"kind": "Pod", "name": self.pod(), "namespace": ns}}]});
        create_if_missing(
            client,
            Some(ns),
            ("discovery.k8s.io", "v1", "EndpointSlice"),
            slice,
        )
        .await;
    }
}

fn api(client: &kube::Client, ns: Option<&str>, gvk: (&str, &str, &str)) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2));
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

async fn create_if_missing(
    client: &kube::Client,
    ns: Option<&str>,
    gvk: (&str, &str, &str),
    body: Value,
) {
    let obj: DynamicObject = serde_json::from_value(body).expect("an object");
    match api(client, ns, gvk)
        .create(&PostParams::default(), &obj)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!(
            "creating {} {:?}/{}: {e}",
            gvk.2,
            ns,
            obj.metadata.name.unwrap_or_default()
        ),
    }
}

async fn patch_status(
    client: &kube::Client,
    ns: &str,
    gvk: (&str, &str, &str),
    name: &str,
    status: Value,
) {
    api(client, Some(ns), gvk)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap_or_else(|e| panic!("setting the status of {} {ns}/{name}: {e}", gvk.2));
}
