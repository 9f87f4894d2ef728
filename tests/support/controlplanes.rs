//! Real Kubernetes control planes for integration tests: one kube-apiserver (with its own etcd and
//! Istio's CRDs) per cluster name, started by `tests/control-planes up` in a fresh temporary
//! directory and stopped by `tests/control-planes down` when the fixture is dropped, also when the
//! test panics. The planes also stop by themselves when the test process is gone
//! (`--owner-pid`), so a killed test run leaves nothing behind.
//!
//! ```ignore
//! let planes = ControlPlanes::start(&["cluster-a.local", "cluster-b.local"]);
//! let client = planes.client("cluster-a.local").await;
//! ```
//!
//! The first start builds the control plane (`scripts/setup-controlplane`, needs Go); if that or
//! the start fails, `start` panics with the script's output. Nothing is ever skipped.
//!
//! Two identities per cluster: the admin (the API server's loopback token, group
//! `system:masters`) behind [`ControlPlanes::kubeconfig`] and [`ControlPlanes::client`], for the
//! tests' own reads and writes; and meshfed's ServiceAccount bound to exactly the roles of
//! `examples/rbac/` (see [`super::rbac`]) behind [`ControlPlanes::provider_kubeconfig`] and
//! [`ControlPlanes::direct`], for the provider blocks.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One cluster's API server as a provider block's `host`, `cluster_ca_certificate` and `token`
/// (meshfed's ServiceAccount's).
pub struct Direct {
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    pub ca_pem: String,
    pub token: String,
}

impl Direct {
    /// A provider `cluster "name" {}` block reaching this server with its token, at `via` (e.g.
    /// a [`super::latency::LatencyProxy`] in front of it) instead of its own address if given.
    pub fn cluster_block(&self, name: &str, via: Option<std::net::SocketAddr>) -> String {
        let host = via.map_or_else(|| self.server.clone(), |a| format!("https://{a}"));
        let ca = self.ca_pem.replace('\n', "\\n");
        format!(
            "  cluster \"{name}\" {{\n    host                   = \"{host}\"\n    token                  = \"{}\"\n    cluster_ca_certificate = \"{ca}\"\n  }}\n",
            self.token
        )
    }

    /// The server's address, for a proxy in front of it.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server
            .trim_start_matches("https://")
            .parse()
            .unwrap_or_else(|e| panic!("{} is no https://ip:port: {e}", self.server))
    }
}

/// The running control planes of one test. Dropping it stops them.
pub struct ControlPlanes {
    /// The state directory: kubeconfig, pid files, logs. `None` once handed over in `drop`.
    dir: Option<tempfile::TempDir>,
    names: Vec<String>,
    kubeconfig: PathBuf,
    /// `<dir>/meshfed.kubeconfig`: the same contexts as meshfed's ServiceAccount.
    provider_kubeconfig: PathBuf,
    /// Each cluster's token of meshfed's ServiceAccount, by cluster name.
    provider_tokens: Vec<(String, String)>,
    /// The supervisor's pid, then each cluster's, as they were when the planes got ready.
    pids: Vec<(String, u32)>,
    stopped: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/control-planes")
}

fn describe(what: &str, out: &Output) -> String {
    let mut s = format!("{what}: {}\n", out.status);
    let _ = writeln!(
        s,
        "--- stdout ---\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = writeln!(
        s,
        "--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

impl ControlPlanes {
    /// Starts one control plane per name (e.g. `cluster-a.local`) and returns once all are ready:
    /// Istio's CRDs are established and the namespace `istio-system` exists in each.
    ///
    /// Panics with the output of `tests/control-planes up` (including the servers' log tails) if
    /// the control plane cannot be built or started.
    pub fn start(names: &[&str]) -> ControlPlanes {
        ControlPlanes::launch(names, false)
    }

    /// Like [`ControlPlanes::start`], and also one real istiod per cluster
    /// (`tests/control-planes up --istiod`, see `tests/istiod/istiod.go`); returns once every
    /// istiod answers `/ready`. [`ControlPlanes::istiod`] gives its addresses.
    pub fn start_with_istiod(names: &[&str]) -> ControlPlanes {
        ControlPlanes::launch(names, true)
    }

    fn launch(names: &[&str], istiod: bool) -> ControlPlanes {
        assert!(
            !names.is_empty(),
            "ControlPlanes::start needs at least one cluster name"
        );
        let dir = tempfile::Builder::new()
            .prefix("meshfed-planes-")
            .tempdir()
            .expect("creating a temporary directory for the control planes");
        let out = Command::new(script())
            .arg("up")
            .arg("--dir")
            .arg(dir.path())
            .arg("--owner-pid")
            .arg(std::process::id().to_string())
            .args(istiod.then_some("--istiod"))
            .args(names)
            .output()
            .expect("running tests/control-planes (bash)");
        if !out.status.success() {
            panic!(
                "{}\nThe control planes could not be built or started (scripts/setup-controlplane \
                 needs Go and the Go module proxy; see the logs above).",
                describe("tests/control-planes up failed", &out)
            );
        }
        let kubeconfig = dir.path().join("kubeconfig");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("ready {}", kubeconfig.display())),
            "{}",
            describe("tests/control-planes up did not report ready", &out)
        );
        let read_pid = |file: &str| -> u32 {
            let path = dir.path().join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            text.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{} holds no pid ({text:?}): {e}", path.display()))
        };
        let mut pids = vec![("supervisor".to_string(), read_pid("pid"))];
        for name in names {
            pids.push((name.to_string(), read_pid(&format!("{name}.pid"))));
        }
        let provider_kubeconfig = dir.path().join("meshfed.kubeconfig");
        let mut planes = ControlPlanes {
            dir: Some(dir),
            names: names.iter().map(|n| n.to_string()).collect(),
            kubeconfig,
            provider_kubeconfig,
            provider_tokens: Vec::new(),
            pids,
            stopped: false,
        };
        planes.set_up_provider_identity();
        planes
    }

    /// Applies `examples/rbac/` to every plane, mints a token of meshfed's ServiceAccount in each
    /// and writes [`Self::provider_kubeconfig`]. On a thread of its own, with its own runtime, so
    /// that a test already inside a runtime can start planes.
    fn set_up_provider_identity(&mut self) {
        let tokens = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("tokio runtime");
                    rt.block_on(async {
                        let mut tokens = Vec::new();
                        for name in &self.names {
                            let admin = self.client(name).await;
                            tokens.push((name.clone(), super::rbac::set_up(&admin).await));
                        }
                        tokens
                    })
                })
                .join()
                .expect("setting up meshfed's identity in the control planes")
        });
        self.provider_tokens = tokens;
        let admins: Vec<Direct> = self.names.iter().map(|n| self.admin_direct(n)).collect();
        let entries: Vec<super::rbac::Entry<'_>> = self
            .names
            .iter()
            .zip(&admins)
            .map(|(name, admin)| super::rbac::Entry {
                name,
                server: &admin.server,
                ca_pem: &admin.ca_pem,
                token: self.provider_token(name),
            })
            .collect();
        super::rbac::write_kubeconfig(&self.provider_kubeconfig, &entries);
    }

    /// The state directory (kubeconfig, `*.pid`, `*.log`).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the state directory lives as long as the fixture")
            .path()
    }

    /// The admin's kubeconfig (group `system:masters`) with one context (and cluster and user)
    /// per cluster name: for the tests' own clients, never for a provider block.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig of meshfed's ServiceAccount (`system:serviceaccount:meshfed-system:meshfed`,
    /// bound to exactly the roles of `examples/rbac/`), with the same contexts as
    /// [`Self::kubeconfig`]: for provider blocks.
    pub fn provider_kubeconfig(&self) -> &Path {
        &self.provider_kubeconfig
    }

    /// The token of meshfed's ServiceAccount in cluster `name`.
    pub fn provider_token(&self, name: &str) -> &str {
        self.check_name(name);
        self.provider_tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, token)| token.as_str())
            .expect("every cluster has a token of meshfed's ServiceAccount")
    }

    /// How to reach cluster `name` without a kubeconfig, as meshfed's ServiceAccount: its server
    /// URL, the server's CA (PEM) and the ServiceAccount's token, for a provider block with
    /// `host`, `token` and `cluster_ca_certificate`.
    pub fn direct(&self, name: &str) -> Direct {
        Direct {
            token: self.provider_token(name).to_string(),
            ..self.admin_direct(name)
        }
    }

    /// Like [`Self::direct`], with the admin's token.
    pub fn admin_direct(&self, name: &str) -> Direct {
        self.check_name(name);
        let path = self.dir().join(format!("{name}.kubeconfig"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let k: serde_json::Value = serde_saphyr::from_str(&text).expect("kubeconfig is YAML");
        let cluster = &k["clusters"][0]["cluster"];
        let ca = cluster["certificate-authority-data"]
            .as_str()
            .expect("CA data");
        let ca = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, ca)
            .expect("CA data is base64");
        Direct {
            server: cluster["server"].as_str().expect("server").to_string(),
            ca_pem: String::from_utf8(ca).expect("CA data is PEM"),
            token: k["users"][0]["user"]["token"]
                .as_str()
                .expect("token")
                .to_string(),
        }
    }

    /// The kubeconfig context of cluster `name` (it is the name itself).
    pub fn context(&self, name: &str) -> String {
        self.check_name(name);
        name.to_string()
    }

    /// The cluster names, in the order given to `start`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The pid of cluster `name`'s server process.
    pub fn pid(&self, name: &str) -> u32 {
        self.check_name(name);
        self.pids
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, pid)| *pid)
            .expect("every cluster name has a pid")
    }

    /// The pids of every process of these planes: the supervisor's, then each cluster's.
    pub fn pids(&self) -> Vec<u32> {
        self.pids.iter().map(|(_, pid)| *pid).collect()
    }

    /// Kills cluster `name`'s server (like a crash): requests to it then fail with connection
    /// errors, while the other clusters keep serving.
    pub fn kill(&self, name: &str) {
        self.check_name(name);
        self.run(&["kill", "--dir", &self.dir().display().to_string(), name]);
    }

    /// The addresses of cluster `name`'s istiod (planes started with
    /// [`ControlPlanes::start_with_istiod`]), as `DIR/NAME/istiod.json` has them now.
    pub fn istiod(&self, name: &str) -> super::istio::Istiod {
        self.check_name(name);
        super::istio::Istiod::read(&self.dir().join(name).join("istiod.json"))
    }

    /// Restarts cluster `name`'s istiod (what `kubectl rollout restart deployment/istiod` does to
    /// a real one) and returns once it is ready again, on the same addresses.
    pub fn restart_istiod(&self, name: &str) {
        self.check_name(name);
        self.run(&[
            "restart-istiod",
            "--dir",
            &self.dir().display().to_string(),
            name,
        ]);
    }

    /// Stops every plane and waits until none of their processes is left (what `Drop` does;
    /// call it to check the result).
    pub fn stop(&mut self) {
        if !self.stopped {
            self.run(&["down", "--dir", &self.dir().display().to_string()]);
            self.stopped = true;
        }
    }

    /// A kube client for cluster `name`, through the kubeconfig and its context.
    pub async fn client(&self, name: &str) -> kube::Client {
        let config = self.config(name).await;
        kube::Client::try_from(config)
            .unwrap_or_else(|e| panic!("building a kube client for {name}: {e}"))
    }

    /// The kube client configuration of cluster `name`.
    pub async fn config(&self, name: &str) -> kube::Config {
        self.check_name(name);
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.kubeconfig.display()));
        let options = kube::config::KubeConfigOptions {
            context: Some(self.context(name)),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "loading context {name} of {}: {e}",
                    self.kubeconfig.display()
                )
            })
    }

    fn check_name(&self, name: &str) {
        assert!(
            self.names.iter().any(|n| n == name),
            "no control plane named {name:?} (started: {:?})",
            self.names
        );
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new(script())
            .args(args)
            .output()
            .expect("running tests/control-planes (bash)");
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("tests/control-planes {}", args.join(" ")), &out)
        );
    }
}

/// Makes namespace `name` exist (whether or not it did: the namespaces `examples/rbac/` binds
/// meshfed in already do).
pub async fn ensure_namespace(client: &kube::Client, name: &str) {
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let params = kube::api::PatchParams::apply("meshfed-tests");
    api.patch(name, &params, &kube::api::Patch::Apply(body))
        .await
        .unwrap_or_else(|e| panic!("making namespace {name} exist: {e}"));
}

/// Whether process `pid` exists and is not a zombie (an exited process that nobody reaped yet).
/// A killed multi-threaded process shows its main thread as a zombie while its other threads
/// still exit (holding its sockets): that counts as alive.
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the command name, which is in parentheses.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    if !matches!(state, Some("Z" | "X")) {
        return true;
    }
    std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| tasks.count() > 1)
}

impl Drop for ControlPlanes {
    fn drop(&mut self) {
        if !self.stopped {
            let out = Command::new(script())
                .args(["down", "--dir", &self.dir().display().to_string()])
                .output();
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!("{}", describe("tests/control-planes down failed", &out)),
                Err(e) => eprintln!("running tests/control-planes down: {e}"),
            }
            self.stopped = true;
        }
        // Keep the logs of a failed test.
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("control plane logs kept in {}", dir.keep().display());
        }
    }
}
